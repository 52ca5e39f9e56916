/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ksmpp hint ring: a lossy, lock-free, multi-producer / single-consumer ring
 * of "file I/O just filled this user range" hints, consumed newest first.
 * See the DOC: Overview comment in hint_ring.c for the algorithm.
 */
#ifndef _KSMPP_HINT_RING_H
#define _KSMPP_HINT_RING_H

#include <linux/atomic.h>
#include <linux/cache.h>
#include <linux/compiler.h>
#include <linux/limits.h>
#include <linux/types.h>

struct mm_struct;

/* Smallest ring size accepted by ksmpp_hint_ring_alloc(). */
#define KSMPP_HINT_RING_MIN_SIZE	16
/* Depth of the consumer's stack of pending sequence intervals. */
#define KSMPP_HINT_RING_INTERVALS	32

struct ksmpp_hint {
	struct mm_struct *mm;	/* identity only: the ring never dereferences it */
	unsigned long start;	/* user address the I/O moved data to or from */
	unsigned long len;	/* bytes the I/O moves */
	pid_t tgid;		/* process, for debugging output */
	u16 cpu;		/* where the I/O began */
	u8 source;		/* enum ksmpp_hint_source, opaque to the ring */
};

/*
 * The ring's layout is shown here only for ksmpp_hint_ring_unseen(),
 * which a hook asks on every repeated call; everything else about it
 * belongs to hint_ring.c.
 */
struct ksmpp_hint_slot {
	u64 seq;			/* sequence word, see DOC: Overview */
	struct ksmpp_hint hint;		/* payload, valid while seq is COMPLETE */
};

struct ksmpp_hint_interval {
	u64 lo;				/* oldest pending sequence number */
	u64 hi;				/* one past the newest pending one */
};

struct ksmpp_hint_ring {
	/* Shared with producers: written by every push. */
	atomic64_t head;		/* next sequence number == hints pushed */
	atomic64_t contended;		/* pushes that gave up their slot */
	struct ksmpp_hint_slot *slots;	/* the ring itself, size entries */
	u64 size;			/* number of slots, a power of two */

	/*
	 * Consumer only (counters also read locklessly by stats readers,
	 * last_head by producers asking ksmpp_hint_ring_unseen()).
	 */
	u64 last_head ____cacheline_aligned_in_smp; /* head seen by last pop */
	u64 ready;			/* pop takes sequence numbers below this */
	u64 marked;			/* head at the last hold_back */
	u64 consumed;			/* hints returned by pop */
	u64 dropped;			/* hints discarded without returning them */
	unsigned int depth;		/* intervals in use in stack[] */
	struct ksmpp_hint_interval stack[KSMPP_HINT_RING_INTERVALS]; /* [0] oldest */
};

/* Process context, may sleep. @size: power of two >= 16. NULL on error. */
struct ksmpp_hint_ring *ksmpp_hint_ring_alloc(unsigned int size);
/* Process context, may sleep; no producer or consumer may still be running. */
void ksmpp_hint_ring_free(struct ksmpp_hint_ring *ring);

/* What ksmpp_hint_ring_push() returns for a hint it gave up (contended). */
#define KSMPP_HINT_RING_LOST	U64_MAX

/*
 * Any context (preempt-off, softirq, hardirq); lock-free, never blocks or
 * allocates. Returns the hint's sequence number, or KSMPP_HINT_RING_LOST.
 */
u64 ksmpp_hint_ring_push(struct ksmpp_hint_ring *ring,
			 const struct ksmpp_hint *hint);
/*
 * Any context: whether hint @seq, a sequence number that a push into
 * @ring returned (so below head; never KSMPP_HINT_RING_LOST), is still
 * to be taken in by the consumer and in the newer half of the ring (far
 * from being overwritten). A producer about to push the same range again
 * may skip it. The consumer has not taken @seq in while last_head is at
 * or below it; a slot is claimed again only size pushes later.
 */
static inline bool ksmpp_hint_ring_unseen(const struct ksmpp_hint_ring *ring, u64 seq)
{
	return seq >= READ_ONCE(ring->last_head) &&
	       (u64)atomic64_read(&ring->head) - seq <= ring->size / 2;
}
/*
 * Consumer only: from now on pop only hints pushed before the previous
 * call (none before the first two calls bar those of a new ring).
 */
void ksmpp_hint_ring_hold_back(struct ksmpp_hint_ring *ring);
/* Single consumer only: newest pending hint to @out; false (@out untouched) if none. */
bool ksmpp_hint_ring_pop(struct ksmpp_hint_ring *ring, struct ksmpp_hint *out);
/* Consumer only: the @n-th newest unread hint, n < ksmpp_hint_ring_unread(). */
bool ksmpp_hint_ring_peek(const struct ksmpp_hint_ring *ring, u64 n,
			  struct ksmpp_hint *out);
u64 ksmpp_hint_ring_unread(const struct ksmpp_hint_ring *ring);

/* Any context: sequence numbers claimed by producers (hints pushed). */
u64 ksmpp_hint_ring_pushed(const struct ksmpp_hint_ring *ring);
/* Any context: hints returned by ksmpp_hint_ring_pop(). */
u64 ksmpp_hint_ring_consumed(const struct ksmpp_hint_ring *ring);
/* Consumer only: hints lost (overwritten or contended), popped past or not. */
u64 ksmpp_hint_ring_dropped(const struct ksmpp_hint_ring *ring);
/* Any context: pushes that gave up their slot; each is also dropped once popped past. */
u64 ksmpp_hint_ring_contended(const struct ksmpp_hint_ring *ring);
/* Consumer only: hints neither consumed nor dropped yet. */
u64 ksmpp_hint_ring_pending(const struct ksmpp_hint_ring *ring);

#endif /* _KSMPP_HINT_RING_H */
