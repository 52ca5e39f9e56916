// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm-parity SCENARIO: KSM's knobs that change what merges, by frames.
 *   zero          use_zero_pages=1: empty pages map the zero page; a write
 *                 gets a private page; run=2 unshares them where the kernel
 *                 marks them (6.12 on: /proc/PID/ksm_stat has ksm_zero_pages,
 *                 and the engine counts them in its ksm_zero_pages)
 *   zero-off      use_zero_pages=0: empty pages merge as any other content
 *   nodes-apart   merge_across_nodes=0: pages of one NUMA node share frames,
 *                 pages of two nodes never do
 *   nodes-across  merge_across_nodes=1: pages of both nodes share frames
 *   chains        max_page_sharing=2: four processes' pages on two merged
 *                 pages per content (stable_node_chains, stable_node_dups)
 *   smart         smart_scan=1: pages that never merge are passed over
 *                 (pages_skipped), more and more often
 *   smart-off     smart_scan=0: none is
 * The caller (tests/vm/parity.sh) sets the knob before the scenario starts
 * the engine; the scenario checks that it reads as expected. Each prints
 * one "ok" or "FAIL" line, stops the engine and exits 0 or 1.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SHARED		256
#define ZEROS		256
#define UNIQUE		32

/* The engine's knob NAME, as a number; dies if it cannot be read. */
static long knob(const char *name)
{
	char path[128], text[64];

	snprintf(path, sizeof(path), "/sys/kernel/mm/%s/%s", engine_name(), name);
	if (read_file(path, text, sizeof(text)) <= 0)
		die("cannot read %s", path);
	return strtol(text, NULL, 10);
}

static void expect_knob(const char *name, long value)
{
	if (!expect(knob(name) == value, "%s is %ld, the scenario needs %ld", name,
		    knob(name), value))
		finish(name);
}

/* How many of worker W's pages [FIRST, FIRST + COUNT) map frame PFN. */
static size_t pages_at(const struct pool *pool, unsigned int w, size_t first,
		       size_t count, uint64_t pfn)
{
	uint64_t *frames = pool_frames(pool, w, first, count);
	size_t i, n = 0;

	for (i = 0; i < count; i++)
		n += frames[i] == pfn;
	free(frames);
	return n;
}

struct zero_goal {
	const struct pool *pool;
	unsigned int workers;
	size_t pages;		/* of each worker's ZEROS, on the zero page */
};

static bool zero_mapped(void *arg)
{
	const struct zero_goal *goal = arg;
	uint64_t zero = zero_pfn();
	unsigned int w;

	for (w = 0; w < MAX_WORKERS; w++)
		if ((goal->workers & WORKER(w)) &&
		    pages_at(goal->pool, w, SHARED, ZEROS, zero) != goal->pages)
			return false;
	return true;
}

/*
 * Two workers with SHARED identical pages, then ZEROS written with zeros.
 * No huge pages: from 6.12 on, a split of one maps its empty small pages
 * to the zero page itself, whatever use_zero_pages says.
 */
static unsigned int zero_workers(struct pool *pool)
{
	unsigned int workers = pool_setup(pool, 2, SHARED + ZEROS, UNIQUE, POOL_NO_HUGE), w;

	for (w = 0; w < 2; w++)
		pool_fill(pool, w, SHARED, ZEROS, ZERO_SET);
	return workers;
}

struct counter_goal {
	const char *name;
	long value;
};

static bool counter_reached(void *arg)
{
	const struct counter_goal *goal = arg;

	return engine_counter(goal->name) == goal->value;
}

/* Expectation: the engine's counter NAME becomes VALUE (WHEN: the moment). */
static void expect_counter(const char *name, long value, const char *when)
{
	struct counter_goal goal = { name, value };

	expect(wait_until(counter_reached, &goal, COUNTER_TIMEOUT),
	       "%s: the engine's %s is %ld, expected %ld", when, name,
	       engine_counter(name), value);
}

