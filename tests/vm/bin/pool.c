// SPDX-License-Identifier: GPL-2.0-only
/* Worker processes driven by a controller (see pool.h). */
#define _GNU_SOURCE
#include "pool.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/mempolicy.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a worker may take for one request before the test gives up. */
#define CALL_TIMEOUT_MS	120000

/* One worker's mailbox, in memory shared by the controller and all workers. */
struct slot {
	_Atomic uint32_t request;	/* bumped by the controller (futex) */
	_Atomic uint32_t reply;		/* set to request when done (futex) */
	int op;
	long arg[3];
	long result;
	pid_t pid;
	bool alive;
	bool own_child;			/* a child of the controller */
	uintptr_t base;			/* the worker's region, set by the worker */
};

struct pool {
	struct slot *slots;		/* MAX_WORKERS, shared */
	unsigned int count;		/* slots used */
};

/* What a page of a worker's region should hold. */
#define KEY_ZERO	UINT64_MAX		/* never written: zeros */
#define KEY_UNMAPPED	(UINT64_MAX - 1)
#define KEY(set, index)	((uint64_t)(set) << 32 | (index))

/* A worker's own state (private memory: not mergeable). */
static struct {
	struct slot *slots;		/* the shared array */
	struct slot *slot;		/* this worker's */
	char *base;
	size_t pages;
	uint64_t *keys;
} self;

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, unsigned int timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000 };

	return syscall(SYS_futex, addr, op, val, timeout_ms ? &ts : NULL, NULL, 0);
}

static long do_map(size_t pages, long flags)
{
	char *p = map_aligned(pages * PAGE_SIZE,
			      (flags & POOL_HUGE_ALIGNED) ? HUGE_SIZE : PAGE_SIZE);
	size_t i;

	if (p == MAP_FAILED)
		return -errno;
	if (flags & (POOL_NODE(0) | POOL_NODE(1))) {
		unsigned long nodes = (flags & POOL_NODE(1)) ? 2 : 1;

		if (syscall(SYS_mbind, p, pages * PAGE_SIZE, MPOL_BIND, &nodes,
			    sizeof(nodes) * 8, 0))
			return -errno;
	}
	if ((flags & POOL_NO_HUGE) && madvise(p, pages * PAGE_SIZE, MADV_NOHUGEPAGE))
		return -errno;
	free(self.keys);
	self.keys = malloc(pages * sizeof(*self.keys));
	if (!self.keys)
		return -ENOMEM;
	for (i = 0; i < pages; i++)
		self.keys[i] = KEY_ZERO;
	self.base = p;
	self.pages = pages;
	return (long)(uintptr_t)p;
}

static bool in_region(long first, long count)
{
	return first >= 0 && count >= 0 && (size_t)(first + count) <= self.pages;
}

static long do_fill(long first, long count, long set)
{
	long i;

	if (!in_region(first, count))
		return -EINVAL;
	for (i = first; i < first + count; i++) {
		if (set == ZERO_SET) {
			memset(self.base + i * PAGE_SIZE, 0, PAGE_SIZE);
			self.keys[i] = KEY_ZERO;
			continue;
		}
		fill_page(self.base + i * PAGE_SIZE, (uint32_t)set, (uint32_t)i);
		self.keys[i] = KEY(set, i);
	}
	return 0;
}

static bool page_is_zero(const char *page)
{
	const uint64_t *word = (const uint64_t *)page;
	size_t i;

	for (i = 0; i < PAGE_SIZE / sizeof(*word); i++)
		if (word[i])
			return false;
	return true;
}

static long do_verify(long first, long count)
{
	long i, bad = 0;

	if (count < 0)
		count = (long)self.pages - first;
	if (!in_region(first, count))
		return -EINVAL;
	for (i = first; i < first + count; i++) {
		const char *page = self.base + i * PAGE_SIZE;
		uint64_t key = self.keys[i];
		bool ok;

		if (key == KEY_UNMAPPED)
			continue;
		ok = key == KEY_ZERO ? page_is_zero(page) :
		     page_matches(page, (uint32_t)(key >> 32), (uint32_t)key);
		if (!ok && bad++ < 3)
			fprintf(stderr, "%s: worker %d: page %ld does not hold %s %llu\n", prog,
				(int)getpid(), i, key == KEY_ZERO ? "zeros" : "set",
				(unsigned long long)(key >> 32));
	}
	return bad;
}

