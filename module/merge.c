// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: merging identical pages into genuine KSM pages.
 *
 * DOC: Merging
 *
 * Duplicates are found through a content index: the xxh64 hash of a page
 * picks a bucket, and two pages are merged only after a byte-for-byte
 * comparison. The index has two parts, as KSM's trees do:
 *
 *  - the stable index holds merged pages (struct ksmpp_node). Their content
 *    cannot change (they are write-protected KSM pages), so their hash is
 *    fixed for life;
 *  - the unstable index holds pages seen with the same content on two
 *    visits in a row, or filled by file I/O (struct ksmpp_unstable). It is
 *    emptied after every full pass, since such pages may change at any
 *    time; but an entry that came from a hint is kept through the first
 *    pass end after it: a guest that reads a block after the pass ended
 *    would otherwise miss the copy another guest read just before, and
 *    wait for the linear scan to come back to it. An entry whose page
 *    changed since costs a failed comparison, never a wrong merge.
 *
 * A visited page is first looked up in the stable index; failing that, if
 * its hash equals the one remembered from its previous visit, in the
 * unstable index, where it is either merged with an identical page or added.
 * With use_zero_pages, an empty page is instead replaced by the kernel's
 * zero page, as KSM does. With merge_across_nodes=0, only pages of one NUMA
 * node are merged together. With smart_scan, the linear scan passes over a
 * page that keeps failing to merge more and more often (ksmpp_smart_skip()).
 *
 * merge_scope: a page merges only with pages of its own scope (its uid, its
 * cgroup, or its process). Both indexes are keyed by content hash and
 * scope key together, so identical content in two scopes has two nodes and
 * a lookup never compares pages across scopes. A merged mapping found
 * outside its node's scope (the process changed uid or cgroup, or a child
 * forked across scopes) is unmerged at that visit, and so is a page kernel
 * KSM merged before it handed over, which has no scope, unless the scope
 * is global.
 *
 * The merge itself is the kernel's own try_to_merge_one_page(): it write-
 * protects the page, checks that nothing else (GUP, O_DIRECT) holds it, and
 * replaces the mapping. The first page of a pair becomes a KSM page; ksmpp
 * then gives it a stable node and one rmap item per mapping (stable.c).
 * The node's hash is taken from that write-protected page itself, so it
 * matches the page's content for life.
 *
 * An address of a process has at most one item: before a page is merged,
 * an item left at its address (its page was replaced) is dropped, and the
 * xarray slot is reserved, so that recording the new item cannot fail.
 *
 * Everything here runs under ksmpp_lock, from the scanner thread or from
 * an unmerge; the lock order is ksmpp_lock, mmap lock, page lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hash.h>
#include <linux/highmem.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/xxhash.h>

#include "ksmpp.h"
#include "trace.h"

/*
 * A page that kept its content for a full pass, not merged yet. Its owner
 * lives on while it has entries (ksmpp_mm_free()); an entry of an owner that
 * is gone is dropped when a lookup meets it, or at the pass end.
 */
struct ksmpp_unstable {
	struct hlist_node index;	/* in the unstable index */
	struct ksmpp_mm *owner;		/* the process mapping it */
	unsigned long address;		/* where, | KSMPP_UNSTABLE_KEEP */
	u64 hash;			/* its content's xxh64 */
};

/* Hinted, no pass end seen yet: kept through the next one. */
#define KSMPP_UNSTABLE_KEEP	1UL

static struct kmem_cache *ksmpp_unstable_cache;
/* Merged pages' nodes, and unstable entries, by content and scope. */
static struct ksmpp_index ksmpp_stable_index;
static struct ksmpp_index ksmpp_unstable_index;
/* Pages found changed in the pass under way. */
static unsigned long ksmpp_pass_volatile;

/* The index key of content @hash in scope @scope. */
static u64 ksmpp_content_key(u64 hash, u64 scope)
{
	return hash ^ scope * GOLDEN_RATIO_64;
}

