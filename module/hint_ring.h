/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ksmpp hint ring: a lossy, lock-free, multi-producer / single-consumer ring
 * of "file I/O just filled this user range" hints, consumed newest first.
 * See the DOC: Overview comment in hint_ring.c for the algorithm.
 */
#ifndef _KSMPP_HINT_RING_H
#define _KSMPP_HINT_RING_H

#include <linux/limits.h>
#include <linux/types.h>

struct mm_struct;
struct ksmpp_hint_ring;

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
 * Any context: whether hint @seq, pushed intact, is still to be taken in
 * by the consumer and in the newer half of the ring (far from being
 * overwritten). A producer about to push the same range again may skip it.
 */
bool ksmpp_hint_ring_unseen(const struct ksmpp_hint_ring *ring, u64 seq);
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
