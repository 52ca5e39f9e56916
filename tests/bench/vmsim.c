// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmsim: N processes that behave like the RAM of N QEMU guests on one host,
 * for benchmarking merge engines (kernel KSM, ksmpp).
 *
 * Each "VM" is a process with G MiB of private anonymous MADV_MERGEABLE
 * memory (its guest RAM). At start every page gets private content (the
 * guest's own data). Then, for the run's duration:
 *
 *  - I/O (workload "io"): the guest reads files of one shared disk image into
 *    a page cache that lives in part of its RAM (cache_percent of the pages,
 *    picked at random): each file (a tar member when the image is a tar,
 *    else a synthetic extent) is read whole (up to 256 blocks), in requests
 *    of at most -b blocks, each request one preadv() (or O_DIRECT with -D)
 *    whose iovecs are the scattered 4 KiB cache slots the blocks go to, as
 *    QEMU's preadv of a virtio request does. Blocks the guest caches already
 *    are hits and not read. Slots are recycled by CLOCK (second chance), so
 *    hot blocks stay and cold ones are evicted. Files are picked by a Zipf
 *    popularity that all VMs share (same seed), each VM with its own
 *    stream; the read rate (pages actually read) averages -r pages/s per
 *    VM, in bursts of one file with exponential gaps.
 *  - Workload "compute": the same, but the content of a block is produced
 *    by computation (a PRNG stream of the block number) instead of a read:
 *    identical anonymous data with no file I/O, hence no hints.
 *  - Churn: the other pages of guest RAM (not page cache) get private
 *    writes at -c pages/s per VM (a unique 32-byte stamp per write).
 *  - With -K K ("static" mode), each VM fills blocks [0, K) once, at -r
 *    pages/s, from its own starting point, then only churns.
 *  - With -Z PERCENT (zero pages), that share of the guest's own pages (not
 *    page cache) is its free memory, zeroed at boot as a booting kernel
 *    does. The churn writes the other pages; one churn write in 16 also
 *    frees a page (zeroed again) and takes a free one into use (stamped).
 *    Zeroed pages are one content class; the monitor also counts, every
 *    second, the guests' pages that map the kernel's zero page (column
 *    "zero": what use_zero_pages=1 frees, which pages_sharing does not
 *    count).
 *
 * Bookkeeping shared by all the processes (a MAP_SHARED region, which KSM
 * never merges) knows which content class (a disk block's content,
 * duplicate blocks of the image folded together) every guest page holds,
 * and how many copies of each class exist. From it the monitor (the parent)
 * reports every second the sharing opportunities:
 *   opp = sum over classes of (copies - 1), the most pages merging can
 *         free, to compare with the engine's pages_sharing;
 *   dup = pages whose content another page also holds.
 * It also prints the engine's counters (-E ksm|ksmpp) on the same line.
 *
 * Time from I/O to merge: every fill that creates a duplicate (another copy
 * of its class existed) is an event; the monitor samples a bounded share of
 * them and checks each sampled page every -l ms through /proc/PID/pagemap
 * (its frame) and /proc/kpagecount (how many mappings the frame has): a
 * frame mapped twice is shared (the VM processes allocate their memory
 * after fork, so no other sharing exists). A page overwritten before that is
 * "lost". Needs root.
 *
 * Deterministic for a given seed: the same files, blocks, slots and stamps
 * (timing follows the clock, so interleavings vary a little).
 *
 * Output lines start with the -p prefix: "PREFIX header ...", one
 * "PREFIX csv ..." line per second, then "PREFIX summary key=value ...".
 * Killed with SIGTERM or SIGINT, vmsim kills its VMs first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE		4096UL
#define MAX_VMS		64
#define MAX_FILE_BLOCKS	256
#define EV_RING		8192		/* per VM, power of two */
#define MAX_IOV		64
#define STAMP_MAGIC	0x564d53494d5354aULL

struct ev {
	uint32_t page, gen;
	uint64_t t_ns;
};

/* Per VM, in the shared region. */
struct vm {
	uint64_t base;			/* guest RAM address in the VM process */
	int pid;
	int ready;
	uint64_t read_pages, reads, hits, churned, filled;
	uint32_t ev_head;		/* written by the VM */
	uint32_t ev_tail;		/* written by the monitor */
	uint64_t ev_lost;
	struct ev ev[EV_RING];
};

struct shared {
	int go;
	int stop;
	int failed;
	uint64_t t0_ns;
	int64_t opp, dup;
	struct vm vm[MAX_VMS];
};

/* Options. */
static int n_vms = 4;
static unsigned long mib = 32;
static double duration = 60;
static const char *image = "/bench/disk.img";
static uint64_t seed = 1;
static bool compute;
static double read_rate = 500;
static double churn_rate = 1000;
static int cache_percent = 50;
static int max_blocks = 8;
static bool direct;
static const char *prefix = "VMSIM";
static const char *engine = "none";
static int lat_ms = 150;
static int lat_max = 600;
static double lat_share = 0.03;
static double lat_window = 0.5;
static long static_k;
static bool thp;
/* -C: a cgroup v2 directory; VM v joins its subdirectory "vm<v % 2>". */
static const char *cgroup_dir;
static long gen_mib;
static int zero_percent;
static uint32_t zero_class;		/* the class of zeroed pages, with -Z */
static double zipf_s = 0.9;
static uint64_t start_ns;
static double boot_s;

