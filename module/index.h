/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ksmpp: hash indexes that grow and shrink with what they hold (index.c).
 */
#ifndef _KSMPP_INDEX_H
#define _KSMPP_INDEX_H

#include <linux/hash.h>
#include <linux/list.h>
#include <linux/types.h>

/* Buckets of an index: from 2^KSMPP_INDEX_MIN_BITS to 2^KSMPP_INDEX_MAX_BITS. */
#define KSMPP_INDEX_MIN_BITS	6
#define KSMPP_INDEX_MAX_BITS	24

/**
 * struct ksmpp_index - a hash table of hlist nodes
 * @buckets: 2^@bits of them
 * @bits: log2 of the number of buckets
 * @count: entries held
 * @key: an entry's key, as it was added with (to move it when refitting)
 */
struct ksmpp_index {
	struct hlist_head *buckets;
	unsigned int bits;
	unsigned long count;
	u64 (*key)(const struct hlist_node *entry);
};

int ksmpp_index_init(struct ksmpp_index *index,
		     u64 (*key)(const struct hlist_node *entry));
void ksmpp_index_destroy(struct ksmpp_index *index);
long ksmpp_index_fit(struct ksmpp_index *index);

/* The bucket that entries of @key are in. */
static inline struct hlist_head *ksmpp_index_bucket(const struct ksmpp_index *index,
						    u64 key)
{
	return &index->buckets[hash_64(key, index->bits)];
}

static inline unsigned long ksmpp_index_size(const struct ksmpp_index *index)
{
	return 1UL << index->bits;
}

/* The bytes of @index's buckets. */
static inline unsigned long ksmpp_index_bytes(const struct ksmpp_index *index)
{
	return ksmpp_index_size(index) * sizeof(struct hlist_head);
}

static inline void ksmpp_index_add(struct ksmpp_index *index,
				   struct hlist_node *entry, u64 key)
{
	hlist_add_head(entry, ksmpp_index_bucket(index, key));
	index->count++;
}

/* Take @entry out of @index; it must be in. */
static inline void ksmpp_index_del(struct ksmpp_index *index,
				   struct hlist_node *entry)
{
	hlist_del_init(entry);
	index->count--;
}

#endif /* _KSMPP_INDEX_H */
