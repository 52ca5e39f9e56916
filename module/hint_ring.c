// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp hint ring: lossy lock-free MPSC ring of file I/O hints.
 */

/**
 * DOC: Overview
 *
 * Hook handlers on the file read/write paths record "hints": user address
 * ranges that file I/O just filled, which are good candidates for merging.
 * They run on any CPU with preemption disabled, possibly in softirq context,
 * so recording a hint must never block, spin on another CPU or allocate.
 * A single consumer (the ksmpp scanner thread) takes hints newest first,
 * because the most recently filled pages are the most likely to still be
 * resident, unmodified and worth scanning.  The ring is lossy by design:
 * when producers outrun the consumer, old hints are overwritten and counted.
 *
 * Producers.  A hint gets a sequence number from a single
 * atomic64_inc_return() on the ring head, so head is also the number of
 * hints ever pushed.  Sequence number seq lives in slot seq & (size - 1).
 * Every slot carries a sequence word used like a per-slot seqlock:
 *
 *	0			never written
 *	COMPLETE(s) = (s + 1) << 1	slot holds the intact payload of seq s
 *	WRITING(s)  = COMPLETE(s) | 1	the producer of seq s is writing it
 *
 * The producer of seq reads the word and claims the slot with one cmpxchg
 * from that (complete, older) value to WRITING(seq).  If the word says
 * another producer is writing the slot right now (one that lapped the ring
 * while this one was preempted or interrupted), or already holds a newer
 * sequence number, or the cmpxchg loses a race, the hint is given up and
 * only the "contended" diagnostic counter is bumped: nobody ever waits.
 * The winner writes the payload with WRITE_ONCE(), then smp_wmb() and a
 * store of COMPLETE(seq) publish it.  Sequence words only ever move to
 * larger sequence numbers and sequence numbers are 64 bits wide, so a word
 * equal to COMPLETE(seq) cannot be an ABA leftover.
 *
 * Consumer.  To read seq, the consumer reads the word, smp_rmb(), the
 * payload (READ_ONCE()), smp_rmb(), the word again, and accepts the slot
 * only if both reads are exactly COMPLETE(seq).  Anything else means seq
 * was overwritten by a later lap, lost to contention, or is still being
 * written: in every case seq is counted as dropped at once and never looked
 * at again.  Treating "still being written" as dropped keeps the consumer
 * wait-free and the accounting exact.  The window is a few stores long,
 * but a consumer polling in a tight loop would keep losing the newest hint:
 * the scanner thread is meant to sleep between batches, costing at most
 * about one hint per CPU that was pushing at the moment it looked.
 *
 * Newest first.  The consumer keeps a fixed stack of pending, disjoint
 * sequence intervals [lo, hi), newest on top.  Each pop first pushes
 * [last_head, head) if head moved (head capped by hold_back: a hint
 * recorded as its I/O begins is taken only once the consumer has been
 * through a whole batch since), then takes sequence numbers from the
 * top interval's hi end downwards, so newer bursts are served first but
 * older, still unread bursts are not forgotten.  Anything below
 * head - size has been (or is being) overwritten: such parts of intervals
 * are discarded and counted as dropped when they reach the top.  If the
 * stack is full when a new interval arrives, the oldest interval is
 * discarded and counted as dropped.  Every sequence number is thus counted
 * exactly once, and with producers quiescent
 *
 *	pushed == consumed + dropped + pending
 *
 * Repeats.  A producer that is about to push a hint identical to one it
 * pushed itself may ask ksmpp_hint_ring_unseen() whether that one is still
 * ahead of the consumer (at or above last_head) and in the newer half of
 * the ring, and then skip the push: the consumer will take the earlier
 * hint, which names the same memory.  A process reading into one buffer
 * again and again then costs the ring one push per consumer batch.
 *
 * Memory is one array of size slots plus the fixed ring header; nothing is
 * allocated after ksmpp_hint_ring_alloc().  A pop does O(size + stack
 * depth) work at worst, O(1) when hints are not being overwritten.  The
 * ring relies on 64-bit READ_ONCE() and cmpxchg() of a u64 (64BIT only).
 */

#include <linux/atomic.h>
#include <linux/cache.h>
#include <linux/compiler.h>
#include <linux/limits.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/slab.h>
#include <linux/types.h>

#include "hint_ring.h"

#define KSMPP_SLOT_WRITING	1ULL

static inline u64 ksmpp_slot_complete(u64 seq)
{
	return (seq + 1) << 1;
}

static inline u64 ksmpp_slot_writing(u64 seq)
{
	return ksmpp_slot_complete(seq) | KSMPP_SLOT_WRITING;
}

/* Process context, may sleep. */
struct ksmpp_hint_ring *ksmpp_hint_ring_alloc(unsigned int size)
{
	struct ksmpp_hint_ring *ring;