/* Derived. */
static unsigned long pages;		/* per VM */
static long nblocks;
static uint32_t nclasses;
static uint32_t *block_class;		/* 1-based class of each block */
static struct shared *sh;
static uint32_t *copies;		/* per class, shared */
static uint32_t *cls;			/* [vm][page], shared */
static uint32_t *gen;			/* [vm][page], shared */

struct extent {
	uint32_t first, count;
};
static struct extent *files;
static long nfiles;
static double *file_cdf;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "vmsim: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (sh)
		__atomic_store_n(&sh->failed, 1, __ATOMIC_SEQ_CST);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { t / 1000000000ULL, t % 1000000000ULL };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/*
 * log and exp without libm (the guest test programs link none): enough
 * precision for random numbers and popularity weights.
 */
static double ln(double x)
{
	union { double d; uint64_t u; } v = { x };
	int e = (int)((v.u >> 52) & 0x7ff) - 1023;
	double m, t, t2, sum = 0, term;

	v.u = (v.u & ~(0x7ffULL << 52)) | (1023ULL << 52);	/* m in [1, 2) */
	m = v.d;
	t = (m - 1) / (m + 1);
	t2 = t * t;
	term = t;
	for (int k = 1; k < 40; k += 2) {
		sum += term / k;
		term *= t2;
	}
	return 2 * sum + e * 0.6931471805599453;
}

