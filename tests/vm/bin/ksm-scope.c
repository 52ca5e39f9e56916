// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm-scope SCENARIO: ksmpp's merge_scope, by physical frames. Processes of
 * two uids (or two cgroups) with identical memory share frames inside their
 * scope and never across it; under global they share across; a change of
 * merge_scope to a narrower scope unmerges the sharing it forbids before
 * the write returns, and a wider one keeps what is merged; a process that
 * changes uid or cgroup is unmerged from its old scope and merged into its
 * new one; pages kernel KSM merged before it handed over, which have no
 * scope, are unmerged; with process, only a process's own duplicates
 * share. Contents are checked after every step. And stats_mode: the figures are readable
 * by any uid, or with root only by root, the knobs by any uid either way.
 * Each scenario loads ksmpp with the scope it starts from, prints one "ok"
 * or "FAIL" line, unloads it and exits 0 or 1.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Identical pages of every worker, and pages of its own. */
#define SHARED		256
#define UNIQUE		32
/* Two uids, as the workers' real uids. */
#define UID_A		1000
#define UID_B		1001
/* Two cgroups v2 (the test group mounts the hierarchy). */
#define CGROUP_A	"/sys/fs/cgroup/ksmpp-scope-a"
#define CGROUP_B	"/sys/fs/cgroup/ksmpp-scope-b"

static void set_scope(const char *scope)
{
	int err = engine_write("merge_scope", scope);

	if (err)
		die("merge_scope=%s: %s", scope, strerror(-err));
}

/* Load ksmpp with merge_scope SCOPE and start it. */
static void start(const char *scope)
{
	char action[64];

	snprintf(action, sizeof(action), "knob merge_scope %s", scope);
	if (engine(action) || engine("start"))
		die("cannot start ksmpp with merge_scope=%s", scope);
}

/* Whether no page of worker A maps a frame that a page of worker B maps. */
static bool apart(const struct pool *pool, unsigned int a, unsigned int b)
{
	uint64_t *fa = pool_frames(pool, a, 0, SHARED + UNIQUE);
	uint64_t *fb = pool_frames(pool, b, 0, SHARED + UNIQUE);
	bool meet = false;
	size_t i, j;

	for (i = 0; i < SHARED + UNIQUE; i++)
		for (j = 0; j < SHARED + UNIQUE && fa[i]; j++)
			meet |= fa[i] == fb[j];
	free(fa);
	free(fb);
	return !meet;
}

/*
 * Expectation: workers in GROUP_A (a mask) share no frame with workers in
 * GROUP_B, checked once (WHEN: the moment).
 */
static void expect_apart(const struct pool *pool, unsigned int group_a,
			 unsigned int group_b, const char *when)
{
	unsigned int a, b;

	for (a = 0; a < MAX_WORKERS; a++)
		for (b = 0; b < MAX_WORKERS; b++)
			if ((group_a & WORKER(a)) && (group_b & WORKER(b)))
				expect(apart(pool, a, b),
				       "%s: workers %u and %u share a frame across scopes",
				       when, a, b);
}

/* Worker W's real uid becomes UID. */
static void set_uid(struct pool *pool, unsigned int w, long uid)
{
	long err = pool_call(pool, w, OP_SETUID, uid, 0, 0);

	if (err)
		die("worker %u: uid %ld: %s", w, uid, strerror((int)-err));
}

/* Worker W moves into cgroup DIR. */
static void set_cgroup(struct pool *pool, unsigned int w, const char *dir)
{
	int err;

	if (mkdir(dir, 0755) && errno != EEXIST)
		die("mkdir %s: %s", dir, strerror(errno));
	err = cgroup_enter(dir, pool_pid(pool, w));
	if (err)
		die("worker %u into %s: %s", w, dir, strerror(-err));
}

/*
 * Four workers, 0 and 1 in scope A, 2 and 3 in scope B (by PUT_IN): each
 * pair merges, never across. merge_scope=global keeps that as it is (pages
 * merged already stay where they are); unmerged and merged again under
 * global, all four share. Back to the scope, the sharing across is gone
 * when the write returns, and each pair is merged again. Then worker 1
 * moves to scope B: it leaves worker 0's frames and joins 2 and 3.
 */
