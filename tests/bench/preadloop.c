// SPDX-License-Identifier: GPL-2.0-only
/*
 * preadloop FILE CALLS MERGEABLE [BLOCKS]: time cached 4 KiB pread()s of
 * FILE into a 64 KiB buffer, in BLOCKS blocks (default 10) of CALLS/BLOCKS
 * calls; with MERGEABLE=1 or 2 the buffer is MADV_MERGEABLE (the process
 * opted into merging, so ksmpp's hooks record each read as a hint). Calls
 * read into the buffer's first 4 KiB, or with MERGEABLE=2 each into the
 * next 4 KiB of it, round the buffer: no two calls in a row name the same
 * range, so none is a repeat that ksmpp need not push again. Prints
 * "ns_per_call=MIN median=MEDIAN": wall time per call (CLOCK_MONOTONIC) of
 * the fastest block and of the median block. Interference (other tasks,
 * a busy host under an emulated guest) only adds time, so the fastest
 * block is the steadiest estimate of the call's own cost. In a guest whose
 * clock counts instructions (QEMU's -icount, the bench's pread run) the
 * figures are instructions per call.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* @calls preads of 4 KiB into @buf, or into its next 4 KiB each if @move. */
static int read_calls(int fd, char *buf, long calls, int move)
{
	for (long i = 0; i < calls; i++)
		if (pread(fd, buf + (move ? i % 16 : 0) * 4096, 4096, 0) != 4096) {
			perror("pread");
			return 0;
		}
	return 1;
}

int main(int argc, char **argv)
{
	struct timespec a, b;
	long calls, blocks = 10, per;
	double ns[1000];
	char *buf;
	int fd, mode;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: preadloop FILE CALLS MERGEABLE [BLOCKS]\n");
		return 2;
	}
	calls = atol(argv[2]);
	if (argc == 5)
		blocks = atol(argv[4]);
	if (blocks < 1 || blocks > 1000 || calls < blocks) {
		fprintf(stderr, "preadloop: bad CALLS or BLOCKS\n");
		return 2;
	}
	per = calls / blocks;
	mode = atoi(argv[3]);
	if (mode < 0 || mode > 2) {
		fprintf(stderr, "preadloop: MERGEABLE is 0, 1 or 2\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	buf = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fd < 0 || buf == MAP_FAILED) {
		perror("preadloop");
		return 1;
	}
	if (mode && madvise(buf, 65536, MADV_MERGEABLE)) {
		perror("madvise");
		return 1;
	}
	memset(buf, 1, 65536);
	/* Warm up: page cache, TLB, caches. */
	if (!read_calls(fd, buf, per, mode == 2))
		return 1;
	for (long k = 0; k < blocks; k++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (!read_calls(fd, buf, per, mode == 2))
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &b);
		ns[k] = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / per;
	}
	qsort(ns, blocks, sizeof(double), cmp);
	printf("ns_per_call=%.1f median=%.1f\n", ns[0], ns[blocks / 2]);
	return 0;
}
