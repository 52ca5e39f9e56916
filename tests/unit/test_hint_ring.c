// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for module/hint_ring.c, built against the userspace kshim.
 * unit-test-sources: hint_ring.c
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "hint_ring.h"

/* Deterministic hint for sequence number @seq, every field distinct. */
static struct ksmpp_hint make_hint(u64 seq)
{
	struct ksmpp_hint h;

	memset(&h, 0, sizeof(h));
	h.mm = (struct mm_struct *)(uintptr_t)(0xffff888000000000ULL + seq * 64);
	h.start = 0x7f0000000000UL + seq * 4096;
	h.len = 4096 + seq;
	h.tgid = (pid_t)(100 + seq);
	h.cpu = (u16)(seq * 5 + 2);
	h.source = (u8)(seq * 3 + 1);
	return h;
}

static void push_seqs(struct ksmpp_hint_ring *ring, u64 *next, unsigned int n)
{
	struct ksmpp_hint h;

	while (n--) {
		h = make_hint((*next)++);
		ksmpp_hint_ring_push(ring, &h);
	}
}

static void assert_hint_is(const struct ksmpp_hint *got, u64 seq)
{
	struct ksmpp_hint want = make_hint(seq);

	assert_ptr_equal(got->mm, want.mm);
	assert_int_equal(got->start, want.start);
	assert_int_equal(got->len, want.len);
	assert_int_equal(got->tgid, want.tgid);
	assert_int_equal(got->cpu, want.cpu);
	assert_int_equal(got->source, want.source);
}

/* Pop @n hints, which must be exactly @seqs[0..n-1] in that order. */
static void pop_expect(struct ksmpp_hint_ring *ring, const u64 *seqs,
		       unsigned int n)
{
	struct ksmpp_hint h;
	unsigned int i;

	for (i = 0; i < n; i++) {
		assert_true(ksmpp_hint_ring_pop(ring, &h));
		assert_hint_is(&h, seqs[i]);
	}
}

static void pop_expect_empty(struct ksmpp_hint_ring *ring)
{
	struct ksmpp_hint h;

	assert_false(ksmpp_hint_ring_pop(ring, &h));
	assert_int_equal(ksmpp_hint_ring_pending(ring), 0);
}

static void assert_counters(struct ksmpp_hint_ring *ring, u64 pushed,
			    u64 consumed, u64 dropped, u64 pending)
{
	assert_int_equal(ksmpp_hint_ring_pushed(ring), pushed);
	assert_int_equal(ksmpp_hint_ring_consumed(ring), consumed);
	assert_int_equal(ksmpp_hint_ring_dropped(ring), dropped);
	assert_int_equal(ksmpp_hint_ring_pending(ring), pending);
	assert_int_equal(pushed, consumed + dropped + pending);
	assert_int_equal(ksmpp_hint_ring_contended(ring), 0);
}

static void test_alloc_rejects_bad_sizes(void **state)
{
	static const unsigned int bad[] = {
		0, 1, 2, 4, 8, 15, 17, 24, 48, 100, 1000, 4095, 0x80000001u,
	};
	static const unsigned int good[] = { 16, 32, 64, 1024, 65536 };
	struct ksmpp_hint_ring *ring;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(ksmpp_hint_ring_alloc(bad[i]));
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ring = ksmpp_hint_ring_alloc(good[i]);
		assert_non_null(ring);
		assert_counters(ring, 0, 0, 0, 0);
		ksmpp_hint_ring_free(ring);
	}
	ksmpp_hint_ring_free(NULL);
}

static void test_push_pop_one(void **state)
{
	struct ksmpp_hint_ring *ring = ksmpp_hint_ring_alloc(16);
	struct ksmpp_hint in, out;

	(void)state;
	assert_non_null(ring);
	memset(&in, 0, sizeof(in));
	in.mm = (struct mm_struct *)(uintptr_t)0xffff88810badc0deULL;
	in.start = 0x7ffd12345000UL;
	in.len = 123456;
	in.tgid = 4242;
	in.cpu = 0x1234;
	in.source = 0xa5;
	assert_int_equal(ksmpp_hint_ring_push(ring, &in), 0);
	assert_counters(ring, 1, 0, 0, 1);

	memset(&out, 0x5a, sizeof(out));
	assert_true(ksmpp_hint_ring_pop(ring, &out));
	assert_ptr_equal(out.mm, in.mm);
	assert_int_equal(out.start, in.start);
	assert_int_equal(out.len, in.len);
	assert_int_equal(out.tgid, in.tgid);
	assert_int_equal(out.cpu, in.cpu);
	assert_int_equal(out.source, in.source);
	assert_counters(ring, 1, 1, 0, 0);

	pop_expect_empty(ring);
	assert_counters(ring, 1, 1, 0, 0);
	ksmpp_hint_ring_free(ring);
}

