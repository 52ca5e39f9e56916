// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm-scan-cost SCENARIO: a batch of the scanner costs what pages_to_scan
 * says, whatever the processes that opted in look like (ksmpp only).
 *   empty     a process with a large mergeable area it never touched: a
 *             batch ends at the end of a pass, as ksmd's does, so passes
 *             come no faster than batches (pages_to_scan 100, every 20 ms)
 *   sparse    a 1 TiB mergeable area with one (duplicate) page per 64 GiB:
 *             the pages get merged, while a write of run, which ends the
 *             batch under way, never waits long; unload, which unmerges
 *             them while the process lives, walks the page tables there
 *             are, not every address
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLEEP_MS	20
#define EMPTY_SIZE	(256UL << 20)
#define SPARSE_SIZE	(1UL << 40)
#define SPARSE_STRIDE	(64UL << 30)
#define SPARSE_PAGES	(SPARSE_SIZE / SPARSE_STRIDE)
/*
 * The longest a write of run may wait while ksmppd scans the sparse area:
 * the batch ends at its next page or hole, where a walk of the whole area
 * takes seconds.
 */
#define RUN_WRITE_MAX_MS	200
/*
 * The longest an unload that unmerges the sparse area may take: seconds
 * for its 16 pages, where a walk address by address takes minutes.
 */
#define UNLOAD_MAX_MS		15000

static char *map_mergeable(size_t size)
{
	char *area = mmap(NULL, size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (area == MAP_FAILED)
		die("mmap of %zu bytes: %s", size, strerror(errno));
	if (madvise(area, size, MADV_MERGEABLE))
		die("madvise(MADV_MERGEABLE): %s", strerror(errno));
	/* One 4 KiB page per touch, not a 2 MiB huge page (THP "always"). */
	if (madvise(area, size, MADV_NOHUGEPAGE))
		die("madvise(MADV_NOHUGEPAGE): %s", strerror(errno));
	return area;
}

static void start_engine(void)
{
	char action[32];

	snprintf(action, sizeof(action), "start 100 %d", SLEEP_MS);
	if (engine(action))
		die("engine_start failed");
}

static void scenario_empty(void)
{
	unsigned int seconds = 3;
	long before, after;

	map_mergeable(EMPTY_SIZE);
	start_engine();
	sleep_ms(500);
	before = engine_counter("full_scans");
	sleep_ms(seconds * 1000);
	after = engine_counter("full_scans");
	say("%ld passes in %u s (a batch every %d ms at most)", after - before, seconds,
	    SLEEP_MS);
	expect(before >= 0 && after - before <= (long)(seconds * 1000 / SLEEP_MS),
	       "%ld passes in %u s: more than one per batch", after - before, seconds);
}

static bool sparse_merged(void *arg)
{
	const char *area = arg;
	uint64_t first, entry;
	size_t i;

	pagemap_read(getpid(), (uintptr_t)area, 1, &first);
	for (i = 1; i < SPARSE_PAGES; i++) {
		pagemap_read(getpid(), (uintptr_t)(area + i * SPARSE_STRIDE), 1, &entry);
		if (!pm_pfn(first) || pm_pfn(entry) != pm_pfn(first))
			return false;
	}
	return true;
}

static void scenario_sparse(void)
{
	char *area = map_mergeable(SPARSE_SIZE);
	uint64_t start, took, longest = 0;
	size_t i;
	int n;

	for (i = 0; i < SPARSE_PAGES; i++)
		fill_page(area + i * SPARSE_STRIDE, 1, 0);
	start_engine();
	for (n = 0; n < 20; n++) {
		sleep_ms(100);
		start = now_ms();
		if (write_file("/sys/module/ksmpp/parameters/run", "1"))
			die("cannot write run");
		took = now_ms() - start;
		if (took > longest)
			longest = took;
	}
	say("longest write of run while scanning: %llu ms", (unsigned long long)longest);
	expect(longest <= RUN_WRITE_MAX_MS, "a write of run waited %llu ms for a batch",
	       (unsigned long long)longest);
	expect(wait_until(sparse_merged, area, 120),
	       "the %lu pages of the sparse area were not merged in 120 s", SPARSE_PAGES);
	start = now_ms();
	if (engine("stop"))
		die("engine_stop failed");
	took = now_ms() - start;
	say("unload, unmerging the sparse area: %llu ms", (unsigned long long)took);
	expect(took <= UNLOAD_MAX_MS, "unload took %llu ms", (unsigned long long)took);
	for (i = 0; i < SPARSE_PAGES; i++)
		expect(page_matches(area + i * SPARSE_STRIDE, 1, 0), "page %zu changed", i);
}

int main(int argc, char **argv)
{
	prog = "ksm-scan-cost";
	if (argc != 2)
		die("usage: %s empty | sparse", prog);
	stop_engine_at_exit();
	if (!strcmp(argv[1], "empty"))
		scenario_empty();
	else if (!strcmp(argv[1], "sparse"))
		scenario_sparse();
	else
		die("unknown scenario %s", argv[1]);
	finish(argv[1]);
}