static void two_scopes(struct pool *pool, const char *scope,
		       void (*put_in)(struct pool *pool, unsigned int w, bool in_b))
{
	const unsigned int a = WORKER(0) | WORKER(1), b = WORKER(2) | WORKER(3);
	unsigned int workers = pool_setup(pool, 4, SHARED, UNIQUE, 0), w;

	for (w = 0; w < 4; w++)
		put_in(pool, w, w >= 2);
	start(scope);
	pool_expect_merged(pool, a, 0, SHARED, MERGE_TIMEOUT, "scope A");
	pool_expect_merged(pool, b, 0, SHARED, MERGE_TIMEOUT, "scope B");
	expect_apart(pool, a, b, "merged in their scopes");
	expect_engine_counters(2 * SHARED, 2 * SHARED, COUNTER_TIMEOUT);
	pool_expect_intact(pool, workers, "merged in their scopes");

	set_scope("global");
	expect(pool_count_merged(pool, a, 0, SHARED) == SHARED &&
	       pool_count_merged(pool, b, 0, SHARED) == SHARED,
	       "merge_scope=global: the pairs' merged pages kept");
	pool_expect_intact(pool, workers, "merge_scope=global");
	if (engine("unmerge") || engine("start"))
		die("cannot unmerge and start again");
	pool_expect_merged(pool, workers, 0, SHARED, MERGE_TIMEOUT, "merged again under global");
	expect_engine_counters(SHARED, 3 * SHARED, COUNTER_TIMEOUT);
	pool_expect_intact(pool, workers, "merged across scopes");

	set_scope(scope);
	expect_apart(pool, a, b, "right after the write back to the scope");
	pool_expect_intact(pool, workers, "unmerged out of scope");
	pool_expect_merged(pool, a, 0, SHARED, MERGE_TIMEOUT, "scope A again");
	pool_expect_merged(pool, b, 0, SHARED, MERGE_TIMEOUT, "scope B again");
	expect_apart(pool, a, b, "merged again in their scopes");
	expect_engine_counters(2 * SHARED, 2 * SHARED, COUNTER_TIMEOUT);
	expect(engine_counter("unmerges_scope") == 0,
	       "unmerges_scope %ld: the write should have unmerged every page",
	       engine_counter("unmerges_scope"));

	put_in(pool, 1, true);
	pool_expect_merged(pool, WORKER(1) | b, 0, SHARED, MERGE_TIMEOUT,
			   "worker 1 moved to scope B");
	expect_apart(pool, WORKER(0), WORKER(1) | b, "worker 1 moved to scope B");
	expect(engine_counter("unmerges_scope") > 0,
	       "unmerges_scope 0 after worker 1 left its scope");
	pool_expect_intact(pool, workers, "worker 1 moved");
}

static void put_in_uid(struct pool *pool, unsigned int w, bool in_b)
{
	set_uid(pool, w, in_b ? UID_B : UID_A);
}

static void put_in_cgroup(struct pool *pool, unsigned int w, bool in_b)
{
	set_cgroup(pool, w, in_b ? CGROUP_B : CGROUP_A);
}

static void scenario_uid(struct pool *pool)
{
	two_scopes(pool, "uid", put_in_uid);
}

static void scenario_cgroup(struct pool *pool)
{
	two_scopes(pool, "cgroup", put_in_cgroup);
}

static void kernel_ksm_set(const char *knob, const char *value)
{
	char path[96];
	int err;

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", knob);
	err = write_file(path, value);
	if (err)
		die("kernel KSM %s=%s: %s", knob, value, strerror(-err));
}

/*
 * Kernel KSM merges WORKERS' shared pages and stops with them merged, as
 * ksmppctl enable leaves them for ksmpp.
 */
static void merged_by_kernel_ksm(struct pool *pool, unsigned int workers)
{
	kernel_ksm_set("pages_to_scan", "1000");
	kernel_ksm_set("sleep_millisecs", "10");
	kernel_ksm_set("run", "1");
	pool_expect_merged(pool, workers, 0, SHARED, MERGE_TIMEOUT, "merged by kernel KSM");
	kernel_ksm_set("run", "0");
}

