// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: stable nodes and rmap items, the kernel's view of merged pages.
 *
 * DOC: Stable nodes
 *
 * A page ksmpp merged is a genuine KSM page: its folio->mapping points at a
 * struct ksm_stable_node laid out as mm/ksm.c's, and the node lists one
 * struct ksm_rmap_item per mapping ksmpp made. The kernel reads them as its
 * own: the rmap walk (swap-out, migration, memory failure) under the folio
 * lock, folio_migrate_ksm() to move kpfn along with the page (under the
 * locks of both folios), ksm_might_need_to_copy() without a lock. So ksmpp
 * changes a node's item list only under the lock of the folio the node
 * belongs to at that moment, which ksmpp_node_get_folio() finds and locks
 * as mm/ksm.c's ksm_get_folio() does.
 *
 * Ownership: a KSM page is ksmpp's if its node is one that ksmpp
 * allocated, found by address in the node table; never by content, which
 * may have changed between a comparison and the write protection. Pages of
 * kernel KSM are never touched.
 *
 * A node goes once its page is freed (stale, as ksm_get_folio() sees it).
 * On unload every mapping is unmerged first (ksmpp_unmerge_range()), then
 * the nodes are released. A page that could not be unmerged in bounded time
 * (its memory cgroup is full, say) must not be left pointing into memory
 * that goes with the module: ksmpp_hand_over_nodes() moves its node and
 * items into memory of kernel KSM's kind, where they stay valid.
 *
 * Everything here runs under ksmpp_lock; the lock order is ksmpp_lock,
 * mmap lock, folio lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hash.h>
#include <linux/kmemleak.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "ksmpp.h"
#include "trace.h"

static struct kmem_cache *ksmpp_node_cache;
static struct kmem_cache *ksmpp_item_cache;
/* Every node ksmpp allocated, by address. */
static struct ksmpp_index ksmpp_node_table;

static u64 ksmpp_node_table_key(const struct hlist_node *entry)
{
	return (unsigned long)&hlist_entry(entry, struct ksmpp_node, table)->stable;
}

/* ksmpp's node behind the kernel stable node @stable, NULL if not ours. */
struct ksmpp_node *ksmpp_own_node(const struct ksm_stable_node *stable)
{
	struct ksmpp_node *node;

	if (!stable)
		return NULL;
	hlist_for_each_entry(node, ksmpp_index_bucket(&ksmpp_node_table, (unsigned long)stable),
			     table)
		if (&node->stable == stable)
			return node;
	return NULL;
}

struct ksmpp_node *ksmpp_node_alloc(void)
{
	struct ksmpp_node *node = kmem_cache_zalloc(ksmpp_node_cache, GFP_KERNEL);

	if (!node)
		return NULL;
	INIT_HLIST_NODE(&node->index);
	ksmpp_index_add(&ksmpp_node_table, &node->table, (unsigned long)&node->stable);
	ksmpp_stats.metadata_bytes += sizeof(*node);
	return node;
}

/* Free a node that no page points to and no item is linked to. */
void ksmpp_node_free(struct ksmpp_node *node)
{
	ksmpp_index_del(&ksmpp_node_table, &node->table);
	ksmpp_stable_index_del(node);
	kmem_cache_free(ksmpp_node_cache, node);
	ksmpp_stats.metadata_bytes -= sizeof(*node);
}

struct ksmpp_item *ksmpp_item_alloc(void)
{
	struct ksmpp_item *item = kmem_cache_zalloc(ksmpp_item_cache, GFP_KERNEL);

	if (item)
		ksmpp_stats.metadata_bytes += sizeof(*item);
	return item;
}

/* Free an item that never made it onto a node (no anon_vma reference). */
void ksmpp_item_discard(struct ksmpp_item *item)
{
	kmem_cache_free(ksmpp_item_cache, item);
	ksmpp_stats.metadata_bytes -= sizeof(*item);
}

/* Unlink @item from its node; the node's folio is locked, or freed. */
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
	struct ksmpp_mm *owner = item->rmap.owner;
	struct mm_struct *mm = owner->mm;

	xa_cmpxchg(&owner->pages, item->rmap.address >> PAGE_SHIFT, item, NULL, 0);
	WRITE_ONCE(mm->ksm_merging_pages, mm->ksm_merging_pages - 1);
	WRITE_ONCE(mm->ksm_rmap_items, mm->ksm_rmap_items - 1);
	ksmpp_put_anon_vma(item->rmap.anon_vma);
	ksmpp_item_discard(item);
}