static void test_pop_empty(void **state)
{
	struct ksmpp_hint_ring *ring = ksmpp_hint_ring_alloc(64);
	struct ksmpp_hint out, before;

	(void)state;
	assert_non_null(ring);
	memset(&out, 0x5a, sizeof(out));
	before = out;
	assert_false(ksmpp_hint_ring_pop(ring, &out));
	assert_false(ksmpp_hint_ring_pop(ring, &out));
	/* A failed pop leaves @out alone. */
	assert_memory_equal(&out, &before, sizeof(out));
	assert_counters(ring, 0, 0, 0, 0);
	ksmpp_hint_ring_free(ring);
}

static void test_overwrite_keeps_newest(void **state)
{
	static const struct {
		unsigned int size;
		unsigned int n;
	} cases[] = {
		{ 16, 16 }, { 16, 17 }, { 16, 100 }, { 64, 1000 }, { 1024, 5000 },
	};
	unsigned int c, i;

	(void)state;
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		unsigned int size = cases[c].size, n = cases[c].n;
		unsigned int kept = n > size ? size : n;
		struct ksmpp_hint_ring *ring = ksmpp_hint_ring_alloc(size);
		struct ksmpp_hint h;
		u64 next = 0;

		assert_non_null(ring);
		push_seqs(ring, &next, n);
		/* What was overwritten counts as dropped at once. */
		assert_counters(ring, n, 0, n - kept, kept);
		for (i = 0; i < size; i++) {
			assert_true(ksmpp_hint_ring_pop(ring, &h));
			assert_hint_is(&h, n - 1 - i);
		}
		pop_expect_empty(ring);
		assert_counters(ring, n, size, n - size, 0);
		ksmpp_hint_ring_free(ring);
	}
}

static void test_interleaved_order(void **state)
{
	static const u64 a[] = { 4, 3 };
	static const u64 b[] = { 7, 6, 5, 2, 1, 0 };
	static const u64 c[] = { 11 };
	static const u64 d[] = { 13 };
	static const u64 e[] = { 14, 12, 10, 9, 8 };
	struct ksmpp_hint_ring *ring = ksmpp_hint_ring_alloc(16);
	u64 next = 0;

	(void)state;
	assert_non_null(ring);
	push_seqs(ring, &next, 5);		/* 0..4 */
	pop_expect(ring, a, 2);
	assert_counters(ring, 5, 2, 0, 3);
	push_seqs(ring, &next, 3);		/* 5..7 */
	assert_counters(ring, 8, 2, 0, 6);
	pop_expect(ring, b, 6);
	pop_expect_empty(ring);
	assert_counters(ring, 8, 8, 0, 0);

	push_seqs(ring, &next, 4);		/* 8..11 */
	pop_expect(ring, c, 1);
	push_seqs(ring, &next, 2);		/* 12..13 */
	pop_expect(ring, d, 1);
	push_seqs(ring, &next, 1);		/* 14 */
	assert_counters(ring, 15, 10, 0, 5);
	pop_expect(ring, e, 5);
	pop_expect_empty(ring);
	assert_counters(ring, 15, 15, 0, 0);
	ksmpp_hint_ring_free(ring);
}

/*
 * After hold_back, pop takes only hints pushed before the hold_back before
 * it: the scanner's batches see a hint one whole batch after its push.
 */
static void test_hold_back(void **state)
{
	static const u64 a[] = { 2, 1, 0 };
	static const u64 b[] = { 4, 3 };
	struct ksmpp_hint_ring *ring = ksmpp_hint_ring_alloc(16);
	struct ksmpp_hint h;
	u64 next = 0;

	(void)state;
	assert_non_null(ring);
	push_seqs(ring, &next, 3);		/* 0..2, before batch 1 */
	ksmpp_hint_ring_hold_back(ring);	/* batch 1: none is ready */
	assert_false(ksmpp_hint_ring_pop(ring, &h));
	push_seqs(ring, &next, 2);		/* 3..4, during batch 1 */
	ksmpp_hint_ring_hold_back(ring);	/* batch 2: those before batch 1 */
	pop_expect(ring, a, 3);
	assert_false(ksmpp_hint_ring_pop(ring, &h));
	assert_counters(ring, 5, 3, 0, 2);
	ksmpp_hint_ring_hold_back(ring);	/* batch 3: those of batch 1 */
	pop_expect(ring, b, 2);
	pop_expect_empty(ring);
	assert_counters(ring, 5, 5, 0, 0);
	ksmpp_hint_ring_free(ring);
}