struct two_pairs {
	struct pool *pool;
	unsigned int a, b;
};

/* Each pair on frames of its own, none shared across the pairs. */
static bool pairs_apart(void *arg)
{
	const struct two_pairs *p = arg;
	unsigned int a, b;

	if (pool_count_merged(p->pool, p->a, 0, SHARED) != SHARED ||
	    pool_count_merged(p->pool, p->b, 0, SHARED) != SHARED)
		return false;
	for (a = 0; a < MAX_WORKERS; a++)
		for (b = 0; b < MAX_WORKERS; b++)
			if ((p->a & WORKER(a)) && (p->b & WORKER(b)) && !apart(p->pool, a, b))
				return false;
	return true;
}

/*
 * handover: pages that kernel KSM merged before handing over have no
 * scope. KSM merges four workers of two uids, across the uids, and stops.
 * ksmpp under global keeps them merged; a write of uid unmerges them
 * before it returns, and each pair merges again inside its uid. Then the
 * same with ksmpp loaded with merge_scope=uid: its scanner unmerges KSM's
 * pages where it meets them, and the pairs merge inside their uids.
 */
static void scenario_handover(struct pool *pool)
{
	const unsigned int a = WORKER(0) | WORKER(1), b = WORKER(2) | WORKER(3);
	unsigned int workers = pool_setup(pool, 4, SHARED, UNIQUE, 0), w;
	struct two_pairs pairs = { pool, a, b };

	for (w = 0; w < 4; w++)
		put_in_uid(pool, w, w >= 2);
	merged_by_kernel_ksm(pool, workers);
	start("global");
	sleep_ms(1000);
	expect(pool_count_merged(pool, workers, 0, SHARED) == SHARED,
	       "merge_scope=global: kernel KSM's merged pages kept");
	set_scope("uid");
	expect_apart(pool, a, b, "right after the write of uid");
	pool_expect_intact(pool, workers, "kernel KSM's pages unmerged");
	expect(wait_until(pairs_apart, &pairs, MERGE_TIMEOUT),
	       "after the write of uid: each pair merged inside its uid, nothing across");
	pool_expect_intact(pool, workers, "merged inside each uid");

	if (engine("stop"))
		die("cannot unload ksmpp");
	merged_by_kernel_ksm(pool, workers);
	start("uid");
	expect(wait_until(pairs_apart, &pairs, MERGE_TIMEOUT),
	       "loaded with merge_scope=uid: each pair merged inside its uid, nothing across");
	expect(engine_counter("unmerges_scope") > 0,
	       "loaded with merge_scope=uid: unmerges_scope 0");
	pool_expect_intact(pool, workers, "loaded with merge_scope=uid");
}

/* Whether pages [FIRST, FIRST + COUNT) of worker W all map one KSM frame. */
static bool one_frame(const struct pool *pool, unsigned int w, size_t first, size_t count)
{
	uint64_t *pfns = pool_frames(pool, w, first, count);
	bool same = pfns[0] && pfns[0] != zero_pfn() &&
		    (kpageflags(pfns[0]) & (1ULL << KPF_KSM));
	size_t i;

	for (i = 1; i < count; i++)
		same &= pfns[i] == pfns[0];
	free(pfns);
	return same;
}

#define ZEROED		64	/* pages each worker fills with zeros */

static bool own_dups_merged(void *pool)
{
	return one_frame(pool, 0, 0, ZEROED) && one_frame(pool, 1, 0, ZEROED);
}

/*
 * process: two workers, each with ZEROED zero-filled pages (duplicates
 * inside the process) and SHARED pages identical across the two. Each
 * worker's zero-filled pages merge into one frame of its own; nothing is
 * shared across.
 */
static void scenario_process(struct pool *pool)
{
	unsigned int workers = pool_setup(pool, 2, SHARED, UNIQUE, 0);

	pool_fill(pool, 0, 0, ZEROED, ZERO_SET);
	pool_fill(pool, 1, 0, ZEROED, ZERO_SET);
	start("process");
	expect(wait_until(own_dups_merged, pool, MERGE_TIMEOUT),
	       "each worker's own zero-filled pages on one KSM frame of its own");
	expect_apart(pool, WORKER(0), WORKER(1), "merge_scope=process");
	pool_expect_intact(pool, workers, "merged inside each process");

	/* Zero-filled pages stay on each worker's frame; the others merge. */
	set_scope("global");
	pool_expect_merged(pool, workers, ZEROED, SHARED - ZEROED, MERGE_TIMEOUT,
			   "merge_scope=global");
	set_scope("process");
	expect_apart(pool, WORKER(0), WORKER(1), "right after the write back to process");
	pool_expect_intact(pool, workers, "unmerged out of scope");
}