/* The bucket of content @hash in scope @scope. */
static struct hlist_head *ksmpp_bucket(struct ksmpp_index *index, u64 hash,
				       u64 scope)
{
	return ksmpp_index_bucket(index, ksmpp_content_key(hash, scope));
}

static u64 ksmpp_stable_key(const struct hlist_node *entry)
{
	const struct ksmpp_node *node = hlist_entry(entry, struct ksmpp_node, index);

	return ksmpp_content_key(node->hash, node->scope);
}

/* An entry's owner may have changed scope since it was added: either will do. */
static u64 ksmpp_unstable_key(const struct hlist_node *entry)
{
	const struct ksmpp_unstable *unstable =
		hlist_entry(entry, struct ksmpp_unstable, index);

	return ksmpp_content_key(unstable->hash, unstable->owner->scope);
}

/* How many nodes of the stable index have @node's content and scope. */
static unsigned int ksmpp_nodes_like(const struct ksmpp_node *node)
{
	struct ksmpp_node *other;
	unsigned int n = 0;

	hlist_for_each_entry(other, ksmpp_bucket(&ksmpp_stable_index, node->hash,
						 node->scope), index)
		n += other->hash == node->hash && other->scope == node->scope;
	return n;
}

/*
 * Nodes of one content (in one scope), past max_page_sharing mappings
 * each, are what KSM calls a chain of duplicates: counted as KSM counts
 * them, a chain for a content with two nodes or more, and each of its
 * nodes a dup.
 */
static void ksmpp_count_dups(const struct ksmpp_node *node, int change)
{
	unsigned int n = ksmpp_nodes_like(node);	/* with @node counted */

	if (n < 2)
		return;
	ksmpp_stats.stable_node_dups += change;
	if (n == 2) {
		ksmpp_stats.stable_node_chains += change;
		ksmpp_stats.stable_node_dups += change;
	}
}

void ksmpp_stable_index_add(struct ksmpp_node *node)
{
	ksmpp_index_add(&ksmpp_stable_index, &node->index,
			ksmpp_content_key(node->hash, node->scope));
	ksmpp_count_dups(node, 1);
}

/* Take @node out of the stable index, if it is in. */
void ksmpp_stable_index_del(struct ksmpp_node *node)
{
	if (hlist_unhashed(&node->index))
		return;
	ksmpp_count_dups(node, -1);
	ksmpp_index_del(&ksmpp_stable_index, &node->index);
}

static u64 ksmpp_page_hash(struct page *page)
{
	void *addr = kmap_local_page(page);
	u64 hash = xxh64(addr, PAGE_SIZE, 0);

	kunmap_local(addr);
	return hash;
}

static bool ksmpp_pages_identical(struct page *a, struct page *b)
{
	void *pa = kmap_local_page(a);
	void *pb = kmap_local_page(b);
	bool same = !memcmp(pa, pb, PAGE_SIZE);

	kunmap_local(pb);
	kunmap_local(pa);
	return same;
}

/* Whether merge_across_nodes lets @a and @b share one page. */
static bool ksmpp_numa_allows(struct page *a, struct page *b)
{
	return READ_ONCE(ksmpp_merge_across_nodes) || page_to_nid(a) == page_to_nid(b);
}

/*
 * What the xarray remembers of a page that is not merged: its content's
 * hash (the top 55 bits) and, for smart_scan, the page's age (visits while
 * unmerged, up to KSMPP_AGE_MAX) and the visits it has left to skip.
 */
#define KSMPP_AGE_MAX		15
#define KSMPP_ENTRY_HASH(v)	((v) >> 8)
#define KSMPP_ENTRY_AGE(v)	(((v) >> 4) & KSMPP_AGE_MAX)
#define KSMPP_ENTRY_SKIPS(v)	((v) & 15)

static void *ksmpp_hash_entry(unsigned long hash55, unsigned int age,
			      unsigned int skips)
{
	return xa_mk_value(hash55 << 8 | age << 4 | skips);
}

/* Whether @entry (a value entry, or NULL) remembers content @hash. */
static bool ksmpp_entry_has_hash(void *entry, u64 hash)
{
	return entry && KSMPP_ENTRY_HASH(xa_to_value(entry)) == hash >> 9;
}

