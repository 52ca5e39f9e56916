// SPDX-License-Identifier: GPL-2.0-only
/* Helpers shared by the guest test programs (see common.h). */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

const char *prog = "test";
static int failed_expectations;

static void vline(FILE *out, const char *tag, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(out, "%s: %s%s\n", prog, tag, msg);
	fflush(out);
}

void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline(stdout, "", fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	vline(stderr, "error: ", fmt, ap);
	va_end(ap);
	exit(1);
}

pid_t fork_or_die(void)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	return pid;
}

bool expect(bool cond, const char *fmt, ...)
{
	va_list ap;

	if (cond)
		return true;
	failed_expectations++;
	va_start(ap, fmt);
	vline(stdout, "FAIL: ", fmt, ap);
	va_end(ap);
	return false;
}

int failures(void)
{
	return failed_expectations;
}

void finish(const char *what)
{
	if (failed_expectations) {
		say("FAIL: %s: %d failed expectation(s)", what, failed_expectations);
		exit(1);
	}
	say("ok: %s", what);
	exit(0);
}

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

bool wait_until(bool (*cond)(void *arg), void *arg, unsigned int timeout_s)
{
	uint64_t end = now_ms() + (uint64_t)timeout_s * 1000;

	for (;;) {
		if (cond(arg))
			return true;
		if (now_ms() >= end)
			return false;
		sleep_ms(100);
	}
}

unsigned int number_from_env(const char *name, unsigned int fallback)
{
	const char *value = getenv(name);

	return value && atoi(value) > 0 ? (unsigned int)atoi(value) : fallback;
}

uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t rng_below(uint64_t *state, uint64_t n)
{
	return n ? rng_next(state) % n : 0;
}

/* The first word names the page; the rest is a stream seeded by the name. */
static uint64_t page_tag(uint32_t set, uint32_t index)
{
	return ((uint64_t)set << 32 | index) ^ 0x6b736d7070746167ULL;
}

void fill_page(void *page, uint32_t set, uint32_t index)
{
	uint64_t *word = page, state = page_tag(set, index);
	size_t i;

	word[0] = page_tag(set, index);
	for (i = 1; i < PAGE_SIZE / sizeof(*word); i++)
		word[i] = rng_next(&state);
}

bool page_matches(const void *page, uint32_t set, uint32_t index)
{
	const uint64_t *word = page;
	uint64_t state = page_tag(set, index);
	size_t i;

	if (word[0] != page_tag(set, index))
		return false;
	for (i = 1; i < PAGE_SIZE / sizeof(*word); i++)
		if (word[i] != rng_next(&state))
			return false;
	return true;
}

void pagemap_read(pid_t pid, uintptr_t addr, size_t npages, uint64_t *out)
{
	char path[64];
	size_t done = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	while (done < npages) {
		off_t off = (off_t)((addr / PAGE_SIZE + done) * sizeof(*out));
		ssize_t n = pread(fd, out + done, (npages - done) * sizeof(*out), off);

		if (n < 0)
			die("read %s: %s", path, strerror(errno));
		if (n == 0 || n % sizeof(*out))
			die("read %s: short read", path);
		done += (size_t)n / sizeof(*out);
	}
	close(fd);
}

uint64_t kpageflags(uint64_t pfn)
{
	static int fd = -1;
	uint64_t flags;

	if (fd < 0)
		fd = open("/proc/kpageflags", O_RDONLY);
	if (fd < 0 || pread(fd, &flags, sizeof(flags), (off_t)(pfn * sizeof(flags))) !=
			      sizeof(flags))
		return 0;
	return flags;
}

const char *engine_name(void)
{
	const char *name = getenv("KSMPP_ENGINE");

	return name && !strcmp(name, "ksm") ? "ksm" : "ksmpp";
}

