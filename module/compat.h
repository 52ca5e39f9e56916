/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ksmpp: every difference between the supported kernels (6.1, 6.12, 7.x).
 *
 * The rest of the module is written against the newest kernel's names; this
 * header maps them for older kernels and declares the kernel functions that
 * are found at load time. Those are reached only through static calls:
 * static_call(ksmpp_<function>)(...), never through a function pointer.
 */
#ifndef _KSMPP_COMPAT_H
#define _KSMPP_COMPAT_H

#include <linux/ftrace.h>
#include <linux/ksm.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/static_call.h>
#include <linux/uaccess.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "ksmpp supports Linux 6.1 and later"
#endif

/* folio_walk_start() replaced follow_page() in 6.12. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#define KSMPP_HAVE_FOLIO_WALK
#include <linux/pagewalk.h>
#endif

/*
 * Zero pages put in place by KSM (use_zero_pages) are marked and counted
 * per process from 6.10 on (mm->ksm_zero_pages; /proc/PID/ksm_stat).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
#define KSMPP_HAVE_KSM_ZERO_PAGES
#endif

/* iter_iov() came in 6.4. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
#define iter_iov(iter)	((iter)->iov)
#endif

/* KSM's flag bits in folio->mapping were renamed in 7.x. */
#ifdef FOLIO_MAPPING_KSM
#define KSMPP_MAPPING_KSM	FOLIO_MAPPING_KSM
#define KSMPP_MAPPING_FLAGS	FOLIO_MAPPING_FLAGS
#else
#define KSMPP_MAPPING_KSM	PAGE_MAPPING_KSM
#define KSMPP_MAPPING_FLAGS	PAGE_MAPPING_FLAGS
#endif

/* mm->flags became a bitmap with accessors in 6.18. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 18, 0)
#define ksmpp_mm_mergeable(mm)	mm_flags_test(MMF_VM_MERGEABLE, mm)
#else
#define ksmpp_mm_mergeable(mm)	test_bit(MMF_VM_MERGEABLE, &(mm)->flags)
#endif

/* 7.3's rmap walk finds a stable mapping by its linear page index. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 3, 0)
#define KSMPP_RMAP_ITEM_HAS_LINEAR_INDEX
#endif

/*
 * The kernel's KSM structures, field for field as mm/ksm.c defines them
 * (identical offsets in 6.1, 6.12 and 7.x; "make test" compares them with
 * each kernel's BTF). ksmpp's merged pages point folio->mapping at a
 * ksm_stable_node, and hang one ksm_rmap_item per mapping off it: the
 * kernel's rmap walk (swap, migration, memory failure), folio_migrate_ksm()
 * and ksm_might_need_to_copy() read them as their own. ksmpp fills in only
 * the fields those readers use.
 */
struct ksm_stable_node {
	union {
		struct rb_node node;
		struct {
			struct list_head *head;
			struct {
				struct hlist_node hlist_dup;
				struct list_head list;
			};
		};
	};
	struct hlist_head hlist;	/* rmap items of the page's mappings */
	union {
		unsigned long kpfn;	/* the page's frame; migration updates it */
		unsigned long chain_prune_time;
	};
	int rmap_hlist_len;		/* items in hlist */
#ifdef CONFIG_NUMA
	int nid;
#endif
};

struct ksmpp_mm;

struct ksm_rmap_item {
	/*
	 * KSM links only the items of its own mm_slots through rmap_list,
	 * and ksmpp's items are never on those lists: theirs holds the
	 * process that maps them.
	 */
	union {
		struct ksm_rmap_item *rmap_list;
		struct ksmpp_mm *owner;
	};
	union {
		struct anon_vma *anon_vma;	/* referenced while listed */
#ifdef CONFIG_NUMA
		int nid;
#endif
	};
	struct mm_struct *mm;		/* compared, never dereferenced */
	unsigned long address;		/* page address | KSM_STABLE_FLAG */
	union {
		struct {
			unsigned int oldchecksum;
			u8 age;
			u8 remaining_skips;
		};
		unsigned long linear_page_index;	/* 7.3+ */
	};
	union {
		struct rb_node node;
		struct {
			struct ksm_stable_node *head;	/* the node listing it */
			struct hlist_node hlist;	/* in head->hlist */
		};
	};
};