/* Release a node and its items: its page is gone, or locked and unmapped. */
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

/**
 * ksmpp_node_get_folio - the folio of a node, as mm/ksm.c's ksm_get_folio()
 * @node: a node of ksmpp's
 * @lock: also lock the folio
 *
 * Returns the folio, referenced (and locked with @lock); once its page has
 * been freed the node is stale: it is released, with its items, and NULL
 * is returned (@node must not be used after that).
 */
struct folio *ksmpp_node_get_folio(struct ksmpp_node *node, bool lock)
{
	void *expected = (void *)((unsigned long)&node->stable | KSMPP_MAPPING_KSM);
	struct folio *folio;
	unsigned long kpfn;

again:
	kpfn = READ_ONCE(node->stable.kpfn);
	folio = pfn_folio(kpfn);
	if (READ_ONCE(folio->mapping) != expected)
		goto stale;
	/*
	 * A zero refcount is a freed page, or a frozen one: frozen by
	 * __remove_mapping() it is going (stale), but frozen in the swap cache
	 * by folio_migrate_mapping() it is still this node's page and is about
	 * to move. As ksm_get_folio(), spin while it is in the swap cache:
	 * __remove_mapping() clears the flag inside its frozen section.
	 */
	while (!folio_try_get(folio)) {
		if (!folio_test_swapcache(folio))
			goto stale;
		cpu_relax();
	}
	if (READ_ONCE(folio->mapping) != expected)
		goto stale_put;
	if (lock) {
		folio_lock(folio);
		/*
		 * ksm_get_folio() checks mapping again; ksmpp checks kpfn too.
		 * A migration that passed its refcount check before our
		 * folio_try_get() moved the node to the new folio while we
		 * waited for the lock (the old folio keeps its mapping until it
		 * is freed). Once we hold the lock of the folio at kpfn the node
		 * cannot move: migration takes that lock first.
		 */
		if (READ_ONCE(folio->mapping) != expected ||
		    READ_ONCE(node->stable.kpfn) != kpfn) {
			folio_unlock(folio);
			goto stale_put;
		}
	}
	return folio;

stale_put:
	folio_put(folio);
stale:
	/* It may be under migration: kpfn after mapping, as ksm_get_folio(). */
	smp_rmb();	/* pairs with folio_migrate_ksm()'s smp_wmb() */
	if (READ_ONCE(node->stable.kpfn) != kpfn)
		goto again;
	ksmpp_node_reclaim(node);
	return NULL;
}

/* Give the new KSM page @folio (locked, no node yet) the node @node. */
void ksmpp_node_install(struct ksmpp_node *node, struct folio *folio)
{
	node->stable.kpfn = folio_pfn(folio);
	INIT_HLIST_HEAD(&node->stable.hlist);
	smp_wmb();	/* node complete before it is reachable from the page */
	ksmpp_folio_set_stable_node(folio, &node->stable);
}

/* Link @item to @node; the node's folio is locked (ksmpp_node_get_folio()). */
void ksmpp_node_link(struct ksmpp_node *node, struct ksmpp_item *item)
{
	struct mm_struct *mm = item->rmap.owner->mm;

	if (hlist_empty(&node->stable.hlist))
		ksmpp_stats.pages_shared++;
	else
		ksmpp_stats.pages_sharing++;
	item->rmap.head = &node->stable;
	hlist_add_head(&item->rmap.hlist, &node->stable.hlist);
	node->stable.rmap_hlist_len++;
	WRITE_ONCE(mm->ksm_merging_pages, mm->ksm_merging_pages + 1);
	WRITE_ONCE(mm->ksm_rmap_items, mm->ksm_rmap_items + 1);
}

/* Drop a merged mapping's item: the mapping was replaced or is going. */
void ksmpp_item_remove(struct ksmpp_item *item)
{
	struct ksmpp_node *node = container_of(item->rmap.head,
					       struct ksmpp_node, stable);
	struct folio *folio = ksmpp_node_get_folio(node, true);

	if (!folio)
		return;		/* stale: the item went with its node */
	ksmpp_item_unlink(item);
	folio_unlock(folio);
	folio_put(folio);
	ksmpp_item_free(item);
}

/* Release the nodes (and items) of pages that are gone. */
void ksmpp_reclaim_stale(void)
{
	struct ksmpp_node *node;
	struct hlist_node *tmp;
	struct folio *folio;
	unsigned int i;

	for (i = 0; i < ksmpp_index_size(&ksmpp_node_table); i++) {
		hlist_for_each_entry_safe(node, tmp, &ksmpp_node_table.buckets[i], table) {
			folio = ksmpp_node_get_folio(node, false);
			if (folio)
				folio_put(folio);
		}
		cond_resched();
	}
}