int engine(const char *action)
{
	const char *control = getenv("KSMPP_ENGINE_CONTROL");
	const char *lib = getenv("KSMPP_TEST_LIB");
	char cmd[512];
	int status;

	if (control && !strcmp(control, "none"))
		return 0;
	snprintf(cmd, sizeof(cmd), ". %s && engine_%s", lib ? lib : "/tests/lib.sh",
		 action);
	fflush(stdout);
	status = system(cmd);
	if (status == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static pid_t engine_owner;

static void stop_engine(void)
{
	if (getpid() != engine_owner)
		return;
	if (engine("stop")) {
		say("FAIL: engine_stop failed");
		fflush(NULL);
		_exit(1);
	}
}

void stop_engine_at_exit(void)
{
	engine_owner = getpid();
	atexit(stop_engine);
}

int engine_write(const char *name, const char *value)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/mm/%s/%s", engine_name(), name);
	return write_file(path, value);
}

bool engine_text(const char *name, char *out, size_t size)
{
	char buf[4096], path[128], *line, *end;
	size_t len = strlen(name);

	if (!strcmp(engine_name(), "ksm")) {
		snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
		if (read_file(path, buf, sizeof(buf)) <= 0)
			return false;
		line = buf;
	} else {
		if (read_file("/proc/ksmpp", buf, sizeof(buf)) <= 0)
			return false;
		for (line = buf; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
			if (!strncmp(line, name, len) && line[len] == ':')
				break;
		if (!line)
			return false;
		line += len + 1;
		line += strspn(line, " \t");
	}
	end = line + strcspn(line, "\n");
	*end = 0;
	snprintf(out, size, "%s", line);
	return true;
}

long engine_counter(const char *name)
{
	char text[64];

	return engine_text(name, text, sizeof(text)) ? strtol(text, NULL, 10) : -1;
}

struct counters_goal {
	long shared, sharing;
};

static bool counters_reached(void *arg)
{
	struct counters_goal *goal = arg;

	return engine_counter("pages_shared") == goal->shared &&
	       engine_counter("pages_sharing") == goal->sharing;
}

bool expect_engine_counters(long shared, long sharing, unsigned int timeout_s)
{
	struct counters_goal goal = { shared, sharing };

	if (wait_until(counters_reached, &goal, timeout_s))
		return true;
	return expect(false, "%s counters pages_shared %ld pages_sharing %ld, expected %ld %ld",
		      engine_name(), engine_counter("pages_shared"),
		      engine_counter("pages_sharing"), shared, sharing);
}

long proc_ksm_merging_pages(pid_t pid)
{
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/%d/ksm_merging_pages", (int)pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

long proc_ksm_stat(pid_t pid, const char *key)
{
	char path[64], buf[512], *line;
	size_t len = strlen(key);

	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", (int)pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	for (line = buf; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (!strncmp(line, key, len) && line[len] == ' ')
			return strtol(line + len + 1, NULL, 10);
	return -1;
}

/* The number after "KEY:" in the line of TEXT that starts with it, or -1. */
static long field_after(const char *text, const char *key)
{
	size_t len = strlen(key);
	const char *line;

	for (line = text; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (!strncmp(line, key, len) && line[len] == ':')
			return strtol(line + len + 1, NULL, 10);
	return -1;
}

long proc_status_kb(pid_t pid, const char *key)
{
	char path[64], buf[8192];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	return field_after(buf, key);
}

long smaps_field_kb(pid_t pid, uintptr_t addr, const char *key)
{
	char path[64], line[512];
	bool inside = false;
	long value = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			if (inside)
				break;
			inside = addr >= start && addr < end;
		} else if (inside && value < 0) {
			value = field_after(line, key);
		}
	}
	fclose(f);
	return value;
}

void *map_aligned(size_t size, size_t align)
{
	char *area, *p;
	size_t head;

	if (align <= PAGE_SIZE)
		return mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	area = mmap(NULL, size + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		    0);
	if (area == MAP_FAILED)
		return MAP_FAILED;
	p = (char *)(((uintptr_t)area + align - 1) & ~(align - 1));
	head = (size_t)(p - area);
	if (head)
		munmap(area, head);
	munmap(p + size, align - head);
	return p;
}

void *move_region(void *base, size_t size, size_t align)
{
	/* A free spot of the right size, so that the region really moves. */
	char *target = map_aligned(size, align);
	size_t off;

	if (target == MAP_FAILED)
		return MAP_FAILED;
	if (mremap(base, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, target) != MAP_FAILED)
		return target;
	if (errno != EFAULT)
		return MAP_FAILED;
	/* Several mappings (EFAULT): one page at a time. */
	for (off = 0; off < size; off += PAGE_SIZE)
		if (mremap((char *)base + off, PAGE_SIZE, PAGE_SIZE,
			   MREMAP_MAYMOVE | MREMAP_FIXED, target + off) == MAP_FAILED)
			return MAP_FAILED;
	return target;
}

/* The shadow is written first: the region is copied from memory no engine touches. */
void shadowed_fill(struct shadowed *s, size_t i, uint32_t set, uint32_t index)
{
	fill_page(shadow_page(s, i), set, index);
	memcpy(region_page(s, i), shadow_page(s, i), PAGE_SIZE);
}

void shadowed_scribble(struct shadowed *s, size_t i, uint64_t *rng)
{
	size_t at = rng_below(rng, PAGE_SIZE - 64), n = 1 + rng_below(rng, 64), k;

	for (k = 0; k < n; k++) {
		char byte = (char)rng_next(rng);

		region_page(s, i)[at + k] = byte;
		shadow_page(s, i)[at + k] = byte;
	}
}

void shadowed_discard(struct shadowed *s, size_t first, size_t count)
{
	madvise(region_page(s, first), count * PAGE_SIZE, MADV_DONTNEED);
	memset(shadow_page(s, first), 0, count * PAGE_SIZE);
}

int shadowed_remap(struct shadowed *s, size_t first, size_t count)
{
	char *at = region_page(s, first);

	memset(shadow_page(s, first), 0, count * PAGE_SIZE);
	if (munmap(at, count * PAGE_SIZE))
		return -errno;
	if (mmap(at, count * PAGE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -errno;
	return 0;
}

long shadowed_diff(const struct shadowed *s, size_t i)
{
	const char *got = region_page(s, i), *want = shadow_page(s, i);
	long at;

	if (!memcmp(got, want, PAGE_SIZE))
		return -1;
	for (at = 0; got[at] == want[at]; at++)
		;
	return at;
}

int write_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	return (size_t)n == len ? 0 : -EIO;
}

int cgroup_enter(const char *dir, pid_t pid)
{
	char path[256], text[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(text, sizeof(text), "%d", (int)pid);
	return write_file(path, text);
}

long read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	size_t done = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while (done + 1 < size && (n = read(fd, buf + done, size - 1 - done)) > 0)
		done += (size_t)n;
	close(fd);
	buf[done] = 0;
	return (long)done;
}