/* KSM's back-off: how many visits to skip next, by age. */
static unsigned int ksmpp_skip_age(unsigned int age)
{
	if (age <= 3)
		return 1;
	if (age <= 5)
		return 2;
	if (age <= 8)
		return 4;
	return 8;
}

/**
 * ksmpp_smart_skip - whether the linear scan passes over a page (smart_scan)
 * @slot: the process mapping it
 * @addr: where
 * @page: the page mapped there
 *
 * As KSM's should_skip_rmap_item() (6.7 on): a page that stayed unmerged
 * over three visits is then visited only every 2nd, then 3rd, 5th and at
 * last 9th time the scan comes by, until it merges. KSM pages are never
 * skipped. Counts pages_skipped.
 */
bool ksmpp_smart_skip(struct ksmpp_mm *slot, unsigned long addr, struct page *page)
{
	unsigned long index = addr >> PAGE_SHIFT, v;
	unsigned int age, skips;
	void *entry;
	bool skip;

	if (!READ_ONCE(ksmpp_smart_scan))
		return false;
	entry = xa_load(&slot->pages, index);
	if (!entry || !xa_is_value(entry) || folio_test_ksm(page_folio(page)))
		return false;
	v = xa_to_value(entry);
	age = KSMPP_ENTRY_AGE(v);
	skips = KSMPP_ENTRY_SKIPS(v);
	skip = age >= 3 && skips;
	if (skip)
		skips--;
	else if (age >= 3)
		skips = ksmpp_skip_age(age);	/* after this visit */
	xa_store(&slot->pages, index, ksmpp_hash_entry(KSMPP_ENTRY_HASH(v),
		 min(age + 1, KSMPP_AGE_MAX), skips), GFP_KERNEL);
	ksmpp_stats.pages_skipped += skip;
	return skip;
}

/* The VMA at @addr if ksmpp may merge there; mmap lock held. */
struct vm_area_struct *ksmpp_mergeable_vma(struct mm_struct *mm,
						  unsigned long addr)
{
	struct vm_area_struct *vma;

	if (!atomic_read(&mm->mm_users))
		return NULL;
	vma = vma_lookup(mm, addr);
	if (!vma || !(vma->vm_flags & VM_MERGEABLE) || !vma->anon_vma)
		return NULL;
	return vma;
}

/* The page @slot maps at @addr, referenced; NULL if none or mmap lock busy. */
static struct page *ksmpp_get_mapped_page(struct ksmpp_mm *slot,
					  unsigned long addr)
{
	struct vm_area_struct *vma;
	struct page *page = NULL;

	if (!mmap_read_trylock(slot->mm))
		return NULL;	/* busy: the page is looked at again later */
	vma = ksmpp_mergeable_vma(slot->mm, addr);
	if (vma)
		page = ksmpp_get_anon_page(vma, addr);
	mmap_read_unlock(slot->mm);
	return page;
}

/* Record a linked item with its owner: its xarray slot is reserved. */
static void ksmpp_item_publish(struct ksmpp_item *item)
{
	xa_store(&item->rmap.owner->pages, item->rmap.address >> PAGE_SHIFT, item,
		 GFP_KERNEL);
	ksmpp_stats.merges++;
	trace_ksmpp_merge(item->rmap.owner->mm, item->rmap.address & PAGE_MASK,
			  READ_ONCE(item->rmap.head->kpfn));
}

/*
 * Merge @page into @kpage (see ksmpp_merge_one()) if it is still what @mm
 * maps at @addr in a mergeable area, found in *@vmap. Under the mmap lock.
 */
static int ksmpp_merge_mapped(struct mm_struct *mm, unsigned long addr,
			      struct page *page, struct page *kpage,
			      struct vm_area_struct **vmap)
{
	struct vm_area_struct *vma = ksmpp_mergeable_vma(mm, addr);
	struct page *mapped = NULL;

