// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksm-torture SECONDS [SEED]: contents survive everything the kernel can do
 * to merged pages at once.
 *
 * Worker processes write mostly duplicate MADV_MERGEABLE memory (worker 0
 * opts in with prctl(PR_SET_MEMORY_MERGE) instead, where the kernel has
 * it), partly by pread() from a file of the same page patterns on /tmp, so
 * that ksmpp's I/O hints fire, while the engine merges at a high rate
 * (engine_start 5000 1). Each worker keeps a shadow of every page in
 * shared anonymous memory, which no engine merges. Meanwhile chaos actors
 * each pick, step by step from the seed, one of: move_pages and
 * migrate_pages between the two NUMA nodes, compaction, a memory cgroup's
 * memory.reclaim, process_madvise(MADV_PAGEOUT), ksmpp's run 1 -> 2 -> 1,
 * kernel KSM started and stopped, rmmod and insmod of ksmpp; or they hand
 * a worker something it does in its own address space: MADV_PAGEOUT and
 * touch, MADV_SOFT_OFFLINE, MADV_HUGEPAGE and MADV_COLLAPSE, a huge page
 * split (mprotect or MADV_DONTNEED of one page), userfaultfd
 * write-protection for a while (a handler thread lifts it page by page
 * when the worker writes; one range in four is held untouched for longer
 * than OP_TIMEOUT_S, as a snapshot would be), fork (the child checks what
 * it inherited, and writes), exit and respawn, munmap and remap, mremap.
 * rmmod sometimes races a process that starts and stops kernel KSM, and
 * reclaim is sometimes followed by migration of what came back in.
 *
 * Every few seconds (a round) the workers stop at a barrier and check
 * every page byte for byte against the shadow. A mismatch is reported with
 * seed, worker, page and byte. Operations that fail are counted with their
 * errno (no failure by itself); one that does not return within
 * OP_TIMEOUT_S is a hang, a failure (one past a third of it is reported,
 * with where it waits, as slow). The program exits 0 only without
 * mismatches, hangs, and workers or actors that died or failed.
 * Environment: KSMPP_TORTURE_CGROUP, a cgroup v2 directory with the memory
 * controller for the workers to run in (for memory.reclaim; none without
 * it): the actors and the watcher stay outside, so that reclaim never
 * pages out the program that times the operations;
 * KSMPP_TORTURE_OP_TIMEOUT, OP_TIMEOUT_S in seconds (default 60); KSMPP_KO,
 * the module (default /modules/ksmpp.ko).
 */
#define _GNU_SOURCE
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/mempolicy.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE		25
#endif
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE	101
#endif

#define WORKERS		4
#define ACTORS		4
#define REGION_PAGES	1024	/* 4 MiB: two huge pages */
#define CHUNK_PAGES	(HUGE_SIZE / PAGE_SIZE)
#define PATTERNS	8	/* distinct page contents most pages hold */
#define PATTERN_SET	2000
#define FILE_PAGES	64	/* the data file: page k holds pattern k % PATTERNS */
#define DATA_FILE	"/tmp/ksmpp-torture.dat"
#define ROUND_MS	3000
/*
 * An operation that takes longer hangs (a failure). On a 2-CPU host running
 * two TCG guests at once (as CI does), a node's compaction took 37 s, and
 * meanwhile an rmmod (with its child writing kernel KSM's run) 30.5 s, as
 * an RCU-tasks grace period, which rmmod waits for, stalled for 10 s:
 * slow, but both returned.
 * KSMPP_TORTURE_OP_TIMEOUT: for slower kernels (the debug line).
 */
#define OP_TIMEOUT_S	((int)number_from_env("KSMPP_TORTURE_OP_TIMEOUT", 60))
#define MAX_ERRNO	134	/* errno values counted one by one; above: "other" */
#define MAX_REPORTS	10	/* mismatches printed in full */
#define KSMPP_RUN	"/sys/module/ksmpp/parameters/run"
#define KSM_RUN		"/sys/kernel/mm/ksm/run"
#define KSMPP_ARGS	"run=1 pages_to_scan=5000 sleep_millisecs=1"

/*
 * What is counted. The actors pick among those with a weight; the rest are
 * parts of them, or the workers' own steps.
 */
enum kind {
	K_MOVE_PAGES, K_MIGRATE_PAGES, K_COMPACT, K_RECLAIM, K_PROCESS_PAGEOUT,
	K_RUN_FLIP, K_RUN_1, K_KSM, K_KSM_STOP, K_RELOAD, K_INSMOD,
	/* Handed to a worker (FIRST_WORKER_KIND on). */
	K_PAGEOUT, K_SOFT_OFFLINE, K_HUGEPAGE, K_COLLAPSE, K_SPLIT, K_UFFD_WP, K_FORK,
	K_RESPAWN, K_REMAP, K_MREMAP,
	/* The workers' own. */
	K_PREAD, K_MERGE_ANY, K_MADV_MERGEABLE, K_UFFD_FAULT, K_UFFD_UNPROTECT,
	KINDS
};
#define FIRST_WORKER_KIND	K_PAGEOUT

static const struct {
	const char *name;
	unsigned int weight;
	bool module;		/* needs ksmpp as the engine */
} kinds[KINDS] = {
	[K_MOVE_PAGES]		= { "move_pages MPOL_MF_MOVE_ALL", 10, false },
	[K_MIGRATE_PAGES]	= { "migrate_pages of a worker", 4, false },
	[K_COMPACT]		= { "compact_memory of a node", 4, false },
	[K_RECLAIM]		= { "cgroup memory.reclaim", 6, false },
	[K_PROCESS_PAGEOUT]	= { "process_madvise MADV_PAGEOUT", 5, false },
	[K_RUN_FLIP]		= { "engine run=2", 4, false },
	[K_RUN_1]		= { "engine run=1 after run=2", 0, false },
	[K_KSM]			= { "kernel KSM run=1", 3, true },
	[K_KSM_STOP]		= { "kernel KSM run=0 or 2", 0, true },
	[K_RELOAD]		= { "rmmod ksmpp", 2, true },
	[K_INSMOD]		= { "insmod ksmpp", 0, true },
	[K_PAGEOUT]		= { "MADV_PAGEOUT and touch", 6, false },
	[K_SOFT_OFFLINE]	= { "MADV_SOFT_OFFLINE", 4, false },
	[K_HUGEPAGE]		= { "MADV_HUGEPAGE", 4, false },
	[K_COLLAPSE]		= { "MADV_COLLAPSE", 0, false },
	[K_SPLIT]		= { "huge page split (mprotect, DONTNEED)", 4, false },
	[K_UFFD_WP]		= { "userfaultfd write-protect", 5, false },
	[K_FORK]		= { "fork, child checks (and writes)", 4, false },
	[K_RESPAWN]		= { "worker exit and respawn", 2, false },
	[K_REMAP]		= { "munmap and remap", 4, false },
	[K_MREMAP]		= { "mremap of the region", 3, false },
	[K_PREAD]		= { "pread from the data file", 0, false },
	[K_MERGE_ANY]		= { "prctl PR_SET_MEMORY_MERGE", 0, false },
	[K_MADV_MERGEABLE]	= { "MADV_MERGEABLE", 0, false },
	[K_UFFD_FAULT]		= { "userfaultfd write faults resolved", 0, false },
	[K_UFFD_UNPROTECT]	= { "userfaultfd protection removed", 0, false },
};

