// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm-merge SCENARIO: processes with identical MADV_MERGEABLE memory get it
 * merged by the engine under test, and merged memory behaves like private
 * memory through copy-on-write, fork, exit, munmap, mremap, mprotect,
 * MADV_UNMERGEABLE and transparent huge pages.
 * Each scenario starts the engine (engine_start of /tests/lib.sh), checks,
 * prints one "ok" or "FAIL" line, stops the engine (engine_stop) and exits
 * 0 or 1.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

/* Pages every worker holds in common, and pages of its own. */
#define SHARED		512
#define UNIQUE		32
#define ALL		(SHARED + UNIQUE)

/* Sets written over merged pages. */
#define COW_SET		7
#define CHILD_SET	8
#define PARENT_SET	9

/*
 * N processes with SHARED identical pages each: merged, pages of different
 * content apart, counters and contents right.
 */
static void processes(struct pool *pool, unsigned int n, size_t shared)
{
	unsigned int workers = pool_merged_workers(pool, n, shared, UNIQUE), w;

	for (w = 0; w < n; w++)
		expect(pool_all_distinct(pool, WORKER(w), 0, shared + UNIQUE),
		       "worker %u: two of its different pages share a frame", w);
	expect(pool_all_distinct(pool, workers, shared, UNIQUE),
	       "pages of different content share a frame across workers");
	expect_engine_counters((long)shared, (long)((n - 1) * shared), COUNTER_TIMEOUT);
	pool_expect_merging_pages(pool, workers, (long)shared, COUNTER_TIMEOUT);
	/* The engine's metadata for the process: an rmap item per merged page at least. */
	for (w = 0; w < n; w++) {
		long items = proc_ksm_stat(pool_pid(pool, w), "ksm_rmap_items");

		expect(items >= (long)shared, "worker %u: ksm_rmap_items %ld in ksm_stat, %zu pages merged",
		       w, items, shared);
	}
	pool_expect_intact(pool, workers, "merged");
}

/* 8 MiB each. */
static void scenario_two(struct pool *pool)
{
	processes(pool, 2, 2048);
}

/* 2 MiB each. */
static void scenario_four(struct pool *pool)
{
	processes(pool, 4, 512);
}

/* A write to merged pages gives the writer pages of its own, others keep theirs. */
static void scenario_cow(struct pool *pool)
{
	const size_t written = 64;
	unsigned int workers = pool_merged_workers(pool, 3, SHARED, UNIQUE), others;
	uint64_t *before = pool_frames(pool, 0, 0, written), *after, *other;

	others = workers & ~WORKER(0);
	pool_fill(pool, 0, 0, written, COW_SET);
	after = pool_frames(pool, 0, 0, written);
	other = pool_frames(pool, 1, 0, written);
	pool_expect_intact(pool, workers, "after the write");
	expect(count_equal(before, after, written) == 0,
	       "writer kept %zu of %zu written frames", count_equal(before, after, written),
	       written);
	expect(count_equal(before, other, written) == written,
	       "the others lost the merged frames of written pages");
	expect(pool_count_merged(pool, others, 0, SHARED) == SHARED,
	       "the others no longer share all pages");
	expect(pool_count_merged(pool, workers, written, SHARED - written) == SHARED - written,
	       "pages nobody wrote are no longer merged");
	expect_engine_counters(SHARED, 2 * SHARED - (long)written, COUNTER_TIMEOUT);
	free(before);
	free(after);
	free(other);
}

/* A child forked after the merge maps the merged frames; writes stay apart. */
static void scenario_fork(struct pool *pool)
{
	const size_t part = 32;
	unsigned int workers = pool_merged_workers(pool, 2, SHARED, UNIQUE), child;

	child = pool_fork(pool, 0);
	workers |= WORKER(child);
	expect(pool_count_merged(pool, workers, 0, SHARED) == SHARED,
	       "the child does not map the merged frames");
	pool_expect_intact(pool, WORKER(child), "child after fork");

	pool_fill(pool, child, 0, part, CHILD_SET);
	pool_expect_intact(pool, workers, "after the child's write");
	expect(pool_count_merged(pool, WORKER(0) | WORKER(1), 0, SHARED) == SHARED,
	       "the child's write changed the parent's frames");
	expect(pool_count_merged(pool, WORKER(0) | WORKER(child), 0, part) == 0,
	       "the child's written pages still share the parent's frames");

	pool_fill(pool, 0, part, part, PARENT_SET);
	pool_expect_intact(pool, workers, "after the parent's write");
	expect(pool_count_merged(pool, WORKER(1) | WORKER(child), part, part) == part,
	       "the parent's write changed the child's frames");
	expect(pool_count_merged(pool, workers, 2 * part, SHARED - 2 * part) ==
	       SHARED - 2 * part, "pages nobody wrote are no longer merged");
	/* Written pages keep two mappings each, the others three. */
	expect_engine_counters(SHARED, 2 * SHARED - 2 * (long)part, COUNTER_TIMEOUT);
}

