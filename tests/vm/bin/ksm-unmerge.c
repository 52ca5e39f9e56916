// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm-unmerge SCENARIO: merged memory comes apart again, intact.
 *   run2          engine_unmerge (run=2): every page on a frame of its own,
 *                 counters 0, nothing merged again while stopped
 *   unload        engine_stop (ksmpp: rmmod) while merged: frames apart
 *   cycles N      N times: the processes write new duplicates over half
 *                 their pages, engine_start, wait until a quarter of the
 *                 pages are merged, engine_stop at once (in the middle of
 *                 merging), check
 *   hook COMMAND  with the engine as it is: wait for a merge, run the shell
 *                 COMMAND, check contents (for the ksmd group)
 *   uffd-wp       run=2 while every process has its merged memory write-
 *                 protected with userfaultfd (QEMU's background snapshot)
 *   unbreakable   with ksmpp-test.ko's test_fault=2 (no private copy can
 *                 be made): run=2 and KSM's start fail, unload hands the
 *                 pages over to kernel KSM, whose run=2 unmerges them later
 * KSMPP_UNMERGE_PROCESSES sets the number of processes (default 3).
 */
#define _GNU_SOURCE
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARED		512
#define UNIQUE		32
#define ALL		(SHARED + UNIQUE)
#define PROCESSES	number_from_env("KSMPP_UNMERGE_PROCESSES", 3)

/* Every page of every worker on a frame of its own, contents intact. */
static void expect_apart(struct pool *pool, unsigned int workers, const char *when)
{
	expect(pool_all_distinct(pool, workers, 0, ALL),
	       "%s: %zu of %d pages still merged", when,
	       pool_count_merged(pool, workers, 0, SHARED), SHARED);
	pool_expect_intact(pool, workers, when);
}

static void scenario_run2(struct pool *pool)
{
	unsigned int workers = pool_merged_workers(pool, PROCESSES, SHARED, UNIQUE);

	expect_engine_counters(SHARED, (PROCESSES - 1) * SHARED, COUNTER_TIMEOUT);
	if (engine("unmerge"))
		die("engine_unmerge failed");
	expect_apart(pool, workers, "after unmerge");
	expect(engine_counter("pages_shared") == 0 && engine_counter("pages_sharing") == 0,
	       "counters after unmerge: pages_shared %ld pages_sharing %ld",
	       engine_counter("pages_shared"), engine_counter("pages_sharing"));
	pool_expect_merging_pages(pool, workers, 0, 1);
	if (!strcmp(engine_name(), "ksmpp")) {
		char state[64] = "";

		engine_text("state", state, sizeof(state));
		expect(!strcmp(state, "stopped"), "state \"%s\" after unmerge", state);
	}
	/* Stopped: nothing gets merged again. */
	sleep_ms(2000);
	expect_apart(pool, workers, "stopped for 2 s after unmerge");
}

static void scenario_unload(struct pool *pool)
{
	unsigned int workers = pool_merged_workers(pool, PROCESSES, SHARED, UNIQUE);

	if (engine("stop"))
		die("engine_stop failed");
	expect_apart(pool, workers, "after stopping the engine");
	pool_expect_merging_pages(pool, workers, 0, 1);
}

/* The set all workers write in cycle C (so each cycle brings new duplicates). */
#define CYCLE_SET(c)	(1000 + (c))

static void scenario_cycles(struct pool *pool, unsigned int cycles)
{
	unsigned int workers = pool_setup(pool, PROCESSES, SHARED, UNIQUE, 0), c, w;
	char when[64];

	for (c = 1; c <= cycles; c++) {
		size_t merged = 0;
		uint64_t end;

		/* New content in half the shared pages: new merging to do. */
		for (w = 0; w < PROCESSES; w++)
			pool_fill(pool, w, (c % 2) * SHARED / 2, SHARED / 2, CYCLE_SET(c));
		if (engine("start 200 10"))
			die("cycle %u: engine_start failed", c);
		/* Unload in the middle of merging: once a quarter is merged. */
		end = now_ms() + MERGE_TIMEOUT * 1000;
		while (merged < SHARED / 4 && now_ms() < end) {
			sleep_ms(20);
			merged = pool_count_merged(pool, workers, 0, SHARED);
		}
		if (engine("stop"))
			die("cycle %u: engine_stop failed", c);
		say("cycle %u: stopped with %zu of %d pages merged", c, merged, SHARED);
		snprintf(when, sizeof(when), "cycle %u", c);
		expect(merged >= SHARED / 4, "%s: only %zu pages merged in %d s", when, merged,
		       MERGE_TIMEOUT);
		expect_apart(pool, workers, when);
	}
}