struct kind_stats {
	_Atomic long ops, errors;
	_Atomic uint64_t slowest_ms;
	_Atomic long err[MAX_ERRNO + 1];
};

/*
 * What a process is doing, for the watchdog: since when (ms) and which
 * kind, as (since << BUSY_KIND_BITS) | (kind + 1), or 0 for its own steps.
 * One word: read as two, a kind and the start of the next operation made
 * a busy time that wrapped below zero, a "hang" of an actor taking a nap.
 */
#define BUSY_KIND_BITS	8
_Static_assert(KINDS < 1 << BUSY_KIND_BITS, "a kind + 1 fits in BUSY_KIND_BITS");
struct busy {
	_Atomic uint64_t op;
	uint64_t watched;	/* the controller's: the op the two below are about */
	bool slow;		/* the controller's: slow reported */
	bool reported;		/* the controller's: hang reported */
};

struct worker_slot {
	pid_t pid;
	bool alive;
	_Atomic int serial;
	_Atomic uintptr_t base;		/* the region, for the actors */
	_Atomic int request;		/* a kind + 1, set by an actor; 0: none */
	_Atomic int checked;		/* the last round checked */
	struct busy busy;
};

struct actor_slot {
	pid_t pid;
	bool alive;
	struct busy busy;
};

/* Shared by every process of the run. */
static struct shared {
	uint64_t seed;
	bool ksmpp;			/* the engine is the module */
	bool reclaim;			/* workers in a memory cgroup */
	_Atomic int round, pause, stop_actors, stop_workers, serials, merge_any_said;
	_Atomic long mismatches, failures, hangs, steps, checks;
	struct worker_slot workers[WORKERS];
	struct actor_slot actors[ACTORS];
	struct kind_stats stats[KINDS];
} *sh;

static void record(enum kind k, int err)
{
	struct kind_stats *st = &sh->stats[k];

	atomic_fetch_add(&st->ops, 1);
	if (!err)
		return;
	atomic_fetch_add(&st->errors, 1);
	atomic_fetch_add(&st->err[err > 0 && err < MAX_ERRNO ? err : MAX_ERRNO], 1);
}

/* A failure that is no mismatch: printed and counted. */
static void failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failure(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	atomic_fetch_add(&sh->failures, 1);
	say("FAIL: seed %llu: %s", (unsigned long long)sh->seed, msg);
}

static void busy_begin(struct busy *b, enum kind k)
{
	atomic_store(&b->op, now_ms() << BUSY_KIND_BITS | (uint64_t)(k + 1));
}

/* The kind of @op (-1: none) and for how long it has run, in ms. */
static int busy_kind(uint64_t op, uint64_t *busy_ms)
{
	/* The clock read after the start: never earlier than it. */
	*busy_ms = op ? now_ms() - (op >> BUSY_KIND_BITS) : 0;
	return (int)(op & ((1 << BUSY_KIND_BITS) - 1)) - 1;
}

static void busy_end(struct busy *b)
{
	uint64_t took, slowest;
	int k = busy_kind(atomic_exchange(&b->op, 0), &took);

	if (k < 0)
		return;
	slowest = atomic_load(&sh->stats[k].slowest_ms);
	while (took > slowest &&
	       !atomic_compare_exchange_weak(&sh->stats[k].slowest_ms, &slowest, took))
		;
}

/* Sleep MS milliseconds, or less once FLAG is set. */
static void nap(unsigned int ms, _Atomic int *flag)
{
	while (ms && !atomic_load(flag)) {
		unsigned int step = ms < 20 ? ms : 20;

		sleep_ms(step);
		ms -= step;
	}
}

/* ------------------------------------------------------------------------
 * Workers
 */

/* What last wrote a page, for the report of a mismatch. */
enum origin { O_ZERO, O_PATTERN, O_SCRIBBLE, O_PREAD, O_CHILD };
static const char *const origins[] = { "nothing (zeros)", "a pattern", "a scribble",
				       "pread", "a fork child" };

/* A worker's own state (private memory). */
static struct {
	unsigned int w;
	int serial;
	struct worker_slot *slot;
	struct shadowed mem;
	uint64_t rng;
	bool merge_any;		/* mergeable through PR_SET_MEMORY_MERGE */
	bool child;		/* a fork child of the worker */
	int data;		/* the data file */
	int uffd;		/* -1: no userfaultfd */
	int uffd_err;		/* why not */
	char *wp_start;		/* a write-protected range, or NULL */
	size_t wp_len;
	uint64_t wp_end;
	bool wp_hold;		/* held: no write into it, no layout change */
	bool wp_pending;	/* held, not protected yet, until wp_ripe */
	uint64_t wp_ripe;
	uint8_t origin[REGION_PAGES];
} me;

static void publish_base(void)
{
	atomic_store(&me.slot->base, (uintptr_t)me.mem.region);
}

/* The frame and /proc/kpageflags of our page at ADDR, as text. */
static void frame_text(const void *addr, char *out, size_t size)
{
	uint64_t entry, flags;

	pagemap_read(getpid(), (uintptr_t)addr, 1, &entry);
	flags = pm_pfn(entry) ? kpageflags(pm_pfn(entry)) : 0;
	snprintf(out, size, "pagemap %#llx, frame %#llx, kpageflags %#llx%s",
		 (unsigned long long)entry, (unsigned long long)pm_pfn(entry),
		 (unsigned long long)flags, flags & (1ULL << KPF_KSM) ? " (KSM)" : "");
}

/* How many of pages [FIRST, FIRST + COUNT) are KSM pages (/proc/kpageflags). */
static size_t ksm_pages(size_t first, size_t count)
{
	uint64_t entries[256];
	size_t i, n = 0;

	if (count > 256)
		return 0;
	pagemap_read(getpid(), (uintptr_t)region_page(&me.mem, first), count, entries);
	for (i = 0; i < count; i++)
		if (pm_pfn(entries[i]) && (kpageflags(pm_pfn(entries[i])) & (1ULL << KPF_KSM)))
			n++;
	return n;
}

/* Page I differs from its shadow from byte AT on: report it, then take it as it is. */
static void mismatch(size_t i, long at, const char *expected)
{
	const unsigned char *got = (unsigned char *)region_page(&me.mem, i);
	const unsigned char *want = (unsigned char *)(expected ? expected : shadow_page(&me.mem, i));
	size_t n = 0, k;
	char frame[160];

	for (k = 0; k < PAGE_SIZE; k++)
		n += got[k] != want[k];
	if (atomic_fetch_add(&sh->mismatches, 1) < MAX_REPORTS) {
		frame_text(got, frame, sizeof(frame));
		say("FAIL: seed %llu round %d worker %u%s (pid %d, serial %d): page %zu (%p) byte %ld is %#x, expected %#x; %zu bytes differ; last written by %s; %s",
		    (unsigned long long)sh->seed, atomic_load(&sh->round), me.w,
		    me.child ? " fork child" : "", (int)getpid(), me.serial, i,
		    (void *)got, at, got[at], want[at], n, origins[me.origin[i]], frame);
	}
	/* Counted once: later checks compare against what it holds now. */
	if (!me.child)
		memcpy(shadow_page(&me.mem, i), got, PAGE_SIZE);
}

static void check_page(size_t i)
{
	long at = shadowed_diff(&me.mem, i);

	atomic_fetch_add(&sh->checks, 1);
	if (at >= 0)
		mismatch(i, at, NULL);
}

static void check_range(size_t first, size_t count)
{
	size_t i;

	for (i = first; i < first + count && i < REGION_PAGES; i++)
		check_page(i);
}