static double ex(double x)
{
	int k = (int)(x / 0.6931471805599453);
	double r = x - k * 0.6931471805599453, sum = 1, term = 1;
	union { double d; uint64_t u; } v;

	for (int i = 1; i < 30; i++) {
		term *= r / i;
		sum += term;
	}
	if (k < -1000)
		return 0;
	v.u = (uint64_t)(k + 1023) << 52;
	return sum * v.d;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double uniform(uint64_t *s)
{
	return (splitmix(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double expo(uint64_t *s)
{
	return -ln(1.0 - uniform(s));
}

static void shuffle(uint32_t *a, long n, uint64_t *s)
{
	for (long i = n - 1; i > 0; i--) {
		long j = splitmix(s) % (i + 1);
		uint32_t t = a[i];

		a[i] = a[j];
		a[j] = t;
	}
}

static void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap shared %zu: %s", size, strerror(errno));
	return p;
}

/* Content of block @b in the compute workload. */
static void gen_block(void *dst, uint64_t b)
{
	uint64_t s = seed * 0x100000001b3ULL ^ (b + 1) * 0x9e3779b97f4a7c15ULL;
	uint64_t *w = dst;

	for (unsigned i = 0; i < PAGE / 8; i++)
		w[i] = splitmix(&s);
}

/* ----- the image: blocks, classes, files ----- */

static uint64_t hash_block(const unsigned char *p, uint64_t h)
{
	const uint64_t *w = (const uint64_t *)p;

	for (unsigned i = 0; i < PAGE / 8; i++) {
		h ^= w[i];
		h *= 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h;
}

static void classify(const unsigned char *img)
{
	long size = 1;
	struct slot { uint64_t h1, h2; long block; } *tab;

	while (size < 2 * nblocks)
		size <<= 1;
	tab = calloc(size, sizeof(*tab));
	block_class = calloc(nblocks, sizeof(*block_class));
	if (!tab || !block_class)
		die("out of memory");
	nclasses = 0;
	for (long b = 0; b < nblocks; b++) {
		const unsigned char *p = img + b * PAGE;
		uint64_t h1 = hash_block(p, 0xcbf29ce484222325ULL);
		uint64_t h2 = hash_block(p, 0x84222325cbf29ce4ULL) | 1;
		long i = h1 & (size - 1);

		for (;; i = (i + 1) & (size - 1)) {
			if (!tab[i].h2) {
				tab[i] = (struct slot){ h1, h2, b };
				block_class[b] = ++nclasses;
				break;
			}
			if (tab[i].h1 == h1 && tab[i].h2 == h2 &&
			    !memcmp(img + tab[i].block * PAGE, p, PAGE)) {
				block_class[b] = block_class[tab[i].block];
				break;
			}
		}
	}
	free(tab);
}

static void add_file(long first_byte, long bytes)
{
	static long cap;
	long first, last;

	if (bytes <= 0 || first_byte >= nblocks * (long)PAGE)
		return;
	if (first_byte + bytes > nblocks * (long)PAGE)
		bytes = nblocks * (long)PAGE - first_byte;
	first = first_byte / PAGE;
	last = (first_byte + bytes - 1) / PAGE;
	if (nfiles == cap) {
		cap = cap ? 2 * cap : 4096;
		files = realloc(files, cap * sizeof(*files));
		if (!files)
			die("out of memory");
	}
	files[nfiles++] = (struct extent){ first, last - first + 1 };
}

static long octal(const unsigned char *p, int n)
{
	long v = 0;

	for (int i = 0; i < n && p[i]; i++)
		if (p[i] >= '0' && p[i] <= '7')
			v = v * 8 + (p[i] - '0');
	return v;
}

/* Files: the regular members of a tar, else synthetic extents. */
static void find_files(const unsigned char *img)
{
	long total = nblocks * PAGE, off = 0;
	uint64_t s = seed ^ 0xf11e5;

	if (img && total >= 512 && !memcmp(img + 257, "ustar", 5)) {
		while (off + 512 <= total && img[off]) {
			const unsigned char *h = img + off;
			long size = octal(h + 124, 12);

			if (h[156] == '0' || h[156] == 0)
				add_file(off + 512, size);
			off += 512 + (size + 511) / 512 * 512;
		}
	}
	if (nfiles < 16) {
		nfiles = 0;
		for (long b = 0; b < nblocks;) {
			long n = 1 + (long)(expo(&s) * 16);

			if (n > nblocks - b)
				n = nblocks - b;
			add_file(b * PAGE, n * PAGE);
			b += n;
		}
	}
	/* Zipf popularity over a seeded order of the files. */
	uint32_t *rank = malloc(nfiles * sizeof(*rank));
	double sum = 0;

	file_cdf = malloc(nfiles * sizeof(*file_cdf));
	if (!rank || !file_cdf)
		die("out of memory");
	for (long i = 0; i < nfiles; i++)
		rank[i] = i;
	shuffle(rank, nfiles, &s);
	for (long i = 0; i < nfiles; i++)
		sum += file_cdf[i] = ex(-zipf_s * ln(rank[i] + 1));
	for (long i = 0; i < nfiles; i++)
		file_cdf[i] = (i ? file_cdf[i - 1] : 0) + file_cdf[i] / sum;
	free(rank);
}

static long pick_file(uint64_t *s)
{
	double u = uniform(s);
	long lo = 0, hi = nfiles - 1;

	while (lo < hi) {
		long mid = (lo + hi) / 2;

		if (file_cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void make_image(const char *path, long mb)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	unsigned char *buf = malloc(PAGE);

	if (fd < 0 || !buf)
		die("create %s: %s", path, strerror(errno));
	for (long b = 0; b < mb * 256; b++) {
		gen_block(buf, b ^ 0x1a6e);
		if (write(fd, buf, PAGE) != (ssize_t)PAGE)
			die("write %s: %s", path, strerror(errno));
	}
	close(fd);
	free(buf);
}

static void load_image(void)
{
	unsigned char *img = NULL;

	if (compute) {
		nblocks = static_k ? static_k : 16384;
		nclasses = nblocks;
		block_class = malloc(nblocks * sizeof(*block_class));
		if (!block_class)
			die("out of memory");
		for (long b = 0; b < nblocks; b++)
			block_class[b] = b + 1;
	} else {
		int fd;
		struct stat st;

		if (gen_mib)
			make_image(image, gen_mib);
		fd = open(image, O_RDONLY);
		if (fd < 0 || fstat(fd, &st))
			die("open %s: %s", image, strerror(errno));
		if (S_ISBLK(st.st_mode)) {
			off_t end = lseek(fd, 0, SEEK_END);

			st.st_size = end;
		}
		nblocks = st.st_size / PAGE;
		if (nblocks < 16)
			die("%s: too small", image);
		img = malloc(nblocks * PAGE);
		if (!img)
			die("out of memory");
		for (long done = 0; done < nblocks * (long)PAGE;) {
			ssize_t n = pread(fd, img + done, nblocks * PAGE - done, done);

			if (n <= 0)
				die("read %s: %s", image, strerror(errno));
			done += n;
		}
		close(fd);
		classify(img);
	}
	if (static_k > nblocks)
		die("-K %ld: the image has %ld blocks", static_k, nblocks);
	find_files(img);
	free(img);
}

/* ----- bookkeeping ----- */

static void class_inc(uint32_t c, int v, uint32_t page, uint32_t g)
{
	uint32_t old;

	if (!c)
		return;
	old = __atomic_fetch_add(&copies[c], 1, __ATOMIC_RELAXED);
	if (old >= 1)
		__atomic_fetch_add(&sh->opp, 1, __ATOMIC_RELAXED);
	if (old == 1)
		__atomic_fetch_add(&sh->dup, 2, __ATOMIC_RELAXED);
	else if (old > 1)
		__atomic_fetch_add(&sh->dup, 1, __ATOMIC_RELAXED);
	/* Merge times are sampled for I/O content (a zero page is no frame). */
	if (old >= 1 && c != zero_class) {
		struct vm *vm = &sh->vm[v];
		uint32_t head = vm->ev_head;

		if (head - __atomic_load_n(&vm->ev_tail, __ATOMIC_ACQUIRE) >= EV_RING) {
			vm->ev_lost++;
			return;
		}
		vm->ev[head & (EV_RING - 1)] = (struct ev){ page, g, now_ns() };
		__atomic_store_n(&vm->ev_head, head + 1, __ATOMIC_RELEASE);
	}
}

static void class_dec(uint32_t c)
{
	uint32_t old;

	if (!c)
		return;
	old = __atomic_fetch_sub(&copies[c], 1, __ATOMIC_RELAXED);
	if (old >= 2)
		__atomic_fetch_sub(&sh->opp, 1, __ATOMIC_RELAXED);
	if (old == 2)
		__atomic_fetch_sub(&sh->dup, 2, __ATOMIC_RELAXED);
	else if (old > 2)
		__atomic_fetch_sub(&sh->dup, 1, __ATOMIC_RELAXED);
}

/* ----- one VM ----- */

struct guest {
	int v;
	unsigned char *mem;
	uint32_t *cls, *gen;
	uint64_t rng;
	int fd;
	/* page cache */
	uint32_t *slots;		/* cache slot -> guest page */
	long nslots, hand;
	int32_t *slot_block;
	uint8_t *slot_ref;
	int32_t *block_slot;
	/* the other pages */
	uint32_t *anon;
	long nanon;		/* the guest's own pages: anon[0, nanon) */
	long nfree;		/* of those, anon[0, nfree) are free (zeroed) */
	uint64_t stamp;
};

static void stamp_page(struct guest *g, uint32_t page)
{
	uint64_t *w = (uint64_t *)(g->mem + page * PAGE);

	w[0] = STAMP_MAGIC;
	w[1] = seed;
	w[2] = ((uint64_t)g->v << 32) | page;
	w[3] = ++g->stamp;
}

/* Zero a page, as a guest kernel zeroes free memory. */
static void zero_page(struct guest *g, uint32_t page)
{
	memset(g->mem + page * PAGE, 0, PAGE);
	__atomic_store_n(&g->cls[page], zero_class, __ATOMIC_RELAXED);
	class_inc(zero_class, g->v, page, g->gen[page]);
}

/* The page's old content is going away. */
static void page_drop(struct guest *g, uint32_t page)
{
	class_dec(g->cls[page]);
	__atomic_store_n(&g->cls[page], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&g->gen[page], g->gen[page] + 1, __ATOMIC_RELEASE);
}

static long evict(struct guest *g)
{
	for (;;) {
		long s = g->hand;

		g->hand = (g->hand + 1) % g->nslots;
		if (g->slot_ref[s]) {
			g->slot_ref[s] = 0;
			continue;
		}
		if (g->slot_block[s] >= 0)
			g->block_slot[g->slot_block[s]] = -1;
		g->slot_block[s] = -1;
		return s;
	}
}

/* Fill blocks [b, b + n) (missing from the cache) into fresh slots. */
static void fill_run(struct guest *g, long b, int n)
{
	struct iovec iov[MAX_IOV];
	long slot[MAX_IOV];

	for (int i = 0; i < n; i++) {
		slot[i] = evict(g);
		page_drop(g, g->slots[slot[i]]);
		iov[i].iov_base = g->mem + g->slots[slot[i]] * PAGE;
		iov[i].iov_len = PAGE;
	}
	if (compute) {
		for (int i = 0; i < n; i++)
			gen_block(iov[i].iov_base, b + i);
	} else {
		ssize_t r = preadv(g->fd, iov, n, b * PAGE);

		if (r != (ssize_t)(n * PAGE))
			die("vm %d: preadv %s block %ld: %s", g->v, image, b,
			    r < 0 ? strerror(errno) : "short read");
		sh->vm[g->v].reads++;
	}
	for (int i = 0; i < n; i++) {
		uint32_t page = g->slots[slot[i]], c = block_class[b + i];

		g->slot_block[slot[i]] = b + i;
		g->block_slot[b + i] = slot[i];
		g->slot_ref[slot[i]] = 0;
		__atomic_store_n(&g->cls[page], c, __ATOMIC_RELAXED);
		class_inc(c, g->v, page, g->gen[page]);
	}
	sh->vm[g->v].read_pages += n;
}

/* Read blocks [first, first + count) through the cache; returns pages read. */
static long read_range(struct guest *g, long first, long count)
{
	long run = -1, pages_read = 0;
	int n = 0;

	for (long b = first; b < first + count; b++) {
		long s = g->block_slot[b];

		if (s >= 0) {
			g->slot_ref[s] = 1;
			sh->vm[g->v].hits++;
			if (n) {
				fill_run(g, run, n);
				pages_read += n;
				n = 0;
			}
			continue;
		}
		if (!n)
			run = b;
		if (++n == max_blocks) {
			fill_run(g, run, n);
			pages_read += n;
			n = 0;
		}
	}
	if (n) {
		fill_run(g, run, n);
		pages_read += n;
	}
	return pages_read;
}

static long read_file(struct guest *g)
{
	struct extent *f = &files[pick_file(&g->rng)];
	long first = f->first, count = f->count;

	if (count > MAX_FILE_BLOCKS) {
		first += splitmix(&g->rng) % (count - MAX_FILE_BLOCKS + 1);
		count = MAX_FILE_BLOCKS;
	}
	return read_range(g, first, count);
}

static void churn_one(struct guest *g)
{
	uint32_t page;
	long i;

	if (!g->nanon)
		return;
	i = g->nfree + splitmix(&g->rng) % (g->nanon - g->nfree);
	page = g->anon[i];
	page_drop(g, page);
	if (g->nfree && splitmix(&g->rng) % 16 == 0) {
		/* The page is freed, a free page is taken into use. */
		long f = splitmix(&g->rng) % g->nfree;

		zero_page(g, page);
		g->anon[i] = g->anon[f];
		g->anon[f] = page;
		page = g->anon[i];
		page_drop(g, page);
	}
	stamp_page(g, page);
	sh->vm[g->v].churned++;
}

/*
 * -C: VM @v joins cgroup CGROUP_DIR/vm<v % 2> (made if missing), before it
 * maps its RAM: the VMs stand for guests of two tenants, or two VMs' worth
 * of QEMU processes, each in its cgroup as libvirt puts them.
 */
static void join_cgroup(int v)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/vm%d", cgroup_dir, v % 2);
	if (mkdir(path, 0755) && errno != EEXIST)
		die("vm %d: mkdir %s: %s", v, path, strerror(errno));
	strncat(path, "/cgroup.procs", sizeof(path) - strlen(path) - 1);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f))
		die("vm %d: joining %s: %s", v, path, strerror(errno));
}

static void guest_main(int v)
{
	struct guest g = { .v = v, .fd = -1 };
	uint64_t s = seed * 1000003 + v, t0, end, tick = 10000000ULL, next;
	size_t len = pages * PAGE;
	uint32_t *perm;
	long static_pos = 0, static_start;
	double next_read = 0;

	if (cgroup_dir)
		join_cgroup(v);
	g.rng = seed * 7919 + v * 104729 + 1;
	g.mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g.mem == MAP_FAILED)
		die("vm %d: mmap %zu: %s", v, len, strerror(errno));
	if (!thp)
		madvise(g.mem, len, MADV_NOHUGEPAGE);
	if (madvise(g.mem, len, MADV_MERGEABLE))
		die("vm %d: MADV_MERGEABLE: %s", v, strerror(errno));
	g.cls = cls + (size_t)v * pages;
	g.gen = gen + (size_t)v * pages;
	/* Boot: every page holds the guest's own data (free memory: below). */
	for (uint32_t p = 0; p < pages; p++)
		stamp_page(&g, p);
	sh->vm[v].filled = pages;

	/* Which pages are page cache (scattered through RAM, slot order random). */
	perm = malloc(pages * sizeof(*perm));
	if (!perm)
		die("out of memory");
	for (uint32_t p = 0; p < pages; p++)
		perm[p] = p;
	shuffle(perm, pages, &s);
	g.nslots = (long)pages * cache_percent / 100;
	g.slots = perm;
	g.anon = perm + g.nslots;
	g.nanon = pages - g.nslots;
	g.nfree = g.nanon * zero_percent / 100;
	if (g.nfree == g.nanon && g.nanon)
		g.nfree--;	/* the churn needs a page in use */
	for (long i = 0; i < g.nfree; i++) {
		page_drop(&g, g.anon[i]);
		zero_page(&g, g.anon[i]);
	}
	g.slot_block = malloc(g.nslots * sizeof(*g.slot_block));
	g.slot_ref = calloc(g.nslots ? g.nslots : 1, 1);
	g.block_slot = malloc(nblocks * sizeof(*g.block_slot));
	if (!g.slot_block || !g.slot_ref || !g.block_slot)
		die("out of memory");
	memset(g.slot_block, 0xff, g.nslots * sizeof(*g.slot_block));
	memset(g.block_slot, 0xff, nblocks * sizeof(*g.block_slot));
	if (!compute) {
		g.fd = open(image, O_RDONLY | (direct ? O_DIRECT : 0));
		if (g.fd < 0)
			die("vm %d: open %s%s: %s", v, image, direct ? " O_DIRECT" : "",
			    strerror(errno));
	}
	if (!g.nslots && (static_k || read_rate > 0))
		die("no page cache (-f 0) but reads asked for");
	static_start = static_k ? (long)v * static_k / n_vms : 0;

	sh->vm[v].base = (uint64_t)(uintptr_t)g.mem;
	__atomic_store_n(&sh->vm[v].ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&sh->go, __ATOMIC_ACQUIRE))
		usleep(1000);
	t0 = sh->t0_ns;
	end = t0 + (uint64_t)(duration * 1e9);
	next = t0;
	for (;;) {
		uint64_t now = now_ns();
		double el = (now - t0) / 1e9;

		if (now >= end)
			break;
		while (sh->vm[v].churned < (uint64_t)(churn_rate * el))
			churn_one(&g);
		if (static_k) {
			while (static_pos < static_k &&
			       static_pos < (long)(read_rate * el) + max_blocks) {
				long n = static_k - static_pos, b;

				if (n > max_blocks)
					n = max_blocks;
				b = (static_start + static_pos) % static_k;
				if (b + n > static_k)
					n = static_k - b;
				read_range(&g, b, n);
				static_pos += n;
			}
		} else if (read_rate > 0) {
			/* Files back to back, exponential gaps that average the rate. */
			if (next_read < el - 1)
				next_read = el - 1;
			for (int i = 0; i < 256 && el >= next_read; i++)
				next_read += read_file(&g) / read_rate * expo(&g.rng);
		}
		next += tick;
		if (next < now)
			next = now + tick;
		sleep_until(next);
	}
	/* Keep the memory until the monitor took its last sample. */
	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE))
		usleep(10000);
	exit(0);
}