	if (vma)
		mapped = ksmpp_get_anon_page(vma, addr);
	/*
	 * Only its identity was needed: the merge checks that the caller's
	 * is the one reference beyond the mappings.
	 */
	if (mapped)
		put_page(mapped);
	if (mapped != page)
		return -EFAULT;
	*vmap = vma;
	return static_call(ksmpp_try_to_merge_one_page)(vma, page, kpage);
}

/*
 * Merge the page @slot maps at @addr into @kpage (NULL: make the page itself
 * a KSM page, with no node yet; @kpage == @page: a forked KSM page, nothing
 * to replace). On success fills @item for the mapping and returns 0, with
 * the item's xarray slot reserved for ksmpp_item_publish(). Try-locks the
 * mmap lock (-EBUSY if taken); the page is checked to be still mapped at
 * @addr.
 */
static int ksmpp_merge_one(struct ksmpp_mm *slot, unsigned long addr,
			   struct page *page, struct page *kpage,
			   struct ksmpp_item *item)
{
	unsigned long index = addr >> PAGE_SHIFT;
	struct mm_struct *mm = slot->mm;
	struct vm_area_struct *vma;
	void *entry;
	int err;

	/*
	 * An item still recorded at @addr is stale: the page mapped there now
	 * is not its KSM page (callers merge only pages that are not KSM
	 * pages, or whose item they found missing). Drop it, so that no item
	 * is ever overwritten and orphaned on its node.
	 */
	entry = xa_load(&slot->pages, index);
	if (entry && !xa_is_value(entry))
		ksmpp_item_remove(entry);
	if (xa_reserve(&slot->pages, index, GFP_KERNEL))
		return -ENOMEM;
	if (!mmap_read_trylock(mm)) {
		err = -EBUSY;
		goto out;
	}
	err = ksmpp_merge_mapped(mm, addr, page, kpage, &vma);
	if (!err) {
		ksmpp_get_anon_vma(vma->anon_vma);
		item->rmap.anon_vma = vma->anon_vma;
		item->rmap.mm = mm;
		item->rmap.address = addr | KSM_STABLE_FLAG;
#ifdef KSMPP_RMAP_ITEM_HAS_LINEAR_INDEX
		item->rmap.linear_page_index = linear_anon_page_index(vma, addr);
#endif
		item->rmap.owner = slot;
	}
	mmap_read_unlock(mm);
out:
	if (err)
		xa_release(&slot->pages, index);
	return err;
}

/*
 * Merge the page at @addr of @slot into @node's page @kfolio, which the
 * caller found with ksmpp_node_get_folio() and still references: it stays
 * the node's page (a migration would now fail on that reference).
 */
static int ksmpp_merge_into(struct ksmpp_node *node, struct folio *kfolio,
			    struct ksmpp_mm *slot, unsigned long addr,
			    struct page *page)
{
	struct ksmpp_item *item = ksmpp_item_alloc();
	int err;

	if (!item)
		return -ENOMEM;
	err = ksmpp_merge_one(slot, addr, page, folio_page(kfolio, 0), item);
	if (err) {
		ksmpp_item_discard(item);
		return err;
	}
	folio_lock(kfolio);
	ksmpp_node_link(node, item);
	folio_unlock(kfolio);
	ksmpp_item_publish(item);
	return 0;
}

/*
 * Undo a merge of @slot's mapping at @addr: fault in a private copy (with
 * @keep, only of a page outside @keep's scope, as ksmpp_unmerge_range()).
 * Returns whether it was done (false: the mmap lock was busy, no mergeable
 * area is there, or no copy could be made).
 */
static bool ksmpp_break_mapping(struct ksmpp_mm *slot, unsigned long addr,
				const struct ksmpp_mm *keep)
{
	struct vm_area_struct *vma;
	bool done = false;

	/*
	 * Never wait behind the process's mmap writers under ksmpp_lock: if
	 * the lock is taken, the page stays a KSM page with one mapping, as
	 * KSM's pages whose other mappings went do.
	 */
	if (!mmap_read_trylock(slot->mm))
		return false;
	vma = ksmpp_mergeable_vma(slot->mm, addr);
	if (vma)
		done = !ksmpp_unmerge_range(vma, addr, addr + PAGE_SIZE, keep, false);
	mmap_read_unlock(slot->mm);
	return done;
}

