// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for module/index.c, built against the userspace kshim: the
 * hash indexes that grow and shrink with what they hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "index.h"

struct entry {
	struct hlist_node link;
	u64 key;
};

static u64 entry_key(const struct hlist_node *link)
{
	return hlist_entry(link, struct entry, link)->key;
}

/* Keys spaced as node addresses are (the node table's keys). */
static u64 key_of(size_t i)
{
	return 0xffff888100000000ULL + i * 192;
}

static struct entry *entries_new(size_t n)
{
	struct entry *e = calloc(n, sizeof(*e));
	size_t i;

	assert_non_null(e);
	for (i = 0; i < n; i++)
		e[i].key = key_of(i);
	return e;
}

static void add_all(struct ksmpp_index *index, struct entry *e, size_t first, size_t end)
{
	size_t i;

	for (i = first; i < end; i++)
		ksmpp_index_add(index, &e[i].link, e[i].key);
}

/* Whether @e is in the bucket of its key. */
static bool in_its_bucket(const struct ksmpp_index *index, const struct entry *e)
{
	struct hlist_node *pos, *next;

	hlist_for_each_safe(pos, next, ksmpp_index_bucket(index, e->key))
		if (pos == &e->link)
			return true;
	return false;
}

/* Every entry of @index, over all its buckets; the longest chain in *@longest. */
static size_t walk(const struct ksmpp_index *index, size_t *longest)
{
	struct hlist_node *pos, *next;
	size_t i, n = 0, chain;

	*longest = 0;
	for (i = 0; i < ksmpp_index_size(index); i++) {
		chain = 0;
		hlist_for_each_safe(pos, next, &index->buckets[i])
			chain++;
		n += chain;
		if (chain > *longest)
			*longest = chain;
	}
	return n;
}

static void expect_all_found(const struct ksmpp_index *index, const struct entry *e,
			     size_t first, size_t end)
{
	size_t i, longest;

	for (i = first; i < end; i++)
		assert_true(in_its_bucket(index, &e[i]));
	assert_int_equal(walk(index, &longest), end - first);
	assert_int_equal(index->count, end - first);
}

static void test_starts_small(void **state)
{
	struct ksmpp_index index;

	(void)state;
	assert_int_equal(ksmpp_index_init(&index, entry_key), 0);
	assert_int_equal(ksmpp_index_size(&index), 1UL << KSMPP_INDEX_MIN_BITS);
	assert_int_equal(ksmpp_index_bytes(&index),
			 sizeof(struct hlist_head) << KSMPP_INDEX_MIN_BITS);
	assert_int_equal(index.count, 0);
	assert_int_equal(ksmpp_index_fit(&index), 0);
	ksmpp_index_destroy(&index);
}

/* Past two entries a bucket it doubles and more, to about one a bucket. */
static void test_grows(void **state)
{
	const size_t n = 5000;
	struct entry *e = entries_new(n);
	struct ksmpp_index index;
	unsigned long before;
	size_t longest;
	long change;

	(void)state;
	assert_int_equal(ksmpp_index_init(&index, entry_key), 0);
	add_all(&index, e, 0, 128);
	assert_int_equal(ksmpp_index_fit(&index), 0);	/* two a bucket: kept */
	add_all(&index, e, 128, n);
	expect_all_found(&index, e, 0, n);
	before = ksmpp_index_bytes(&index);
	change = ksmpp_index_fit(&index);
	assert_int_equal(change, (long)(ksmpp_index_bytes(&index) - before));
	assert_int_equal(ksmpp_index_size(&index), 8192);	/* 2^(ilog2(5000) + 1) */
	expect_all_found(&index, e, 0, n);
	walk(&index, &longest);
	assert_true(longest <= 8);
	assert_int_equal(ksmpp_index_fit(&index), 0);	/* fits now */
	free(e);
	ksmpp_index_destroy(&index);
}

/* Under one entry per eight buckets it shrinks, never below the minimum. */
static void test_shrinks(void **state)
{
	const size_t n = 4096;
	struct entry *e = entries_new(n);
	struct ksmpp_index index;
	size_t i;

	(void)state;
	assert_int_equal(ksmpp_index_init(&index, entry_key), 0);
	add_all(&index, e, 0, n);
	ksmpp_index_fit(&index);
	assert_int_equal(ksmpp_index_size(&index), 8192);
	for (i = 0; i < n - 1024; i++)
		ksmpp_index_del(&index, &e[i].link);
	assert_int_equal(ksmpp_index_fit(&index), 0);	/* one per eight: kept */
	ksmpp_index_del(&index, &e[i++].link);
	assert_true(ksmpp_index_fit(&index) < 0);
	assert_int_equal(ksmpp_index_size(&index), 1024);	/* 2^(ilog2(1023) + 1) */
	expect_all_found(&index, e, i, n);
	for (; i < n - 3; i++)
		ksmpp_index_del(&index, &e[i].link);
	ksmpp_index_fit(&index);
	assert_int_equal(ksmpp_index_size(&index), 1UL << KSMPP_INDEX_MIN_BITS);
	expect_all_found(&index, e, i, n);
	for (; i < n; i++)
		ksmpp_index_del(&index, &e[i].link);
	assert_int_equal(index.count, 0);
	free(e);
	ksmpp_index_destroy(&index);
}

/* A delete leaves the entry unhashed; deleting while walking is safe. */
static void test_delete_while_walking(void **state)
{
	const size_t n = 300;
	struct entry *e = entries_new(n);
	struct hlist_node *pos, *next;
	struct ksmpp_index index;
	size_t i, longest;

	(void)state;
	assert_int_equal(ksmpp_index_init(&index, entry_key), 0);
	add_all(&index, e, 0, n);
	for (i = 0; i < ksmpp_index_size(&index); i++)
		hlist_for_each_safe(pos, next, &index.buckets[i])
			if (hlist_entry(pos, struct entry, link)->key % 2 == 0)
				ksmpp_index_del(&index, pos);
	for (i = 0; i < n; i++)
		assert_int_equal(hlist_unhashed(&e[i].link), e[i].key % 2 == 0);
	assert_int_equal(walk(&index, &longest), index.count);
	free(e);
	ksmpp_index_destroy(&index);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_small),
		cmocka_unit_test(test_grows),
		cmocka_unit_test(test_shrinks),
		cmocka_unit_test(test_delete_while_walking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