	if (size < KSMPP_HINT_RING_MIN_SIZE || !is_power_of_2(size))
		return NULL;

	ring = kvcalloc(1, sizeof(*ring), GFP_KERNEL);
	if (!ring)
		return NULL;
	ring->slots = kvcalloc(size, sizeof(*ring->slots), GFP_KERNEL);
	if (!ring->slots) {
		kvfree(ring);
		return NULL;
	}
	ring->size = size;
	ring->ready = U64_MAX;
	atomic64_set(&ring->head, 0);
	atomic64_set(&ring->contended, 0);
	return ring;
}

/* Process context, may sleep; producers and consumer must be gone. */
void ksmpp_hint_ring_free(struct ksmpp_hint_ring *ring)
{
	if (!ring)
		return;
	kvfree(ring->slots);
	kvfree(ring);
}

/* Any context: lock-free, wait-free, never allocates. */
u64 ksmpp_hint_ring_push(struct ksmpp_hint_ring *ring,
			 const struct ksmpp_hint *hint)
{
	u64 seq = (u64)atomic64_inc_return(&ring->head) - 1;
	struct ksmpp_hint_slot *slot = &ring->slots[seq & (ring->size - 1)];
	u64 old = READ_ONCE(slot->seq);

	/*
	 * Busy (a producer that lapped us is writing it) or already newer
	 * (we were delayed for a whole lap): give up, never wait.  The
	 * consumer will find the slot is not COMPLETE(seq) and drop seq.
	 */
	if (unlikely((old & KSMPP_SLOT_WRITING) ||
		     old >= ksmpp_slot_complete(seq) ||
		     cmpxchg(&slot->seq, old, ksmpp_slot_writing(seq)) != old)) {
		atomic64_inc(&ring->contended);
		return KSMPP_HINT_RING_LOST;
	}

	/* The successful cmpxchg() orders WRITING(seq) before the payload. */
	WRITE_ONCE(slot->hint.mm, hint->mm);
	WRITE_ONCE(slot->hint.start, hint->start);
	WRITE_ONCE(slot->hint.len, hint->len);
	WRITE_ONCE(slot->hint.tgid, hint->tgid);
	WRITE_ONCE(slot->hint.cpu, hint->cpu);
	WRITE_ONCE(slot->hint.source, hint->source);
	smp_wmb();	/* payload before COMPLETE(seq); pairs with the read's 1st rmb */
	WRITE_ONCE(slot->seq, ksmpp_slot_complete(seq));
	return seq;
}

/* Consumer only: copy out seq's payload if it is intact. */
static bool ksmpp_hint_ring_read(const struct ksmpp_hint_ring *ring, u64 seq,
				 struct ksmpp_hint *out)
{
	const struct ksmpp_hint_slot *slot = &ring->slots[seq & (ring->size - 1)];
	u64 want = ksmpp_slot_complete(seq);
	struct ksmpp_hint hint;

	if (READ_ONCE(slot->seq) != want)
		return false;
	smp_rmb();	/* COMPLETE(seq) before the payload; pairs with push's wmb */
	hint.mm = READ_ONCE(slot->hint.mm);
	hint.start = READ_ONCE(slot->hint.start);
	hint.len = READ_ONCE(slot->hint.len);
	hint.tgid = READ_ONCE(slot->hint.tgid);
	hint.cpu = READ_ONCE(slot->hint.cpu);
	hint.source = READ_ONCE(slot->hint.source);
	smp_rmb();	/* payload before the re-check; pairs with push's cmpxchg */
	if (READ_ONCE(slot->seq) != want)
		return false;
	*out = hint;
	return true;
}

/* Consumer only: push [lo, hi) on the stack; returns hints dropped. */
static u64 ksmpp_hint_ring_add_interval(struct ksmpp_hint_ring *ring,
					u64 lo, u64 hi)
{
	u64 dropped = 0;
	unsigned int i;

	if (ring->depth == KSMPP_HINT_RING_INTERVALS) {
		dropped = ring->stack[0].hi - ring->stack[0].lo;
		for (i = 1; i < ring->depth; i++)
			ring->stack[i - 1] = ring->stack[i];
		ring->depth--;
	}
	ring->stack[ring->depth].lo = lo;
	ring->stack[ring->depth].hi = hi;
	ring->depth++;
	return dropped;
}

/* Consumer only. */
void ksmpp_hint_ring_hold_back(struct ksmpp_hint_ring *ring)
{
	ring->ready = ring->marked;
	ring->marked = (u64)atomic64_read(&ring->head);
}