static long do_munmap(long first, long count)
{
	long i;

	if (!in_region(first, count))
		return -EINVAL;
	if (munmap(self.base + first * PAGE_SIZE, (size_t)count * PAGE_SIZE))
		return -errno;
	for (i = first; i < first + count; i++)
		self.keys[i] = KEY_UNMAPPED;
	return 0;
}

static long do_mremap(void)
{
	void *moved = move_region(self.base, self.pages * PAGE_SIZE, PAGE_SIZE);

	if (moved == MAP_FAILED)
		return -errno;
	self.base = moved;
	return (long)(uintptr_t)moved;
}

static void worker_loop(void) __attribute__((noreturn));

static long do_fork(long w)
{
	pid_t pid;

	if (w < 0 || w >= MAX_WORKERS)
		return -EINVAL;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		self.slot = &self.slots[w];
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		worker_loop();
	}
	return pid;
}

/*
 * Register the whole region for userfaultfd write protection and protect
 * it, as QEMU's background snapshot does with guest RAM. The descriptor
 * stays open (and the protection on) until the worker exits; the worker
 * only reads its region from then on.
 */
static long do_uffd_wp(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { (uintptr_t)self.base, self.pages * PAGE_SIZE },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct uffdio_writeprotect wp = {
		.range = reg.range,
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api) || ioctl(fd, UFFDIO_REGISTER, &reg) ||
	    ioctl(fd, UFFDIO_WRITEPROTECT, &wp)) {
		long err = -errno;

		close(fd);
		return err;
	}
	return 0;
}

/*
 * Real and effective uid @uid, with root kept as the saved uid, so that a
 * later call can switch to another uid.
 */
static long do_setuid(long uid)
{
	if (setresuid((uid_t)-1, 0, (uid_t)-1) ||
	    setresuid((uid_t)uid, (uid_t)uid, 0))
		return -errno;
	return 0;
}

static long do_op(int op, const long *arg)
{
	switch (op) {
	case OP_MAP:
		return do_map((size_t)arg[0], arg[1]);
	case OP_FILL:
		return do_fill(arg[0], arg[1], arg[2]);
	case OP_MADVISE:
		if (!in_region(arg[0], arg[1]))
			return -EINVAL;
		return madvise(self.base + arg[0] * PAGE_SIZE, (size_t)arg[1] * PAGE_SIZE,
			       (int)arg[2]) ? -errno : 0;
	case OP_VERIFY:
		return do_verify(arg[0], arg[1]);
	case OP_MUNMAP:
		return do_munmap(arg[0], arg[1]);
	case OP_MREMAP:
		return do_mremap();
	case OP_MPROTECT:
		return mprotect(self.base, self.pages * PAGE_SIZE, (int)arg[0]) ? -errno : 0;
	case OP_FORK:
		return do_fork(arg[0]);
	case OP_UFFD_WP:
		return do_uffd_wp();
	case OP_SETUID:
		return do_setuid(arg[0]);
	}
	return -ENOSYS;
}

/* Serve requests on self.slot until told to exit. */
static void worker_loop(void)
{
	struct slot *slot = self.slot;
	uint32_t seen = atomic_load(&slot->reply);

	/* Children forked by workers are reaped by the kernel. */
	signal(SIGCHLD, SIG_IGN);
	for (;;) {
		uint32_t request = atomic_load(&slot->request);

		if (request == seen) {
			futex(&slot->request, FUTEX_WAIT, seen, 1000);
			continue;
		}
		if (slot->op == OP_EXIT) {
			atomic_store(&slot->reply, request);
			futex(&slot->reply, FUTEX_WAKE, INT_MAX, 0);
			_exit(0);
		}
		slot->result = do_op(slot->op, slot->arg);
		slot->base = (uintptr_t)self.base;
		seen = request;
		atomic_store(&slot->reply, request);
		futex(&slot->reply, FUTEX_WAKE, INT_MAX, 0);
	}
}

struct pool *pool_create(void)
{
	struct pool *pool = calloc(1, sizeof(*pool));