/* ----- the monitor ----- */

struct sample {
	int v;
	uint32_t page, gen;
	uint64_t t_ns;
};

static int pagemap_fd[MAX_VMS], kpagecount_fd = -1;
static double *lat_merged;
static long n_merged, n_lost, n_sampled, n_events, n_skipped;
static double *lat_lost;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* 1: merged, 0: not yet, -1: gone or unreadable. */
/* The kernel's zero page frame, or 0 if pagemap shows no frames. */
static uint64_t zero_pfn(void)
{
	volatile char *p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t ent = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (p == MAP_FAILED || fd < 0)
		die("zero page: %s", strerror(errno));
	(void)*p;		/* a read fault maps the zero page */
	if (pread(fd, &ent, 8, (uintptr_t)p / PAGE * 8) != 8)
		ent = 0;
	close(fd);
	munmap((void *)p, PAGE);
	return ent >> 63 ? ent & ((1ULL << 55) - 1) : 0;
}

/* Pages of all VMs that map frame @pfn (the zero page). */
static long pages_on_frame(uint64_t pfn)
{
	static uint64_t ent[512];
	long n = 0;

	for (int v = 0; v < n_vms; v++)
		for (unsigned long p = 0; p < pages; p += 512) {
			unsigned long k = pages - p < 512 ? pages - p : 512;
			off_t off = (sh->vm[v].base / PAGE + p) * 8;

			if (pread(pagemap_fd[v], ent, k * 8, off) != (ssize_t)(k * 8))
				return -1;
			for (unsigned long i = 0; i < k; i++)
				n += ent[i] >> 63 && (ent[i] & ((1ULL << 55) - 1)) == pfn;
		}
	return n;
}