/*
 * Merge two identical unmerged pages into a new KSM page: @a becomes the
 * shared page, with a new node, and @b is merged into it.
 */
static int ksmpp_merge_pair(struct ksmpp_mm *a_slot, unsigned long a_addr,
			    struct page *a, struct ksmpp_mm *b_slot,
			    unsigned long b_addr, struct page *b)
{
	struct ksmpp_node *node;
	struct ksmpp_item *item;
	struct folio *folio;
	int err = -ENOMEM;

	/* Both first: a KSM page must never stay mapped without a node. */
	node = ksmpp_node_alloc();
	item = ksmpp_item_alloc();
	if (!node || !item)
		goto fail;
	err = ksmpp_merge_one(a_slot, a_addr, a, NULL, item);
	if (err)
		goto fail;

	/*
	 * @a is a KSM page now, write-protected, with no node: give it ours
	 * at once. Our reference keeps it from migrating, and its content is
	 * fixed, so it gives the node's hash for life. Its folio only now: a
	 * huge page was split by the merge.
	 */
	node->hash = ksmpp_page_hash(a);
	if (ksmpp_test_fault(KSMPP_TEST_FAULT_NODE_HASH))
		node->hash = ~node->hash;
	node->scope = a_slot->scope;	/* @b_slot's too: the caller checked */
	folio = page_folio(a);
	folio_lock(folio);
	ksmpp_node_install(node, folio);
	ksmpp_node_link(node, item);
	folio_unlock(folio);
	ksmpp_item_publish(item);
	ksmpp_stable_index_add(node);

	err = ksmpp_merge_into(node, folio, b_slot, b_addr, b);
	if (err) {
		/* A KSM page with one mapping saves nothing: undo it. */
		ksmpp_break_mapping(a_slot, a_addr, NULL);
		ksmpp_node_put_unmapped(node);
	}
	return err;
fail:
	if (node)
		ksmpp_node_free(node);
	if (item)
		ksmpp_item_discard(item);
	return err;
}

/*
 * A merged mapping outside its page's scope: unmerge it (or try again at
 * the next visit, if the process's mmap lock is busy).
 */
static void ksmpp_break_out_of_scope(struct ksmpp_mm *slot, unsigned long addr)
{
	if (ksmpp_break_mapping(slot, addr, slot))
		ksmpp_stats.scope_unmerges++;
}

/*
 * A KSM page mapped where ksmpp has no item for it: a child forked after
 * the merge, or a page swapped back in. If the page is ksmpp's, record the
 * mapping; or unmerge it, if it is outside the page's scope. A page kernel
 * KSM merged before it handed over has no scope: while merge_scope confines
 * merging, it is unmerged (ksmpp_unmerge_range()).
 */
static void ksmpp_adopt(struct ksmpp_mm *slot, unsigned long addr,
			struct page *page)
{
	struct folio *folio = page_folio(page);
	struct ksmpp_node *node = ksmpp_own_node(ksmpp_folio_stable_node(folio));
	struct ksmpp_item *item;
	struct folio *kfolio;

	if (!node) {
		if (READ_ONCE(ksmpp_merge_scope) != KSMPP_SCOPE_GLOBAL)
			ksmpp_break_out_of_scope(slot, addr);
		return;
	}
	if (node->scope != slot->scope) {
		ksmpp_break_out_of_scope(slot, addr);
		return;
	}
	if (node->stable.rmap_hlist_len >= READ_ONCE(ksmpp_max_page_sharing))
		return;
	item = ksmpp_item_alloc();
	if (!item)
		return;
	if (ksmpp_merge_one(slot, addr, page, page, item)) {
		ksmpp_item_discard(item);
		return;
	}
	kfolio = ksmpp_node_get_folio(node, true);
	if (kfolio == folio) {
		ksmpp_node_link(node, item);
		folio_unlock(kfolio);
		folio_put(kfolio);
		ksmpp_item_publish(item);
		return;
	}
	/* The page left the node meanwhile (it was being freed). */
	if (kfolio) {
		folio_unlock(kfolio);
		folio_put(kfolio);
	}
	xa_release(&slot->pages, addr >> PAGE_SHIFT);
	ksmpp_put_anon_vma(item->rmap.anon_vma);
	ksmpp_item_discard(item);
}