/*
 * merge_scope changed, or the processes' scope keys did: each node takes
 * the scope of one process that maps it (its newest item's), and moves to
 * that scope's place in the stable index. The caller then unmerges the
 * mappings of other scopes. The item lists are ksmpp's alone: read under
 * ksmpp_lock, they need no folio lock. The newest item may be one whose
 * mapping was unmerged since (it goes at its next visit): then the node's
 * other mappings are unmerged needlessly, never kept out of scope.
 */
void ksmpp_rescope_nodes(void)
{
	struct ksm_rmap_item *rmap;
	struct ksmpp_node *node;
	unsigned int i;

	for (i = 0; i < ksmpp_index_size(&ksmpp_node_table); i++) {
		hlist_for_each_entry(node, &ksmpp_node_table.buckets[i], table) {
			rmap = hlist_entry_safe(node->stable.hlist.first,
						struct ksm_rmap_item, hlist);
			if (!rmap || hlist_unhashed(&node->index))
				continue;
			ksmpp_stable_index_del(node);
			node->scope = rmap->owner->scope;
			ksmpp_stable_index_add(node);
		}
		cond_resched();
	}
}

/*
 * The end of the page-table entry that maps @addr if it holds no table
 * (cut at @end), or @addr if a page table reaches down to @addr's PTE.
 * Under the mmap lock, as the kernel's page walkers: it keeps page tables
 * from being freed.
 */
static unsigned long ksmpp_table_hole_end(struct mm_struct *mm,
					  unsigned long addr, unsigned long end)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd;

	if (pgd_none(READ_ONCE(*pgd)))
		return pgd_addr_end(addr, end);
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(READ_ONCE(*p4d)))
		return p4d_addr_end(addr, end);
	pud = pud_offset(p4d, addr);
	if (pud_none(READ_ONCE(*pud)))
		return pud_addr_end(addr, end);
	pmd = pmd_offset(pud, addr);
	if (pmd_none(READ_ONCE(*pmd)))
		return pmd_addr_end(addr, end);
	return addr;
}

/*
 * Where the stretch of [@addr, @end) from @addr on that no page table
 * covers ends (after at most a table's worth of entries), or @addr if a
 * page table covers @addr. Mmap lock held.
 */
unsigned long ksmpp_skip_unmapped(struct mm_struct *mm, unsigned long addr,
				  unsigned long end)
{
	unsigned long next;
	unsigned int entries;

	for (entries = 0; entries < PTRS_PER_PMD && addr < end; entries++) {
		next = ksmpp_table_hole_end(mm, addr, end);
		if (next == addr)
			break;
		addr = next;
	}
	return addr;
}

/*
 * Whether @addr maps a page to be unmerged: without @keep, a page merged by
 * ksmpp or a KSM zero page; with @keep, a page of ksmpp's outside @keep's
 * scope, or, while merge_scope confines merging, a page that kernel KSM
 * merged before it handed over to ksmpp (ksmppctl enable keeps them). That
 * page has no scope: it may be shared across any, so it is unmerged in
 * every process, as a write would, and ksmpp merges its content again
 * inside each scope. Not while KSM runs: its pages are its own business.
 */
static bool ksmpp_mapped_merged(struct vm_area_struct *vma, unsigned long addr,
				const struct ksmpp_mm *keep)
{
	struct ksm_stable_node *stable = ksmpp_mapped_stable_node(vma, addr);
	struct ksmpp_node *node = ksmpp_own_node(stable);

	if (node) {
		if (keep && node->scope == keep->scope)
			return false;
		trace_ksmpp_unmerge(vma->vm_mm, addr, READ_ONCE(node->stable.kpfn));
		return true;
	}
	if (keep)
		return stable && READ_ONCE(ksmpp_merge_scope) != KSMPP_SCOPE_GLOBAL &&
		       !ksmpp_kernel_ksm_runs();
	return ksmpp_mapped_ksm_zero_page(vma, addr);
}

/*
 * Fault a private copy in for ksmpp's page mapped at @addr, if any, or for
 * a KSM zero page (as ksmpp_mapped_merged() chooses with @keep): 0, or
 * -ENOMEM if it could not be copied.
 */
