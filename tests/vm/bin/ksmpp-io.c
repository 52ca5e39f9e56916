// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp-io: do one kind of file I/O into (or out of) a buffer, and print the
 * hints ksmpp must record for it, in the format of
 * /sys/kernel/debug/ksmpp/hints ("pid start length source").
 *
 *   ksmpp-io [-m] [-u] [-w MS] [-n COUNT] [-s SIZE] FILE MODE
 *
 * -m opts the buffer into merging (MADV_MERGEABLE); without it no hint is
 * due, and none is printed. -u leaves the buffer untouched before the I/O
 * (else it is written first), so that a read faults its pages in. -w waits
 * MS milliseconds after each round of I/O, doing nothing else. -n repeats
 * the I/O COUNT times (an I/O storm; only the first round's hints are
 * printed). -s sets the size of the
 * non-vectored modes' I/O (default 64 KiB, at most 256 KiB). MODE is one
 * of: read pread readv preadv preadv2 uring_read uring_readv aio_read write
 * pwrite direct_read direct_write, or preadv_many: 40 iovecs of 4 KiB, the
 * first 20 adjacent in memory (one hint), the others apart (one hint each).
 * The file must hold at least that much (160 KiB for preadv_many); writes
 * go to offset 0 of it. Exits non-zero if the I/O did not move what it
 * should.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define BUFFER_SIZE	(1 << 20)
#define MAX_IO_SIZE	(256 << 10)
/* preadv_many: ADJACENT iovecs in a row, then APART ones, 4 KiB each. */
#define ADJACENT	20
#define APART		20