#define KSM_STABLE_FLAG		0x200	/* mm/ksm.c's STABLE_FLAG */

/* The stable node folio->mapping points to (NULL if none or not KSM). */
static inline struct ksm_stable_node *ksmpp_folio_stable_node(struct folio *folio)
{
	unsigned long mapping = (unsigned long)READ_ONCE(folio->mapping);

	if ((mapping & KSMPP_MAPPING_FLAGS) != KSMPP_MAPPING_KSM)
		return NULL;
	return (struct ksm_stable_node *)(mapping & ~KSMPP_MAPPING_FLAGS);
}

/* Point a locked KSM folio at @node (NULL: a KSM page with no node). */
static inline void ksmpp_folio_set_stable_node(struct folio *folio,
					       struct ksm_stable_node *node)
{
	WRITE_ONCE(folio->mapping, (void *)((unsigned long)node | KSMPP_MAPPING_KSM));
}

/*
 * Prototypes of the resolved functions, as the running kernel defines them.
 * They only give the static calls their types: nothing links against them.
 */
unsigned long ksmpp_proto_kallsyms_lookup_name(const char *name);
int ksmpp_proto_try_to_merge_one_page(struct vm_area_struct *vma,
				      struct page *page, struct page *kpage);
void ksmpp_proto___put_anon_vma(struct anon_vma *anon_vma);
void ksmpp_proto_lru_add_drain(void);
void ksmpp_proto_lru_add_drain_all(void);
#ifdef KSMPP_HAVE_FOLIO_WALK
struct folio *ksmpp_proto_folio_walk_start(struct folio_walk *fw,
					   struct vm_area_struct *vma,
					   unsigned long addr,
					   folio_walk_flags_t flags);
#else
struct page *ksmpp_proto_follow_page(struct vm_area_struct *vma,
				     unsigned long address,
				     unsigned int foll_flags);
#endif

/*
 * GCC's partial inlining can move most of a function into a clone,
 * NAME.part.0, and let the callers call the clone directly after doing the
 * function's first test themselves: a probe on NAME then misses those
 * calls. The clone keeps the arguments it uses in their order. 6.1's
 * blkdev_direct_IO is split so (blkdev_read_iter() and blkdev_direct_write()
 * test for an empty iterator, then call blkdev_direct_IO.part.0(iocb,
 * iter)); 6.12 and 7.x have no clone. A probe on a function that may be
 * split hooks the clone where the kernel has one.
 */
#define KSMPP_SPLIT_CLONE(fn)	#fn ".part.0"

/*
 * An ftrace callback's view of the traced call. Without SAVE_REGS, x86's
 * ftrace_caller saves the argument registers (DYNAMIC_FTRACE_WITH_ARGS);
 * 6.12 reads them with ftrace_regs_get_argument(), while 6.1's struct
 * ftrace_regs is a plain pt_regs and names the setter of the return
 * address ftrace_instruction_pointer_set().
 */
#ifdef ftrace_regs_get_argument
#define ksmpp_ftrace_arg(fregs, n)	ftrace_regs_get_argument(fregs, n)
#else
#define ksmpp_ftrace_arg(fregs, n)	regs_get_kernel_argument(&(fregs)->regs, n)
#endif
#ifdef ftrace_instruction_pointer_set
#define ftrace_regs_set_instruction_pointer(fregs, ip) \
	ftrace_instruction_pointer_set(fregs, ip)
#endif
/*
 * Where the function at @addr has its ftrace site (its fentry call): at
 * its symbol, or past the ENDBR that IBT kernels (6.12, 7.x) start a
 * function with where it may be called indirectly (or the poison that
 * replaced an unused one at boot, which is as long).
 */
static inline unsigned long ksmpp_fentry_site(unsigned long addr)
{
#ifdef CONFIG_X86_KERNEL_IBT
	u32 insn;

	if (!get_kernel_nofault(insn, (u32 *)addr) &&
	    (insn == gen_endbr() || insn == gen_endbr_poison()))
		return addr + ENDBR_INSN_SIZE;
#endif
	return addr;
}
#ifdef CONFIG_HAVE_DYNAMIC_FTRACE_WITH_ARGS
#define KSMPP_FTRACE_ARGS_FLAGS		0
#else
#define KSMPP_FTRACE_ARGS_FLAGS		FTRACE_OPS_FL_SAVE_REGS
#endif