/*
 * A hint is unseen until the consumer takes it in (a pop once it is
 * ready), and only while fewer than half a ring of pushes follow it.
 */
static void test_unseen(void **state)
{
	struct ksmpp_hint_ring *ring = ksmpp_hint_ring_alloc(16);
	struct ksmpp_hint h;
	u64 next = 0;

	(void)state;
	assert_non_null(ring);
	memset(&h, 0, sizeof(h));
	h.start = 0x1000;
	assert_int_equal(ksmpp_hint_ring_push(ring, &h), 0);
	next = 1;
	assert_true(ksmpp_hint_ring_unseen(ring, 0));
	/* A number from an older ring at the same address, above head. */
	assert_false(ksmpp_hint_ring_unseen(ring, 1000));
	ksmpp_hint_ring_hold_back(ring);	/* batch 1: none is ready */
	assert_false(ksmpp_hint_ring_pop(ring, &h));
	assert_true(ksmpp_hint_ring_unseen(ring, 0));
	push_seqs(ring, &next, 7);		/* 1..7: 0 is 8 behind head */
	assert_true(ksmpp_hint_ring_unseen(ring, 0));
	push_seqs(ring, &next, 1);		/* 8: 0 is in the older half */
	assert_false(ksmpp_hint_ring_unseen(ring, 0));
	assert_true(ksmpp_hint_ring_unseen(ring, 8));
	ksmpp_hint_ring_hold_back(ring);	/* batch 2: 0 is ready */
	assert_true(ksmpp_hint_ring_pop(ring, &h));
	assert_false(ksmpp_hint_ring_unseen(ring, 0));
	/* 8, pushed during batch 1, is not ready yet: still unseen. */
	assert_true(ksmpp_hint_ring_unseen(ring, 8));
	ksmpp_hint_ring_hold_back(ring);	/* batch 3: 1..8 are ready */
	assert_true(ksmpp_hint_ring_pop(ring, &h));
	assert_false(ksmpp_hint_ring_unseen(ring, 8));
	ksmpp_hint_ring_free(ring);
}

/* Peek lists the pending hints in pop order, consuming nothing. */
static void test_peek_pending(void **state)
{
	static const u64 order[] = { 7, 6, 5, 2, 1, 0 };
	struct ksmpp_hint_ring *ring = ksmpp_hint_ring_alloc(16);
	struct ksmpp_hint h;
	u64 next = 0;
	unsigned int i;

	(void)state;
	assert_non_null(ring);
	assert_false(ksmpp_hint_ring_peek(ring, 0, &h));
	push_seqs(ring, &next, 5);		/* 0..4 */
	pop_expect(ring, (const u64[]){ 4, 3 }, 2);
	push_seqs(ring, &next, 3);		/* 5..7 */
	for (i = 0; i < 6; i++) {
		assert_true(ksmpp_hint_ring_peek(ring, i, &h));
		assert_hint_is(&h, order[i]);
	}
	assert_false(ksmpp_hint_ring_peek(ring, 6, &h));
	assert_int_equal(ksmpp_hint_ring_unread(ring), 6);
	assert_counters(ring, 8, 2, 0, 6);
	pop_expect(ring, order, 6);
	assert_false(ksmpp_hint_ring_peek(ring, 0, &h));
	ksmpp_hint_ring_free(ring);
}

/* Unread counts overwritten hints too; peek finds exactly the intact ones. */
static void test_unread_counts_lost(void **state)
{
	struct ksmpp_hint_ring *ring = ksmpp_hint_ring_alloc(16);
	struct ksmpp_hint h;
	u64 next = 0, n, intact = 0;

	(void)state;
	assert_non_null(ring);
	assert_int_equal(ksmpp_hint_ring_unread(ring), 0);
	push_seqs(ring, &next, 5);		/* 0..4 */
	pop_expect(ring, (const u64[]){ 4 }, 1);
	push_seqs(ring, &next, 20);		/* 5..24: 0..8 overwritten */
	assert_int_equal(ksmpp_hint_ring_unread(ring), 24);
	for (n = 0; n < ksmpp_hint_ring_unread(ring); n++) {
		if (!ksmpp_hint_ring_peek(ring, n, &h))
			continue;
		assert_hint_is(&h, 24 - n);
		intact++;
	}
	assert_int_equal(intact, 16);
	assert_false(ksmpp_hint_ring_peek(ring, 24, &h));
	ksmpp_hint_ring_free(ring);
}