static int page_merged(int v, uint32_t page)
{
	uint64_t ent, count;
	off_t off = (sh->vm[v].base / PAGE + page) * 8;

	if (pread(pagemap_fd[v], &ent, 8, off) != 8)
		return -1;
	if (!(ent >> 63))
		return 0;
	ent &= (1ULL << 55) - 1;
	if (!ent) {
		fprintf(stderr, "vmsim: pagemap shows no frame numbers (not root?): no merge times\n");
		close(kpagecount_fd);
		kpagecount_fd = -1;
		return 0;
	}
	if (pread(kpagecount_fd, &count, 8, ent * 8) != 8)
		return -1;
	return count >= 2;
}

struct counters {
	long merged, shared, scanned, full_scans, scanned_hint, merges, merges_hint;
	long hints, hints_dropped, hints_consumed;
};

static long read_long(const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return atol(buf);
}

static void read_engine(struct counters *c)
{
	memset(c, 0xff, sizeof(*c));	/* -1: not known */
	if (!strcmp(engine, "ksm")) {
		c->merged = read_long("/sys/kernel/mm/ksm/pages_sharing");
		c->shared = read_long("/sys/kernel/mm/ksm/pages_shared");
		c->full_scans = read_long("/sys/kernel/mm/ksm/full_scans");
		c->scanned = read_long("/sys/kernel/mm/ksm/pages_scanned");
	} else if (!strcmp(engine, "ksmpp")) {
		char buf[16384], *line, *save;
		int fd = open("/proc/ksmpp", O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		long hr = -1, hd = -1;

		if (fd >= 0)
			close(fd);
		if (n <= 0)
			return;
		buf[n] = 0;
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *colon = strchr(line, ':');
			long val;

			if (!colon)
				continue;
			*colon = 0;
			val = atol(colon + 1);
			if (!strcmp(line, "pages_sharing"))
				c->merged = val;
			else if (!strcmp(line, "pages_shared"))
				c->shared = val;
			else if (!strcmp(line, "pages_scanned"))
				c->scanned = val;
			else if (!strcmp(line, "full_scans"))
				c->full_scans = val;
			else if (!strcmp(line, "pages_scanned_hint"))
				c->scanned_hint = val;
			else if (!strcmp(line, "merges"))
				c->merges = val;
			else if (!strcmp(line, "merges_hint"))
				c->merges_hint = val;
			else if (!strcmp(line, "hints_read"))
				hr = val;
			else if (!strcmp(line, "hints_direct_read"))
				hd = val;
			else if (!strcmp(line, "hints_dropped"))
				c->hints_dropped = val;
			else if (!strcmp(line, "hints_consumed"))
				c->hints_consumed = val;
		}
		if (hr >= 0)
			c->hints = hr + (hd > 0 ? hd : 0);
	}
}