/* ksm_stat's ksm_zero_pages of worker W: -1 where the kernel has none (6.1). */
static long ksm_zero_pages(const struct pool *pool, unsigned int w)
{
	return proc_ksm_stat(pool_pid(pool, w), "ksm_zero_pages");
}

static void scenario_zero(struct pool *pool)
{
	struct zero_goal goal = { pool, 0, ZEROS };
	unsigned int w;
	bool marked;

	expect_knob("use_zero_pages", 1);
	goal.workers = zero_workers(pool);
	if (engine("start"))
		die("engine_start failed");
	pool_expect_merged(pool, goal.workers, 0, SHARED, MERGE_TIMEOUT, "shared pages");
	if (!expect(wait_until(zero_mapped, &goal, MERGE_TIMEOUT),
		    "empty pages on the zero page after %u s: %zu and %zu of %d", MERGE_TIMEOUT,
		    pages_at(pool, 0, SHARED, ZEROS, zero_pfn()),
		    pages_at(pool, 1, SHARED, ZEROS, zero_pfn()), ZEROS))
		finish("zero pages");
	marked = ksm_zero_pages(pool, 0) >= 0;
	for (w = 0; marked && w < 2; w++)
		expect(ksm_zero_pages(pool, w) == ZEROS, "worker %u: ksm_zero_pages %ld, expected %d",
		       w, ksm_zero_pages(pool, w), ZEROS);
	if (marked)
		expect_counter("ksm_zero_pages", 2 * ZEROS, "merged");
	pool_expect_intact(pool, goal.workers, "empty pages on the zero page");

	/* A write gets a private page, with what was written. */
	pool_fill(pool, 0, SHARED, ZEROS / 2, 7);
	expect(pages_at(pool, 0, SHARED, ZEROS / 2, zero_pfn()) == 0,
	       "worker 0: written pages still on the zero page");
	if (marked) {
		expect(ksm_zero_pages(pool, 0) == ZEROS / 2,
		       "worker 0: ksm_zero_pages %ld after writing half, expected %d",
		       ksm_zero_pages(pool, 0), ZEROS / 2);
		expect_counter("ksm_zero_pages", ZEROS + ZEROS / 2, "half written");
	}
	pool_expect_intact(pool, goal.workers, "written over the zero page");

	/* run=2: as KSM of the same kernel, unshared only where marked. */
	if (engine("unmerge"))
		die("engine_unmerge failed");
	expect(pages_at(pool, 1, SHARED, ZEROS, zero_pfn()) == (marked ? 0 : ZEROS),
	       "worker 1: %zu empty pages on the zero page after run=2, expected %d",
	       pages_at(pool, 1, SHARED, ZEROS, zero_pfn()), marked ? 0 : ZEROS);
	if (marked) {
		expect(ksm_zero_pages(pool, 1) == 0, "worker 1: ksm_zero_pages %ld after run=2",
		       ksm_zero_pages(pool, 1));
		expect_counter("ksm_zero_pages", 0, "run=2");
	}
	pool_expect_intact(pool, goal.workers, "run=2");
}