static void check_all(void)
{
	check_range(0, REGION_PAGES);
}

static void write_patterns(size_t first, size_t count)
{
	size_t i;

	for (i = first; i < first + count; i++) {
		shadowed_fill(&me.mem, i, PATTERN_SET, (uint32_t)rng_below(&me.rng, PATTERNS));
		me.origin[i] = O_PATTERN;
	}
}

/* Pages [FIRST, FIRST + COUNT) read from the data file (ksmpp's hints). */
static void read_pages(size_t first, size_t count)
{
	size_t k0 = rng_below(&me.rng, FILE_PAGES - count + 1), i;
	ssize_t n = pread(me.data, region_page(&me.mem, first), count * PAGE_SIZE,
			  (off_t)(k0 * PAGE_SIZE));

	for (i = 0; i < count; i++) {
		fill_page(shadow_page(&me.mem, first + i), PATTERN_SET,
			  (uint32_t)((k0 + i) % PATTERNS));
		me.origin[first + i] = O_PREAD;
	}
	record(K_PREAD, n < 0 ? errno : (size_t)n == count * PAGE_SIZE ? 0 : EIO);
	if ((size_t)n != count * PAGE_SIZE)
		memcpy(region_page(&me.mem, first), shadow_page(&me.mem, first),
		       count * PAGE_SIZE);
}

static void make_mergeable(size_t first, size_t count)
{
	if (me.merge_any)
		return;
	if (madvise(region_page(&me.mem, first), count * PAGE_SIZE, MADV_MERGEABLE))
		die("worker %u: madvise(MADV_MERGEABLE): %s", me.w, strerror(errno));
	record(K_MADV_MERGEABLE, 0);
}

/* The userfaultfd handler: a write into a protected page lifts its protection. */
static void *uffd_handler(void *arg)
{
	struct pollfd pfd = { .fd = me.uffd, .events = POLLIN };
	struct uffd_msg msg;

	(void)arg;
	for (;;) {
		struct uffdio_writeprotect wp;
		int err = 0;

		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		if (read(me.uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT ||
		    !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP))
			continue;
		wp.range.start = msg.arg.pagefault.address & ~(PAGE_SIZE - 1);
		wp.range.len = PAGE_SIZE;
		wp.mode = 0;	/* unprotect and wake the writer */
		while (ioctl(me.uffd, UFFDIO_WRITEPROTECT, &wp))
			if (errno != EAGAIN) {
				err = errno;
				ioctl(me.uffd, UFFDIO_WAKE, &wp.range);
				break;
			}
		record(K_UFFD_FAULT, err);
	}
	return NULL;
}

static void uffd_setup(void)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP };
	pthread_t thread;

	me.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (me.uffd < 0) {
		me.uffd_err = errno;
		return;
	}
	if (ioctl(me.uffd, UFFDIO_API, &api) ||
	    (errno = pthread_create(&thread, NULL, uffd_handler, NULL))) {
		me.uffd_err = errno;
		close(me.uffd);
		me.uffd = -1;
	}
}

/* The write-protected range, if any, unprotected and unregistered. */
static void end_wp(void)
{
	struct uffdio_writeprotect wp = {
		.range = { (uintptr_t)me.wp_start, me.wp_len }, .mode = 0,
	};
	int err = 0;

	if (!me.wp_start)
		return;
	if (me.wp_pending) {
		me.wp_pending = false;
		me.wp_start = NULL;
		me.wp_hold = false;
		return;
	}
	while (ioctl(me.uffd, UFFDIO_WRITEPROTECT, &wp))
		if (errno != EAGAIN) {
			err = errno;
			break;
		}
	if (ioctl(me.uffd, UFFDIO_UNREGISTER, &wp.range) && !err)
		err = errno;
	record(K_UFFD_UNPROTECT, err);
	me.wp_start = NULL;
	me.wp_hold = false;
}

