// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm-migrate: merged pages move between NUMA nodes (the guest needs two)
 * and every process that maps them follows: move_pages(2) and
 * migrate_pages(2) with MPOL_MF_MOVE_ALL (pages mapped by several
 * processes; needs CAP_SYS_NICE), then compaction. After each move all
 * sharers map one new frame per page, on the node asked for, and the
 * contents are intact.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <errno.h>
#include <linux/mempolicy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SHARED		512
#define UNIQUE		32
#define PROCESSES	3
#define MOVE_TRIES	20

static struct pool *pool;
static unsigned int workers;
static void *addresses[SHARED];

/* Addresses of worker W's shared pages, for move_pages. */
static void **page_addresses(unsigned int w)
{
	size_t i;

	for (i = 0; i < SHARED; i++)
		addresses[i] = (void *)(pool_base(pool, w) + i * PAGE_SIZE);
	return addresses;
}

/* move_pages(2) on worker W's shared pages: NODES NULL queries them. */
static long move_pages(unsigned int w, const int *nodes, int *status, int flags)
{
	return syscall(SYS_move_pages, pool_pid(pool, w), SHARED, page_addresses(w), nodes,
		       status, flags);
}

/* The nodes of worker W's shared pages (or -errno each) in STATUS. */
static void query_nodes(unsigned int w, int *status)
{
	if (move_pages(w, NULL, status, 0))
		die("move_pages query: %s", strerror(errno));
}

/*
 * After pages moved to NODE: every sharer has them all there, on one frame
 * per page, contents intact; BEFORE (frames before the move) differ from
 * the frames now for at least MOVED pages.
 */
static void expect_moved(const char *how, int node, const uint64_t *before, size_t moved)
{
	uint64_t *after = pool_frames(pool, 0, 0, SHARED);
	size_t changed = SHARED - count_equal(before, after, SHARED);
	unsigned int w;

	say("%s: %zu frames changed", how, changed);
	for (w = 0; w < MAX_WORKERS; w++)
		if (workers & WORKER(w))
			expect(pool_pages_on_node(pool, w, 0, SHARED, node) == SHARED,
			       "%s: worker %u has %zu of %d pages on node %d", how, w,
			       pool_pages_on_node(pool, w, 0, SHARED, node), SHARED, node);
	expect(pool_count_merged(pool, workers, 0, SHARED) == SHARED,
	       "%s: sharers do not map the same frames (%zu of %d)", how,
	       pool_count_merged(pool, workers, 0, SHARED), SHARED);
	expect(changed >= moved, "%s: only %zu frames changed, %zu pages had to move", how,
	       changed, moved);
	pool_expect_intact(pool, workers, how);
	free(after);
}

/*
 * Worker W's shared pages all to NODE with move_pages(MPOL_MF_MOVE_ALL).
 * A page can be busy for a moment (the scanner holding it): the pages not
 * there yet are asked again, a few times. (move_pages stops at the first
 * page that fails, so each try passes only the pages still to move.)
 */
static void move_all(unsigned int w, int node)
{
	int nodes[SHARED], status[SHARED];
	void *todo[SHARED];
	unsigned int try;
	int first_status = 0;
	size_t i, n;
	long ret;

	for (try = 1; try <= MOVE_TRIES; try++) {
		query_nodes(w, status);
		page_addresses(w);
		for (i = n = 0; i < SHARED; i++) {
			if (status[i] == node)
				continue;
			if (!n)
				first_status = status[i];
			todo[n] = addresses[i];
			nodes[n++] = node;
		}
		if (!n)
			return;
		if (try > 1) {
			say("move_pages: %zu pages still to move (one on node %d), retrying", n,
			    first_status);
			sleep_ms(100);
		}
		ret = syscall(SYS_move_pages, pool_pid(pool, w), n, todo, nodes, status,
			      MPOL_MF_MOVE_ALL);
		if (ret < 0)
			die("move_pages: %s", strerror(errno));
	}
}

/* Everything of worker W on node FROM to node TO with migrate_pages(2). */
static void migrate_all(unsigned int w, int from, int to)
{
	unsigned long old_nodes = 1UL << from, new_nodes = 1UL << to;
	unsigned int try;
	long ret;

	for (try = 1; try <= MOVE_TRIES; try++) {
		/* maxnode counts one more than the bits passed. */
		ret = syscall(SYS_migrate_pages, pool_pid(pool, w), 8 * sizeof(long) + 1,
			      &old_nodes, &new_nodes);
		if (ret < 0)
			die("migrate_pages: %s", strerror(errno));
		if (ret == 0)
			return;
		say("migrate_pages: %ld pages not moved, retrying", ret);
		sleep_ms(100);
	}
}

int main(void)
{
	int first, other, status[SHARED];
	uint64_t *before;
	size_t moved;

	prog = "ksm-migrate";
	say("merged pages migrate between NUMA nodes (engine %s)", engine_name());
	if (access("/sys/devices/system/node/node1", F_OK))
		die("the guest has one NUMA node: two are needed");
	/* Keep NUMA balancing from moving pages behind the test's back. */
	write_file("/proc/sys/kernel/numa_balancing", "0");
	stop_engine_at_exit();
	pool = pool_create();
	workers = pool_merged_workers(pool, PROCESSES, SHARED, UNIQUE);

	/* move_pages by the first sharer: all to the node page 0 is not on. */
	before = pool_frames(pool, 0, 0, SHARED);
	query_nodes(0, status);
	if (status[0] != 0 && status[0] != 1)
		die("page 0 on node %d", status[0]);
	first = 1 - status[0];
	other = status[0];
	moved = SHARED - pool_pages_on_node(pool, 0, 0, SHARED, first);
	say("%zu pages not on node %d, moving all there", moved, first);
	move_all(0, first);
	expect_moved("move_pages", first, before, moved);
	free(before);

	/* migrate_pages of the second sharer: everything to the other node. */
	before = pool_frames(pool, 0, 0, SHARED);
	migrate_all(1, first, other);
	expect_moved("migrate_pages", other, before, SHARED);
	free(before);

	/* move_pages by the third sharer, back again. */
	before = pool_frames(pool, 0, 0, SHARED);
	move_all(2, first);
	expect_moved("move_pages by another sharer", first, before, SHARED);
	free(before);

	/* Compaction may or may not move them: contents and sharing stay. */
	before = pool_frames(pool, 0, 0, SHARED);
	if (write_file("/proc/sys/vm/compact_memory", "1"))
		die("cannot write /proc/sys/vm/compact_memory");
	expect_moved("compaction", first, before, 0);
	free(before);

	expect_engine_counters(SHARED, (PROCESSES - 1) * SHARED, COUNTER_TIMEOUT);
	pool_destroy(pool);
	finish("merged pages migrated with all sharers, intact");
}