/* Merge @page into an identical merged page, if one can take it. */
static bool ksmpp_merge_with_stable(struct ksmpp_mm *slot, unsigned long addr,
				    struct page *page, u64 hash)
{
	struct ksmpp_node *node;
	struct hlist_node *tmp;
	struct folio *kfolio;
	bool identical;

	hlist_for_each_entry_safe(node, tmp, ksmpp_bucket(&ksmpp_stable_index, hash,
							  slot->scope), index) {
		/* KSM merges into no node without mappings, nor a full one. */
		if (node->hash != hash || node->scope != slot->scope ||
		    !node->stable.rmap_hlist_len ||
		    node->stable.rmap_hlist_len >= READ_ONCE(ksmpp_max_page_sharing))
			continue;
		kfolio = ksmpp_node_get_folio(node, true);
		if (!kfolio)
			continue;	/* stale: released */
		folio_unlock(kfolio);
		if (!ksmpp_numa_allows(page, folio_page(kfolio, 0))) {
			folio_put(kfolio);
			continue;
		}
		identical = ksmpp_pages_identical(page, folio_page(kfolio, 0));
		if (identical && !ksmpp_merge_into(node, kfolio, slot, addr, page)) {
			folio_put(kfolio);
			return true;
		}
		folio_put(kfolio);
		if (identical)
			return false;
	}
	return false;
}

/* xxh64 of an empty page. */
static u64 ksmpp_zero_hash;

/*
 * use_zero_pages: map the kernel's zero page in place of an empty page, as
 * KSM does, through the same try_to_merge_one_page() (which keeps the
 * kernel's ksm_zero_pages counts, where the kernel has them). No node and
 * no item: nothing of ksmpp's is left in the mapping, so unload has nothing
 * to undo there, and a write faults in a new page as for any zero page.
 */
static bool ksmpp_merge_with_zero(struct ksmpp_mm *slot, unsigned long addr,
				  struct page *page)
{
	struct vm_area_struct *vma;
	int err;

	if (!mmap_read_trylock(slot->mm))
		return false;
	err = ksmpp_merge_mapped(slot->mm, addr, page, ZERO_PAGE(addr), &vma);
	mmap_read_unlock(slot->mm);
	if (err)
		return false;
	xa_erase(&slot->pages, addr >> PAGE_SHIFT);
	ksmpp_stats.zero_merges++;
	return true;
}

/*
 * Unstable entries are what KSM's unstable rmap items are: they count in
 * the process's ksm_rmap_items (/proc/PID/ksm_stat), as ksmpp's items do.
 */
static void ksmpp_unstable_del(struct ksmpp_unstable *entry)
{
	struct ksmpp_mm *owner = entry->owner;

	ksmpp_index_del(&ksmpp_unstable_index, &entry->index);
	kmem_cache_free(ksmpp_unstable_cache, entry);
	WRITE_ONCE(owner->mm->ksm_rmap_items, owner->mm->ksm_rmap_items - 1);
	ksmpp_stats.metadata_bytes -= sizeof(*entry);
	ksmpp_stats.pages_unshared--;
	if (!--owner->unstable_entries && ksmpp_mm_unregistered(owner))
		ksmpp_mm_free(owner);
}

static unsigned long ksmpp_unstable_address(const struct ksmpp_unstable *entry)
{
	return entry->address & PAGE_MASK;
}