/* A sharer exits: the others keep frames and contents. */
static void scenario_exit(struct pool *pool)
{
	unsigned int workers = pool_merged_workers(pool, 3, SHARED, UNIQUE);
	uint64_t *before = pool_frames(pool, 0, 0, SHARED), *after;

	pool_exit(pool, 2);
	workers &= ~WORKER(2);
	after = pool_frames(pool, 1, 0, SHARED);
	expect(count_equal(before, after, SHARED) == SHARED, "frames changed when a sharer exited");
	expect(pool_count_merged(pool, workers, 0, SHARED) == SHARED,
	       "the remaining sharers no longer share");
	pool_expect_intact(pool, workers, "after a sharer exited");
	expect_engine_counters(SHARED, SHARED, COUNTER_TIMEOUT);
	free(before);
	free(after);
}

/* Part of a merged region is unmapped: the rest stays merged and intact. */
static void scenario_munmap(struct pool *pool)
{
	const size_t first = 128, count = 128;
	unsigned int workers = pool_merged_workers(pool, 2, SHARED, UNIQUE);

	if (pool_call(pool, 0, OP_MUNMAP, first, count, 0))
		die("munmap failed");
	pool_expect_intact(pool, workers, "after munmap");
	expect(pool_count_merged(pool, workers, 0, first) == first &&
	       pool_count_merged(pool, workers, first + count, SHARED - first - count) ==
	       SHARED - first - count, "pages left mapped are no longer merged");
	expect(pool_count_merged(pool, WORKER(1), first, count) == count,
	       "the other process lost pages unmapped by the first");
	expect_engine_counters(SHARED, SHARED - (long)count, COUNTER_TIMEOUT);
}

/* A merged region moves: contents kept, sharing kept or merged again. */
static void scenario_mremap(struct pool *pool)
{
	unsigned int workers = pool_merged_workers(pool, 2, SHARED, UNIQUE);
	uintptr_t old_base = pool_base(pool, 0);
	size_t kept;

	if (pool_call(pool, 0, OP_MREMAP, 0, 0, 0) < 0)
		die("mremap failed");
	expect(pool_base(pool, 0) != old_base, "the region did not move");
	kept = pool_count_merged(pool, workers, 0, SHARED);
	pool_expect_intact(pool, workers, "after mremap");
	say("%zu of %d pages still merged right after the move", kept, SHARED);
	pool_expect_merged(pool, workers, 0, SHARED, MERGE_TIMEOUT, "after mremap");
	pool_expect_intact(pool, workers, "merged again after mremap");
	expect_engine_counters(SHARED, SHARED, COUNTER_TIMEOUT);
}

/* A merged region made read-only stays readable, merged and intact. */
static void scenario_mprotect(struct pool *pool)
{
	const size_t written = 16;
	unsigned int workers = pool_merged_workers(pool, 2, SHARED, UNIQUE);

	if (pool_call(pool, 0, OP_MPROTECT, PROT_READ, 0, 0))
		die("mprotect failed");
	pool_expect_intact(pool, workers, "read-only");
	/* Let the scanner pass over the read-only region a few times. */
	sleep_ms(2000);
	expect(pool_count_merged(pool, workers, 0, SHARED) == SHARED,
	       "pages no longer merged while read-only");
	pool_expect_intact(pool, workers, "read-only, after scanning");

	if (pool_call(pool, 0, OP_MPROTECT, PROT_READ | PROT_WRITE, 0, 0))
		die("mprotect failed");
	pool_fill(pool, 0, 0, written, COW_SET);
	pool_expect_intact(pool, workers, "written after making it writable again");
	expect(pool_count_merged(pool, workers, 0, written) == 0,
	       "written pages still merged");
	expect_engine_counters(SHARED, SHARED - (long)written, COUNTER_TIMEOUT);
}