static double quantile(double *a, long n, double q)
{
	long i;

	if (!n)
		return __builtin_nan("");
	i = (long)(q * n);
	if (i == q * n)
		i--;
	if (i < 0)
		i = 0;
	return a[i];
}

static void print_lat(const char *name, double v)
{
	if (v != v)
		printf(" %s=na", name);
	else if (v > 1e300)
		printf(" %s=never", name);
	else
		printf(" %s=%.3f", name, v);
}

static void monitor(void)
{
	struct sample *tracked = calloc(lat_max, sizeof(*tracked));
	long ntracked = 0, lat_cap = 1024, lost_cap = 1024, second = 0;
	uint64_t rng = seed ^ 0x5a5a, t0, end, next, window_end, zero = 0;
	char path[64];

	lat_merged = malloc(lat_cap * sizeof(double));
	lat_lost = malloc(lost_cap * sizeof(double));
	if (!tracked || !lat_merged || !lat_lost)
		die("out of memory");
	kpagecount_fd = open("/proc/kpagecount", O_RDONLY);
	for (int v = 0; v < n_vms; v++) {
		snprintf(path, sizeof(path), "/proc/%d/pagemap", sh->vm[v].pid);
		pagemap_fd[v] = open(path, O_RDONLY);
	}
	if (kpagecount_fd < 0 || pagemap_fd[0] < 0)
		fprintf(stderr, "vmsim: no pagemap/kpagecount (not root?): no merge times\n");
	if (zero_percent && !(zero = zero_pfn()))
		fprintf(stderr, "vmsim: pagemap shows no frames (not root?): no zero-page count\n");

	printf("%s header t,merged,shared,opp,dup,scanned,full_scans,scanned_hint,merges,"
	       "merges_hint,hints,hints_dropped,hints_consumed,read_pages,reads,hits,churned,"
	       "lat_sampled,lat_merged,lat_lost,zero\n", prefix);
	fflush(stdout);
	t0 = sh->t0_ns;
	end = t0 + (uint64_t)(duration * 1e9);
	window_end = t0 + (uint64_t)(duration * lat_window * 1e9);
	next = t0;
	for (;;) {
		uint64_t now = now_ns();

		/* Take new duplicate events, a bounded share of them. */
		for (int v = 0; v < n_vms; v++) {
			struct vm *vm = &sh->vm[v];
			uint32_t head = __atomic_load_n(&vm->ev_head, __ATOMIC_ACQUIRE);

			for (uint32_t t = vm->ev_tail; t != head; t++) {
				struct ev e = vm->ev[t & (EV_RING - 1)];

				n_events++;
				if (e.t_ns > window_end || uniform(&rng) >= lat_share)
					continue;
				if (ntracked == lat_max || kpagecount_fd < 0) {
					n_skipped++;
					continue;
				}
				tracked[ntracked++] = (struct sample){ v, e.page, e.gen, e.t_ns };
				n_sampled++;
			}
			__atomic_store_n(&vm->ev_tail, head, __ATOMIC_RELEASE);
		}
		/* Check the sampled pages. */
		for (long i = 0; i < ntracked;) {
			struct sample *x = &tracked[i];
			double age = ((int64_t)(now - x->t_ns)) / 1e9;
			int r = -1;

			if (kpagecount_fd < 0) {
				ntracked = 0;
				break;
			}
			if (__atomic_load_n(&gen[(size_t)x->v * pages + x->page], __ATOMIC_ACQUIRE) == x->gen)
				r = page_merged(x->v, x->page);
			if (r == 0) {
				i++;
				continue;
			}
			if (r == 1) {
				if (n_merged == lat_cap)
					lat_merged = realloc(lat_merged, (lat_cap *= 2) * sizeof(double));
				lat_merged[n_merged++] = age < 0 ? 0 : age;
			} else {
				if (n_lost == lost_cap)
					lat_lost = realloc(lat_lost, (lost_cap *= 2) * sizeof(double));
				lat_lost[n_lost++] = age;
			}
			*x = tracked[--ntracked];
		}
		if (now >= next) {
			struct counters c;
			uint64_t rp = 0, rd = 0, hi = 0, ch = 0;

			read_engine(&c);
			for (int v = 0; v < n_vms; v++) {
				rp += sh->vm[v].read_pages;
				rd += sh->vm[v].reads;
				hi += sh->vm[v].hits;
				ch += sh->vm[v].churned;
			}
			printf("%s csv %ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,"
			       "%lu,%lu,%lu,%lu,%ld,%ld,%ld,%ld\n", prefix, second, c.merged, c.shared,
			       (long)__atomic_load_n(&sh->opp, __ATOMIC_RELAXED),
			       (long)__atomic_load_n(&sh->dup, __ATOMIC_RELAXED),
			       c.scanned, c.full_scans, c.scanned_hint, c.merges, c.merges_hint,
			       c.hints, c.hints_dropped, c.hints_consumed,
			       rp, rd, hi, ch, n_sampled, n_merged, n_lost,
			       zero ? pages_on_frame(zero) : 0L);
			fflush(stdout);
			second++;
			next = t0 + second * 1000000000ULL;
			if (now >= end)
				break;
		}
		sleep_until(now + lat_ms * 1000000ULL < next ? now + lat_ms * 1000000ULL : next);
	}

	/* Pages still waiting when the run ended count as not merged (yet). */
	qsort(lat_merged, n_merged, sizeof(double), cmp_double);
	long n_all = n_merged + n_lost + ntracked;
	double *all = malloc((n_all + 1) * sizeof(double));

	memcpy(all, lat_merged, n_merged * sizeof(double));
	for (long i = n_merged; i < n_all; i++)
		all[i] = __builtin_inf();
	uint64_t ev_lost = 0;

	for (int v = 0; v < n_vms; v++)
		ev_lost += sh->vm[v].ev_lost;
	printf("%s summary events=%ld sampled=%ld merged=%ld lost=%ld pending=%ld skipped=%ld"
	       " ring_lost=%lu", prefix, n_events, n_sampled, n_merged, n_lost, ntracked,
	       n_skipped, ev_lost);
	print_lat("median_merged", quantile(lat_merged, n_merged, 0.5));
	print_lat("p90_merged", quantile(lat_merged, n_merged, 0.9));
	print_lat("median_all", quantile(all, n_all, 0.5));
	print_lat("p90_all", quantile(all, n_all, 0.9));
	if (n_lost) {
		qsort(lat_lost, n_lost, sizeof(double), cmp_double);
		print_lat("median_lifetime_lost", quantile(lat_lost, n_lost, 0.5));
	}
	printf(" blocks=%ld classes=%u files=%ld pages_per_vm=%lu boot_s=%.1f\n", nblocks,
	       nclasses, nfiles, pages, boot_s);
	fflush(stdout);
	free(all);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vmsim [options]\n"
		"  -n N        VMs (4)\n"
		"  -m MiB      guest RAM per VM (32)\n"
		"  -t SEC      duration (60)\n"
		"  -w io|compute  workload (io)\n"
		"  -i FILE     disk image, a file or block device (/bench/disk.img)\n"
		"  -g MiB      first create FILE with MiB of generated data\n"
		"  -D          O_DIRECT reads\n"
		"  -S SEED     seed (1)\n"
		"  -r PAGES    pages read (or computed) per second per VM (500)\n"
		"  -c PAGES    private page writes per second per VM (1000)\n"
		"  -f PERCENT  share of guest RAM that is page cache (50)\n"
		"  -b BLOCKS   most blocks per read request (8, at most %d)\n"
		"  -K BLOCKS   static: fill blocks [0, BLOCKS) once, then only churn\n"
		"  -Z PERCENT  share of boot fills and churn writes that zero a page (0)\n"
		"  -z S        Zipf exponent of file popularity (0.9)\n"
		"  -H          allow transparent huge pages\n"
		"  -C DIR      VM v joins cgroup v2 DIR/vm<v %% 2> (two tenants)\n"
		"  -E ENGINE   counters to report: ksm, ksmpp, none (none)\n"
		"  -p PREFIX   output line prefix (VMSIM)\n"
		"  -l MS       merge-time sampling period (150)\n"
		"  -L N        most pages sampled at once (600)\n"
		"  -s SHARE    share of duplicate-creating fills sampled (0.03)\n"
		"  -W FRACTION sample fills of the run's first FRACTION only (0.5)\n", MAX_IOV);
	exit(2);
}