static void ksmpp_unstable_add(struct ksmpp_mm *slot, unsigned long addr,
			       u64 hash, bool hinted)
{
	struct ksmpp_unstable *entry;

	entry = kmem_cache_alloc(ksmpp_unstable_cache, GFP_KERNEL);
	if (!entry)
		return;
	ksmpp_stats.metadata_bytes += sizeof(*entry);
	WRITE_ONCE(slot->mm->ksm_rmap_items, slot->mm->ksm_rmap_items + 1);
	entry->owner = slot;
	entry->address = addr | (hinted ? KSMPP_UNSTABLE_KEEP : 0);
	entry->hash = hash;
	ksmpp_index_add(&ksmpp_unstable_index, &entry->index,
			ksmpp_content_key(hash, slot->scope));
	slot->unstable_entries++;
	ksmpp_stats.pages_unshared++;
}

/*
 * Merge @page with an identical page of the unstable index, or add it
 * there. KSM's way: the first identical page found is the one tried.
 */
static void ksmpp_merge_with_unstable(struct ksmpp_mm *slot, unsigned long addr,
				      struct page *page, u64 hash, bool hinted)
{
	struct ksmpp_unstable *entry, *self = NULL;
	struct hlist_node *tmp;
	struct page *other;
	int err;

	hlist_for_each_entry_safe(entry, tmp, ksmpp_bucket(&ksmpp_unstable_index, hash,
							   slot->scope), index) {
		/* Its owner's scope may have changed since it was added. */
		if (entry->hash != hash || entry->owner->scope != slot->scope)
			continue;
		if (ksmpp_mm_unregistered(entry->owner)) {
			ksmpp_unstable_del(entry);
			continue;
		}
		if (entry->owner == slot && ksmpp_unstable_address(entry) == addr) {
			self = entry;
			continue;
		}
		other = ksmpp_get_mapped_page(entry->owner, ksmpp_unstable_address(entry));
		if (!other)
			continue;	/* gone (dropped at the pass end) or busy */
		/* The same page mapped twice (a fork not yet written to). */
		if (other == page || folio_test_ksm(page_folio(other)) ||
		    !ksmpp_numa_allows(page, other) ||
		    !ksmpp_pages_identical(page, other)) {
			put_page(other);
			continue;
		}
		err = ksmpp_merge_pair(entry->owner, ksmpp_unstable_address(entry),
				       other, slot, addr, page);
		put_page(other);
		if (!err) {
			ksmpp_unstable_del(entry);
			if (self)
				ksmpp_unstable_del(self);
		}
		return;
	}
	if (!self)
		ksmpp_unstable_add(slot, addr, hash, hinted);
	else if (hinted)
		self->address |= KSMPP_UNSTABLE_KEEP;	/* read again */
}

/**
 * ksmpp_cmp_and_merge_page - the scanner's visit of one page
 * @slot: the process mapping it
 * @addr: where
 * @page: the anonymous page mapped there, referenced by the caller
 * @hinted: file I/O just filled it: index it without a second visit
 */
void ksmpp_cmp_and_merge_page(struct ksmpp_mm *slot, unsigned long addr,
			      struct page *page, bool hinted)
{
	void *entry = xa_load(&slot->pages, addr >> PAGE_SHIFT);
	u64 hash;

	ksmpp_stats.pages_scanned++;
	if (entry && !xa_is_value(entry)) {
		struct ksmpp_item *item = entry;

		if (ksmpp_folio_stable_node(page_folio(page)) == item->rmap.head) {
			/* Still merged; in its scope, unless that changed. */
			if (container_of(item->rmap.head, struct ksmpp_node,
					 stable)->scope != slot->scope)
				ksmpp_break_out_of_scope(slot, addr);
			return;
		}
		/* Written to (COW), unmerged or remapped since. */
		ksmpp_item_remove(item);
		ksmpp_stats.cow_breaks++;
		entry = NULL;
	}