/* Parts of stacked intervals that fell behind head - size are dropped. */
static void test_stale_interval_clamped(void **state)
{
	static const u64 first[] = { 9 };
	struct ksmpp_hint_ring *ring = ksmpp_hint_ring_alloc(16);
	struct ksmpp_hint h;
	u64 next = 0, seq;

	(void)state;
	assert_non_null(ring);
	push_seqs(ring, &next, 10);		/* 0..9 */
	pop_expect(ring, first, 1);		/* stack: [0, 9) */
	push_seqs(ring, &next, 20);		/* 10..29: head 30, floor 14 */
	assert_counters(ring, 30, 1, 13, 16);
	for (seq = 29; seq >= 14; seq--) {
		assert_true(ksmpp_hint_ring_pop(ring, &h));
		assert_hint_is(&h, seq);
	}
	/* [10, 14) and all of [0, 9) were overwritten. */
	assert_counters(ring, 30, 17, 13, 0);
	/* All of [0, 9) is older than the floor. */
	pop_expect_empty(ring);
	assert_counters(ring, 30, 17, 13, 0);

	/* The ring keeps working normally afterwards. */
	push_seqs(ring, &next, 3);		/* 30..32 */
	for (seq = 32; seq >= 30; seq--) {
		assert_true(ksmpp_hint_ring_pop(ring, &h));
		assert_hint_is(&h, seq);
	}
	pop_expect_empty(ring);
	assert_counters(ring, 33, 20, 13, 0);
	ksmpp_hint_ring_free(ring);
}

/*
 * Each round pushes 3 hints and pops the newest, leaving a 2-hint interval
 * on the stack.  Once the stack is full, each new interval evicts the
 * oldest one, whose 2 hints count as dropped.
 */
static void test_interval_stack_overflow(void **state)
{
	const unsigned int depth = KSMPP_HINT_RING_INTERVALS;
	const unsigned int rounds = depth + 8;
	struct ksmpp_hint_ring *ring = ksmpp_hint_ring_alloc(1024);
	struct ksmpp_hint h;
	unsigned int r, evicted;
	u64 next = 0;

	(void)state;
	assert_non_null(ring);
	for (r = 0; r < rounds; r++) {
		push_seqs(ring, &next, 3);
		assert_true(ksmpp_hint_ring_pop(ring, &h));
		assert_hint_is(&h, 3 * r + 2);
		evicted = r + 1 > depth ? r + 1 - depth : 0;
		assert_counters(ring, 3 * (r + 1), r + 1, 2 * evicted,
				2 * (r + 1 - evicted));
	}
	evicted = rounds - depth;
	assert_counters(ring, 3 * rounds, rounds, 2 * evicted, 2 * depth);

	/* Survivors come out newest interval first, each from its hi end. */
	for (r = rounds; r-- > evicted;) {
		assert_true(ksmpp_hint_ring_pop(ring, &h));
		assert_hint_is(&h, 3 * r + 1);
		assert_true(ksmpp_hint_ring_pop(ring, &h));
		assert_hint_is(&h, 3 * r);
	}
	pop_expect_empty(ring);
	assert_counters(ring, 3 * rounds, rounds + 2 * depth, 2 * evicted, 0);
	ksmpp_hint_ring_free(ring);
}

/*
 * Multi-producer stress.  Hint n of producer id carries key = id << 32 | n
 * in len, and every other field is a different hash of key, so a hint torn
 * between two writers cannot pass stress_decode().
 */
#define STRESS_MAX_PRODUCERS	8
#define STRESS_TGID_BASE	1000

struct stress_cfg {
	unsigned int producers;		/* producer threads */
	u32 per_producer;		/* hints each producer pushes (at most) */
	unsigned int ring_size;		/* slots in the ring under test */
	unsigned int run_ms;		/* if set, stop producers after this */
};