static int ksmpp_unmerge_page(struct vm_area_struct *vma, unsigned long addr,
			      const struct ksmpp_mm *keep)
{
	vm_fault_t ret;

	while (ksmpp_mapped_merged(vma, addr, keep)) {
		if (ksmpp_test_fault(KSMPP_TEST_FAULT_UNMERGE))
			return -ENOMEM;
		ret = handle_mm_fault(vma, addr, FAULT_FLAG_UNSHARE |
				      FAULT_FLAG_REMOTE, NULL);
		if (ret & VM_FAULT_OOM)
			return -ENOMEM;
		/* SIGBUS: a file truncated under a private mapping. */
		if (ret & (VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV))
			break;
		cond_resched();
	}
	return 0;
}

/**
 * ksmpp_unmerge_range - replace ksmpp's merged pages by private copies
 * @vma: a mergeable VMA, its mmap lock held for read
 * @start: first address
 * @end: end of the range
 * @keep: NULL, or the process whose scope's pages stay merged (merge_scope;
 *	kernel KSM's pages are out of every scope but global's)
 * @interruptible: give up (-EINTR) when a signal is pending
 *
 * As mm/ksm.c's break_ksm() of 6.12, on every kernel line: an unsharing
 * fault, for ksmpp's KSM pages and (where the kernel marks them, 6.12 on)
 * for zero pages that KSM or use_zero_pages put in place of empty pages.
 * 6.1's break_ksm() faults for write, which userfaultfd write protection
 * turns into SIGBUS (a page QEMU's background snapshot protects could
 * never be unmerged), but 6.1's do_wp_page() already unshares an anonymous
 * page it cannot reuse - a KSM page always - with a copy that keeps the
 * uffd-wp bit (the unsharing GUP pins of 5.19), and that is what 6.2's
 * break_ksm() switched to. A page under migration is waited for. Pages
 * merged by kernel KSM are left alone (its zero pages are not told apart).
 * Returns 0, -EINTR, or -ENOMEM at the first page that could not be copied
 * (its memory cgroup is full: as KSM's unmerge_ksm_pages(), go no further).
 */
