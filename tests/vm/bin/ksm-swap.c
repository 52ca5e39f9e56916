// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm-swap CGROUP: merged pages go to swap and come back intact.
 * CGROUP is a cgroup v2 directory with the memory controller; the program
 * moves itself there before its workers fault anything, so that the
 * cgroup's memory.reclaim can push their memory (merged pages included:
 * MADV_PAGEOUT would skip pages mapped more than once) out to swap.
 * A merged page swapped out is one swap entry, the same in every process
 * that mapped it. After swap-in by reading, contents are intact byte for
 * byte, and the engine merges the pages again.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHARED		1024
#define UNIQUE		64
#define PROCESSES	2
#define RECLAIM_TRIES	30

/* Pages of worker W among [0, SHARED) that are out in swap, in ENTRIES. */
static size_t swapped_pages(const struct pool *pool, unsigned int w, uint64_t *entries)
{
	size_t i, swapped = 0;

	pagemap_read(pool_pid(pool, w), pool_base(pool, w), SHARED, entries);
	for (i = 0; i < SHARED; i++) {
		if (entries[i] & PM_SWAPPED)
			swapped++;
		else
			entries[i] = 0;
	}
	return swapped;
}

int main(int argc, char **argv)
{
	static uint64_t entries[PROCESSES][SHARED];
	char path[256], text[32];
	unsigned int workers, w, try;
	size_t swapped[PROCESSES], same = 0, i;
	struct pool *pool;
	long swap_kb;

	prog = "ksm-swap";
	if (argc != 2)
		die("usage: %s CGROUP", prog);
	say("merged pages out to swap and back (engine %s)", engine_name());
	if (cgroup_enter(argv[1], getpid()))
		die("cannot move into %s", argv[1]);
	stop_engine_at_exit();
	pool = pool_create();

	workers = pool_merged_workers(pool, PROCESSES, SHARED, UNIQUE);
	for (w = 0; w < PROCESSES; w++)
		expect(proc_status_kb(pool_pid(pool, w), "VmSwap") == 0,
		       "worker %u: in swap before reclaim", w);

	/* Reclaim until (nearly) all merged pages are out, or give up. */
	snprintf(path, sizeof(path), "%s/memory.reclaim", argv[1]);
	snprintf(text, sizeof(text), "%lu", 2 * (SHARED + UNIQUE) * PAGE_SIZE);
	for (try = 1; try <= RECLAIM_TRIES; try++) {
		int ret = write_file(path, text);
		bool done = true;

		if (ret && ret != -EAGAIN)
			die("%s: %s", path, strerror(-ret));
		for (w = 0; w < PROCESSES; w++) {
			swapped[w] = swapped_pages(pool, w, entries[w]);
			done &= swapped[w] >= SHARED * 9 / 10;
		}
		if (done)
			break;
	}
	for (w = 0; w < PROCESSES; w++) {
		swap_kb = proc_status_kb(pool_pid(pool, w), "VmSwap");
		say("worker %u: %zu of %d merged pages swapped out, VmSwap %ld kB", w, swapped[w],
		    SHARED, swap_kb);
		expect(swapped[w] >= SHARED * 9 / 10, "worker %u: only %zu merged pages swapped out",
		       w, swapped[w]);
		expect(swap_kb >= (long)(swapped[w] * PAGE_SIZE / 1024),
		       "worker %u: VmSwap %ld kB below its %zu swapped pages", w, swap_kb,
		       swapped[w]);
	}
	/* One swap entry for both processes: one page went out. */
	for (i = 0; i < SHARED; i++)
		same += entries[0][i] && entries[0][i] == entries[1][i];
	expect(same >= SHARED * 9 / 10,
	       "only %zu pages swapped out as one entry for both processes", same);

	/* Reading brings them back. */
	pool_expect_intact(pool, workers, "after swap-in");
	expect(swapped_pages(pool, 0, entries[0]) == 0 && swapped_pages(pool, 1, entries[1]) == 0,
	       "pages still in swap after reading them");
	pool_expect_merged(pool, workers, 0, SHARED, MERGE_TIMEOUT, "after swap-in");
	pool_expect_intact(pool, workers, "merged again after swap-in");
	expect_engine_counters(SHARED, SHARED, COUNTER_TIMEOUT);
	pool_destroy(pool);
	finish("merged pages swapped out and in, intact");
}