/* Single consumer only (callers serialise); never blocks. */
bool ksmpp_hint_ring_pop(struct ksmpp_hint_ring *ring, struct ksmpp_hint *out)
{
	u64 pushed = (u64)atomic64_read(&ring->head);
	/* Slots of sequence numbers below this were claimed again since. */
	u64 oldest = pushed > ring->size ? pushed - ring->size : 0;
	u64 head = min(pushed, ring->ready);
	u64 dropped = 0;
	bool found = false;

	if (head > ring->last_head) {
		dropped += ksmpp_hint_ring_add_interval(ring, ring->last_head,
							head);
		WRITE_ONCE(ring->last_head, head);	/* read by producers */
	}

	while (ring->depth) {
		struct ksmpp_hint_interval *top = &ring->stack[ring->depth - 1];
		u64 seq;

		if (top->lo < oldest) {
			u64 lo = oldest < top->hi ? oldest : top->hi;

			dropped += lo - top->lo;
			top->lo = lo;
		}
		if (top->lo == top->hi) {
			ring->depth--;
			continue;
		}

		seq = --top->hi;
		if (top->lo == top->hi)
			ring->depth--;
		if (ksmpp_hint_ring_read(ring, seq, out)) {
			found = true;
			break;
		}
		dropped++;
	}

	if (dropped)
		WRITE_ONCE(ring->dropped, ring->dropped + dropped);
	if (found)
		WRITE_ONCE(ring->consumed, ring->consumed + 1);
	return found;
}

/* Any context. */
u64 ksmpp_hint_ring_pushed(const struct ksmpp_hint_ring *ring)
{
	return (u64)atomic64_read(&ring->head);
}

/* Any context; exact only when read by the consumer itself. */
u64 ksmpp_hint_ring_consumed(const struct ksmpp_hint_ring *ring)
{
	return READ_ONCE(ring->consumed);
}

static u64 ksmpp_hint_ring_pending_at(const struct ksmpp_hint_ring *ring, u64 head);

/* Consumer only: hints lost, including those overwritten not yet passed. */
u64 ksmpp_hint_ring_dropped(const struct ksmpp_hint_ring *ring)
{
	u64 head = (u64)atomic64_read(&ring->head);
	u64 unseen = head - ring->last_head;
	unsigned int i;

	for (i = 0; i < ring->depth; i++)
		unseen += ring->stack[i].hi - ring->stack[i].lo;
	return ring->dropped + unseen - ksmpp_hint_ring_pending_at(ring, head);
}

/* Any context. */
u64 ksmpp_hint_ring_contended(const struct ksmpp_hint_ring *ring)
{
	return (u64)atomic64_read(&ring->contended);
}

/*
 * Consumer only: how many hints ksmpp_hint_ring_peek() can be asked for,
 * those lost since they were pushed (overwritten or contended) included.
 */
u64 ksmpp_hint_ring_unread(const struct ksmpp_hint_ring *ring)
{
	u64 unread = (u64)atomic64_read(&ring->head) - ring->last_head;
	unsigned int i;

	for (i = 0; i < ring->depth; i++)
		unread += ring->stack[i].hi - ring->stack[i].lo;
	return unread;
}

/*
 * Consumer only (callers serialise with pop): the @n-th newest unread hint
 * (0 is the next pop's candidate), without consuming it. False past the
 * last one (ksmpp_hint_ring_unread()), or if that hint was lost; for
 * listings, not for the scanner.
 */
bool ksmpp_hint_ring_peek(const struct ksmpp_hint_ring *ring, u64 n,
			  struct ksmpp_hint *out)
{
	u64 head = (u64)atomic64_read(&ring->head);
	u64 fresh = head - ring->last_head;
	int i;

	if (n < fresh)
		return ksmpp_hint_ring_read(ring, head - 1 - n, out);
	n -= fresh;
	for (i = ring->depth - 1; i >= 0; i--) {
		const struct ksmpp_hint_interval *iv = &ring->stack[i];

		if (n < iv->hi - iv->lo)
			return ksmpp_hint_ring_read(ring, iv->hi - 1 - n, out);
		n -= iv->hi - iv->lo;
	}
	return false;
}

/*
 * Consumer only: hints not consumed and still intact in the ring - those
 * not seen yet and those in the interval stack, less what producers have
 * overwritten since (which counts as dropped).
 */
static u64 ksmpp_hint_ring_pending_at(const struct ksmpp_hint_ring *ring, u64 head)
{
	u64 oldest = head > ring->size ? head - ring->size : 0;
	u64 pending = head - max(ring->last_head, oldest);
	unsigned int i;

	for (i = 0; i < ring->depth; i++)
		if (ring->stack[i].hi > oldest)
			pending += ring->stack[i].hi - max(ring->stack[i].lo, oldest);
	return pending;
}

u64 ksmpp_hint_ring_pending(const struct ksmpp_hint_ring *ring)
{
	return ksmpp_hint_ring_pending_at(ring, (u64)atomic64_read(&ring->head));
}