static void die(const char *what)
{
	fprintf(stderr, "ksmpp-io: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* One read or write through io_uring (raw system calls, no liburing). */
static ssize_t uring_rw(int fd, int op, void *addr, unsigned int len, off_t off)
{
	struct io_uring_params p = { 0 };
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	unsigned int *sq_tail, *sq_array, *cq_head;
	void *sq, *cq;
	int ring, ret;

	ring = syscall(__NR_io_uring_setup, 1, &p);
	if (ring < 0)
		die("io_uring_setup");
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned int),
		  PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
		    PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
		die("io_uring mmap");
	sq_tail = (unsigned int *)((char *)sq + p.sq_off.tail);
	sq_array = (unsigned int *)((char *)sq + p.sq_off.array);
	cq_head = (unsigned int *)((char *)cq + p.cq_off.head);
	cqes = (struct io_uring_cqe *)((char *)cq + p.cq_off.cqes);

	memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].opcode = op;
	sqes[0].fd = fd;
	sqes[0].addr = (uintptr_t)addr;
	sqes[0].len = len;
	sqes[0].off = off;
	sq_array[0] = 0;
	__atomic_store_n(sq_tail, *sq_tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		die("io_uring_enter");
	ret = cqes[*cq_head & (p.cq_entries - 1)].res;
	__atomic_store_n(cq_head, *cq_head + 1, __ATOMIC_RELEASE);
	close(ring);
	return ret;
}

/* One read through Linux AIO (raw system calls). */
static ssize_t aio_read(int fd, void *addr, size_t len, off_t off)
{
	aio_context_t ctx = 0;
	struct iocb cb = { 0 }, *cbs[1] = { &cb };
	struct io_event ev;

	if (syscall(__NR_io_setup, 1, &ctx) < 0)
		die("io_setup");
	cb.aio_lio_opcode = IOCB_CMD_PREAD;
	cb.aio_fildes = fd;
	cb.aio_buf = (uintptr_t)addr;
	cb.aio_nbytes = len;
	cb.aio_offset = off;
	if (syscall(__NR_io_submit, ctx, 1, cbs) != 1)
		die("io_submit");
	if (syscall(__NR_io_getevents, ctx, 1, 1, &ev, NULL) != 1)
		die("io_getevents");
	syscall(__NR_io_destroy, ctx);
	return ev.res;
}

struct expected {
	char *start;
	size_t len;
};

int main(int argc, char **argv)
{
	int merge = 0, untouched = 0, wait_ms = 0, count = 1, opt, fd, round, i, nexp = 0;
	struct expected exp[1 + APART];
	const char *file, *mode, *source;
	struct iovec iov[ADJACENT + APART];
	size_t io_size = 65536, total;
	ssize_t moved = 0;
	char *buf;

	while ((opt = getopt(argc, argv, "muw:n:s:")) != -1) {
		if (opt == 'm')
			merge = 1;
		else if (opt == 'u')
			untouched = 1;
		else if (opt == 'w')
			wait_ms = atoi(optarg);
		else if (opt == 'n')
			count = atoi(optarg);
		else if (opt == 's')
			io_size = strtoul(optarg, NULL, 0);
		else
			return 2;
	}
	if (argc - optind != 2 || !io_size || io_size > MAX_IO_SIZE) {
		fprintf(stderr, "usage: ksmpp-io [-m] [-u] [-w MS] [-n COUNT] [-s SIZE] FILE MODE\n");
		return 2;
	}
	file = argv[optind];
	mode = argv[optind + 1];

	buf = mmap(NULL, BUFFER_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap");
	if (!untouched)
		memset(buf, 0x5a, BUFFER_SIZE);
	if (merge && madvise(buf, BUFFER_SIZE, MADV_MERGEABLE))
		die("madvise");

	fd = open(file, (strstr(mode, "direct") ? O_DIRECT : 0) |
		  (strstr(mode, "write") ? O_RDWR : O_RDONLY));
	if (fd < 0)
		die(file);

	/* Unaligned on purpose (partial first page), except for O_DIRECT. */
	exp[0].start = buf + 100;
	exp[0].len = io_size;
	nexp = 1;
	source = "read";
	for (round = 0; round < count; round++) {
		if (!strcmp(mode, "read")) {
			lseek(fd, 0, SEEK_SET);
			moved = read(fd, exp[0].start, io_size);
		} else if (!strcmp(mode, "pread")) {
			moved = pread(fd, exp[0].start, io_size, 0);
		} else if (!strcmp(mode, "aio_read")) {
			moved = aio_read(fd, exp[0].start, io_size, 0);
		} else if (!strcmp(mode, "uring_read")) {
			moved = uring_rw(fd, IORING_OP_READ, exp[0].start, io_size, 0);
		} else if (!strcmp(mode, "write")) {
			source = "write";
			lseek(fd, 0, SEEK_SET);
			moved = write(fd, exp[0].start, io_size);
		} else if (!strcmp(mode, "pwrite")) {
			source = "write";
			moved = pwrite(fd, exp[0].start, io_size, 0);
		} else if (!strcmp(mode, "direct_read")) {
			exp[0].start = buf + 4 * 4096;	/* O_DIRECT alignment */
			source = "direct_read";
			moved = pread(fd, exp[0].start, io_size, 0);
		} else if (!strcmp(mode, "direct_write")) {
			exp[0].start = buf + 4 * 4096;
			source = "direct_write";
			moved = pwrite(fd, exp[0].start, io_size, 0);
		} else if (!strcmp(mode, "preadv_many")) {
			for (i = 0; i < ADJACENT + APART; i++) {
				iov[i].iov_base = i < ADJACENT ? buf + 300 + i * 4096 :
					buf + MAX_IO_SIZE + (i - ADJACENT) * 8192;
				iov[i].iov_len = 4096;
			}
			exp[0].start = iov[0].iov_base;
			exp[0].len = ADJACENT * 4096;
			for (i = 0; i < APART; i++) {
				exp[1 + i].start = iov[ADJACENT + i].iov_base;
				exp[1 + i].len = 4096;
			}
			nexp = 1 + APART;
			moved = preadv(fd, iov, ADJACENT + APART, 0);
		} else {
			/* Vectored: two segments, 1000 and 30000 bytes. */
			iov[0].iov_base = buf + 8192;
			iov[0].iov_len = 1000;
			iov[1].iov_base = buf + 3 * 65536 + 7;
			iov[1].iov_len = 30000;
			exp[0].start = iov[0].iov_base;
			exp[0].len = iov[0].iov_len;
			exp[1].start = iov[1].iov_base;
			exp[1].len = iov[1].iov_len;
			nexp = 2;
			if (!strcmp(mode, "readv")) {
				lseek(fd, 0, SEEK_SET);
				moved = readv(fd, iov, 2);
			} else if (!strcmp(mode, "preadv")) {
				moved = preadv(fd, iov, 2, 0);
			} else if (!strcmp(mode, "preadv2")) {
				moved = preadv2(fd, iov, 2, 0, RWF_HIPRI);
			} else if (!strcmp(mode, "uring_readv")) {
				moved = uring_rw(fd, IORING_OP_READV, iov, 2, 0);
			} else {
				fprintf(stderr, "ksmpp-io: unknown mode %s\n", mode);
				return 2;
			}
		}
		if (moved < 0) {
			if (moved != -1)	/* io_uring and AIO return -errno */
				errno = (int)-moved;
			die(mode);
		}
		if (wait_ms)
			usleep(wait_ms * 1000);
	}
	for (i = 0, total = 0; i < nexp; i++)
		total += exp[i].len;
	if ((size_t)moved != total) {
		fprintf(stderr, "ksmpp-io: %s moved %zd bytes\n", mode, moved);
		return 1;
	}
	if (merge)
		for (i = 0; i < nexp; i++)
			printf("%d %#lx %zu %s\n", getpid(), (unsigned long)exp[i].start,
			       exp[i].len, source);
	fflush(stdout);
	/* Keep the mm alive until the caller has read the hints. */
	if (getenv("KSMPP_IO_HOLD"))
		pause();
	return 0;
}