int ksmpp_unmerge_range(struct vm_area_struct *vma, unsigned long start,
			unsigned long end, const struct ksmpp_mm *keep,
			bool interruptible)
{
	unsigned long addr, next;
	int err;

	for (addr = start; addr < end; addr = next) {
		next = ksmpp_skip_unmapped(vma->vm_mm, addr, end);
		if (next == addr) {
			next = addr + PAGE_SIZE;
			err = ksmpp_unmerge_page(vma, addr, keep);
			if (err)
				return err;
		}
		if (interruptible && signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

/*
 * Release @node if its page has no mapping left, as mm/ksm.c's
 * remove_stable_node() does: a page that is only in the swap cache keeps
 * its KSM flag with no node (swap-in copies it). Returns the node's folio,
 * locked and referenced, if it is still mapped; NULL otherwise.
 */
static struct folio *ksmpp_node_release(struct ksmpp_node *node)
{
	struct folio *folio = ksmpp_node_get_folio(node, true);

	if (!folio || folio_mapped(folio))
		return folio;
	ksmpp_folio_set_stable_node(folio, NULL);
	ksmpp_node_reclaim(node);
	folio_unlock(folio);
	folio_put(folio);
	return NULL;
}

/* Release @node unless its page is still mapped. */
void ksmpp_node_put_unmapped(struct ksmpp_node *node)
{
	struct folio *folio = ksmpp_node_release(node);

	if (folio) {
		folio_unlock(folio);
		folio_put(folio);
	}
}

/*
 * After every mapping was unmerged: release the nodes. Returns how many
 * still have mapped pages (left as they are).
 */
unsigned long ksmpp_release_nodes(void)
{
	struct ksmpp_node *node;
	struct hlist_node *tmp;
	struct folio *folio;
	unsigned long busy = 0;
	unsigned int i;

	for (i = 0; i < ksmpp_index_size(&ksmpp_node_table); i++) {
		hlist_for_each_entry_safe(node, tmp, &ksmpp_node_table.buckets[i], table) {
			folio = ksmpp_node_release(node);
			if (folio) {
				busy++;
				folio_unlock(folio);
				folio_put(folio);
			}
		}
		cond_resched();
	}
	return busy;
}

/*
 * Move the node of the locked @folio into memory that outlives the module.
 * The node comes from kernel KSM's own cache and is made to look like one
 * of KSM's "migrated" nodes (head is &migrate_nodes, on no list): ksmd, if
 * it is started later and meets the page, takes the node into its tree or
 * frees it into that cache, as it does its own. The items become plain
 * ksm_rmap_items that hold their anon_vma and mm (mm/ksm.c's
 * remove_node_from_stable_tree() writes through rmap_item->mm); nobody
 * frees them, nor the node once the page is gone: a leak, reported.
 */
static int ksmpp_hand_over_node(struct ksmpp_node *node, struct folio *folio)
{
	struct kmem_cache *cache = READ_ONCE(*ksmpp_kernel_stable_node_cache);
	struct ksm_rmap_item *rmap, *copy;
	struct ksm_stable_node *stable;
	struct hlist_node *tmp;

	stable = kmem_cache_zalloc(cache, GFP_KERNEL);
	if (!stable)
		return -ENOMEM;
	stable->head = ksmpp_kernel_migrate_nodes;
	INIT_LIST_HEAD(&stable->list);
	stable->kpfn = node->stable.kpfn;
	stable->rmap_hlist_len = node->stable.rmap_hlist_len;
#ifdef CONFIG_NUMA
	stable->nid = node->stable.nid;
#endif
	hlist_for_each_entry(rmap, &node->stable.hlist, hlist) {
		copy = kmalloc(sizeof(*copy), GFP_KERNEL);
		if (!copy)
			goto fail;
		*copy = *rmap;
		copy->rmap_list = NULL;	/* KSM's own, on no mm_slot's list */
		copy->head = stable;
		hlist_add_head(&copy->hlist, &stable->hlist);
	}
	/*
	 * Ours go below as if reclaimed; the mappings stay merged (mm/ksm.c
	 * counts them down when it removes the node), but the copies are no
	 * rmap items of ksmpp's.
	 */
	hlist_for_each_entry(copy, &stable->hlist, hlist) {
		mmgrab(copy->mm);
		ksmpp_get_anon_vma(copy->anon_vma);
		WRITE_ONCE(copy->mm->ksm_merging_pages, copy->mm->ksm_merging_pages + 1);
		kmemleak_not_leak(copy);
	}
	kmemleak_not_leak(stable);
	smp_wmb();	/* node complete before it is reachable from the page */
	ksmpp_folio_set_stable_node(folio, stable);
	ksmpp_node_reclaim(node);
	return 0;

fail:
	hlist_for_each_entry_safe(copy, tmp, &stable->hlist, hlist)
		kfree(copy);
	kmem_cache_free(cache, stable);
	return -ENOMEM;
}

/*
 * Unload could not unmerge every page: hand the nodes of pages still
 * mapped over (ksmpp_hand_over_node()). Returns how many could not be
 * handed over (0 unless memory ran out: unload must then go on waiting).
 */
unsigned long ksmpp_hand_over_nodes(void)
{
	unsigned long moved = 0, mappings = 0, left = 0;
	struct ksmpp_node *node;
	struct hlist_node *tmp;
	struct folio *folio;
	unsigned int i;
	int len;

	for (i = 0; i < ksmpp_index_size(&ksmpp_node_table); i++) {
		hlist_for_each_entry_safe(node, tmp, &ksmpp_node_table.buckets[i], table) {
			folio = ksmpp_node_release(node);
			if (!folio)
				continue;
			len = node->stable.rmap_hlist_len;
			if (ksmpp_hand_over_node(node, folio)) {
				left++;
			} else {
				moved++;
				mappings += len;
			}
			folio_unlock(folio);
			folio_put(folio);
		}
	}
	if (moved)
		pr_warn("unload: %lu merged pages (%lu mappings) could not be unmerged: they stay KSM pages, with their nodes handed over to kernel KSM (leaked until it unmerges them)\n",
			moved, mappings);
	return left;
}

/* Resize the node table to the nodes there are (index.c). */
void ksmpp_stable_fit(void)
{
	ksmpp_count_index_bytes(ksmpp_index_fit(&ksmpp_node_table));
}

int ksmpp_stable_init(void)
{
	int err = ksmpp_index_init(&ksmpp_node_table, ksmpp_node_table_key);

	ksmpp_node_cache = KMEM_CACHE(ksmpp_node, 0);
	ksmpp_item_cache = KMEM_CACHE(ksmpp_item, 0);
	if (err || !ksmpp_node_cache || !ksmpp_item_cache) {
		ksmpp_stable_exit();
		return -ENOMEM;
	}
	ksmpp_count_index_bytes(ksmpp_index_bytes(&ksmpp_node_table));
	return 0;
}

/* Every node must have been released or handed over. */
void ksmpp_stable_exit(void)
{
	kmem_cache_destroy(ksmpp_item_cache);
	kmem_cache_destroy(ksmpp_node_cache);
	ksmpp_index_destroy(&ksmpp_node_table);
}