static int compare_frames(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct frames_goal {
	const struct pool *pool;
	size_t most;		/* distinct frames of both workers' empty pages */
};

/* Distinct frames (0: a page not present) of both workers' empty pages. */
static size_t zero_frames(const struct pool *pool)
{
	uint64_t *all = malloc(2 * ZEROS * sizeof(*all));
	size_t i, distinct = 0;

	if (!all)
		die("out of memory");
	pool_pfns(pool, 0, SHARED, ZEROS, all);
	pool_pfns(pool, 1, SHARED, ZEROS, all + ZEROS);
	qsort(all, 2 * ZEROS, sizeof(*all), compare_frames);
	for (i = 0; i < 2 * ZEROS; i++)
		distinct += !i || all[i] != all[i - 1] || !all[i];
	free(all);
	return distinct;
}

static bool zero_frames_merged(void *arg)
{
	const struct frames_goal *goal = arg;

	return zero_frames(goal->pool) <= goal->most;
}

static void scenario_zero_off(struct pool *pool)
{
	/* max_page_sharing mappings a page: a few pages for all of them. */
	struct frames_goal goal = { pool, 2 * ZEROS / 64 };
	unsigned int workers;

	expect_knob("use_zero_pages", 0);
	workers = zero_workers(pool);
	if (engine("start"))
		die("engine_start failed");
	pool_expect_merged(pool, workers, 0, SHARED, MERGE_TIMEOUT, "shared pages");
	expect(wait_until(zero_frames_merged, &goal, MERGE_TIMEOUT),
	       "empty pages of both workers on %zu frames after %u s, expected %zu at most",
	       zero_frames(pool), MERGE_TIMEOUT, goal.most);
	expect(pages_at(pool, 0, SHARED, ZEROS, zero_pfn()) == 0,
	       "worker 0: %zu empty pages on the zero page with use_zero_pages=%ld",
	       pages_at(pool, 0, SHARED, ZEROS, zero_pfn()), knob("use_zero_pages"));
	pool_expect_intact(pool, workers, "empty pages merged");
}

/*
 * Workers 0 and 1 on node 0, 2 and 3 on node 1, all with the same SHARED
 * pages, merged; merge_across_nodes cannot change while they are.
 */
static void nodes(struct pool *pool, bool across)
{
	unsigned int node0 = pool_setup(pool, 2, SHARED, UNIQUE, POOL_NODE(0));
	unsigned int node1 = pool_setup(pool, 2, SHARED, UNIQUE, POOL_NODE(1));
	uint64_t *a, *b;
	unsigned int w;

	expect_knob("merge_across_nodes", across);
	for (w = 0; w < 4; w++)
		if (!expect(pool_pages_on_node(pool, w, 0, SHARED, w / 2) == SHARED,
			    "worker %u: %zu of %d pages on node %u", w,
			    pool_pages_on_node(pool, w, 0, SHARED, w / 2), SHARED, w / 2))
			finish("placement");
	if (engine("start"))
		die("engine_start failed");
	if (across) {
		pool_expect_merged(pool, node0 | node1, 0, SHARED, MERGE_TIMEOUT, "both nodes");
		expect_engine_counters(SHARED, 3 * SHARED, COUNTER_TIMEOUT);
	} else {
		pool_expect_merged(pool, node0, 0, SHARED, MERGE_TIMEOUT, "node 0");
		pool_expect_merged(pool, node1, 0, SHARED, MERGE_TIMEOUT, "node 1");
		expect_engine_counters(2 * SHARED, 2 * SHARED, COUNTER_TIMEOUT);
		a = pool_frames(pool, 0, 0, SHARED);
		b = pool_frames(pool, 2, 0, SHARED);
		expect(!count_equal(a, b, SHARED), "%zu pages of node 0 and node 1 share a frame",
		       count_equal(a, b, SHARED));
		free(a);
		free(b);
	}
	expect(engine_write("merge_across_nodes", across ? "0" : "1") == -EBUSY,
	       "merge_across_nodes changed while pages are merged");
	expect_knob("merge_across_nodes", across);
	pool_expect_intact(pool, node0 | node1, "merged on nodes");
}

static void scenario_nodes_apart(struct pool *pool)
{
	nodes(pool, false);
}

static void scenario_nodes_across(struct pool *pool)
{
	nodes(pool, true);
}

/*
 * Four processes with the same pages, at max_page_sharing=2: each content
 * takes two merged pages of two mappings each, a chain of two duplicates
 * in KSM's counting.
 */
static void scenario_chains(struct pool *pool)
{
	unsigned int workers = pool_setup(pool, 4, SHARED, UNIQUE, 0), w;
	uint64_t *frames[4];
	size_t i, paired = 0;

	expect_knob("max_page_sharing", 2);
	if (engine("start"))
		die("engine_start failed");
	expect_engine_counters(2 * SHARED, 2 * SHARED, MERGE_TIMEOUT);
	expect_counter("stable_node_chains", SHARED, "merged");
	expect_counter("stable_node_dups", 2 * SHARED, "merged");
	for (w = 0; w < 4; w++)
		frames[w] = pool_frames(pool, w, 0, SHARED);
	/* Each page: two frames, each mapped by two of the four. */
	for (i = 0; i < SHARED; i++) {
		unsigned int same = 0, a, b;

		for (a = 0; a < 4; a++)
			for (b = a + 1; b < 4; b++)
				same += frames[a][i] == frames[b][i];
		paired += same == 2;
	}
	expect(paired == SHARED, "%zu of %d pages on two frames of two mappings each",
	       paired, SHARED);
	for (w = 0; w < 4; w++)
		free(frames[w]);
	pool_expect_intact(pool, workers, "chains");
}

/* Passes over which smart_scan is watched, and its least skips in them. */
#define SMART_PASSES	20
#define SMART_SKIPS	5

static bool passes_done(void *arg)
{
	return engine_counter("full_scans") >= *(long *)arg;
}

/*
 * Pages that never merge: with smart_scan, passed over more and more often
 * (by KSM's back-off, a page is visited 7 times in its first 20 passes);
 * without it, never.
 */
static void smart(struct pool *pool, bool on)
{
	unsigned int workers = pool_setup(pool, 2, SHARED, UNIQUE, 0);
	/* KSM's count is since boot; ksmpp's since it was loaded (by the caller). */
	long skipped, until, before = engine_counter("pages_skipped");

	expect_knob("smart_scan", on);
	if (engine("start"))
		die("engine_start failed");
	pool_expect_merged(pool, workers, 0, SHARED, MERGE_TIMEOUT, "shared pages");
	until = engine_counter("full_scans") + SMART_PASSES;
	if (!expect(wait_until(passes_done, &until, MERGE_TIMEOUT),
		    "full_scans %ld after %u s, waited for %ld", engine_counter("full_scans"),
		    MERGE_TIMEOUT, until))
		finish("passes");
	skipped = engine_counter("pages_skipped") - before;
	if (on)
		expect(skipped >= SMART_SKIPS * 2 * UNIQUE,
		       "pages_skipped %ld after %d passes over %d unique pages, expected %d or more",
		       skipped, SMART_PASSES, 2 * UNIQUE, SMART_SKIPS * 2 * UNIQUE);
	else
		expect(!skipped, "pages_skipped %ld with smart_scan off", skipped);
	pool_expect_intact(pool, workers, "passes with smart_scan");
}

static void scenario_smart(struct pool *pool)
{
	smart(pool, true);
}

static void scenario_smart_off(struct pool *pool)
{
	smart(pool, false);
}

static const struct pool_scenario scenarios[] = {
	{ "zero", scenario_zero, "use_zero_pages=1: empty pages map the zero page" },
	{ "zero-off", scenario_zero_off, "use_zero_pages=0: empty pages merge as any" },
	{ "nodes-apart", scenario_nodes_apart, "merge_across_nodes=0: one node's pages only" },
	{ "nodes-across", scenario_nodes_across, "merge_across_nodes=1: both nodes' pages" },
	{ "chains", scenario_chains, "max_page_sharing=2: chains of duplicates" },
	{ "smart", scenario_smart, "smart_scan=1: pages that never merge are passed over" },
	{ "smart-off", scenario_smart_off, "smart_scan=0: every page is visited" },
};

int main(int argc, char **argv)
{
	prog = "ksm-parity";
	return pool_run_scenario(scenarios, sizeof(scenarios) / sizeof(scenarios[0]), argc, argv);
}