/* MADV_UNMERGEABLE gives that process frames of its own, contents intact. */
static void scenario_unmergeable(struct pool *pool)
{
	unsigned int workers = pool_merged_workers(pool, 3, SHARED, UNIQUE);

	if (pool_call(pool, 0, OP_MADVISE, 0, ALL, MADV_UNMERGEABLE))
		die("madvise(MADV_UNMERGEABLE) failed");
	expect(pool_all_distinct(pool, WORKER(0) | WORKER(1), 0, SHARED),
	       "pages of the unmergeable process still share frames");
	expect(pool_count_merged(pool, WORKER(1) | WORKER(2), 0, SHARED) == SHARED,
	       "the other processes no longer share");
	pool_expect_intact(pool, workers, "after MADV_UNMERGEABLE");
	sleep_ms(2000);
	expect(pool_count_merged(pool, WORKER(0) | WORKER(1), 0, SHARED) == 0,
	       "the unmergeable region was merged again");
	expect_engine_counters(SHARED, SHARED, COUNTER_TIMEOUT);
	pool_expect_merging_pages(pool, WORKER(0), 0, COUNTER_TIMEOUT);
}

/* Make sure transparent huge pages can be had for MADV_HUGEPAGE areas. */
static void enable_thp(void)
{
	const char *knob = "/sys/kernel/mm/transparent_hugepage/enabled";
	char buf[128];

	if (read_file(knob, buf, sizeof(buf)) <= 0)
		die("%s: cannot read it", knob);
	if (strstr(buf, "[never]") && write_file(knob, "madvise"))
		die("%s: cannot enable madvise mode", knob);
}

/* Identical THP-backed regions: split and merged, contents intact. */
static void scenario_thp(struct pool *pool)
{
	const size_t pages = 2 * HUGE_SIZE / PAGE_SIZE;
	unsigned int w, workers = 0;
	uint64_t start;

	enable_thp();
	for (w = 0; w < 2; w++) {
		long huge_kb;

		pool_spawn(pool);
		workers |= WORKER(w);
		if (pool_call(pool, w, OP_MAP, pages, POOL_HUGE_ALIGNED, 0) < 0 ||
		    pool_call(pool, w, OP_MADVISE, 0, pages, MADV_HUGEPAGE))
			die("worker %u: huge page area setup failed", w);
		pool_fill(pool, w, 0, pages, SHARED_SET);
		huge_kb = smaps_field_kb(pool_pid(pool, w), pool_base(pool, w), "AnonHugePages");
		if (!expect(huge_kb == (long)(pages * PAGE_SIZE / 1024),
			    "worker %u: AnonHugePages %ld kB before merging, expected %zu", w,
			    huge_kb, pages * PAGE_SIZE / 1024))
			finish("huge pages");
		if (pool_call(pool, w, OP_MADVISE, 0, pages, MADV_MERGEABLE))
			die("worker %u: madvise(MADV_MERGEABLE) failed", w);
	}
	start = now_ms();
	if (engine("start"))
		die("engine_start failed");
	if (!pool_expect_merged(pool, workers, 0, pages, MERGE_TIMEOUT, "huge pages"))
		finish("huge pages merge");
	say("2 huge-page-backed regions: %zu pages merged in %llu ms", pages,
	    (unsigned long long)(now_ms() - start));
	for (w = 0; w < 2; w++)
		expect(smaps_field_kb(pool_pid(pool, w), pool_base(pool, w), "AnonHugePages") == 0,
		       "worker %u: huge pages left after merging all their pages", w);
	pool_expect_intact(pool, workers, "huge pages merged");
	expect_engine_counters((long)pages, (long)pages, COUNTER_TIMEOUT);
}

/* ksmpp's index buckets and metadata when the indexes scenario began. */
static long idle_buckets, idle_bytes;

#define MANY_MERGED	4096

/*
 * Enough buckets for the merged pages' nodes: at least one per two nodes
 * in the node table and in the stable index.
 */
static bool indexes_grown(void *unused)
{
	(void)unused;
	return engine_counter("index_buckets") >= idle_buckets + MANY_MERGED;
}

static bool indexes_back(void *unused)
{
	(void)unused;
	return engine_counter("index_buckets") == idle_buckets &&
	       engine_counter("metadata_bytes") == idle_bytes;
}

/*
 * ksmpp only: its indexes and node table grow with what they hold and
 * shrink back (module/index.c). Started with nobody opted in, they have
 * their fewest buckets. With MANY_MERGED pages merged (as many nodes),
 * the node table and the stable index each grow to at least a bucket per
 * two nodes. Once the workers are gone, index_buckets and metadata_bytes
 * are back where they were.
 */
