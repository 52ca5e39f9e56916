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
 *    visits in a row (struct ksmpp_unstable). It is emptied after every full
 *    pass, since such pages may change at any time.
 *
 * A visited page is first looked up in the stable index; failing that, if
 * its hash equals the one remembered from its previous visit, in the
 * unstable index, where it is either merged with an identical page or added.
 *
 * The merge itself is the kernel's own try_to_merge_one_page(): it write-
 * protects the page, checks that nothing else (GUP, O_DIRECT) holds it, and
 * replaces the mapping. The first page of a pair becomes a KSM page; ksmpp
 * then gives it a stable node laid out as mm/ksm.c's, and one rmap item per
 * mapping, each holding a reference on its VMA's anon_vma. From then on the
 * kernel treats the page as KSM's: its rmap walk finds every mapping for
 * swap-out, migration and memory failure, and a write faults in a private
 * copy. A node's item list is changed only under the page's lock, which the
 * kernel's readers of it hold too.
 *
 * A node is stale once its page has been freed (the page no longer points
 * back at it, as in KSM's ksm_get_folio()): its items are then released.
 * Pages that ksmpp did not merge - KSM pages of kernel KSM among them - are
 * never touched: ownership of a KSM page is decided by finding its node in
 * the stable index.
 *
 * Everything here runs under ksmpp_lock, from the scanner thread or from
 * an unmerge; the lock order is ksmpp_lock, mmap lock, page lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/xxhash.h>

#include "ksmpp.h"
#include "trace.h"

/* A page that kept its content for a full pass, not merged yet. */
struct ksmpp_unstable {
	struct hlist_node index;	/* in the unstable index */
	struct hlist_node owner_link;	/* in owner->unstable */
	struct ksmpp_mm *owner;		/* the process mapping it */
	unsigned long address;		/* where */
	u64 hash;			/* its content's xxh64 */
};

static struct kmem_cache *ksmpp_node_cache;
static struct kmem_cache *ksmpp_item_cache;
static struct kmem_cache *ksmpp_unstable_cache;
static struct hlist_head *ksmpp_stable_index;
static struct hlist_head *ksmpp_unstable_index;
static unsigned long ksmpp_index_mask;
/* Pages found changed in the pass under way. */
static unsigned long ksmpp_pass_volatile;

static struct hlist_head *ksmpp_bucket(struct hlist_head *index, u64 hash)
{
	return &index[hash & ksmpp_index_mask];
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

/* What the xarray remembers of a page that is not merged: its hash. */
static void *ksmpp_hash_entry(u64 hash)
{
	return xa_mk_value(hash >> 1);
}

static void ksmpp_account(long bytes)
{
	ksmpp_stats.metadata_bytes += bytes;
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

/*
 * The folio of @node, with a reference; NULL once the page is gone. A
 * migration moves kpfn before the old folio lets go of the node, so a
 * changed kpfn means "look again".
 */
static struct folio *ksmpp_node_folio(struct ksmpp_node *node)
{
	struct folio *folio;
	unsigned long kpfn;

again:
	kpfn = READ_ONCE(node->stable.kpfn);
	folio = pfn_folio(kpfn);
	if (ksmpp_folio_stable_node(folio) != &node->stable)
		goto stale;
	if (!folio_try_get(folio))
		goto stale;
	if (ksmpp_folio_stable_node(folio) != &node->stable) {
		folio_put(folio);
		goto stale;
	}
	return folio;
stale:
	smp_rmb();	/* kpfn after mapping; pairs with folio_migrate_ksm() */
	if (READ_ONCE(node->stable.kpfn) != kpfn)
		goto again;
	return NULL;
}

/* Link @item to @node; the node's folio is locked. */
static void ksmpp_node_add_item(struct ksmpp_node *node,
				struct ksmpp_item *item)
{
	if (hlist_empty(&node->stable.hlist))
		ksmpp_stats.pages_shared++;
	else
		ksmpp_stats.pages_sharing++;
	item->rmap.head = &node->stable;
	hlist_add_head(&item->rmap.hlist, &node->stable.hlist);
	node->stable.rmap_hlist_len++;
}

/* Record a linked item with its owner (after the folio is unlocked). */
static void ksmpp_item_publish(struct ksmpp_item *item)
{
	struct mm_struct *mm = item->owner->mm;

	xa_store(&item->owner->pages, item->rmap.address >> PAGE_SHIFT, item,
		 GFP_KERNEL);
	WRITE_ONCE(mm->ksm_merging_pages, mm->ksm_merging_pages + 1);
	ksmpp_stats.merges++;
	trace_ksmpp_merge(mm, item->rmap.address & PAGE_MASK,
			  READ_ONCE(item->rmap.head->kpfn));
}

/* Unlink @item from its node; the node's folio is locked, or gone. */
static void ksmpp_item_unlink(struct ksmpp_item *item)
{
	struct ksm_stable_node *stable = item->rmap.head;

	hlist_del(&item->rmap.hlist);
	stable->rmap_hlist_len--;
	if (hlist_empty(&stable->hlist))
		ksmpp_stats.pages_shared--;
	else
		ksmpp_stats.pages_sharing--;
}

/* Free an unlinked item. May sleep (anon_vma release). */
static void ksmpp_item_free(struct ksmpp_item *item)
{
	struct ksmpp_mm *owner = item->owner;
	unsigned long index = item->rmap.address >> PAGE_SHIFT;

	xa_cmpxchg(&owner->pages, index, item, NULL, 0);
	WRITE_ONCE(owner->mm->ksm_merging_pages, owner->mm->ksm_merging_pages - 1);
	ksmpp_put_anon_vma(item->rmap.anon_vma);
	kmem_cache_free(ksmpp_item_cache, item);
	ksmpp_account(-(long)sizeof(*item));
}

static struct ksmpp_item *ksmpp_item_alloc(void)
{
	struct ksmpp_item *item = kmem_cache_zalloc(ksmpp_item_cache, GFP_KERNEL);

	if (item)
		ksmpp_account(sizeof(*item));
	return item;
}

/* Drop a merged mapping's item: the mapping was replaced or is going. */
static void ksmpp_item_remove(struct ksmpp_item *item)
{
	struct ksmpp_node *node = container_of(item->rmap.head,
					       struct ksmpp_node, stable);
	struct folio *folio = ksmpp_node_folio(node);

	if (folio)
		folio_lock(folio);
	ksmpp_item_unlink(item);
	if (folio) {
		folio_unlock(folio);
		folio_put(folio);
	}
	ksmpp_item_free(item);
}

/* Free a node that has no items left; its folio is locked, or gone. */
static void ksmpp_node_free(struct ksmpp_node *node)
{
	hlist_del(&node->index);
	kmem_cache_free(ksmpp_node_cache, node);
	ksmpp_account(-(long)sizeof(*node));
}

/*
 * Release a node, with its items: its page is gone, or locked and no
 * longer mapped.
 */
static void ksmpp_node_reclaim(struct ksmpp_node *node)
{
	struct ksm_rmap_item *rmap;
	struct hlist_node *tmp;
	unsigned long n = 0;

	hlist_for_each_entry_safe(rmap, tmp, &node->stable.hlist, hlist) {
		struct ksmpp_item *item = container_of(rmap, struct ksmpp_item, rmap);

		ksmpp_item_unlink(item);
		ksmpp_item_free(item);
		n++;
	}
	ksmpp_node_free(node);
	ksmpp_stats.stale_reclaimed += n + 1;
}

/*
 * Merge the page @slot maps at @addr into @kpage (NULL: make the page itself
 * a KSM page, with no node yet; @kpage == @page: a forked KSM page, nothing
 * to replace). On success fills @item for the mapping and returns 0.
 * Try-locks the mmap lock (-EBUSY if taken); the page is checked to be
 * still mapped at @addr.
 */
static int ksmpp_merge_one(struct ksmpp_mm *slot, unsigned long addr,
			   struct page *page, struct page *kpage,
			   struct ksmpp_item *item)
{
	struct mm_struct *mm = slot->mm;
	struct vm_area_struct *vma;
	struct page *mapped = NULL;
	int err = -EFAULT;

	if (!mmap_read_trylock(mm))
		return -EBUSY;
	vma = ksmpp_mergeable_vma(mm, addr);
	if (vma)
		mapped = ksmpp_get_anon_page(vma, addr);
	/*
	 * Only its identity was needed: the merge checks that the caller's
	 * is the one reference beyond the mappings.
	 */
	if (mapped)
		put_page(mapped);
	if (mapped == page)
		err = static_call(ksmpp_try_to_merge_one_page)(vma, page, kpage);
	if (!err) {
		ksmpp_get_anon_vma(vma->anon_vma);
		item->rmap.anon_vma = vma->anon_vma;
		item->rmap.mm = mm;
		item->rmap.address = addr | KSM_STABLE_FLAG;
#ifdef KSMPP_RMAP_ITEM_HAS_LINEAR_INDEX
		item->rmap.linear_page_index = linear_anon_page_index(vma, addr);
#endif
		item->owner = slot;
	}
	mmap_read_unlock(mm);
	return err;
}

/* Merge the page at @addr of @slot into @node's page @kfolio. */
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
		kmem_cache_free(ksmpp_item_cache, item);
		ksmpp_account(-(long)sizeof(*item));
		return err;
	}
	/* Our reference on kfolio keeps it, and its node, from migrating. */
	folio_lock(kfolio);
	ksmpp_node_add_item(node, item);
	folio_unlock(kfolio);
	ksmpp_item_publish(item);
	return 0;
}

/* Undo a merge of @slot's mapping at @addr: fault in a private copy. */
static void ksmpp_break_mapping(struct ksmpp_mm *slot, unsigned long addr)
{
	struct vm_area_struct *vma;

	mmap_read_lock(slot->mm);
	vma = ksmpp_mergeable_vma(slot->mm, addr);
	if (vma)
		ksmpp_unmerge_range(vma, addr, addr + PAGE_SIZE, false);
	mmap_read_unlock(slot->mm);
}

/*
 * Merge two identical unmerged pages into a new KSM page: @a becomes the
 * shared page, with a new node, and @b is merged into it.
 */
static int ksmpp_merge_pair(u64 hash, struct ksmpp_mm *a_slot,
			    unsigned long a_addr, struct page *a,
			    struct ksmpp_mm *b_slot, unsigned long b_addr,
			    struct page *b)
{
	struct ksmpp_node *node;
	struct ksmpp_item *item;
	struct folio *folio;
	int err = -ENOMEM;

	node = kmem_cache_zalloc(ksmpp_node_cache, GFP_KERNEL);
	item = ksmpp_item_alloc();
	if (!node || !item)
		goto fail;
	ksmpp_account(sizeof(*node));
	err = ksmpp_merge_one(a_slot, a_addr, a, NULL, item);
	if (err)
		goto fail;

	/*
	 * @a is a KSM page now, with no node: give it ours at once. Its folio
	 * only now: a huge page was split by the merge.
	 */
	folio = page_folio(a);
	folio_lock(folio);
	node->hash = hash;
	node->stable.kpfn = folio_pfn(folio);
	INIT_HLIST_HEAD(&node->stable.hlist);
	ksmpp_node_add_item(node, item);
	smp_wmb();	/* node complete before it is reachable from the page */
	ksmpp_folio_set_stable_node(folio, &node->stable);
	folio_unlock(folio);
	ksmpp_item_publish(item);
	hlist_add_head(&node->index, ksmpp_bucket(ksmpp_stable_index, hash));

	err = ksmpp_merge_into(node, folio, b_slot, b_addr, b);
	if (err) {
		/* A KSM page with one mapping saves nothing: undo it. */
		ksmpp_break_mapping(a_slot, a_addr);
		ksmpp_item_remove(item);
	}
	return err;
fail:
	if (node) {
		kmem_cache_free(ksmpp_node_cache, node);
		ksmpp_account(-(long)sizeof(*node));
	}
	if (item) {
		kmem_cache_free(ksmpp_item_cache, item);
		ksmpp_account(-(long)sizeof(*item));
	}
	return err;
}

/* ksmpp's node of KSM page @page (content @hash), or NULL if not ours. */
static struct ksmpp_node *ksmpp_own_node(struct page *page, u64 hash)
{
	struct ksm_stable_node *stable = ksmpp_folio_stable_node(page_folio(page));
	struct ksmpp_node *node;

	hlist_for_each_entry(node, ksmpp_bucket(ksmpp_stable_index, hash), index)
		if (&node->stable == stable)
			return node;
	return NULL;
}

/*
 * A KSM page mapped where ksmpp has no item for it: a child forked after
 * the merge. If the page is ksmpp's, record the mapping.
 */
static void ksmpp_adopt(struct ksmpp_mm *slot, unsigned long addr,
			struct page *page, u64 hash)
{
	struct ksmpp_node *node = ksmpp_own_node(page, hash);
	struct folio *folio = page_folio(page);
	struct ksmpp_item *item;

	if (!node || node->stable.rmap_hlist_len >= READ_ONCE(ksmpp_max_page_sharing))
		return;
	if (xa_reserve(&slot->pages, addr >> PAGE_SHIFT, GFP_KERNEL))
		return;
	item = ksmpp_item_alloc();
	if (!item)
		return;
	if (ksmpp_merge_one(slot, addr, page, page, item)) {
		kmem_cache_free(ksmpp_item_cache, item);
		ksmpp_account(-(long)sizeof(*item));
		return;
	}
	folio_lock(folio);
	if (ksmpp_folio_stable_node(folio) == &node->stable) {
		ksmpp_node_add_item(node, item);
		folio_unlock(folio);
		ksmpp_item_publish(item);
		return;
	}
	folio_unlock(folio);
	ksmpp_put_anon_vma(item->rmap.anon_vma);
	kmem_cache_free(ksmpp_item_cache, item);
	ksmpp_account(-(long)sizeof(*item));
}

/* Merge @page into an identical merged page, if one can take it. */
static bool ksmpp_merge_with_stable(struct ksmpp_mm *slot, unsigned long addr,
				    struct page *page, u64 hash)
{
	struct ksmpp_node *node;
	struct hlist_node *tmp;
	struct folio *kfolio;
	int err;

	hlist_for_each_entry_safe(node, tmp, ksmpp_bucket(ksmpp_stable_index, hash), index) {
		if (node->hash != hash)
			continue;
		kfolio = ksmpp_node_folio(node);
		if (!kfolio) {
			ksmpp_node_reclaim(node);
			continue;
		}
		if (node->stable.rmap_hlist_len < READ_ONCE(ksmpp_max_page_sharing) &&
		    ksmpp_pages_identical(page, folio_page(kfolio, 0))) {
			err = ksmpp_merge_into(node, kfolio, slot, addr, page);
			folio_put(kfolio);
			return !err;
		}
		folio_put(kfolio);
	}
	return false;
}

static void ksmpp_unstable_del(struct ksmpp_unstable *entry)
{
	hlist_del(&entry->index);
	hlist_del(&entry->owner_link);
	kmem_cache_free(ksmpp_unstable_cache, entry);
	ksmpp_account(-(long)sizeof(*entry));
	ksmpp_stats.pages_unshared--;
}

static void ksmpp_unstable_add(struct ksmpp_mm *slot, unsigned long addr,
			       u64 hash)
{
	struct ksmpp_unstable *entry;

	entry = kmem_cache_alloc(ksmpp_unstable_cache, GFP_KERNEL);
	if (!entry)
		return;
	ksmpp_account(sizeof(*entry));
	entry->owner = slot;
	entry->address = addr;
	entry->hash = hash;
	hlist_add_head(&entry->index, ksmpp_bucket(ksmpp_unstable_index, hash));
	hlist_add_head(&entry->owner_link, &slot->unstable);
	ksmpp_stats.pages_unshared++;
}

/*
 * Merge @page with an identical page of the unstable index, or add it
 * there. KSM's way: the first identical page found is the one tried.
 */
static void ksmpp_merge_with_unstable(struct ksmpp_mm *slot, unsigned long addr,
				      struct page *page, u64 hash)
{
	struct ksmpp_unstable *entry, *self = NULL;
	struct hlist_node *tmp;
	struct page *other;
	int err;

	hlist_for_each_entry_safe(entry, tmp, ksmpp_bucket(ksmpp_unstable_index, hash), index) {
		if (entry->hash != hash)
			continue;
		if (entry->owner == slot && entry->address == addr) {
			self = entry;
			continue;
		}
		other = ksmpp_get_mapped_page(entry->owner, entry->address);
		if (!other)
			continue;	/* gone (dropped at the pass end) or busy */
		/* The same page mapped twice (a fork not yet written to). */
		if (other == page || folio_test_ksm(page_folio(other)) ||
		    !ksmpp_pages_identical(page, other)) {
			put_page(other);
			continue;
		}
		err = ksmpp_merge_pair(hash, entry->owner, entry->address, other,
				       slot, addr, page);
		put_page(other);
		if (!err) {
			ksmpp_unstable_del(entry);
			if (self)
				ksmpp_unstable_del(self);
		}
		return;
	}
	if (!self)
		ksmpp_unstable_add(slot, addr, hash);
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

		if (ksmpp_folio_stable_node(page_folio(page)) == item->rmap.head)
			return;		/* still merged */
		/* Written to (COW), unmerged or remapped since. */
		ksmpp_item_remove(item);
		ksmpp_stats.cow_breaks++;
		entry = NULL;
	}

	hash = ksmpp_page_hash(page);
	if (folio_test_ksm(page_folio(page))) {
		ksmpp_adopt(slot, addr, page, hash);
		return;
	}
	if (ksmpp_merge_with_stable(slot, addr, page, hash))
		return;
	if (entry != ksmpp_hash_entry(hash)) {
		xa_store(&slot->pages, addr >> PAGE_SHIFT, ksmpp_hash_entry(hash),
			 GFP_KERNEL);
		/* New or changed since the last visit: volatile for now. */
		if (!hinted) {
			if (entry)
				ksmpp_pass_volatile++;
			return;
		}
	}
	ksmpp_merge_with_unstable(slot, addr, page, hash);
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

/* Forget everything about @slot (it is going away). */
void ksmpp_forget_mm(struct ksmpp_mm *slot)
{
	struct ksmpp_unstable *entry;
	struct hlist_node *tmp;

	ksmpp_forget_range(slot, 0, ULONG_MAX);
	hlist_for_each_entry_safe(entry, tmp, &slot->unstable, owner_link)
		ksmpp_unstable_del(entry);
}

/* Empty the unstable index: the end of a pass. */
void ksmpp_unstable_reset(void)
{
	struct ksmpp_unstable *entry;
	struct hlist_node *tmp;
	unsigned long i;

	for (i = 0; i <= ksmpp_index_mask; i++)
		hlist_for_each_entry_safe(entry, tmp, &ksmpp_unstable_index[i], index)
			ksmpp_unstable_del(entry);
	ksmpp_stats.pages_volatile = ksmpp_pass_volatile;
	ksmpp_pass_volatile = 0;
}

/* Release the nodes (and items) of pages that are gone. */
void ksmpp_reclaim_stale(void)
{
	struct ksmpp_node *node;
	struct hlist_node *tmp;
	struct folio *folio;
	unsigned long i;

	for (i = 0; i <= ksmpp_index_mask; i++) {
		hlist_for_each_entry_safe(node, tmp, &ksmpp_stable_index[i], index) {
			folio = ksmpp_node_folio(node);
			if (folio)
				folio_put(folio);
			else
				ksmpp_node_reclaim(node);
		}
		cond_resched();
	}
}

/**
 * ksmpp_unmerge_range - replace ksmpp's merged pages by private copies
 * @vma: a mergeable VMA, its mmap lock held for read
 * @start: first address
 * @end: end of the range
 * @interruptible: give up (-EINTR) when a signal is pending
 *
 * Pages merged by kernel KSM are left alone.
 */
int ksmpp_unmerge_range(struct vm_area_struct *vma, unsigned long start,
			unsigned long end, bool interruptible)
{
	unsigned long addr;
	struct page *page;
	vm_fault_t ret;
	bool ours;

	for (addr = start; addr < end; addr += PAGE_SIZE) {
		for (;;) {
			page = ksmpp_get_anon_page(vma, addr);
			if (!page)
				break;
			ours = folio_test_ksm(page_folio(page)) &&
			       ksmpp_own_node(page, ksmpp_page_hash(page));
			if (ours)
				trace_ksmpp_unmerge(vma->vm_mm, addr, page_to_pfn(page));
			put_page(page);
			if (!ours)
				break;
			ret = handle_mm_fault(vma, addr, KSMPP_UNMERGE_FAULT, NULL);
			if (ret & (VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | VM_FAULT_OOM))
				break;
			cond_resched();
		}
		if (interruptible && signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

/*
 * After every mapping was unmerged: free each node whose page no longer
 * has a mapping (a page still in the swap cache keeps its KSM flag with no
 * node, as kernel KSM leaves it; swap-in then copies it). Returns how many
 * nodes still have mapped pages and were kept.
 */
int ksmpp_release_nodes(void)
{
	struct ksmpp_node *node;
	struct hlist_node *tmp;
	struct folio *folio;
	unsigned long i;
	int busy = 0;

	for (i = 0; i <= ksmpp_index_mask; i++) {
		hlist_for_each_entry_safe(node, tmp, &ksmpp_stable_index[i], index) {
			folio = ksmpp_node_folio(node);
			if (!folio) {
				ksmpp_node_reclaim(node);
				continue;
			}
			folio_lock(folio);
			if (folio_mapped(folio)) {
				busy++;
			} else {
				ksmpp_folio_set_stable_node(folio, NULL);
				ksmpp_node_reclaim(node);
			}
			folio_unlock(folio);
			folio_put(folio);
		}
		cond_resched();
	}
	return busy;
}

int ksmpp_merge_init(void)
{
	unsigned long buckets;

	/* About one bucket per 32 pages of RAM, for each index. */
	buckets = clamp_t(unsigned long, roundup_pow_of_two(totalram_pages() / 32),
			  1024, 1UL << 20);
	ksmpp_index_mask = buckets - 1;
	ksmpp_stable_index = kvcalloc(buckets, sizeof(struct hlist_head), GFP_KERNEL);
	ksmpp_unstable_index = kvcalloc(buckets, sizeof(struct hlist_head), GFP_KERNEL);
	ksmpp_node_cache = KMEM_CACHE(ksmpp_node, 0);
	ksmpp_item_cache = KMEM_CACHE(ksmpp_item, 0);
	ksmpp_unstable_cache = KMEM_CACHE(ksmpp_unstable, 0);
	if (!ksmpp_stable_index || !ksmpp_unstable_index || !ksmpp_node_cache ||
	    !ksmpp_item_cache || !ksmpp_unstable_cache) {
		ksmpp_merge_exit();
		return -ENOMEM;
	}
	ksmpp_account(2 * buckets * sizeof(struct hlist_head));
	return 0;
}

/* Everything must have been released (ksmpp_release_nodes() returned 0). */
void ksmpp_merge_exit(void)
{
	kmem_cache_destroy(ksmpp_unstable_cache);
	kmem_cache_destroy(ksmpp_item_cache);
	kmem_cache_destroy(ksmpp_node_cache);
	kvfree(ksmpp_unstable_index);
	kvfree(ksmpp_stable_index);
}