/* Killed (SIGTERM, SIGINT): the VMs go too, and their memory with them. */
static void on_kill(int sig)
{
	for (int v = 0; v < n_vms; v++)
		if (sh->vm[v].pid > 0)
			kill(sh->vm[v].pid, SIGKILL);
	_exit(128 + sig);
}

int main(int argc, char **argv)
{
	int opt;
	size_t shared_size;

	while ((opt = getopt(argc, argv, "n:m:t:w:i:g:DS:r:c:f:b:K:Z:z:HC:E:p:l:L:s:W:")) != -1) {
		switch (opt) {
		case 'n': n_vms = atoi(optarg); break;
		case 'm': mib = atol(optarg); break;
		case 't': duration = atof(optarg); break;
		case 'w': compute = !strcmp(optarg, "compute");
			  if (!compute && strcmp(optarg, "io"))
				  usage();
			  break;
		case 'i': image = optarg; break;
		case 'g': gen_mib = atol(optarg); break;
		case 'D': direct = true; break;
		case 'S': seed = strtoull(optarg, NULL, 0); break;
		case 'r': read_rate = atof(optarg); break;
		case 'c': churn_rate = atof(optarg); break;
		case 'f': cache_percent = atoi(optarg); break;
		case 'b': max_blocks = atoi(optarg); break;
		case 'K': static_k = atol(optarg); break;
		case 'Z': zero_percent = atoi(optarg); break;
		case 'z': zipf_s = atof(optarg); break;
		case 'H': thp = true; break;
		case 'C': cgroup_dir = optarg; break;
		case 'E': engine = optarg; break;
		case 'p': prefix = optarg; break;
		case 'l': lat_ms = atoi(optarg); break;
		case 'L': lat_max = atoi(optarg); break;
		case 's': lat_share = atof(optarg); break;
		case 'W': lat_window = atof(optarg); break;
		default: usage();
		}
	}
	if (n_vms < 1 || n_vms > MAX_VMS || !mib || duration <= 0 || max_blocks < 1 ||
	    max_blocks > MAX_IOV || cache_percent < 0 || cache_percent > 100 || lat_ms < 1 ||
	    lat_max < 1 || zero_percent < 0 || zero_percent > 100)
		usage();
	pages = mib * (1024 * 1024 / PAGE);
	load_image();

	shared_size = sizeof(struct shared);
	sh = shared_alloc(shared_size);
	zero_class = zero_percent ? nclasses + 1 : 0;
	copies = shared_alloc((nclasses + 2) * sizeof(*copies));
	cls = shared_alloc((size_t)n_vms * pages * sizeof(*cls));
	gen = shared_alloc((size_t)n_vms * pages * sizeof(*gen));

	setvbuf(stdout, NULL, _IOLBF, 0);
	start_ns = now_ns();
	for (int v = 0; v < n_vms; v++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (!pid)
			guest_main(v);
		sh->vm[v].pid = pid;
	}
	signal(SIGTERM, on_kill);
	signal(SIGINT, on_kill);
	for (int v = 0; v < n_vms; v++)
		while (!__atomic_load_n(&sh->vm[v].ready, __ATOMIC_ACQUIRE)) {
			if (__atomic_load_n(&sh->failed, __ATOMIC_RELAXED)) {
				for (int w = 0; w < n_vms; w++)
					kill(sh->vm[w].pid, SIGKILL);
				die("a VM failed to start");
			}
			usleep(2000);
		}
	sh->t0_ns = now_ns();
	boot_s = (sh->t0_ns - start_ns) / 1e9;
	__atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
	monitor();
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
	int status, failed = 0;

	for (int v = 0; v < n_vms; v++) {
		waitpid(sh->vm[v].pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed = 1;
	}
	if (failed || sh->failed)
		die("a VM failed");
	return 0;
}