struct stress_producer {
	struct ksmpp_hint_ring *ring;	/* ring under test */
	const struct stress_cfg *cfg;	/* test configuration */
	unsigned int id;		/* producer number */
	int *go;			/* start flag shared by all producers */
	int *stop;			/* stop flag shared by all producers */
	int *done;			/* producers finished */
	u32 pushed;			/* hints this producer pushed */
};

static u64 mix64(u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void stress_encode(struct ksmpp_hint *h, unsigned int id, u32 n)
{
	u64 key = (u64)id << 32 | n;

	h->len = (unsigned long)key;
	h->tgid = (pid_t)(STRESS_TGID_BASE + id);
	h->start = (unsigned long)mix64(key);
	h->mm = (struct mm_struct *)(uintptr_t)mix64(key ^ 0x2222222222222222ULL);
	h->source = (u8)mix64(key ^ 0x3333333333333333ULL);
	h->cpu = (u16)mix64(key ^ 0x4444444444444444ULL);
}

static bool stress_decode(const struct stress_cfg *cfg,
			  const struct ksmpp_hint *h, unsigned int *id, u32 *n)
{
	struct ksmpp_hint want;

	*id = (unsigned int)((u64)h->len >> 32);
	*n = (u32)h->len;
	if (*id >= cfg->producers || *n >= cfg->per_producer)
		return false;
	memset(&want, 0, sizeof(want));
	stress_encode(&want, *id, *n);
	return h->tgid == want.tgid && h->start == want.start &&
	       h->len == want.len && h->mm == want.mm &&
	       h->source == want.source && h->cpu == want.cpu;
}

static u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *stress_producer_fn(void *arg)
{
	struct stress_producer *p = arg;
	struct ksmpp_hint h;
	u32 n;

	memset(&h, 0, sizeof(h));
	while (!__atomic_load_n(p->go, __ATOMIC_ACQUIRE))
		sched_yield();
	for (n = 0; n < p->cfg->per_producer; n++) {
		if (!(n & 255) && __atomic_load_n(p->stop, __ATOMIC_RELAXED))
			break;
		stress_encode(&h, p->id, n);
		ksmpp_hint_ring_push(p->ring, &h);
		/* Vary the interleaving a little. */
		if ((n & 4095) == (p->id * 512))
			sched_yield();
	}
	p->pushed = n;
	__atomic_fetch_add(p->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct stress_seen {
	const struct stress_cfg *cfg;		/* test configuration */
	u8 *seen;				/* bitmap per (id, n): returned */
	s64 last[STRESS_MAX_PRODUCERS];		/* last n returned, or -1 */
	s64 max[STRESS_MAX_PRODUCERS];		/* largest n returned, or -1 */
	u64 got[STRESS_MAX_PRODUCERS];		/* hints returned per producer */
	u64 torn;				/* hints failing stress_decode() */
	u64 dups;				/* hints returned twice */
	u64 misordered;				/* per-producer order violations */
};

/*
 * Pops come out newest first within the interval being drained, and a new
 * interval holds only sequence numbers above everything seen before.  Each
 * producer's n grows with its sequence numbers, so every n returned must be
 * below that producer's previous one or above all of its earlier ones.
 */
static void stress_check(struct stress_seen *s, const struct ksmpp_hint *h)
{
	unsigned int id;
	size_t bit;
	u32 n;

	if (!stress_decode(s->cfg, h, &id, &n)) {
		s->torn++;
		return;
	}
	bit = (size_t)id * s->cfg->per_producer + n;
	if (s->seen[bit / 8] & (1u << (bit % 8)))
		s->dups++;
	s->seen[bit / 8] |= 1u << (bit % 8);
	if (s->last[id] >= 0 && !((s64)n < s->last[id] || (s64)n > s->max[id]))
		s->misordered++;
	s->last[id] = n;
	if ((s64)n > s->max[id])
		s->max[id] = n;
	s->got[id]++;
}

static void stress_run(const struct stress_cfg *cfg)
{
	struct ksmpp_hint_ring *ring = ksmpp_hint_ring_alloc(cfg->ring_size);
	struct stress_producer prod[STRESS_MAX_PRODUCERS];
	pthread_t tid[STRESS_MAX_PRODUCERS];
	struct stress_seen s;
	struct ksmpp_hint h;
	u64 pops = 0, empty = 0, total = 0, pushed = 0, deadline = 0;
	int go = 0, stop = 0, done = 0;
	unsigned int i;

	assert_non_null(ring);
	assert_true(cfg->producers <= STRESS_MAX_PRODUCERS);
	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.seen = calloc((size_t)cfg->producers * cfg->per_producer / 8 + 1, 1);
	assert_non_null(s.seen);
	for (i = 0; i < cfg->producers; i++) {
		s.last[i] = -1;
		s.max[i] = -1;
		prod[i].ring = ring;
		prod[i].cfg = cfg;
		prod[i].id = i;
		prod[i].go = &go;
		prod[i].stop = &stop;
		prod[i].done = &done;
		assert_int_equal(pthread_create(&tid[i], NULL, stress_producer_fn,
						&prod[i]), 0);
	}

	/* Consume concurrently; no cmocka asserts until producers are joined. */
	if (cfg->run_ms)
		deadline = now_ms() + cfg->run_ms;
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) < (int)cfg->producers) {
		if (deadline && !((pops + empty) & 1023) && now_ms() >= deadline)
			__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
		if (ksmpp_hint_ring_pop(ring, &h)) {
			stress_check(&s, &h);
			pops++;
		} else {
			empty++;	/* busy-poll: maximise overlap */
		}
	}
	for (i = 0; i < cfg->producers; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		pushed += prod[i].pushed;
	}

	/* Drain what is left. */
	while (ksmpp_hint_ring_pop(ring, &h)) {
		stress_check(&s, &h);
		pops++;
	}

	print_message("stress: %u producers, ring %u, %llu idle pops\n",
		      cfg->producers, cfg->ring_size, empty);
	print_message("stress: pushed %llu consumed %llu dropped %llu contended %llu\n",
		      pushed, ksmpp_hint_ring_consumed(ring),
		      ksmpp_hint_ring_dropped(ring),
		      ksmpp_hint_ring_contended(ring));

	assert_int_equal(s.torn, 0);
	assert_int_equal(s.dups, 0);
	assert_int_equal(s.misordered, 0);
	for (i = 0; i < cfg->producers; i++)
		total += s.got[i];
	assert_int_equal(total, pops);
	assert_true(pops > 0);
	assert_int_equal(ksmpp_hint_ring_consumed(ring), pops);
	if (!cfg->run_ms)
		assert_int_equal(pushed, (u64)cfg->producers * cfg->per_producer);
	assert_int_equal(ksmpp_hint_ring_pushed(ring), pushed);
	assert_int_equal(ksmpp_hint_ring_pending(ring), 0);
	assert_int_equal(ksmpp_hint_ring_pushed(ring),
			 ksmpp_hint_ring_consumed(ring) +
			 ksmpp_hint_ring_dropped(ring));
	/* Every contended push is a sequence number the consumer dropped. */
	assert_true(ksmpp_hint_ring_contended(ring) <=
		    ksmpp_hint_ring_dropped(ring));

	free(s.seen);
	ksmpp_hint_ring_free(ring);
}

/* 8 producers on a moderately sized ring: contention on head and slots. */
static void test_multi_producer_stress(void **state)
{
	static const struct stress_cfg cfg = {
		.producers = 8, .per_producer = 200000, .ring_size = 256,
	};

	(void)state;
	stress_run(&cfg);
}

/*
 * Two producers on the smallest ring for a fixed time: the consumer keeps
 * reading slots that are being rewritten under it, which is exactly what
 * the per-slot seqlock check has to catch.
 */
static void test_tight_ring_stress(void **state)
{
	static const struct stress_cfg cfg = {
		.producers = 2, .per_producer = 1u << 26, .ring_size = 16,
		.run_ms = 300,
	};

	(void)state;
	stress_run(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_rejects_bad_sizes),
		cmocka_unit_test(test_push_pop_one),
		cmocka_unit_test(test_pop_empty),
		cmocka_unit_test(test_overwrite_keeps_newest),
		cmocka_unit_test(test_interleaved_order),
		cmocka_unit_test(test_hold_back),
		cmocka_unit_test(test_unseen),
		cmocka_unit_test(test_peek_pending),
		cmocka_unit_test(test_unread_counts_lost),
		cmocka_unit_test(test_stale_interval_clamped),
		cmocka_unit_test(test_interval_stack_overflow),
		cmocka_unit_test(test_multi_producer_stress),
		cmocka_unit_test(test_tight_ring_stress),
	};

	return cmocka_run_group_tests_name("hint_ring", tests, NULL, NULL);
}
