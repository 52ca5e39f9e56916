// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm-stress SECONDS [SEED]: processes write, fork, exit, remap and check
 * MADV_MERGEABLE memory that is mostly duplicates while the engine merges
 * at a high rate (engine_start 5000 1). Every process keeps a shadow copy
 * of its region in memory that is not mergeable and checks pages against
 * it as it goes, and all of them before it exits: any difference is a
 * failure. The seed is printed; each process draws its operations from
 * (seed, its serial number), so a seed replays the same mix of operations
 * (timing differs).
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define REGION_PAGES	512	/* 2 MiB per process */
#define PATTERNS	8	/* distinct page contents most pages hold */
#define PATTERN_SET	2000
#define START_PROCESSES	4
#define MAX_PROCESSES	8
#define MIN_PROCESSES	2
/* Time after the end for processes to finish their last check. */
#define GRACE_SECONDS	60

/* Shared by all processes of the run. */
static struct totals {
	_Atomic int live, serials;
	_Atomic long mismatches, operations, forks, exits, remaps, pages_checked;
} *totals;

/* One process's state: its region, the shadow copy, its random stream. */
static struct {
	struct shadowed mem;
	uint64_t rng;
	int serial;
	uint64_t end_ms;
	uint64_t seed;
} self;

/* Check page I against the shadow; report the first difference. */
static void check_page(size_t i)
{
	long at = shadowed_diff(&self.mem, i);

	atomic_fetch_add(&totals->pages_checked, 1);
	if (at < 0)
		return;
	if (atomic_fetch_add(&totals->mismatches, 1) < 10)
		say("FAIL: seed %llu process %d: page %zu byte %ld is %#x, expected %#x",
		    (unsigned long long)self.seed, self.serial, i, at,
		    (unsigned char)region_page(&self.mem, i)[at],
		    (unsigned char)shadow_page(&self.mem, i)[at]);
}

static void check_all(void)
{
	size_t i;

	for (i = 0; i < REGION_PAGES; i++)
		check_page(i);
}

/* Pages [FIRST, FIRST + COUNT) get duplicate content (region and shadow). */
static void write_patterns(size_t first, size_t count)
{
	size_t i;

	for (i = first; i < first + count; i++)
		shadowed_fill(&self.mem, i, PATTERN_SET, (uint32_t)rng_below(&self.rng, PATTERNS));
}