/* The range chosen (wp_start, wp_len) registered and write-protected. */
static void protect_wp(void)
{
	struct uffdio_register reg = {
		.range = { (uintptr_t)me.wp_start, me.wp_len }, .mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct uffdio_writeprotect wp = { .range = reg.range, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	size_t first = (size_t)(me.wp_start - me.mem.region) / PAGE_SIZE;

	me.wp_pending = false;
	if (ioctl(me.uffd, UFFDIO_REGISTER, &reg)) {
		record(K_UFFD_WP, errno);
		me.wp_start = NULL;
		me.wp_hold = false;
		return;
	}
	if (ioctl(me.uffd, UFFDIO_WRITEPROTECT, &wp)) {
		record(K_UFFD_WP, errno);
		ioctl(me.uffd, UFFDIO_UNREGISTER, &reg.range);
		me.wp_start = NULL;
		me.wp_hold = false;
		return;
	}
	record(K_UFFD_WP, 0);
	if (me.wp_hold)
		say("round %d worker %u: %zu pages held write-protected for %d s, %zu of them KSM pages",
		    atomic_load(&sh->round), me.w, me.wp_len / PAGE_SIZE, OP_TIMEOUT_S + 15,
		    ksm_pages(first, me.wp_len / PAGE_SIZE));
}

/*
 * A range of the region write-protected (or the current one ended). Mostly
 * for 0.2 to 2 s, and writes lift the protection page by page. One in four
 * is held past OP_TIMEOUT_S, untouched, as a snapshot would be: whatever
 * unmerges meanwhile must not wait for it. A held range is left alone for
 * 2 s first, for the engine to merge its pages.
 */
static void start_wp(void)
{
	size_t first = rng_below(&me.rng, REGION_PAGES - 16);
	size_t count = 16 + rng_below(&me.rng, 240);

	if (me.uffd < 0) {
		record(K_UFFD_WP, me.uffd_err);
		return;
	}
	if (me.wp_start) {
		if (me.wp_hold)
			record(K_UFFD_WP, EBUSY);
		else
			end_wp();
		return;
	}
	if (first + count > REGION_PAGES)
		count = REGION_PAGES - first;
	me.wp_start = region_page(&me.mem, first);
	me.wp_len = count * PAGE_SIZE;
	me.wp_hold = !rng_below(&me.rng, 4);
	if (me.wp_hold) {
		me.wp_pending = true;
		me.wp_ripe = now_ms() + 2000;
		me.wp_end = me.wp_ripe + (OP_TIMEOUT_S + 15) * 1000ULL;
	} else {
		me.wp_end = now_ms() + 200 + rng_below(&me.rng, 1800);
		protect_wp();
	}
}

/* Whether pages [FIRST, FIRST + COUNT) overlap a range held write-protected. */
static bool held(size_t first, size_t count)
{
	char *start = region_page(&me.mem, first), *end = start + count * PAGE_SIZE;

	return me.wp_start && me.wp_hold && start < me.wp_start + me.wp_len &&
	       end > me.wp_start;
}

/* The first page of a random 2 MiB-aligned chunk of the region. */
static size_t huge_chunk(void)
{
	size_t head = (HUGE_SIZE - (uintptr_t)me.mem.region % HUGE_SIZE) % HUGE_SIZE / PAGE_SIZE;
	size_t chunks = (REGION_PAGES - head) / CHUNK_PAGES;

	return head + rng_below(&me.rng, chunks) * CHUNK_PAGES;
}

static void hugepage(void)
{
	size_t first = huge_chunk();
	char *at = region_page(&me.mem, first);

	record(K_HUGEPAGE, madvise(at, HUGE_SIZE, MADV_HUGEPAGE) ? errno : 0);
	/* Else khugepaged collapses it in its own time. */
	if (rng_below(&me.rng, 2)) {
		record(K_COLLAPSE, madvise(at, HUGE_SIZE, MADV_COLLAPSE) ? errno : 0);
		check_range(first, CHUNK_PAGES);
	}
}

static void split(void)
{
	size_t i = huge_chunk() + 1 + rng_below(&me.rng, CHUNK_PAGES - 2);
	char *at = region_page(&me.mem, i);
	int err = 0;

	if (rng_below(&me.rng, 2)) {
		if (mprotect(at, PAGE_SIZE, PROT_READ))
			err = errno;
		check_page(i);
		if (mprotect(at, PAGE_SIZE, PROT_READ | PROT_WRITE))
			die("worker %u: mprotect back: %s", me.w, strerror(errno));
	} else {
		shadowed_discard(&me.mem, i, 1);
		me.origin[i] = O_ZERO;
	}
	record(K_SPLIT, err);
}

/* In a fork child: check what it inherited, maybe write, check again. */
static void child_main(void) __attribute__((noreturn));
static void child_main(void)
{
	static bool written[REGION_PAGES];
	static uint32_t pattern[REGION_PAGES];
	size_t i, n;

	me.child = true;
	me.rng ^= 0xc41dULL;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	check_all();
	if (rng_below(&me.rng, 2)) {
		/* The shadow is the parent's (shared): the child keeps its own notes. */
		for (n = 1 + rng_below(&me.rng, 32); n; n--) {
			i = rng_below(&me.rng, REGION_PAGES);
			written[i] = true;
			pattern[i] = (uint32_t)rng_below(&me.rng, PATTERNS);
			fill_page(region_page(&me.mem, i), PATTERN_SET, pattern[i]);
		}
		for (i = 0; i < REGION_PAGES; i++) {
			if (!written[i]) {
				check_page(i);
			} else if (!page_matches(region_page(&me.mem, i), PATTERN_SET, pattern[i])) {
				char want[PAGE_SIZE];
				long at = 0;

				fill_page(want, PATTERN_SET, pattern[i]);
				while (region_page(&me.mem, i)[at] == want[at])
					at++;
				me.origin[i] = O_CHILD;
				mismatch(i, at, want);
			}
		}
	}
	_exit(0);
}

static void fork_child(void)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		child_main();
	if (pid < 0) {
		record(K_FORK, errno);
		return;
	}
	record(K_FORK, 0);
	if (waitpid(pid, &status, 0) != pid)
		failure("worker %u: waitpid of its fork child: %s", me.w, strerror(errno));
	else if (WIFSIGNALED(status))
		failure("worker %u: fork child killed by signal %d (%s)", me.w, WTERMSIG(status),
			strsignal(WTERMSIG(status)));
	else if (WEXITSTATUS(status))
		failure("worker %u: fork child exited with %d", me.w, WEXITSTATUS(status));
}

static void remap(void)
{
	size_t first = rng_below(&me.rng, REGION_PAGES), count = 1 + rng_below(&me.rng, 64), i;
	int err;

	end_wp();
	if (first + count > REGION_PAGES)
		count = REGION_PAGES - first;
	err = shadowed_remap(&me.mem, first, count);
	record(K_REMAP, -err);
	if (err)
		die("worker %u: munmap and remap: %s", me.w, strerror(-err));
	for (i = first; i < first + count; i++)
		me.origin[i] = O_ZERO;
	if (rng_below(&me.rng, 2))
		write_patterns(first, count);
	make_mergeable(first, count);
}

static void move(void)
{
	void *moved;

	end_wp();
	moved = move_region(me.mem.region, REGION_PAGES * PAGE_SIZE, HUGE_SIZE);
	record(K_MREMAP, moved == MAP_FAILED ? errno : 0);
	if (moved == MAP_FAILED)
		die("worker %u: mremap: %s", me.w, strerror(errno));
	me.mem.region = moved;
	publish_base();
}

static void worker_exit(void) __attribute__((noreturn));
static void worker_exit(void)
{
	end_wp();
	check_all();
	_exit(0);
}

/* Do what an actor asked for, if anything. */
static void serve_request(void)
{
	int request = atomic_load(&me.slot->request);
	size_t i = rng_below(&me.rng, REGION_PAGES), count = 1 + rng_below(&me.rng, 64);

	if (!request)
		return;
	if (i + count > REGION_PAGES)
		count = REGION_PAGES - i;
	if (me.wp_hold && (request - 1 == K_RESPAWN || request - 1 == K_REMAP ||
			   request - 1 == K_MREMAP)) {
		/* Not while a range is held write-protected. */
		record((enum kind)(request - 1), EBUSY);
		atomic_store(&me.slot->request, 0);
		return;
	}
	busy_begin(&me.slot->busy, (enum kind)(request - 1));
	switch (request - 1) {
	case K_PAGEOUT:
		record(K_PAGEOUT, madvise(region_page(&me.mem, i), count * PAGE_SIZE,
					  MADV_PAGEOUT) ? errno : 0);
		check_range(i, count);
		break;
	case K_SOFT_OFFLINE:
		record(K_SOFT_OFFLINE,
		       madvise(region_page(&me.mem, i), PAGE_SIZE, MADV_SOFT_OFFLINE) ? errno : 0);
		check_page(i);
		break;
	case K_HUGEPAGE:
		hugepage();
		break;
	case K_SPLIT:
		split();
		break;
	case K_UFFD_WP:
		start_wp();
		break;
	case K_FORK:
		fork_child();
		break;
	case K_RESPAWN:
		record(K_RESPAWN, 0);
		worker_exit();
	case K_REMAP:
		remap();
		break;
	case K_MREMAP:
		move();
		break;
	}
	busy_end(&me.slot->busy);
	atomic_store(&me.slot->request, 0);
}

/* Stop for the round's check: everything against the shadow. */
static void barrier(void)
{
	int round = atomic_load(&sh->round);

	if (atomic_load(&me.slot->checked) == round)
		return;
	check_all();
	atomic_store(&me.slot->checked, round);
	while (atomic_load(&sh->pause) && atomic_load(&sh->round) == round &&
	       !atomic_load(&sh->stop_workers))
		sleep_ms(5);
}

static void step(void)
{
	size_t i = rng_below(&me.rng, REGION_PAGES), count = 1 + rng_below(&me.rng, 16);
	unsigned int dice = (unsigned int)rng_below(&me.rng, 100);

	if (i + count > REGION_PAGES)
		count = REGION_PAGES - i;
	atomic_fetch_add(&sh->steps, 1);
	/* Pages are checked before they are overwritten: nothing goes unseen. */
	if (dice < 55)
		check_range(i, count);
	if (dice < 55 && held(i, count)) {
		/* Only read. */
	} else if (dice < 30) {
		write_patterns(i, count);
	} else if (dice < 42) {
		read_pages(i, count);
	} else if (dice < 55) {
		shadowed_scribble(&me.mem, i, &me.rng);
		me.origin[i] = O_SCRIBBLE;
	} else if (dice < 80) {
		check_page(i);
	} else {
		/* Leave the CPU to the engine now and then. */
		sleep_ms(1);
	}
}

static void worker_main(unsigned int w) __attribute__((noreturn));
static void worker_main(unsigned int w)
{
	me.w = w;
	me.slot = &sh->workers[w];
	me.serial = atomic_fetch_add(&sh->serials, 1);
	atomic_store(&me.slot->serial, me.serial);
	me.rng = sh->seed ^ ((uint64_t)me.serial << 40);
	rng_next(&me.rng);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (sh->reclaim) {
		const char *cgroup = getenv("KSMPP_TORTURE_CGROUP");

		if (cgroup_enter(cgroup, getpid()))
			die("worker %u: cannot move into %s", w, cgroup);
	}
	if (w == 0) {
		/* The whole process opts in, no madvise (kernels from 6.4 on). */
		int err = prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) ? errno : 0;

		record(K_MERGE_ANY, err);
		me.merge_any = !err;
		if (err && !atomic_exchange(&sh->merge_any_said, 1))
			say("prctl(PR_SET_MEMORY_MERGE): %s: worker 0 uses madvise instead",
			    strerror(err));
	}
	me.mem.pages = REGION_PAGES;
	me.mem.region = map_aligned(REGION_PAGES * PAGE_SIZE, HUGE_SIZE);
	/* Shared anonymous memory: never mergeable, even with PR_SET_MEMORY_MERGE. */
	me.mem.shadow = mmap(NULL, REGION_PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (me.mem.region == MAP_FAILED || me.mem.shadow == MAP_FAILED)
		die("worker %u: out of memory", w);
	me.data = open(DATA_FILE, O_RDONLY);
	if (me.data < 0)
		die("worker %u: %s: %s", w, DATA_FILE, strerror(errno));
	write_patterns(0, REGION_PAGES);
	read_pages(0, FILE_PAGES / 2);
	make_mergeable(0, REGION_PAGES);
	uffd_setup();
	publish_base();
	for (;;) {
		if (atomic_load(&sh->pause))
			barrier();
		if (atomic_load(&sh->stop_workers))
			worker_exit();
		serve_request();
		if (me.wp_pending && now_ms() >= me.wp_ripe)
			protect_wp();
		if (me.wp_start && now_ms() >= me.wp_end)
			end_wp();
		step();
	}
}

/* ------------------------------------------------------------------------
 * Actors
 */

static struct {
	unsigned int a;
	uint64_t rng;
	struct actor_slot *slot;
} actor;

/* A random live worker's slot, NULL if none. */
static struct worker_slot *some_worker(void)
{
	unsigned int w = (unsigned int)rng_below(&actor.rng, WORKERS), k;

	for (k = 0; k < WORKERS; k++) {
		struct worker_slot *slot = &sh->workers[(w + k) % WORKERS];

		if (slot->alive && atomic_load(&slot->base))
			return slot;
	}
	return NULL;
}

static int write_errno(const char *path, const char *text)
{
	return -write_file(path, text);
}

static void move_pages(struct worker_slot *slot)
{
	unsigned int n = 1 + (unsigned int)rng_below(&actor.rng, 64), k;
	int node = (int)rng_below(&actor.rng, 2), nodes[64], status[64];
	uintptr_t base = atomic_load(&slot->base);
	void *pages[64];
	long ret;

	for (k = 0; k < n; k++) {
		pages[k] = (void *)(base + rng_below(&actor.rng, REGION_PAGES) * PAGE_SIZE);
		nodes[k] = node;
	}
	ret = syscall(SYS_move_pages, slot->pid, n, pages, nodes, status, MPOL_MF_MOVE_ALL);
	record(K_MOVE_PAGES, ret < 0 ? errno : 0);
}

static void migrate_pages(struct worker_slot *slot)
{
	int from = (int)rng_below(&actor.rng, 2);
	unsigned long old_nodes = 1UL << from, new_nodes = 1UL << (1 - from);
	/* maxnode counts one more than the bits passed. */
	long ret = syscall(SYS_migrate_pages, slot->pid, 8 * sizeof(long) + 1, &old_nodes,
			   &new_nodes);

	record(K_MIGRATE_PAGES, ret < 0 ? errno : 0);
}

static void process_pageout(struct worker_slot *slot)
{
	size_t i = rng_below(&actor.rng, REGION_PAGES), count = 1 + rng_below(&actor.rng, 128);
	struct iovec iov;
	int pidfd = (int)syscall(SYS_pidfd_open, slot->pid, 0), err = 0;

	if (i + count > REGION_PAGES)
		count = REGION_PAGES - i;
	iov.iov_base = (void *)(atomic_load(&slot->base) + i * PAGE_SIZE);
	iov.iov_len = count * PAGE_SIZE;
	if (pidfd < 0 || syscall(SYS_process_madvise, pidfd, &iov, 1, MADV_PAGEOUT, 0) < 0)
		err = errno;
	if (pidfd >= 0)
		close(pidfd);
	record(K_PROCESS_PAGEOUT, err);
}

static void migrate_pages(struct worker_slot *slot);

/*
 * Compact one of the two NUMA nodes: the same kind of migrations as
 * /proc/sys/vm/compact_memory, KSM pages among them, in half the time.
 * Under TCG on a busy host, compacting all 2 GiB (which zeroes each free
 * page it takes as a target: init_on_alloc) ran for over 30 s, and RCU
 * reported its CPU stalled for 21 s.
 */
static void compact_node(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%u/compact",
		 (unsigned int)rng_below(&actor.rng, 2));
	record(K_COMPACT, write_errno(path, "1"));
}

