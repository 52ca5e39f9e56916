// SPDX-License-Identifier: GPL-2.0-only
/*
 * guest-ram [-r IMAGE]... PID...: what merging saves in the guest RAM of
 * the QEMU processes PID..., measured by physical frames, as one line:
 *
 *	present P distinct D saved S zero Z huge H across A [IMAGE N]...
 *
 * Guest RAM is every mapping of at least 16 MiB that is mergeable
 * (VmFlags "mg" in /proc/PID/smaps: QEMU's mem-merge=on). P counts its
 * present pages, D the distinct frames behind them, both without the
 * kernel's shared zero pages (/proc/kpageflags: the 4 KiB one, and the 512
 * frames of the huge one that a read fault in a THP area maps); S = P - D
 * is what sharing saves. Z is the part of S whose content is all zeroes
 * (read through /proc/PID/mem, which does not unshare): a frame mapped N
 * times saves N - 1 pages. H counts the present pages that are part of a
 * huge page (KPF_THP): merged pages are not, and khugepaged, which may
 * collapse a range holding merged pages into a new huge page, undoes their
 * merge. A counts the frames that two or more of the processes map: none
 * when merging keeps each process to itself (merge_scope). N for each
 * IMAGE is the part of S whose content is a block (4 KiB) of that disk
 * image, not all zeroes: the sharing that came from reading it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "common.h"
#include "pool.h"

#define MIN_RAM_BYTES (16UL << 20)
#define MAX_IMAGES 8
#define MAX_PROCESSES 16

/* An image's non-zero blocks, as the sorted hashes of their content. */
struct image {
	const char *name;
	uint64_t *hashes;
	size_t count;
	size_t saved;
};

static struct image images[MAX_IMAGES];
static int nimages;

struct frame {
	uint64_t pfn;
	pid_t pid;
	uintptr_t addr;
};

static struct frame *frames;
static size_t nframes, capacity;

static void add_frame(uint64_t pfn, pid_t pid, uintptr_t addr)
{
	if (nframes == capacity) {
		capacity = capacity ? 2 * capacity : 1 << 16;
		frames = realloc(frames, capacity * sizeof(*frames));
		if (!frames)
			die("out of memory");
	}
	frames[nframes++] = (struct frame){ pfn, pid, addr };
}

/* Every present page of PID's guest RAM into frames[]. */
static void read_process(pid_t pid)
{
	char path[64], line[512];
	unsigned long start = 0, end = 0;
	uint64_t *entries;
	size_t i, n;
	FILE *smaps;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	smaps = fopen(path, "r");
	if (!smaps)
		die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), smaps)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx ", &s, &e) == 2) {
			start = s;
			end = e;
			continue;
		}
		if (strncmp(line, "VmFlags:", 8) || !strstr(line, " mg") || end - start < MIN_RAM_BYTES)
			continue;
		n = (end - start) / PAGE_SIZE;
		entries = malloc(n * sizeof(*entries));
		if (!entries)
			die("out of memory");
		pagemap_read(pid, start, n, entries);
		for (i = 0; i < n; i++)
			if (pm_pfn(entries[i]))
				add_frame(pm_pfn(entries[i]), pid, start + i * PAGE_SIZE);
		free(entries);
	}
	fclose(smaps);
}

/* FNV-1a, 64 bits: 2^-64 odds that two of the blocks collide. */
static uint64_t page_hash(const unsigned char *page)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < PAGE_SIZE; i++)
		h = (h ^ page[i]) * 0x100000001b3ULL;
	return h;
}

static bool all_zero(const unsigned char *page)
{
	size_t i;

	for (i = 0; i < PAGE_SIZE; i++)
		if (page[i])
			return false;
	return true;
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void read_image(struct image *image)
{
	static unsigned char block[PAGE_SIZE];
	size_t capacity = 0;
	FILE *f = fopen(image->name, "r");

	if (!f)
		die("%s: %s", image->name, strerror(errno));
	while (fread(block, PAGE_SIZE, 1, f) == 1) {
		if (all_zero(block))
			continue;
		if (image->count == capacity) {
			capacity = capacity ? 2 * capacity : 4096;
			image->hashes = realloc(image->hashes, capacity * sizeof(uint64_t));
			if (!image->hashes)
				die("out of memory");
		}
		image->hashes[image->count++] = page_hash(block);
	}
	fclose(f);
	qsort(image->hashes, image->count, sizeof(uint64_t), by_value);
}

static int by_pfn(const void *a, const void *b)
{
	const struct frame *x = a, *y = b;

	return (x->pfn > y->pfn) - (x->pfn < y->pfn);
}

/* The page at ADDR of PID into PAGE, through PID's /proc/PID/mem. */
static void read_page(pid_t pid, uintptr_t addr, unsigned char *page)
{
	static struct { pid_t pid; int fd; } mem[MAX_PROCESSES];
	char path[64];
	int i;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	for (i = 0; i < MAX_PROCESSES && mem[i].pid && mem[i].pid != pid; i++)
		;
	if (i == MAX_PROCESSES)
		die("more than %d processes", MAX_PROCESSES);
	if (!mem[i].pid) {
		mem[i].pid = pid;
		mem[i].fd = open(path, O_RDONLY);
	}
	if (mem[i].fd < 0 || pread(mem[i].fd, page, PAGE_SIZE, addr) != PAGE_SIZE)
		die("%s at %#lx: %s", path, (unsigned long)addr, strerror(errno));
}

int main(int argc, char **argv)
{
	size_t i, k, run, present = 0, distinct = 0, saved = 0, saved_zero = 0, huge = 0;
	size_t across = 0;
	static unsigned char page[PAGE_SIZE];
	uint64_t hash, flags;
	int a, opt, m;

	while ((opt = getopt(argc, argv, "r:")) != -1) {
		if (opt != 'r' || nimages == MAX_IMAGES)
			die("usage: guest-ram [-r IMAGE]... PID...");
		images[nimages].name = optarg;
		read_image(&images[nimages++]);
	}
	if (optind == argc || argc - optind > MAX_PROCESSES)
		die("usage: guest-ram [-r IMAGE]... PID...");
	for (a = optind; a < argc; a++)
		read_process(atoi(argv[a]));
	qsort(frames, nframes, sizeof(*frames), by_pfn);
	for (i = 0; i < nframes; i += run) {
		for (run = 1; i + run < nframes && frames[i + run].pfn == frames[i].pfn; run++)
			;
		flags = kpageflags(frames[i].pfn);
		if (flags & (1ULL << KPF_ZERO_PAGE))
			continue;
		present += run;
		if (flags & (1ULL << KPF_THP))
			huge += run;
		distinct++;
		if (run == 1)
			continue;
		saved += run - 1;
		for (k = 1; k < run && frames[i + k].pid == frames[i].pid; k++)
			;
		across += k < run;
		read_page(frames[i].pid, frames[i].addr, page);
		if (all_zero(page)) {
			saved_zero += run - 1;
			continue;
		}
		hash = page_hash(page);
		for (m = 0; m < nimages; m++)
			if (bsearch(&hash, images[m].hashes, images[m].count, sizeof(hash),
				    by_value))
				images[m].saved += run - 1;
	}
	printf("present %zu distinct %zu saved %zu zero %zu huge %zu across %zu", present,
	       distinct, saved, saved_zero, huge, across);
	for (m = 0; m < nimages; m++)
		printf(" %s %zu", images[m].name, images[m].saved);
	printf("\n");
	return 0;
}