static void map_region(void)
{
	self.mem.region = mmap(NULL, REGION_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	self.mem.shadow = malloc(REGION_PAGES * PAGE_SIZE);
	self.mem.pages = REGION_PAGES;
	if (self.mem.region == MAP_FAILED || !self.mem.shadow)
		die("out of memory");
	write_patterns(0, REGION_PAGES);
	if (madvise(self.mem.region, REGION_PAGES * PAGE_SIZE, MADV_MERGEABLE))
		die("madvise(MADV_MERGEABLE): %s", strerror(errno));
}

/* Pages [FIRST, FIRST + COUNT) replaced by a fresh mapping, new content. */
static void remap_part(size_t first, size_t count)
{
	int ret = shadowed_remap(&self.mem, first, count);

	if (ret)
		die("remap: %s", strerror(-ret));
	if (rng_below(&self.rng, 2))
		write_patterns(first, count);
	if (madvise(region_page(&self.mem, first), count * PAGE_SIZE, MADV_MERGEABLE))
		die("madvise(MADV_MERGEABLE): %s", strerror(errno));
}

static void start_stream(void)
{
	self.serial = atomic_fetch_add(&totals->serials, 1);
	self.rng = self.seed ^ ((uint64_t)self.serial << 40);
	rng_next(&self.rng);
}

static void process_main(void) __attribute__((noreturn));

/*
 * A child process with a random stream of its own. NEW_REGION: it maps and
 * fills a region of its own; else it carries on with its copy of ours.
 */
static void spawn(bool new_region)
{
	if (fork_or_die() == 0) {
		start_stream();
		if (new_region)
			map_region();
		process_main();
	}
}

/* A child that carries on with a copy of everything, if not too many. */
static void fork_process(void)
{
	if (atomic_fetch_add(&totals->live, 1) >= MAX_PROCESSES) {
		atomic_fetch_sub(&totals->live, 1);
		return;
	}
	spawn(false);
	atomic_fetch_add(&totals->forks, 1);
}

/* Check everything and exit, if enough others are left. */
static void exit_process(void)
{
	if (atomic_fetch_sub(&totals->live, 1) <= MIN_PROCESSES) {
		atomic_fetch_add(&totals->live, 1);
		return;
	}
	check_all();
	atomic_fetch_add(&totals->exits, 1);
	_exit(0);
}

/* One random operation. */
static void step(void)
{
	size_t i = rng_below(&self.rng, REGION_PAGES);
	size_t count = 1 + rng_below(&self.rng, 16);
	unsigned int dice = (unsigned int)rng_below(&self.rng, 100);

	if (i + count > REGION_PAGES)
		count = REGION_PAGES - i;
	atomic_fetch_add(&totals->operations, 1);
	if (dice < 35) {
		write_patterns(i, count);
	} else if (dice < 50) {
		shadowed_scribble(&self.mem, i, &self.rng);
	} else if (dice < 75) {
		check_page(i);
	} else if (dice < 77) {
		check_all();
	} else if (dice < 80) {
		fork_process();
	} else if (dice < 82) {
		exit_process();
	} else if (dice < 85) {
		void *moved = move_region(self.mem.region, REGION_PAGES * PAGE_SIZE, PAGE_SIZE);

		if (moved == MAP_FAILED)
			die("mremap: %s", strerror(errno));
		self.mem.region = moved;
		atomic_fetch_add(&totals->remaps, 1);
	} else if (dice < 88) {
		remap_part(i, count);
	} else if (dice < 90) {
		shadowed_discard(&self.mem, i, count);
	} else if (dice < 92) {
		if (mprotect(self.mem.region, REGION_PAGES * PAGE_SIZE, PROT_READ))
			die("mprotect: %s", strerror(errno));
		check_page(i);
		if (mprotect(self.mem.region, REGION_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE))
			die("mprotect: %s", strerror(errno));
	} else if (dice < 94) {
		madvise(region_page(&self.mem, i), count * PAGE_SIZE, MADV_UNMERGEABLE);
		check_page(i);
		madvise(region_page(&self.mem, i), count * PAGE_SIZE, MADV_MERGEABLE);
	} else {
		/* Leave the CPU to the scanner now and then. */
		sleep_ms(1);
	}
}

static void process_main(void)
{
	while (now_ms() < self.end_ms)
		step();
	check_all();
	_exit(0);
}

int main(int argc, char **argv)
{
	unsigned int seconds, i;
	long max_sharing = 0, sharing, scans_before;
	uint64_t hard_end;
	int status, bad_exits = 0;
	pid_t pid;

	prog = "ksm-stress";
	if (argc < 2 || argc > 3 || atoi(argv[1]) <= 0)
		die("usage: %s SECONDS [SEED]", prog);
	seconds = (unsigned int)atoi(argv[1]);
	self.seed = argc == 3 ? strtoull(argv[2], NULL, 0) : (now_ms() ^ (uint64_t)getpid());
	say("seed %llu (rerun: %s %u %llu), engine %s", (unsigned long long)self.seed, prog,
	    seconds, (unsigned long long)self.seed, engine_name());
	totals = mmap(NULL, sizeof(*totals), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (totals == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	/*
	 * Orphans of exiting processes come back to this one to be reaped; a
	 * process group of their own lets it stop them all if need be.
	 */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	setpgid(0, 0);
	stop_engine_at_exit();
	if (engine("start 5000 1"))
		die("engine_start failed");
	scans_before = engine_counter("full_scans");
	self.end_ms = now_ms() + seconds * 1000ULL;
	hard_end = self.end_ms + GRACE_SECONDS * 1000ULL;
	atomic_store(&totals->live, START_PROCESSES);
	for (i = 0; i < START_PROCESSES; i++)
		spawn(true);

	/* Reap everyone, watching the engine's sharing meanwhile. */
	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid < 0 && errno == ECHILD)
			break;
		if (pid > 0) {
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				bad_exits++;
			continue;
		}
		sharing = engine_counter("pages_sharing");
		if (sharing > max_sharing)
			max_sharing = sharing;
		if (now_ms() > hard_end && hard_end) {
			expect(false, "processes still running %d s after the end", GRACE_SECONDS);
			signal(SIGTERM, SIG_IGN);
			kill(0, SIGTERM);
			hard_end = 0;
		}
		sleep_ms(100);
	}
	say("%ld operations, %ld forks, %ld exits, %ld moves, %ld pages checked",
	    atomic_load(&totals->operations), atomic_load(&totals->forks),
	    atomic_load(&totals->exits), atomic_load(&totals->remaps),
	    atomic_load(&totals->pages_checked));
	say("pages_sharing up to %ld, %ld full scans", max_sharing,
	    engine_counter("full_scans") - scans_before);
	expect(atomic_load(&totals->mismatches) == 0, "%ld pages differed from their shadow",
	       atomic_load(&totals->mismatches));
	expect(bad_exits == 0, "%d processes failed", bad_exits);
	expect(max_sharing > 0, "the engine merged nothing during the stress");
	expect(atomic_load(&totals->forks) > 0 && atomic_load(&totals->exits) > 0 &&
	       atomic_load(&totals->remaps) > 0, "no fork, exit or move happened");
	finish("randomized integrity stress");
}