/* Whether uid UID_A can open PATH for reading: 0, or the errno. */
static int opens_as_user(const char *path)
{
	int status;
	pid_t pid = fork_or_die();

	if (!pid) {
		FILE *f;

		if (setresuid(UID_A, UID_A, UID_A))
			_exit(255);
		f = fopen(path, "r");
		_exit(f ? 0 : errno);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) == 255)
		die("cannot run as uid %d", UID_A);
	return WEXITSTATUS(status);
}

/* Expectation: uid UID_A opens PATH or is refused (EACCES), as WANT_OPEN. */
static void expect_user_open(const char *path, bool want_open, const char *mode)
{
	int err = opens_as_user(path);

	expect(want_open ? !err : err == EACCES, "stats_mode=%s: uid %d opening %s: %s",
	       mode, UID_A, path, err ? strerror(err) : "opened");
}

/* The mode bits of PATH. */
static unsigned int file_mode(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		die("stat %s: %s", path, strerror(errno));
	return st.st_mode & 07777;
}

/*
 * stats_mode: world lets any uid read the figures; root closes /proc/ksmpp
 * and the sysfs figures (mode 0400) to other uids, not the knobs; back to
 * world opens them again. A bad value changes nothing.
 */
static void scenario_stats(struct pool *pool)
{
	static const char *const figures[] = {
		"/proc/ksmpp", "/sys/kernel/mm/ksmpp/pages_sharing",
		"/sys/kernel/mm/ksmpp/hints_generated",
	};
	const char *knob = "/sys/kernel/mm/ksmpp/pages_to_scan";
	char text[64];
	size_t i;

	(void)pool;
	start("global");
	for (i = 0; i < sizeof(figures) / sizeof(figures[0]); i++)
		expect_user_open(figures[i], true, "world");
	expect(file_mode(figures[1]) == 0444, "stats_mode=world: pages_sharing mode %o",
	       file_mode(figures[1]));
	expect(engine_write("stats_mode", "root") == 0, "stats_mode=root refused");
	for (i = 0; i < sizeof(figures) / sizeof(figures[0]); i++)
		expect_user_open(figures[i], false, "root");
	expect(file_mode(figures[1]) == 0400, "stats_mode=root: pages_sharing mode %o",
	       file_mode(figures[1]));
	expect_user_open(knob, true, "root");
	expect(engine_text("pages_sharing", text, sizeof(text)),
	       "stats_mode=root: root cannot read pages_sharing");
	expect(engine_write("stats_mode", "nobody") == -EINVAL,
	       "stats_mode=nobody taken");
	expect(file_mode(figures[1]) == 0400, "stats_mode=nobody changed the mode to %o",
	       file_mode(figures[1]));
	expect(engine_write("stats_mode", "world") == 0, "stats_mode=world refused");
	for (i = 0; i < sizeof(figures) / sizeof(figures[0]); i++)
		expect_user_open(figures[i], true, "world again");
}

static const struct pool_scenario scenarios[] = {
	{ "uid", scenario_uid, "merge_scope=uid: two uids share only inside each" },
	{ "cgroup", scenario_cgroup, "merge_scope=cgroup: two cgroups share only inside each" },
	{ "handover", scenario_handover,
	  "merge_scope=uid: pages kernel KSM merged across uids before it handed over unmerged" },
	{ "process", scenario_process, "merge_scope=process: only a process's own duplicates share" },
	{ "stats", scenario_stats, "stats_mode: figures for every uid, or for root only" },
};

int main(int argc, char **argv)
{
	prog = "ksm-scope";
	return pool_run_scenario(scenarios, sizeof(scenarios) / sizeof(scenarios[0]), argc, argv);
}