static void scenario_indexes(struct pool *pool)
{
	unsigned int workers, w;

	if (engine("start"))
		die("cannot start the engine");
	idle_buckets = engine_counter("index_buckets");
	idle_bytes = engine_counter("metadata_bytes");
	expect(idle_buckets > 0 && idle_buckets <= 3 * 64,
	       "index_buckets %ld with nothing to index", idle_buckets);
	workers = pool_merged_workers(pool, 2, MANY_MERGED, UNIQUE);
	expect(wait_until(indexes_grown, NULL, COUNTER_TIMEOUT),
	       "index_buckets %ld with %d pages merged, %ld at the start",
	       engine_counter("index_buckets"), MANY_MERGED, idle_buckets);
	pool_expect_intact(pool, workers, "merged");
	for (w = 0; w < 2; w++)
		pool_exit(pool, w);
	expect(wait_until(indexes_back, NULL, COUNTER_TIMEOUT),
	       "with the workers gone: index_buckets %ld (%ld at the start), metadata_bytes %ld (%ld)",
	       engine_counter("index_buckets"), idle_buckets,
	       engine_counter("metadata_bytes"), idle_bytes);
}

static bool passes_reached(void *full_scans)
{
	return engine_counter("full_scans") >= *(long *)full_scans;
}

/* Wait for the engine to complete @passes more passes (expectation). */
static void wait_passes(long passes)
{
	long target = engine_counter("full_scans") + passes;

	expect(wait_until(passes_reached, &target, MERGE_TIMEOUT),
	       "full_scans %ld, waited for %ld", engine_counter("full_scans"), target);
}

/* Walks of the host's processes during the next @passes passes. */
static long walks_in_passes(long passes)
{
	long walks = engine_counter("process_walks");

	wait_passes(passes);
	return engine_counter("process_walks") - walks;
}

/*
 * ksmpp only: the host's processes are walked only after an opt-in, at the
 * two pass starts that follow it (module/scanner.c), not at every pass;
 * processes that opt in later, by fork and by madvise, are found and
 * merged all the same.
 */
static void scenario_discovery(struct pool *pool)
{
	const size_t part = 32;
	unsigned int workers = pool_merged_workers(pool, 2, SHARED, UNIQUE), child, late;
	long walks;

	wait_passes(2);
	walks = walks_in_passes(5);
	expect(walks == 0, "%ld walks of the processes in 5 passes without an opt-in", walks);

	child = pool_fork(pool, 0);
	pool_fill(pool, child, 0, part, CHILD_SET);
	pool_fill(pool, 1, 0, part, CHILD_SET);
	workers |= WORKER(child);
	pool_expect_merged(pool, WORKER(1) | WORKER(child), 0, part, MERGE_TIMEOUT,
			   "the forked child's new pages with worker 1's");
	wait_passes(2);
	walks = engine_counter("process_walks");

	late = ffs(pool_setup(pool, 1, SHARED, UNIQUE, 0)) - 1;
	workers |= WORKER(late);
	pool_expect_merged(pool, WORKER(0) | WORKER(late), part, SHARED - part, MERGE_TIMEOUT,
			   "a process that opted in later");
	wait_passes(2);
	walks = engine_counter("process_walks") - walks;
	expect(walks == 2, "%ld walks of the processes after one opt-in, not 2", walks);
	expect(engine_counter("processes") == 4, "processes %ld, 4 opted in",
	       engine_counter("processes"));
	walks = walks_in_passes(3);
	expect(walks == 0, "%ld walks in 3 passes after the opt-ins were found", walks);
	pool_expect_intact(pool, workers, "after the opt-ins");
}

static const struct pool_scenario scenarios[] = {
	{ "two", scenario_two, "two processes merge" },
	{ "four", scenario_four, "four processes merge" },
	{ "cow", scenario_cow, "copy-on-write isolates the writer" },
	{ "fork", scenario_fork, "fork after merge, writes isolated both ways" },
	{ "exit", scenario_exit, "a sharer exits, the others stay intact" },
	{ "munmap", scenario_munmap, "munmap of part of a merged region" },
	{ "mremap", scenario_mremap, "mremap of a merged region" },
	{ "mprotect", scenario_mprotect, "read-only merged region" },
	{ "unmergeable", scenario_unmergeable, "MADV_UNMERGEABLE unmerges one process" },
	{ "thp", scenario_thp, "huge-page-backed regions merge" },
	{ "indexes", scenario_indexes, "ksmpp's indexes grow and shrink back" },
	{ "discovery", scenario_discovery, "processes walked only after an opt-in" },
};

int main(int argc, char **argv)
{
	prog = "ksm-merge";
	return pool_run_scenario(scenarios, sizeof(scenarios) / sizeof(scenarios[0]), argc, argv);
}
