// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: hash indexes that grow and shrink with what they hold.
 *
 * The stable and unstable indexes (merge.c) and the node table (stable.c)
 * are hash tables of hlist nodes. Each starts with 2^KSMPP_INDEX_MIN_BITS
 * buckets, so an idle ksmpp costs a few pages of them, not a size taken
 * from the host's RAM. ksmpp_index_fit() refits an index to about one
 * entry a bucket when it holds over two a bucket or under one per eight:
 * an add or a lookup stays O(1) on average, and the buckets cost at most
 * eight pointers an entry once it shrinks. The scanner refits at the start
 * of each batch, never inside an add or a delete, so code that walks an
 * index and deletes as it goes sees one bucket array throughout. Moving
 * the entries takes O(entries), after at least as many adds or deletes
 * since the last refit, and may sleep. All of it under ksmpp_lock.
 */
#include <linux/errno.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "index.h"

static struct hlist_head *ksmpp_index_alloc(unsigned int bits)
{
	return kvcalloc(1UL << bits, sizeof(struct hlist_head),
			GFP_KERNEL | __GFP_NOWARN);
}

int ksmpp_index_init(struct ksmpp_index *index,
		     u64 (*key)(const struct hlist_node *entry))
{
	index->buckets = ksmpp_index_alloc(KSMPP_INDEX_MIN_BITS);
	if (!index->buckets)
		return -ENOMEM;
	index->bits = KSMPP_INDEX_MIN_BITS;
	index->count = 0;
	index->key = key;
	return 0;
}

/* @index must be empty. */
void ksmpp_index_destroy(struct ksmpp_index *index)
{
	kvfree(index->buckets);
	index->buckets = NULL;
}

/*
 * The number of bits for about one entry a bucket, if @index holds over two
 * a bucket or under one per eight; else its own.
 */
static unsigned int ksmpp_index_fitting_bits(const struct ksmpp_index *index)
{
	unsigned int bits;

	if (index->count <= 2 * ksmpp_index_size(index) &&
	    index->count >= ksmpp_index_size(index) / 8)
		return index->bits;
	bits = index->count ? ilog2(index->count) + 1 : 0;
	return clamp_t(unsigned int, bits, KSMPP_INDEX_MIN_BITS, KSMPP_INDEX_MAX_BITS);
}

/**
 * ksmpp_index_fit - resize @index to what it holds, if it is far off
 * @index: the index
 *
 * Returns the change of its buckets' bytes (0: kept as it is, also when no
 * memory could be had for new buckets; lookups are then only slower).
 */
long ksmpp_index_fit(struct ksmpp_index *index)
{
	unsigned int bits = ksmpp_index_fitting_bits(index);
	struct hlist_node *entry, *next;
	struct hlist_head *buckets;
	unsigned long i, old_bytes = ksmpp_index_bytes(index);

	if (bits == index->bits)
		return 0;
	buckets = ksmpp_index_alloc(bits);
	if (!buckets)
		return 0;
	for (i = 0; i < ksmpp_index_size(index); i++) {
		hlist_for_each_safe(entry, next, &index->buckets[i])
			hlist_add_head(entry, &buckets[hash_64(index->key(entry), bits)]);
		cond_resched();
	}
	kvfree(index->buckets);
	index->buckets = buckets;
	index->bits = bits;
	return (long)ksmpp_index_bytes(index) - (long)old_bytes;
}