/*
 * ftrace direct calls: the functions an ops filters for call a trampoline
 * of ours from their fentry site. 6.1 names the ops-based API *_multi, and
 * its unregister leaves the filter to be freed; 6.5 renamed it and frees
 * the filter when asked. Every Debian config has them; a kernel without
 * them has no direct mode.
 */
#ifdef CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS
#define KSMPP_HAVE_DIRECT_CALLS
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define ksmpp_register_direct(ops, addr)	register_ftrace_direct(ops, addr)
#define ksmpp_unregister_direct(ops, addr)	unregister_ftrace_direct(ops, addr, true)
#else
#define ksmpp_register_direct(ops, addr)	register_ftrace_direct_multi(ops, addr)
#define ksmpp_unregister_direct(ops, addr)				\
	({ int __err = unregister_ftrace_direct_multi(ops, addr);	\
	   ftrace_free_filter(ops); __err; })
#endif
#endif
/*
 * A direct trampoline is reached by a call that skips the callee's call
 * thunk: it accounts the call depth itself (6.2+, with call depth
 * tracking; nothing on 6.1, which has no such mitigation).
 */
#ifndef CALL_DEPTH_ACCOUNT
#define CALL_DEPTH_ACCOUNT	""
#endif
/*
 * The current task's per-CPU pointer as the trampoline reads it (an
 * assembler operand): the variable current_task on 6.1 and from 6.15,
 * the first field of pcpu_hot in between (KSMPP_CURRENT_TASK_HOT).
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
#define KSMPP_CURRENT_TASK_ASM	"%gs:current_task"
#elif LINUX_VERSION_CODE < KERNEL_VERSION(6, 15, 0)
#define KSMPP_CURRENT_TASK_HOT
#define KSMPP_CURRENT_TASK_ASM	__stringify(PER_CPU_VAR(pcpu_hot))
#else
#define KSMPP_CURRENT_TASK_ASM	__stringify(PER_CPU_VAR(current_task))
#endif

/* The running kernel's symbol @name (function or variable), or 0. */
unsigned long ksmpp_symbol_address(const char *name);

/* KSM's run_store(), found through /sys/kernel/mm/ksm/run (ksm_guard.c). */
struct kobj_attribute;
ssize_t ksmpp_proto_run_store(struct kobject *kobj, struct kobj_attribute *attr,
			      const char *buf, size_t count);