/*
 * Memory of the workers' cgroup out to swap; sometimes a worker migrated
 * soon after, when what it read back in is in the swap cache.
 */
static void reclaim(void)
{
	/*
	 * Less than the workers hold: more would go on as they read it back.
	 * And small: a reclaim to zram never sleeps, so while it runs it holds
	 * up RCU-tasks grace periods (rmmod's ftrace unregistration); on a
	 * busy host under TCG one of 16M took over 30 s.
	 */
	static const char *const amounts[] = { "256K", "1M", "4M" };
	struct worker_slot *slot;
	char path[256];

	snprintf(path, sizeof(path), "%s/memory.reclaim", getenv("KSMPP_TORTURE_CGROUP"));
	record(K_RECLAIM, write_errno(path, amounts[rng_below(&actor.rng, 3)]));
	if (rng_below(&actor.rng, 2) || !(slot = some_worker()))
		return;
	nap((unsigned int)rng_below(&actor.rng, 300), &sh->stop_actors);
	busy_begin(&actor.slot->busy, K_MIGRATE_PAGES);
	migrate_pages(slot);
}

/* The engine's run 1 -> 2 (returns once unmerged) -> 1. */
static void run_flip(void)
{
	const char *run = sh->ksmpp ? KSMPP_RUN : KSM_RUN;

	record(K_RUN_FLIP, write_errno(run, "2"));
	nap((unsigned int)rng_below(&actor.rng, 500), &sh->stop_actors);
	record(K_RUN_1, write_errno(run, "1"));
}

/* Kernel KSM runs a while (ksmpp steps aside), or starts and stops in a burst. */
static void ksm_run(void)
{
	unsigned int n = rng_below(&actor.rng, 4) ? 1 : 10;

	while (n--) {
		record(K_KSM, write_errno(KSM_RUN, "1"));
		if (n)
			record(K_KSM_STOP, write_errno(KSM_RUN, "0"));
	}
	nap(100 + (unsigned int)rng_below(&actor.rng, 900), &sh->stop_actors);
	record(K_KSM_STOP, write_errno(KSM_RUN, rng_below(&actor.rng, 3) ? "0" : "2"));
}