	if (!pool)
		die("out of memory");
	pool->slots = mmap(NULL, MAX_WORKERS * sizeof(struct slot), PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pool->slots == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	return pool;
}

static unsigned int new_slot(struct pool *pool)
{
	if (pool->count == MAX_WORKERS)
		die("more than %d workers", MAX_WORKERS);
	memset(&pool->slots[pool->count], 0, sizeof(struct slot));
	return pool->count++;
}

unsigned int pool_spawn(struct pool *pool)
{
	unsigned int w = new_slot(pool);
	struct slot *slot = &pool->slots[w];
	pid_t pid = fork_or_die();

	if (pid == 0) {
		self.slots = pool->slots;
		self.slot = slot;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		worker_loop();
	}
	slot->pid = pid;
	slot->alive = true;
	slot->own_child = true;
	return w;
}

/* Whether worker W's process is gone (reaping it if it is ours). */
static bool gone(struct slot *slot)
{
	if (slot->own_child)
		return waitpid(slot->pid, NULL, WNOHANG) == slot->pid;
	return kill(slot->pid, 0) && errno == ESRCH;
}

long pool_call(struct pool *pool, unsigned int w, enum worker_op op, long a, long b, long c)
{
	struct slot *slot = &pool->slots[w];
	uint64_t deadline = now_ms() + CALL_TIMEOUT_MS;
	uint32_t request;

	if (w >= pool->count || !slot->alive)
		die("worker %u is not running", w);
	slot->op = op;
	slot->arg[0] = a;
	slot->arg[1] = b;
	slot->arg[2] = c;
	request = atomic_fetch_add(&slot->request, 1) + 1;
	futex(&slot->request, FUTEX_WAKE, INT_MAX, 0);
	for (;;) {
		uint32_t reply = atomic_load(&slot->reply);

		if (reply == request)
			return slot->result;
		if (op != OP_EXIT && gone(slot))
			die("worker %u (pid %d) died during operation %d", w, (int)slot->pid, op);
		if (now_ms() > deadline)
			die("worker %u (pid %d) did not finish operation %d in %d s", w,
			    (int)slot->pid, op, CALL_TIMEOUT_MS / 1000);
		futex(&slot->reply, FUTEX_WAIT, reply, 100);
	}
}

unsigned int pool_fork(struct pool *pool, unsigned int w)
{
	unsigned int child = new_slot(pool);
	long pid = pool_call(pool, w, OP_FORK, child, 0, 0);

	if (pid < 0)
		die("worker %u: fork: %s", w, strerror((int)-pid));
	pool->slots[child].pid = (pid_t)pid;
	pool->slots[child].base = pool->slots[w].base;
	pool->slots[child].alive = true;
	return child;
}

void pool_exit(struct pool *pool, unsigned int w)
{
	struct slot *slot = &pool->slots[w];
	uint64_t deadline = now_ms() + CALL_TIMEOUT_MS;

	pool_call(pool, w, OP_EXIT, 0, 0, 0);
	while (!gone(slot)) {
		if (now_ms() > deadline)
			die("worker %u (pid %d) did not exit", w, (int)slot->pid);
		sleep_ms(10);
	}
	slot->alive = false;
}

void pool_destroy(struct pool *pool)
{
	unsigned int w;

	/* Children of workers first: their parents reap them. */
	for (w = pool->count; w-- > 0;)
		if (pool->slots[w].alive)
			pool_exit(pool, w);
	munmap(pool->slots, MAX_WORKERS * sizeof(struct slot));
	free(pool);
}

pid_t pool_pid(const struct pool *pool, unsigned int w)
{
	return pool->slots[w].pid;
}

uintptr_t pool_base(const struct pool *pool, unsigned int w)
{
	return pool->slots[w].base;
}

unsigned int pool_alive(const struct pool *pool)
{
	unsigned int w, mask = 0;

	for (w = 0; w < pool->count; w++)
		if (pool->slots[w].alive)
			mask |= WORKER(w);
	return mask;
}

/* pool_call that dies on a negative result. */
static long call_ok(struct pool *pool, unsigned int w, enum worker_op op, long a, long b,
		    long c)
{
	long ret = pool_call(pool, w, op, a, b, c);

	if (ret < 0)
		die("worker %u: operation %d: %s", w, op, strerror((int)-ret));
	return ret;
}

unsigned int pool_setup(struct pool *pool, unsigned int n, size_t shared, size_t unique,
			unsigned int flags)
{
	unsigned int i, mask = 0;
	long pages = (long)(shared + unique);

	for (i = 0; i < n; i++) {
		unsigned int w = pool_spawn(pool);

		call_ok(pool, w, OP_MAP, pages, flags, 0);
		call_ok(pool, w, OP_FILL, 0, (long)shared, SHARED_SET);
		call_ok(pool, w, OP_FILL, (long)shared, (long)unique, UNIQUE_SET(w));
		call_ok(pool, w, OP_MADVISE, 0, pages, MADV_MERGEABLE);
		mask |= WORKER(w);
	}
	return mask;
}

unsigned int pool_merged_workers(struct pool *pool, unsigned int n, size_t shared,
				 size_t unique)
{
	unsigned int workers = pool_setup(pool, n, shared, unique, 0);
	uint64_t start = now_ms();

	if (engine("start"))
		die("engine_start failed");
	if (!pool_expect_merged(pool, workers, 0, shared, MERGE_TIMEOUT, "first merge"))
		finish("first merge");
	say("%u processes: %zu pages merged in %llu ms", n, shared,
	    (unsigned long long)(now_ms() - start));
	return workers;
}

void pool_fill(struct pool *pool, unsigned int w, size_t first, size_t count, uint32_t set)
{
	call_ok(pool, w, OP_FILL, (long)first, (long)count, set);
}

void pool_pfns(const struct pool *pool, unsigned int w, size_t first, size_t count,
	       uint64_t *pfns)
{
	size_t i;

	pagemap_read(pool->slots[w].pid, pool->slots[w].base + first * PAGE_SIZE, count, pfns);
	for (i = 0; i < count; i++)
		pfns[i] = pm_pfn(pfns[i]);
}

/* A buffer for COUNT frames; dies when out of memory. */
static uint64_t *pfn_buffer(size_t count)
{
	uint64_t *buf = malloc((count ? count : 1) * sizeof(uint64_t));

	if (!buf)
		die("out of memory");
	return buf;
}

uint64_t *pool_frames(const struct pool *pool, unsigned int w, size_t first, size_t count)
{
	uint64_t *pfns = pfn_buffer(count);

	pool_pfns(pool, w, first, count, pfns);
	return pfns;
}

size_t pool_pages_on_node(const struct pool *pool, unsigned int w, size_t first,
			  size_t count, int node)
{
	void **pages = calloc(count, sizeof(*pages));
	int *status = calloc(count, sizeof(*status));
	size_t i, n = 0;

	if (!pages || !status)
		die("out of memory");
	for (i = 0; i < count; i++)
		pages[i] = (void *)(pool_base(pool, w) + (first + i) * PAGE_SIZE);
	if (syscall(SYS_move_pages, pool_pid(pool, w), count, pages, NULL, status, 0))
		die("move_pages query: %s", strerror(errno));
	for (i = 0; i < count; i++)
		n += status[i] == node;
	free(pages);
	free(status);
	return n;
}

uint64_t zero_pfn(void)
{
	static uint64_t pfn;
	volatile char *page;
	uint64_t entry;

	if (pfn)
		return pfn;
	page = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	(void)page[0];		/* a read fault maps the zero page */
	pagemap_read(getpid(), (uintptr_t)page, 1, &entry);
	munmap((void *)page, PAGE_SIZE);
	pfn = pm_pfn(entry);
	if (!pfn)
		die("no frame for the zero page in pagemap");
	return pfn;
}

size_t count_equal(const uint64_t *a, const uint64_t *b, size_t count)
{
	size_t i, same = 0;

	for (i = 0; i < count; i++)
		same += a[i] == b[i];
	return same;
}

size_t pool_count_merged(const struct pool *pool, unsigned int workers, size_t first,
			 size_t count)
{
	uint64_t *ref = pfn_buffer(count), *pfns = pfn_buffer(count);
	bool *ok = calloc(count ? count : 1, sizeof(bool));
	unsigned int w, lead = (unsigned int)__builtin_ctz(workers);
	size_t i, merged = 0;

	if (!ok)
		die("out of memory");
	pool_pfns(pool, lead, first, count, ref);
	for (i = 0; i < count; i++)
		ok[i] = ref[i] != 0;
	for (w = lead + 1; w < MAX_WORKERS; w++) {
		if (!(workers & WORKER(w)))
			continue;
		pool_pfns(pool, w, first, count, pfns);
		for (i = 0; i < count; i++)
			ok[i] = ok[i] && pfns[i] == ref[i];
	}
	for (i = 0; i < count; i++)
		merged += ok[i];
	free(ok);
	free(pfns);
	free(ref);
	return merged;
}

struct merge_goal {
	const struct pool *pool;
	unsigned int workers;
	size_t first, count;
};

static bool all_merged(void *arg)
{
	struct merge_goal *goal = arg;

	return pool_count_merged(goal->pool, goal->workers, goal->first, goal->count) ==
	       goal->count;
}

bool pool_wait_merged(const struct pool *pool, unsigned int workers, size_t first,
		      size_t count, unsigned int timeout_s)
{
	struct merge_goal goal = { pool, workers, first, count };

	return wait_until(all_merged, &goal, timeout_s);
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

bool pool_all_distinct(const struct pool *pool, unsigned int workers, size_t first,
		       size_t count)
{
	uint64_t *all = pfn_buffer(MAX_WORKERS * count);
	size_t n = 0, i;
	unsigned int w;
	bool distinct = true;

	for (w = 0; w < MAX_WORKERS; w++) {
		if (!(workers & WORKER(w)))
			continue;
		pool_pfns(pool, w, first, count, all + n);
		n += count;
	}
	qsort(all, n, sizeof(*all), compare_u64);
	for (i = 0; i < n; i++)
		if (!all[i] || (i && all[i] == all[i - 1]))
			distinct = false;
	free(all);
	return distinct;
}

bool pool_expect_intact(struct pool *pool, unsigned int workers, const char *when)
{
	bool intact = true;
	unsigned int w;

	for (w = 0; w < MAX_WORKERS; w++) {
		long bad;

		if (!(workers & WORKER(w)))
			continue;
		bad = pool_call(pool, w, OP_VERIFY, 0, -1, 0);
		intact &= expect(bad == 0, "%s: worker %u: %ld page(s) with wrong content", when,
				 w, bad);
	}
	return intact;
}

bool pool_expect_merged(const struct pool *pool, unsigned int workers, size_t first,
			size_t count, unsigned int timeout_s, const char *when)
{
	if (pool_wait_merged(pool, workers, first, count, timeout_s))
		return true;
	return expect(false, "%s: %zu of %zu pages merged after %u s", when,
		      pool_count_merged(pool, workers, first, count), count, timeout_s);
}

struct merging_goal {
	const struct pool *pool;
	unsigned int workers;
	long pages;
};

static bool merging_pages_reached(void *arg)
{
	struct merging_goal *goal = arg;
	unsigned int w;

	for (w = 0; w < MAX_WORKERS; w++)
		if ((goal->workers & WORKER(w)) &&
		    proc_ksm_merging_pages(pool_pid(goal->pool, w)) != goal->pages)
			return false;
	return true;
}

bool pool_expect_merging_pages(const struct pool *pool, unsigned int workers, long pages,
			       unsigned int timeout_s)
{
	struct merging_goal goal = { pool, workers, pages };
	unsigned int w;
	bool ok;

	if (wait_until(merging_pages_reached, &goal, timeout_s))
		return true;
	ok = true;
	for (w = 0; w < MAX_WORKERS; w++) {
		long n;

		if (!(workers & WORKER(w)))
			continue;
		n = proc_ksm_merging_pages(pool_pid(pool, w));
		ok &= expect(n == pages, "worker %u: ksm_merging_pages %ld, expected %ld", w, n,
			     pages);
	}
	return ok;
}

int pool_run_scenario(const struct pool_scenario *scenarios, size_t count, int argc,
		      char **argv)
{
	size_t i;

	stop_engine_at_exit();
	for (i = 0; argc == 2 && i < count; i++) {
		struct pool *pool;

		if (strcmp(argv[1], scenarios[i].name))
			continue;
		say("%s (engine %s)", scenarios[i].what, engine_name());
		pool = pool_create();
		scenarios[i].run(pool);
		pool_destroy(pool);
		finish(scenarios[i].what);
	}
	fprintf(stderr, "usage: %s SCENARIO; scenarios:", prog);
	for (i = 0; i < count; i++)
		fprintf(stderr, " %s", scenarios[i].name);
	fprintf(stderr, "\n");
	return 2;
}
