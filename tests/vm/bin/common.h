/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the guest test programs: page contents that every
 * process can produce on its own, physical frames from /proc/PID/pagemap,
 * the merge engine's counters, bounded waiting and reporting.
 */
#ifndef KSMPP_TEST_COMMON_H
#define KSMPP_TEST_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PAGE_SIZE	4096UL
#define HUGE_SIZE	(2UL << 20)

/* /proc/PID/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PRESENT	(1ULL << 63)
#define PM_SWAPPED	(1ULL << 62)
#define PM_PFN_MASK	((1ULL << 55) - 1)

/* The program's name in every line it prints (set by main). */
extern const char *prog;

/* Print one line "PROG: message" to stdout. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "PROG: error: message" to stderr and exit 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Count a failed expectation: print "PROG: FAIL: message" unless COND. */
bool expect(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The number of failed expectations so far. */
int failures(void);
/* Exit with the verdict: "PROG: ok: WHAT" and 0, or a FAIL line and 1. */
void finish(const char *what) __attribute__((noreturn));

/*
 * fork(), after flushing stdio so that no buffered line is printed twice;
 * dies if it fails. The child's 0, or the child's pid.
 */
pid_t fork_or_die(void);

/* Milliseconds since an arbitrary start (CLOCK_MONOTONIC). */
uint64_t now_ms(void);
void sleep_ms(unsigned int ms);
/*
 * Poll COND(ARG) every 100 ms until it holds (true) or TIMEOUT_S seconds
 * have passed (false).
 */
bool wait_until(bool (*cond)(void *arg), void *arg, unsigned int timeout_s);

/* The positive number in environment variable NAME, or FALLBACK. */
unsigned int number_from_env(const char *name, unsigned int fallback);

/* Deterministic pseudo-random numbers (splitmix64). */
uint64_t rng_next(uint64_t *state);
/* A number in [0, n). */
uint64_t rng_below(uint64_t *state, uint64_t n);

/*
 * "Page INDEX of set SET": 4096 bytes that depend only on (SET, INDEX),
 * never all zero, different for every (SET, INDEX). Processes fill their
 * own memory with it to make identical pages without sharing them by fork.
 */
void fill_page(void *page, uint32_t set, uint32_t index);
/* Whether PAGE holds page INDEX of set SET, byte for byte. */
bool page_matches(const void *page, uint32_t set, uint32_t index);

/*
 * NPAGES pagemap entries of process PID from address ADDR into OUT
 * (0 where the range is not mapped). Dies if pagemap cannot be read.
 */
void pagemap_read(pid_t pid, uintptr_t addr, size_t npages, uint64_t *out);
/* The frame of a pagemap entry, 0 if the page is not present. */
static inline uint64_t pm_pfn(uint64_t entry)
{
	return (entry & PM_PRESENT) ? entry & PM_PFN_MASK : 0;
}

/* Bits of /proc/kpageflags (Documentation/admin-guide/mm/pagemap.rst). */
#define KPF_THP		22
#define KPF_KSM		21
#define KPF_ZERO_PAGE	24
/* The /proc/kpageflags word of frame PFN, 0 if it cannot be read. */
uint64_t kpageflags(uint64_t pfn);

/* The merge engine under test: "ksmpp" (default) or "ksm" (KSMPP_ENGINE). */
const char *engine_name(void);
/*
 * Run the test library's engine_ACTION shell function (/tests/lib.sh), e.g.
 * "start", "stop", "unmerge", "start 5000 1". Returns its exit status.
 * With KSMPP_ENGINE_CONTROL=none the engine is left as it is (0).
 */
int engine(const char *action);
/*
 * Run engine_stop when the program exits (from the process that called
 * this, not from its children); a failure of it fails the program.
 */
void stop_engine_at_exit(void);
/*
 * A value of the engine under test as text: a /proc/ksmpp field or the
 * file of that name in /sys/kernel/mm/ksm, into OUT; false if unreadable.
 */
bool engine_text(const char *name, char *out, size_t size);
/*
 * Write VALUE to the engine's knob NAME (/sys/kernel/mm/ksm or
 * /sys/kernel/mm/ksmpp): 0 or -errno.
 */
int engine_write(const char *name, const char *value);
/*
 * A counter of the engine under test: a /proc/ksmpp field or the file of
 * that name in /sys/kernel/mm/ksm. -1 if it cannot be read.
 */
long engine_counter(const char *name);
/*
 * Wait up to TIMEOUT_S seconds until pages_shared and pages_sharing equal
 * SHARED and SHARING; an expectation (printed, counted) either way.
 */
bool expect_engine_counters(long shared, long sharing, unsigned int timeout_s);

/* /proc/PID/ksm_merging_pages, -1 if missing. */
long proc_ksm_merging_pages(pid_t pid);
/* The "KEY N" line of /proc/PID/ksm_stat (ksm_rmap_items, ...), -1 if missing. */
long proc_ksm_stat(pid_t pid, const char *key);
/* A "Key: N kB" field of /proc/PID/status, -1 if missing. */
long proc_status_kb(pid_t pid, const char *key);
/* The "Key: N kB" field of the mapping at ADDR in /proc/PID/smaps, -1. */
long smaps_field_kb(pid_t pid, uintptr_t addr, const char *key);

/*
 * SIZE bytes of fresh anonymous private memory (read and write) starting on
 * a multiple of ALIGN (a power of two, at least PAGE_SIZE); MAP_FAILED
 * (errno set) if none.
 */
void *map_aligned(size_t size, size_t align);

/*
 * Move the memory [BASE, BASE + SIZE) to another address, a multiple of
 * ALIGN (as for map_aligned), with mremap (page by page if it spans several
 * mappings); the new address, or MAP_FAILED (errno set).
 */
void *move_region(void *base, size_t size, size_t align);

/*
 * A region of anonymous memory and its shadow: a copy of what every page
 * of it should hold, in memory that no engine merges. The program maps
 * both; these helpers change them together.
 */
struct shadowed {
	char *region;
	char *shadow;
	size_t pages;
};

static inline char *region_page(const struct shadowed *s, size_t i)
{
	return s->region + i * PAGE_SIZE;
}

static inline char *shadow_page(const struct shadowed *s, size_t i)
{
	return s->shadow + i * PAGE_SIZE;
}

/* Page I (region and shadow) gets page INDEX of set SET (fill_page). */
void shadowed_fill(struct shadowed *s, size_t i, uint32_t set, uint32_t index);
/* 1 to 64 random bytes (from RNG) at a random place in page I, both copies. */
void shadowed_scribble(struct shadowed *s, size_t i, uint64_t *rng);
/* Pages [FIRST, FIRST + COUNT) dropped (MADV_DONTNEED): zeros in both. */
void shadowed_discard(struct shadowed *s, size_t first, size_t count);
/*
 * Pages [FIRST, FIRST + COUNT) unmapped, then mapped anew (fresh anonymous
 * memory, not yet mergeable): zeros in both. 0, or -errno if munmap or mmap
 * failed (the range may be left unmapped then).
 */
int shadowed_remap(struct shadowed *s, size_t first, size_t count);
/* The offset of the first byte where page I differs from its shadow, or -1. */
long shadowed_diff(const struct shadowed *s, size_t i);

/* Write TEXT to the file PATH; 0 or -errno. */
int write_file(const char *path, const char *text);
/* Move process PID into cgroup v2 directory DIR; 0 or -errno. */
int cgroup_enter(const char *dir, pid_t pid);
/* Read a file into BUF (NUL-terminated); bytes read or -errno. */
long read_file(const char *path, char *buf, size_t size);

#endif