#define KSMPP_DECLARE_RESOLVED(fn) \
	DECLARE_STATIC_CALL(ksmpp_##fn, ksmpp_proto_##fn)

KSMPP_DECLARE_RESOLVED(try_to_merge_one_page);
KSMPP_DECLARE_RESOLVED(__put_anon_vma);
KSMPP_DECLARE_RESOLVED(lru_add_drain);
KSMPP_DECLARE_RESOLVED(lru_add_drain_all);
#ifdef KSMPP_HAVE_FOLIO_WALK
KSMPP_DECLARE_RESOLVED(folio_walk_start);
#else
KSMPP_DECLARE_RESOLVED(follow_page);
#endif

/* get_anon_vma()/put_anon_vma(), which 7.x no longer has in its headers. */
static inline void ksmpp_get_anon_vma(struct anon_vma *anon_vma)
{
	atomic_inc(&anon_vma->refcount);
}

/* May sleep (the last reference frees the anon_vma). */
static inline void ksmpp_put_anon_vma(struct anon_vma *anon_vma)
{
	if (atomic_dec_and_test(&anon_vma->refcount))
		static_call(ksmpp___put_anon_vma)(anon_vma);
}

#ifdef KSMPP_HAVE_FOLIO_WALK
/*
 * folio_walk_end() without its vma_pgtable_walk_end(), which is not
 * exported and does nothing outside hugetlb VMAs (never mergeable).
 */
static inline void ksmpp_folio_walk_end(struct folio_walk *fw)
{
	spin_unlock(fw->ptl);
	if (fw->level == FW_LEVEL_PTE)
		pte_unmap(fw->ptep);
}
#endif

/*
 * The anonymous page mapped at @addr, with a reference held; NULL if there
 * is none. The caller holds the mmap lock.
 */
static inline struct page *ksmpp_get_anon_page(struct vm_area_struct *vma,
					       unsigned long addr)
{
#ifdef KSMPP_HAVE_FOLIO_WALK
	struct folio_walk fw;
	struct folio *folio;
	struct page *page = NULL;

	folio = static_call(ksmpp_folio_walk_start)(&fw, vma, addr, 0);
	if (!folio)
		return NULL;
	if (!folio_is_zone_device(folio) && folio_test_anon(folio)) {
		folio_get(folio);
		page = fw.page;
	}
	ksmpp_folio_walk_end(&fw);
	return page;
#else
	struct page *page = static_call(ksmpp_follow_page)(vma, addr, FOLL_GET);

	if (IS_ERR_OR_NULL(page))
		return NULL;
	if (is_zone_device_page(page) || !PageAnon(page)) {
		put_page(page);
		return NULL;
	}
	return page;
#endif
}

/*
 * folio_walk_start() sees migration entries with FW_MIGRATION, which 7.x
 * dropped: there a page under migration is not seen (the unmerge's next
 * round finds it on its new page).
 */
#if defined(KSMPP_HAVE_FOLIO_WALK) && !defined(FW_MIGRATION)
#define FW_MIGRATION	((__force folio_walk_flags_t)0)
#endif

/*
 * The stable node of the KSM page mapped at @addr, a page under migration
 * included (6.1 waits for the migration to end, 6.12 looks at the page
 * being moved, as their break_ksm() do); NULL if none. For comparison
 * only: nothing is referenced. The caller holds the mmap lock.
 */
static inline struct ksm_stable_node *
ksmpp_mapped_stable_node(struct vm_area_struct *vma, unsigned long addr)
{
	struct ksm_stable_node *stable = NULL;
#ifdef KSMPP_HAVE_FOLIO_WALK
	struct folio_walk fw;
	struct folio *folio;

	folio = static_call(ksmpp_folio_walk_start)(&fw, vma, addr, FW_MIGRATION);
	if (!folio)
		return NULL;
	if (!folio_test_large(folio))
		stable = ksmpp_folio_stable_node(folio);
	ksmpp_folio_walk_end(&fw);
#else
	struct page *page = static_call(ksmpp_follow_page)(vma, addr,
							   FOLL_GET | FOLL_MIGRATION |
							   FOLL_REMOTE);

	if (IS_ERR_OR_NULL(page))
		return NULL;
	stable = ksmpp_folio_stable_node(page_folio(page));
	put_page(page);
#endif
	return stable;
}

/*
 * Whether @addr maps the zero page in place of a page that KSM (or ksmpp,
 * with use_zero_pages) found empty. 6.12's break_ksm() unshares these as it
 * does KSM pages. 6.1 marks no such mapping, and its break_ksm() leaves
 * zero pages as they are: false. The caller holds the mmap lock.
 */
static inline bool ksmpp_mapped_ksm_zero_page(struct vm_area_struct *vma,
					      unsigned long addr)
{
#ifdef KSMPP_HAVE_FOLIO_WALK
	struct folio_walk fw;
	bool zero = false;

	if (static_call(ksmpp_folio_walk_start)(&fw, vma, addr, FW_ZEROPAGE)) {
		zero = fw.level == FW_LEVEL_PTE && is_ksm_zero_pte(fw.pte);
		ksmpp_folio_walk_end(&fw);
	}
	return zero;
#else
	return false;
#endif
}

/* The kernel KSM's run flag (/sys/kernel/mm/ksm/run). */
extern unsigned long *ksmpp_kernel_ksm_run;
/* mm/ksm.c's cache of stable nodes, and its list of migrated nodes. */
extern struct kmem_cache **ksmpp_kernel_stable_node_cache;
extern struct list_head *ksmpp_kernel_migrate_nodes;
/* The kobject of /sys/kernel/mm. */
extern struct kobject *ksmpp_kernel_mm_kobj;
#define KSMPP_KERNEL_KSM_RUN_MERGE	1

static inline bool ksmpp_kernel_ksm_runs(void)
{
	return READ_ONCE(*ksmpp_kernel_ksm_run) & KSMPP_KERNEL_KSM_RUN_MERGE;
}

#endif /* _KSMPP_COMPAT_H */