	if (folio_test_ksm(page_folio(page))) {
		ksmpp_adopt(slot, addr, page);
		return;
	}
	hash = ksmpp_page_hash(page);
	/*
	 * Empty and unchanged since the last visit (or hinted): the zero
	 * page, before any stable page, as KSM of 6.12 on.
	 */
	if (READ_ONCE(ksmpp_use_zero_pages) && hash == ksmpp_zero_hash &&
	    (hinted || ksmpp_entry_has_hash(entry, hash)) &&
	    ksmpp_merge_with_zero(slot, addr, page))
		return;
	if (ksmpp_merge_with_stable(slot, addr, page, hash))
		return;
	if (!ksmpp_entry_has_hash(entry, hash)) {
		/* The page keeps its age, as KSM's rmap item keeps it. */
		unsigned long v = entry ? xa_to_value(entry) : 0;

		xa_store(&slot->pages, addr >> PAGE_SHIFT,
			 ksmpp_hash_entry(hash >> 9, KSMPP_ENTRY_AGE(v), KSMPP_ENTRY_SKIPS(v)),
			 GFP_KERNEL);
		/* New or changed since the last visit: volatile for now. */
		if (!hinted) {
			if (entry)
				ksmpp_pass_volatile++;
			return;
		}
	}
	ksmpp_merge_with_unstable(slot, addr, page, hash, hinted);
}

/* Forget what is known of @slot's pages in [@start, @end). */
void ksmpp_forget_range(struct ksmpp_mm *slot, unsigned long start,
			unsigned long end)
{
	unsigned long index;
	void *entry;

	if (end <= start)
		return;
	xa_for_each_range(&slot->pages, index, entry, start >> PAGE_SHIFT,
			  (end - 1) >> PAGE_SHIFT) {
		if (xa_is_value(entry))
			xa_erase(&slot->pages, index);
		else
			ksmpp_item_remove(entry);
	}
}

/*
 * Empty the unstable index, at the end of a pass (@pass_end: but the
 * entries hinted since the last pass end, kept once) or when everything is
 * forgotten.
 */
void ksmpp_unstable_reset(bool pass_end)
{
	struct ksmpp_unstable *entry;
	struct hlist_node *tmp;
	unsigned long i;

	for (i = 0; i < ksmpp_index_size(&ksmpp_unstable_index); i++)
		hlist_for_each_entry_safe(entry, tmp, &ksmpp_unstable_index.buckets[i], index) {
			if (pass_end && (entry->address & KSMPP_UNSTABLE_KEEP) &&
			    !ksmpp_mm_unregistered(entry->owner))
				entry->address &= ~KSMPP_UNSTABLE_KEEP;
			else
				ksmpp_unstable_del(entry);
		}
	ksmpp_stats.pages_volatile = ksmpp_pass_volatile;
	ksmpp_pass_volatile = 0;
}

/* Count @bytes more (or fewer) of index buckets, in metadata_bytes too. */
void ksmpp_count_index_bytes(long bytes)
{
	ksmpp_stats.metadata_bytes += bytes;
	ksmpp_stats.index_buckets += bytes / (long)sizeof(struct hlist_head);
}

/* Resize the indexes (and the node table) to what they hold (index.c). */
void ksmpp_fit_indexes(void)
{
	ksmpp_count_index_bytes(ksmpp_index_fit(&ksmpp_stable_index) +
				ksmpp_index_fit(&ksmpp_unstable_index));
	ksmpp_stable_fit();
}

int ksmpp_merge_init(void)
{
	int err = ksmpp_stable_init();

	if (err)
		return err;
	err = ksmpp_index_init(&ksmpp_stable_index, ksmpp_stable_key) ?:
	      ksmpp_index_init(&ksmpp_unstable_index, ksmpp_unstable_key);
	ksmpp_unstable_cache = KMEM_CACHE(ksmpp_unstable, 0);
	if (err || !ksmpp_unstable_cache) {
		ksmpp_merge_exit();
		return -ENOMEM;
	}
	ksmpp_count_index_bytes(ksmpp_index_bytes(&ksmpp_stable_index) +
				ksmpp_index_bytes(&ksmpp_unstable_index));
	ksmpp_zero_hash = ksmpp_page_hash(ZERO_PAGE(0));
	return 0;
}

/* Every node must have been released or handed over (stable.c). */
void ksmpp_merge_exit(void)
{
	kmem_cache_destroy(ksmpp_unstable_cache);
	ksmpp_index_destroy(&ksmpp_unstable_index);
	ksmpp_index_destroy(&ksmpp_stable_index);
	ksmpp_stable_exit();
}