static void scenario_hook(struct pool *pool, const char *command)
{
	unsigned int workers = pool_setup(pool, PROCESSES, SHARED, UNIQUE, 0);
	int status;

	if (!pool_expect_merged(pool, workers, 0, SHARED, MERGE_TIMEOUT, "before the command"))
		return;
	pool_expect_intact(pool, workers, "before the command");
	fflush(stdout);
	status = system(command);
	expect(status == 0, "command failed (status %d): %s", status, command);
	pool_expect_intact(pool, workers, "after the command");
	say("%zu of %d pages merged after the command", pool_count_merged(pool, workers, 0, SHARED),
	    SHARED);
}

static void scenario_uffd_wp(struct pool *pool)
{
	unsigned int workers = pool_merged_workers(pool, PROCESSES, SHARED, UNIQUE), w;
	long err;

	for (w = 0; w < PROCESSES; w++) {
		err = pool_call(pool, w, OP_UFFD_WP, 0, 0, 0);
		if (err)
			die("worker %u: userfaultfd write protection: %s", w, strerror((int)-err));
	}
	if (engine("unmerge"))
		die("engine_unmerge failed");
	expect_apart(pool, workers, "after unmerging write-protected memory");
}

/* Run the shell COMMAND; expect it to succeed (or, with !OK, to fail). */
static void expect_command(const char *command, bool ok)
{
	int status;

	fflush(stdout);
	status = system(command);
	expect((status == 0) == ok, "%s (status %d): %s", ok ? "failed" : "succeeded",
	       status, command);
}

/*
 * ksmpp-test.ko with test_fault=2 loaded: no private copy can be made, as
 * when the processes' memory cgroup is full and nothing may be killed.
 */
static void scenario_unbreakable(struct pool *pool)
{
	unsigned int workers = pool_merged_workers(pool, PROCESSES, SHARED, UNIQUE);

	expect_command("! echo 2 > /sys/module/ksmpp/parameters/run", true);
	pool_expect_intact(pool, workers, "after run=2 failed");
	expect(pool_count_merged(pool, workers, 0, SHARED) == SHARED,
	       "run=2 failed, yet %zu of %d pages are merged", pool_count_merged(pool, workers, 0, SHARED),
	       SHARED);
	/* Nor can kernel KSM start while they are merged. */
	expect_command("! echo 1 > /sys/kernel/mm/ksm/run && "
		       "[ $(cat /sys/kernel/mm/ksm/run) != 1 ]", true);
	expect_command("rmmod ksmpp && dmesg | grep -q 'handed over to kernel KSM'", true);
	pool_expect_intact(pool, workers, "after unload");
	expect(pool_count_merged(pool, workers, 0, SHARED) == SHARED,
	       "after unload, %zu of %d pages are merged", pool_count_merged(pool, workers, 0, SHARED),
	       SHARED);
	/* Write to some: copy-on-write of handed-over pages. */
	pool_fill(pool, 0, 0, SHARED / 4, UNIQUE_SET(0));
	pool_expect_intact(pool, workers, "after writing to handed-over pages");
	/* ksmd meets the handed-over pages, then unmerges them. */
	expect_command("cd /sys/kernel/mm/ksm && echo 1000 > pages_to_scan && "
		       "echo 10 > sleep_millisecs && echo 1 > run && sleep 3 && "
		       "echo 2 > run", true);
	expect_apart(pool, workers, "after kernel KSM's run=2");
}

static void usage(void)
{
	fprintf(stderr, "usage: %s run2 | unload | cycles N | hook COMMAND | uffd-wp |\n"
		"       unbreakable\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	struct pool *pool = pool_create();
	const char *what;

	prog = "ksm-unmerge";
	if (argc < 2)
		usage();
	say("%s (engine %s)", argv[1], engine_name());
	if (!strcmp(argv[1], "hook") && argc == 3) {
		/* The engine stays as the caller set it up. */
		what = "contents intact across a command";
		scenario_hook(pool, argv[2]);
	} else {
		stop_engine_at_exit();
		if (!strcmp(argv[1], "run2") && argc == 2) {
			what = "run=2 unmerges everything";
			scenario_run2(pool);
		} else if (!strcmp(argv[1], "unload") && argc == 2) {
			what = "stopping the engine unmerges everything";
			scenario_unload(pool);
		} else if (!strcmp(argv[1], "uffd-wp") && argc == 2) {
			what = "run=2 unmerges userfaultfd-protected memory";
			scenario_uffd_wp(pool);
		} else if (!strcmp(argv[1], "unbreakable") && argc == 2) {
			what = "pages that cannot be unmerged are handed over, intact";
			scenario_unbreakable(pool);
		} else if (!strcmp(argv[1], "cycles") && argc == 3 && atoi(argv[2]) > 0) {
			what = "start/stop cycles while merging";
			scenario_cycles(pool, (unsigned int)atoi(argv[2]));
		} else {
			usage();
		}
	}
	pool_destroy(pool);
	finish(what);
}