static int insmod(void)
{
	const char *ko = getenv("KSMPP_KO") ? getenv("KSMPP_KO") : "/modules/ksmpp.ko";
	int fd = open(ko, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0 || syscall(SYS_finit_module, fd, KSMPP_ARGS, 0))
		err = errno;
	if (fd >= 0)
		close(fd);
	return err;
}

/*
 * rmmod ksmpp while everything goes on, then insmod it again; half the
 * time with a child process starting and stopping kernel KSM meanwhile.
 */
static void reload(void)
{
	static _Atomic int *done;
	pid_t hammer = 0;
	int status;

	if (!done) {
		done = mmap(NULL, sizeof(*done), PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (done == MAP_FAILED)
			die("mmap: %s", strerror(errno));
	}
	atomic_store(done, 0);
	if (rng_below(&actor.rng, 2)) {
		hammer = fork_or_die();
		if (hammer == 0) {
			uint64_t end = now_ms() + 5000;

			while (!atomic_load(done) && now_ms() < end) {
				record(K_KSM, write_errno(KSM_RUN, "1"));
				record(K_KSM_STOP, write_errno(KSM_RUN, "0"));
			}
			_exit(0);
		}
		sleep_ms((unsigned int)rng_below(&actor.rng, 20));
	}
	record(K_RELOAD, syscall(SYS_delete_module, "ksmpp", O_NONBLOCK) ? errno : 0);
	atomic_store(done, 1);
	nap((unsigned int)rng_below(&actor.rng, 500), &sh->stop_actors);
	record(K_INSMOD, insmod());
	if (hammer && (waitpid(hammer, &status, 0) != hammer || !WIFEXITED(status) ||
		       WEXITSTATUS(status)))
		failure("actor %u: the child writing kernel KSM's run failed", actor.a);
}

/* A weighted random kind this run can do. */
static enum kind pick(void)
{
	unsigned int total = 0, k, dice;

	for (k = 0; k < KINDS; k++)
		if ((!kinds[k].module || sh->ksmpp) && (k != K_RECLAIM || sh->reclaim))
			total += kinds[k].weight;
	dice = (unsigned int)rng_below(&actor.rng, total);
	for (k = 0;; k++) {
		if ((kinds[k].module && !sh->ksmpp) || (k == K_RECLAIM && !sh->reclaim))
			continue;
		if (dice < kinds[k].weight)
			return (enum kind)k;
		dice -= kinds[k].weight;
	}
}

static void act(enum kind k)
{
	struct worker_slot *slot = some_worker();
	int expected = 0;

	switch (k) {
	case K_COMPACT:
		compact_node();
		return;
	case K_RECLAIM:
		reclaim();
		return;
	case K_RUN_FLIP:
		run_flip();
		return;
	case K_KSM:
		ksm_run();
		return;
	case K_RELOAD:
		reload();
		return;
	default:
		break;
	}
	if (!slot)
		return;
	switch (k) {
	case K_MOVE_PAGES:
		move_pages(slot);
		break;
	case K_MIGRATE_PAGES:
		migrate_pages(slot);
		break;
	case K_PROCESS_PAGEOUT:
		process_pageout(slot);
		break;
	default:
		/* The worker does it; if it is still busy with another, never mind. */
		atomic_compare_exchange_strong(&slot->request, &expected, (int)k + 1);
		break;
	}
}

static void actor_main(unsigned int a) __attribute__((noreturn));
static void actor_main(unsigned int a)
{
	actor.a = a;
	actor.slot = &sh->actors[a];
	actor.rng = sh->seed ^ (0xac70ULL << 48) ^ a;
	rng_next(&actor.rng);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (!atomic_load(&sh->stop_actors)) {
		enum kind k = pick();

		busy_begin(&actor.slot->busy, k);
		act(k);
		busy_end(&actor.slot->busy);
		nap((unsigned int)rng_below(&actor.rng, 100), &sh->stop_actors);
	}
	_exit(0);
}

/* ------------------------------------------------------------------------
 * Controller
 */

static bool respawn = true;
static long max_sharing, max_ksm_sharing;

static void spawn_worker(unsigned int w)
{
	struct worker_slot *slot = &sh->workers[w];
	pid_t pid;

	atomic_store(&slot->base, 0);
	atomic_store(&slot->request, 0);
	atomic_store(&slot->busy.op, 0);
	pid = fork_or_die();
	if (pid == 0)
		worker_main(w);
	slot->pid = pid;
	slot->alive = true;
}

static void spawn_actor(unsigned int a)
{
	struct actor_slot *slot = &sh->actors[a];
	pid_t pid;

	atomic_store(&slot->busy.op, 0);
	pid = fork_or_die();
	if (pid == 0)
		actor_main(a);
	slot->pid = pid;
	slot->alive = true;
}

/* Whether process PID ended (reaped); a failure unless it exited with 0. */
static bool ended(pid_t pid, const char *who, unsigned int n, int serial)
{
	int status;

	if (waitpid(pid, &status, WNOHANG) != pid)
		return false;
	if (WIFSIGNALED(status))
		failure("%s %u (pid %d, serial %d) killed by signal %d (%s)", who, n, (int)pid,
			serial, WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (WEXITSTATUS(status))
		failure("%s %u (pid %d, serial %d) exited with %d", who, n, (int)pid, serial,
			WEXITSTATUS(status));
	return true;
}

/* The state letter of task TID of process PID (R, S, D...), or '?'. */
static char task_state(pid_t pid, pid_t tid)
{
	char path[64], stat[512], *end;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	if (read_file(path, stat, sizeof(stat)) <= 0)
		return '?';
	end = strrchr(stat, ')');
	return end && end[1] == ' ' ? end[2] : '?';
}

/*
 * The kernel stack of task TID of process PID, where it hangs. Not that of
 * a task running on a CPU: its stack changes under the unwinder, which can
 * then meet a kretprobe's return address that 6.1's rethook_find_ret_addr()
 * WARNs about (a panic under panic_on_warn).
 */
static void print_task_stack(pid_t pid, pid_t tid)
{
	char path[64], stack[4096], *line, *next;

	if (task_state(pid, tid) == 'R') {
		say("  pid %d: running, stack not read", (int)tid);
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stack", (int)pid, (int)tid);
	if (read_file(path, stack, sizeof(stack)) <= 0)
		return;
	for (line = stack; *line; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = 0;
		say("  pid %d: %s", (int)tid, line);
	}
}

static void print_stack(pid_t pid)
{
	print_task_stack(pid, pid);
}

/* The next number-named entry of @dir (a pid), or 0 at its end. */
static pid_t next_number(DIR *dir)
{
	struct dirent *entry;

	while ((entry = readdir(dir)))
		if (entry->d_name[0] >= '1' && entry->d_name[0] <= '9')
			return atoi(entry->d_name);
	return 0;
}

/* What process @pid of the run is doing, for a hang's report. */
static void print_doing(pid_t pid)
{
	struct busy *b = NULL;
	uint64_t busy_ms;
	unsigned int i;
	int k;

	for (i = 0; i < WORKERS; i++)
		if (sh->workers[i].alive && sh->workers[i].pid == pid)
			b = &sh->workers[i].busy;
	for (i = 0; i < ACTORS; i++)
		if (sh->actors[i].alive && sh->actors[i].pid == pid)
			b = &sh->actors[i].busy;
	if (!b)
		return;
	k = busy_kind(atomic_load(&b->op), &busy_ms);
	if (k < 0)
		say("    doing its own steps");
	else
		say("    doing \"%s\" for %llu s", kinds[k].name, (unsigned long long)busy_ms / 1000);
}

/*
 * Every task of the run, in whatever state, and every other task in
 * uninterruptible sleep (D), each with its stack: the holder of what a
 * hung operation waits for is among them. A lock's holder may be running
 * (R): the kernel's list of held locks (sysrq d) leaves those out.
 */
static void print_tasks(void)
{
	char path[64], comm[64], state;
	DIR *proc, *tasks;
	pid_t pid, tid;
	bool ours;

	proc = opendir("/proc");
	if (!proc)
		return;
	say("  tasks of the run, and others in D state:");
	while ((pid = next_number(proc))) {
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		if (read_file(path, comm, sizeof(comm)) <= 0)
			continue;
		ours = !strcmp(comm, "ksm-torture\n");
		snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
		tasks = opendir(path);
		if (!tasks)
			continue;
		while ((tid = next_number(tasks))) {
			state = task_state(pid, tid);
			if (!ours && state != 'D')
				continue;
			snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
			if (read_file(path, comm, sizeof(comm)) <= 0)
				continue;
			comm[strcspn(comm, "\n")] = 0;
			say("  %s (pid %d, task %d, state %c):", comm, (int)pid, (int)tid, state);
			if (tid == pid)
				print_doing(pid);
			print_task_stack(pid, tid);
		}
		closedir(tasks);
	}
	closedir(proc);
}

/* The pid of the (kernel) thread called @comm, or 0. */
static pid_t pid_called(const char *comm)
{
	char path[64], name[64];
	pid_t pid;
	DIR *proc;

	proc = opendir("/proc");
	if (!proc)
		return 0;
	while ((pid = next_number(proc))) {
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		if (read_file(path, name, sizeof(name)) > 0 &&
		    !strncmp(name, comm, strlen(comm)) && name[strlen(comm)] == '\n')
			break;
	}
	closedir(proc);
	return pid;
}

/*
 * Where the engines' threads are (and in which state: a thread running on
 * a CPU shows no stack in /proc), for a hang's report; at the first hang,
 * also every task of the run and every blocked one, with what each does,
 * and in the kernel log every lock each sleeping task holds (sysrq d:
 * where the kernel has lockdep, the debug line) and where each CPU is
 * (sysrq l: the stack of a task that hangs running, which /proc does not
 * show).
 */
static void print_engine_stacks(void)
{
	static const char *const threads[] = { "ksmppd", "ksmd" };
	static bool dumped;
	unsigned int i;
	pid_t pid;

	for (i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
		pid = pid_called(threads[i]);
		if (!pid)
			continue;
		say("  %s (pid %d, state %c) is at:", threads[i], (int)pid, task_state(pid, pid));
		print_stack(pid);
	}
	if (!dumped) {
		dumped = true;
		print_tasks();
		write_file("/proc/sysrq-trigger", "d");
		write_file("/proc/sysrq-trigger", "l");
	}
}

static void watch(struct busy *b, const char *who, unsigned int n, pid_t pid)
{
	uint64_t op = atomic_load(&b->op), busy_ms;
	int k = busy_kind(op, &busy_ms);

	if (op != b->watched) {
		b->watched = op;
		b->slow = b->reported = false;
	}
	if (k < 0)
		return;
	/* Where a slow one waits, said once, for when it ends in a hang. */
	if (!b->slow && busy_ms >= OP_TIMEOUT_S * 1000ULL / 3) {
		b->slow = true;
		say("%s %u (pid %d): \"%s\" has not returned after %d s (slow, no failure by itself), in the kernel at:",
		    who, n, (int)pid, kinds[k].name, OP_TIMEOUT_S / 3);
		print_stack(pid);
	}
	if (b->reported || busy_ms < OP_TIMEOUT_S * 1000ULL)
		return;
	b->reported = true;
	atomic_fetch_add(&sh->hangs, 1);
	failure("%s %u (pid %d): \"%s\" has not returned after %d s (hang), in the kernel at:",
		who, n, (int)pid, kinds[k].name, OP_TIMEOUT_S);
	print_stack(pid);
	print_engine_stacks();
}

/* Reap and respawn, watch for hangs, sample the engines' sharing. */
static void tick(void)
{
	unsigned int i;
	long sharing;

	for (i = 0; i < WORKERS; i++) {
		struct worker_slot *slot = &sh->workers[i];

		if (!slot->alive)
			continue;
		if (ended(slot->pid, "worker", i, atomic_load(&slot->serial))) {
			slot->alive = false;
			if (respawn)
				spawn_worker(i);
		} else {
			watch(&slot->busy, "worker", i, slot->pid);
		}
	}
	for (i = 0; i < ACTORS; i++) {
		struct actor_slot *slot = &sh->actors[i];

		if (!slot->alive)
			continue;
		if (ended(slot->pid, "actor", i, 0)) {
			slot->alive = false;
			if (!atomic_load(&sh->stop_actors))
				failure("actor %u stopped before the end", i);
		} else {
			watch(&slot->busy, "actor", i, slot->pid);
		}
	}
	sharing = engine_counter("pages_sharing");
	if (sharing > max_sharing)
		max_sharing = sharing;
	if (sh->ksmpp) {
		char text[32];

		sharing = read_file("/sys/kernel/mm/ksm/pages_sharing", text, sizeof(text)) > 0 ?
			  strtol(text, NULL, 10) : 0;
		if (sharing > max_ksm_sharing)
			max_ksm_sharing = sharing;
	}
}

/* Tick for MS milliseconds. */
static void ticks(unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end) {
		tick();
		sleep_ms(100);
	}
}

/* The round's check: every live worker stops and checks all its pages. */
static bool round_check(void)
{
	int round = atomic_load(&sh->round);
	uint64_t deadline = now_ms() + (OP_TIMEOUT_S + 30) * 1000ULL;
	unsigned int w;
	bool all;

	atomic_store(&sh->pause, 1);
	for (;;) {
		tick();
		all = true;
		for (w = 0; w < WORKERS; w++)
			if (sh->workers[w].alive && atomic_load(&sh->workers[w].checked) != round)
				all = false;
		if (all)
			break;
		if (now_ms() > deadline) {
			atomic_fetch_add(&sh->hangs, 1);
			for (w = 0; w < WORKERS; w++)
				if (sh->workers[w].alive &&
				    atomic_load(&sh->workers[w].checked) != round) {
					failure("round %d: worker %u did not come to the check in %d s (hang), in the kernel at:",
						round, w, OP_TIMEOUT_S + 30);
					print_stack(sh->workers[w].pid);
				}
			break;
		}
		sleep_ms(20);
	}
	say("round %d checked: %ld steps, %ld pages checked, %ld mismatches, %ld other failures, pages_sharing %ld (ksmpp max %ld, KSM max %ld)",
	    round, atomic_load(&sh->steps), atomic_load(&sh->checks),
	    atomic_load(&sh->mismatches), atomic_load(&sh->failures),
	    engine_counter("pages_sharing"), max_sharing, max_ksm_sharing);
	atomic_store(&sh->round, round + 1);
	atomic_store(&sh->pause, 0);
	return all;
}

/*
 * Run FN in a child process, at most TIMEOUT_S seconds: its exit status, or
 * -1 (a failure) if it did not end in time (left behind: a process stuck
 * in the kernel cannot be killed).
 */
static int bounded(int (*fn)(void), unsigned int timeout_s, const char *what)
{
	uint64_t end = now_ms() + timeout_s * 1000ULL;
	pid_t pid = fork_or_die();
	int status;

	if (pid == 0)
		_exit(fn());
	while (waitpid(pid, &status, WNOHANG) != pid) {
		if (now_ms() > end) {
			atomic_fetch_add(&sh->hangs, 1);
			failure("%s has not returned after %u s (hang), in the kernel at:", what,
				timeout_s);
			print_stack(pid);
			kill(pid, SIGKILL);
			return -1;
		}
		sleep_ms(50);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int stop_ksm(void)
{
	return write_file(KSM_RUN, "2") ? 1 : 0;
}

static int start_engine(void)
{
	return engine("start 5000 1") ? 1 : 0;
}

static void make_data_file(void)
{
	char page[PAGE_SIZE];
	unsigned int k;
	int fd = open(DATA_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		die("%s: %s", DATA_FILE, strerror(errno));
	for (k = 0; k < FILE_PAGES; k++) {
		fill_page(page, PATTERN_SET, k % PATTERNS);
		if (write(fd, page, PAGE_SIZE) != PAGE_SIZE)
			die("%s: write: %s", DATA_FILE, strerror(errno));
	}
	close(fd);
}

static void print_stats(void)
{
	unsigned int k, e;

	for (k = 0; k < KINDS; k++) {
		struct kind_stats *st = &sh->stats[k];
		char errors[512] = "", slowest[48] = "";
		size_t len = 0;

		if (kinds[k].weight)
			snprintf(slowest, sizeof(slowest), ", slowest %llu ms",
				 (unsigned long long)atomic_load(&st->slowest_ms));
		for (e = 1; e <= MAX_ERRNO; e++) {
			long n = atomic_load(&st->err[e]);
			const char *name = e < MAX_ERRNO ? strerrorname_np((int)e) : "other";

			if (n && len < sizeof(errors) - 40)
				len += (size_t)snprintf(errors + len, sizeof(errors) - len, "%s%s %ld",
							len ? ", " : " (", name ? name : "?", n);
		}
		say("%-40s %6ld, %ld failed%s%s%s", kinds[k].name, atomic_load(&st->ops),
		    atomic_load(&st->errors), errors, len ? ")" : "", slowest);
	}
}

/*
 * Wait until every actor (ACTORS) or worker has ended; those still running
 * after OP_TIMEOUT_S + 10 s (5 s after a hang) are failures, killed if they
 * can be. Whether all ended.
 */
static bool wait_ended(bool actors)
{
	unsigned int n = actors ? ACTORS : WORKERS, i;
	uint64_t deadline = now_ms() + (atomic_load(&sh->hangs) ? 5 : OP_TIMEOUT_S + 10) * 1000ULL;

	for (;;) {
		bool running = false;

		tick();
		for (i = 0; i < n; i++)
			running |= actors ? sh->actors[i].alive : sh->workers[i].alive;
		if (!running)
			return true;
		if (now_ms() > deadline)
			break;
		sleep_ms(50);
	}
	for (i = 0; i < n; i++) {
		bool alive = actors ? sh->actors[i].alive : sh->workers[i].alive;

		if (alive) {
			pid_t pid = actors ? sh->actors[i].pid : sh->workers[i].pid;

			failure("%s %u did not end, in the kernel at:", actors ? "actor" : "worker", i);
			print_stack(pid);
			kill(pid, SIGKILL);
		}
	}
	return false;
}

int main(int argc, char **argv)
{
	unsigned int seconds, i;
	uint64_t end;
	int rounds = 0;
	bool stuck = false;

	prog = "ksm-torture";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || argc > 3 || atoi(argv[1]) <= 0)
		die("usage: %s SECONDS [SEED]", prog);
	seconds = (unsigned int)atoi(argv[1]);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	sh->seed = argc == 3 ? strtoull(argv[2], NULL, 0) : (now_ms() ^ (uint64_t)getpid() << 20);
	sh->ksmpp = !strcmp(engine_name(), "ksmpp");
	say("seed %llu (rerun: %s %u %llu), engine %s, %d workers, %d actors, rounds of %d ms",
	    (unsigned long long)sh->seed, prog, seconds, (unsigned long long)sh->seed,
	    engine_name(), WORKERS, ACTORS, ROUND_MS);
	atomic_store(&sh->round, 1);
	sh->reclaim = getenv("KSMPP_TORTURE_CGROUP") != NULL;
	make_data_file();
	/*
	 * Kernel KSM, when an actor starts it, merges at a good rate too, in
	 * short batches: ksmd holds the mutex that a write of KSM's run
	 * takes for a whole batch, and stays in the kernel (which holds up
	 * rmmod's RCU-tasks grace period) until it ends. On the debug kernel
	 * under TCG, with batches of 1000 pages, writes of KSM's run waited
	 * on that mutex past OP_TIMEOUT_S while ksmd ran on in its scan.
	 */
	write_file("/sys/kernel/mm/ksm/pages_to_scan", "100");
	write_file("/sys/kernel/mm/ksm/sleep_millisecs", "1");
	if (engine("start 5000 1"))
		die("engine_start failed");

	for (i = 0; i < WORKERS; i++)
		spawn_worker(i);
	for (i = 0; i < ACTORS; i++)
		spawn_actor(i);
	end = now_ms() + seconds * 1000ULL;
	while (now_ms() < end) {
		uint64_t left = end - now_ms();

		ticks(left < ROUND_MS ? (unsigned int)left : ROUND_MS);
		rounds++;
		if (!round_check()) {
			stuck = true;
			break;
		}
	}

	/* The actors finish what they do; the engine merges on, alone. */
	atomic_store(&sh->stop_actors, 1);
	if (!wait_ended(true))
		stuck = true;
	/* After a hang, the engine is wedged: no more waiting for it. */
	if (sh->ksmpp && !atomic_load(&sh->hangs)) {
		if (bounded(stop_ksm, OP_TIMEOUT_S, "kernel KSM run=2 at the end"))
			failure("kernel KSM run=2 at the end failed");
		else if (bounded(start_engine, OP_TIMEOUT_S, "engine_start 5000 1 at the end"))
			failure("engine_start 5000 1 at the end failed");
	}
	if (!stuck && !atomic_load(&sh->hangs)) {
		ticks(ROUND_MS);
		rounds++;
		round_check();
	}

	/* Every worker checks everything once more and exits. */
	respawn = false;
	atomic_store(&sh->stop_workers, 1);
	wait_ended(false);

	say("%d rounds in %u s, seed %llu; operations (failed ones by errno, no failure by itself;",
	    rounds, seconds, (unsigned long long)sh->seed);
	say("EBUSY of remap, mremap, respawn, uffd: not done while a range is held write-protected):");
	print_stats();
	say("%ld worker steps, %ld pages checked; pages_sharing up to %ld (ksmpp or the engine), %ld (kernel KSM)",
	    atomic_load(&sh->steps), atomic_load(&sh->checks), max_sharing, max_ksm_sharing);
	expect(atomic_load(&sh->mismatches) == 0, "seed %llu: %ld pages differed from their shadow",
	       (unsigned long long)sh->seed, atomic_load(&sh->mismatches));
	expect(atomic_load(&sh->failures) == 0,
	       "seed %llu: %ld failures other than mismatches, %ld of them hangs (see above)",
	       (unsigned long long)sh->seed, atomic_load(&sh->failures), atomic_load(&sh->hangs));
	expect(max_sharing > 0, "the engine merged nothing during the torture");
	finish("torture");
}
