/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A pool of worker processes driven by one controller. Each worker owns one
 * anonymous private region and remembers what every page of it should hold
 * (page i of some set, or zeros); the controller tells it what to do and
 * reads its frames from /proc/PID/pagemap. Workers are forked before they
 * map anything, so identical pages are never shared by fork unless a test
 * forks a worker on purpose (pool_call(..., OP_FORK, ...)).
 *
 * Worker sets are bit masks (bit w: worker w), e.g. WORKER(0) | WORKER(2).
 */
#ifndef KSMPP_TEST_POOL_H
#define KSMPP_TEST_POOL_H

#include "common.h"

#define MAX_WORKERS	16
#define WORKER(w)	(1U << (w))

/*
 * Bounds, in seconds, for the engine under TCG to merge what it should and
 * to bring its counters up to date; a second or two is usual. The
 * environment can lower them (see check_merging in tests/vm/lib.sh).
 */
#define MERGE_TIMEOUT	number_from_env("KSMPP_MERGE_TIMEOUT", 60)
#define COUNTER_TIMEOUT	number_from_env("KSMPP_COUNTER_TIMEOUT", 20)

enum worker_op {
	OP_MAP,		/* a pages, b flags (POOL_*): map the region; -> base */
	OP_FILL,	/* a first page, b count, c set: write page i of set c */
	OP_MADVISE,	/* a first page, b count, c advice; -> 0 or -errno */
	OP_VERIFY,	/* a first page, b count (-1: all): -> pages not as expected */
	OP_MUNMAP,	/* a first page, b count */
	OP_MREMAP,	/* move the region elsewhere; -> new base */
	OP_MPROTECT,	/* a protection for the whole region; -> 0 or -errno */
	OP_FORK,	/* a worker number for the child; -> child pid */
	OP_UFFD_WP,	/* write-protect the region with userfaultfd; -> 0 or -errno */
	OP_SETUID,	/* a: become real and effective uid a (root stays saved); -> 0 or -errno */
	OP_EXIT,	/* the worker exits */
};

/* OP_MAP flags. */
#define POOL_HUGE_ALIGNED	1	/* region starts on a 2 MiB boundary */
#define POOL_NODE(n)		(2 << (n))	/* memory on NUMA node n (0 or 1) only */
#define POOL_NO_HUGE		8	/* MADV_NOHUGEPAGE: small pages only */

/* OP_FILL's set for pages written with zeros (present, not the zero page). */
#define ZERO_SET	0
/* The set every worker fills its shared pages with, and unique sets. */
#define SHARED_SET	1
#define UNIQUE_SET(w)	(100 + (w))

struct pool;

struct pool *pool_create(void);
/* A new worker (a child of the controller); -> its number. */
unsigned int pool_spawn(struct pool *pool);
/* Have worker W do OP; dies if it fails to answer in time. */
long pool_call(struct pool *pool, unsigned int w, enum worker_op op, long a, long b, long c);
/*
 * Worker W forks: the child becomes a new worker; -> its number. The child
 * is killed when W exits, so exit it first (pool_destroy does).
 */
unsigned int pool_fork(struct pool *pool, unsigned int w);
/* Worker W exits; returns when it is gone. */
void pool_exit(struct pool *pool, unsigned int w);
/* Every worker exits. */
void pool_destroy(struct pool *pool);

pid_t pool_pid(const struct pool *pool, unsigned int w);
uintptr_t pool_base(const struct pool *pool, unsigned int w);
/* Workers alive, as a mask. */
unsigned int pool_alive(const struct pool *pool);

/*
 * N new workers, each with a region of SHARED + UNIQUE pages (FLAGS as for
 * OP_MAP): pages [0, SHARED) of SHARED_SET, the rest of UNIQUE_SET(w),
 * all MADV_MERGEABLE. -> mask of the new workers.
 */
unsigned int pool_setup(struct pool *pool, unsigned int n, size_t shared, size_t unique,
			unsigned int flags);

/*
 * pool_setup, then the engine started (engine("start")) and all SHARED
 * pages merged within MERGE_TIMEOUT seconds, or the program finishes there
 * (a failed expectation). -> mask of the new workers.
 */
unsigned int pool_merged_workers(struct pool *pool, unsigned int n, size_t shared,
				 size_t unique);
/* Worker W writes page i of SET over pages [FIRST, FIRST + COUNT). */
void pool_fill(struct pool *pool, unsigned int w, size_t first, size_t count, uint32_t set);

/* Frames of pages [FIRST, FIRST + COUNT) of worker W (0: not present). */
void pool_pfns(const struct pool *pool, unsigned int w, size_t first, size_t count,
	       uint64_t *pfns);
/* The same, in a new malloc'ed array. */
uint64_t *pool_frames(const struct pool *pool, unsigned int w, size_t first, size_t count);
/* The zero page's frame, as pagemap shows it. */
uint64_t zero_pfn(void);
/* How many of worker W's pages [FIRST, FIRST + COUNT) are on NUMA node NODE. */
size_t pool_pages_on_node(const struct pool *pool, unsigned int w, size_t first,
			  size_t count, int node);
/* How many of the COUNT numbers in A and B are equal. */
size_t count_equal(const uint64_t *a, const uint64_t *b, size_t count);
/* How many pages i in [FIRST, FIRST + COUNT) all WORKERS map at one frame. */
size_t pool_count_merged(const struct pool *pool, unsigned int workers, size_t first,
			 size_t count);
/* Wait up to TIMEOUT_S seconds until all those pages are merged. */
bool pool_wait_merged(const struct pool *pool, unsigned int workers, size_t first,
		      size_t count, unsigned int timeout_s);
/*
 * Whether every page [FIRST, FIRST + COUNT) of every one of WORKERS is
 * present on a frame of its own (no two of them share one).
 */
bool pool_all_distinct(const struct pool *pool, unsigned int workers, size_t first,
		       size_t count);
/* Every one of WORKERS finds its whole region as expected (expectation). */
bool pool_expect_intact(struct pool *pool, unsigned int workers, const char *when);
/*
 * Expectation: within TIMEOUT_S seconds, pages [FIRST, FIRST + COUNT) are
 * merged across WORKERS (WHEN names the moment in the failure message).
 */
bool pool_expect_merged(const struct pool *pool, unsigned int workers, size_t first,
			size_t count, unsigned int timeout_s, const char *when);
/*
 * Expectation: within TIMEOUT_S seconds, /proc/PID/ksm_merging_pages of
 * each of WORKERS is PAGES.
 */
bool pool_expect_merging_pages(const struct pool *pool, unsigned int workers, long pages,
			       unsigned int timeout_s);

/* A scenario of a test program, run by name. */
struct pool_scenario {
	const char *name;
	void (*run)(struct pool *pool);
	const char *what;	/* for the "ok" or "FAIL" line */
};

/*
 * The main() of a program of scenarios: runs the one argv[1] names, with
 * a pool of its own, then prints one "ok" or "FAIL" line, stops the engine
 * and exits 0 or 1; or prints the usage and returns 2.
 */
int pool_run_scenario(const struct pool_scenario *scenarios, size_t count, int argc,
		      char **argv);

#endif
