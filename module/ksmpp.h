/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ksmpp: declarations shared by the units of the module.
 */
#ifndef _KSMPP_H
#define _KSMPP_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/xarray.h>

#include "compat.h"
#include "hint_ring.h"
#include "index.h"

struct seq_file;

/* Tunables (params.c): written only through their parameter ops. */
extern unsigned long ksmpp_run;
extern unsigned long ksmpp_pages_to_scan;
extern unsigned long ksmpp_sleep_millisecs;
extern unsigned long ksmpp_max_page_sharing;
extern unsigned long ksmpp_merge_across_nodes;
extern unsigned long ksmpp_use_zero_pages;
extern unsigned long ksmpp_smart_scan;
extern unsigned long ksmpp_advisor_mode;
extern unsigned long ksmpp_advisor_max_cpu;
extern unsigned long ksmpp_advisor_min_pages_to_scan;
extern unsigned long ksmpp_advisor_max_pages_to_scan;
extern unsigned long ksmpp_advisor_target_scan_time;
extern unsigned long ksmpp_hint_buffer_size;
extern unsigned long ksmpp_hint_scan_percent;
extern unsigned long ksmpp_hook_mode;
extern unsigned long ksmpp_merge_scope;
extern unsigned long ksmpp_stats_mode;
void ksmpp_params_for_each(void (*show)(void *arg, const char *name, const char *value),
			   void *arg);
int ksmpp_param_write(const char *name, const char *buf);
int ksmpp_param_read(const char *name, char *buf);

/*
 * Delays at named points, to widen a race window in tests: compiled in only
 * with KSMPP_TEST_HOOKS (the ksmpp-test.ko build), set with the parameters
 * test_delay_point and test_delay_ms.
 */
enum ksmpp_test_delay {
	KSMPP_TEST_DELAY_RUN_STORE = 1,	/* a write to /sys/kernel/mm/ksm/run */
	KSMPP_TEST_DELAY_UNMERGE,	/* before run=2 unmerges */
};
/* Faults to inject (test_fault bits). */
#define KSMPP_TEST_FAULT_NODE_HASH	1	/* nodes get a wrong content hash */
#define KSMPP_TEST_FAULT_UNMERGE	2	/* no private copy can be made */
#define KSMPP_TEST_FAULT_SYMBOLS	4	/* no kernel symbol is found (at load) */
#ifdef KSMPP_TEST_HOOKS
void ksmpp_test_delay(enum ksmpp_test_delay point);
bool ksmpp_test_fault(unsigned int fault);
#else
static inline void ksmpp_test_delay(enum ksmpp_test_delay point) {}
static inline bool ksmpp_test_fault(unsigned int fault) { return false; }
#endif

/* KSM's pages_to_scan at load, and again when the advisor is turned off. */
#define KSMPP_DEFAULT_PAGES_TO_SCAN	100

/* Values of advisor_mode, as KSM's. */
enum ksmpp_advisor_mode {
	KSMPP_ADVISOR_NONE,
	KSMPP_ADVISOR_SCAN_TIME,
};

/* Values of run, as KSM's /sys/kernel/mm/ksm/run. */
#define KSMPP_RUN_STOP		0
#define KSMPP_RUN_MERGE		1
#define KSMPP_RUN_UNMERGE	2

/*
 * Values of merge_scope: which processes' pages may share one merged page.
 * Each process has a scope key (struct ksmpp_mm.scope), and so has each
 * merged page (struct ksmpp_node.scope): pages merge only within a key.
 */
enum ksmpp_merge_scope {
	KSMPP_SCOPE_GLOBAL,	/* every process: KSM's behaviour */
	KSMPP_SCOPE_UID,	/* processes of one real uid */
	KSMPP_SCOPE_CGROUP,	/* processes of one cgroup v2 */
	KSMPP_SCOPE_PROCESS,	/* one process's own pages only */
};

/* Values of stats_mode: who may read the figures. */
enum ksmpp_stats_mode {
	KSMPP_STATS_WORLD,	/* everyone, as KSM's */
	KSMPP_STATS_ROOT,	/* root only */
};

/* Values of hook_mode: how the I/O functions are hooked. */
enum ksmpp_hook_mode {
	KSMPP_HOOK_MODE_AUTO,	/* direct, else ftrace, else a kprobe, per function */
	KSMPP_HOOK_MODE_DIRECT,	/* direct calls only: a function without fails the load */
	KSMPP_HOOK_MODE_FTRACE,	/* ftrace only: a function it cannot hook fails the load */
	KSMPP_HOOK_MODE_KPROBE,	/* kprobes only */
};

/* The mechanism a hooked function got. */
enum ksmpp_hook_how {
	KSMPP_HOOK_NONE,	/* not hooked (an optional function this kernel lacks) */
	KSMPP_HOOK_DIRECT,	/* an ftrace direct call to ksmpp's trampoline */
	KSMPP_HOOK_FTRACE,	/* ksmpp's ftrace_ops */
	KSMPP_HOOK_KPROBE,
};

/* Where a hint comes from. */
enum ksmpp_hint_source {
	KSMPP_HINT_READ,		/* buffered read into user memory */
	KSMPP_HINT_DIRECT_READ,		/* O_DIRECT read */
	KSMPP_HINT_WRITE,		/* buffered write from user memory */
	KSMPP_HINT_DIRECT_WRITE,	/* O_DIRECT write */
	KSMPP_HINT_SOURCES
};
extern const char * const ksmpp_hint_source_names[KSMPP_HINT_SOURCES];

/* The I/O hooks and the hint ring they fill (hooks.c). */
void ksmpp_io_direct_tramp(void);	/* the direct calls' trampoline, in assembly */
int ksmpp_hooks_init(void);
void ksmpp_hooks_exit(void);
int ksmpp_set_hint_buffer_size(unsigned long size);
int ksmpp_set_hook_mode(unsigned long mode);
const char *ksmpp_hook_mode_name(unsigned long mode);
void ksmpp_hooks_for_each(void (*show)(void *arg, const char *function, const char *how),
			  void *arg);
struct ksmpp_hint_ring *ksmpp_hints_ring(void);

/* Totals of the hint figures, over every CPU and ring. Can sleep. */
struct ksmpp_hint_totals {
	u64 generated[KSMPP_HINT_SOURCES];
	u64 bytes, repeated, pending, dropped, consumed, missed;
};
/* Never waits for ksmppd: see ksmpp_hints_count(). */
void ksmpp_hint_totals(struct ksmpp_hint_totals *t);
void ksmpp_hints_count(void);
void ksmpp_hints_list(struct seq_file *m);

/* Kernel functions resolved at load time (compat.c). */
int ksmpp_resolve_symbols(void);

/* /sys/kernel/mm/ksmpp (sysfs.c). */
int ksmpp_sysfs_init(void);
void ksmpp_sysfs_exit(void);
int ksmpp_sysfs_set_stats_mode(unsigned long mode);

/* /proc/ksmpp (procfs.c). */
int ksmpp_procfs_init(void);
void ksmpp_procfs_exit(void);

/*
 * A process that opted into merging (its mm has MMF_VM_MERGEABLE), as the
 * scanner tracks it. Everything here is under ksmpp_lock.
 */
struct ksmpp_mm {
	struct mm_struct *mm;		/* pinned with mmgrab() */
	struct list_head scan_list;	/* in ksmpp_mms, in scan order */
	struct hlist_node mm_hash;	/* in the mm lookup table */
	/*
	 * Per page index: the page's content hash at the last visit
	 * (xa_mk_value) or, once merged, its struct ksmpp_item.
	 */
	struct xarray pages;
	unsigned long unstable_entries;	/* its entries in the unstable index */
	/* Who it is, for merge_scope: uid and cgroup seen at each pass start. */
	u64 id;				/* its number, unique while loaded */
	u64 cgroup;			/* its cgroup v2's id */
	uid_t uid;			/* its real uid (init namespace) */
	u64 scope;			/* its scope key under merge_scope */
};

/*
 * Whether @slot was unregistered (its process is gone, or stopped merging):
 * out of the lookup table, it lives on only until its last unstable entry
 * is dropped (ksmpp_mm_free()).
 */
static inline bool ksmpp_mm_unregistered(const struct ksmpp_mm *slot)
{
	return hlist_unhashed(&slot->mm_hash);
}

/* A merged page: the kernel's stable node, and where ksmpp indexes it. */
struct ksmpp_node {
	struct ksm_stable_node stable;	/* folio->mapping points here */
	struct hlist_node table;	/* in the node table, by address */
	struct hlist_node index;	/* in the stable index, by content */
	u64 hash;			/* xxh64 of the (write-protected) content */
	u64 scope;			/* scope key of its mappings */
};

/*
 * One mapping of a merged page: the kernel's rmap item, in the node's
 * hlist, with its owner in rmap.owner (compat.h).
 */
struct ksmpp_item {
	struct ksm_rmap_item rmap;
};

/* What /proc/ksmpp reports; written under ksmpp_lock, read locklessly. */
struct ksmpp_stats {
	unsigned long pages_shared;	/* merged pages (stable nodes in use) */
	unsigned long pages_sharing;	/* further mappings of them: pages saved */
	unsigned long pages_unshared;	/* unique pages in the unstable index */
	unsigned long pages_volatile;	/* pages that changed, in the last pass */
	unsigned long stable_node_chains; /* contents with two nodes or more */
	unsigned long stable_node_dups;	/* the nodes of those contents */
	unsigned long full_scans;	/* completed passes over all memory */
	unsigned long pages_scanned;	/* pages visited */
	unsigned long pages_skipped;	/* pages smart_scan passed over */
	unsigned long merges;		/* mappings merged */
	unsigned long zero_merges;	/* empty pages replaced by the zero page */
	unsigned long ksm_zero_pages;	/* such zero pages mapped now (6.10 on) */
	unsigned long cow_breaks;	/* merged mappings found replaced */
	unsigned long scope_unmerges;	/* mappings unmerged out of their scope */
	unsigned long stale_reclaimed;	/* nodes and items of gone pages freed */
	unsigned long metadata_bytes;	/* memory in ksmpp's own structures */
	unsigned long index_buckets;	/* of the indexes and the node table */
	unsigned long mms;		/* processes registered */
	unsigned long process_walks;	/* walks of the host's processes */
	unsigned long hints_invalid;	/* hints whose process was gone */
	unsigned long hints_coalesced;	/* hints repeating the previous one */
	unsigned long hint_pages_scanned; /* pages visited through hints */
	unsigned long hint_pages_skipped; /* hinted pages not mergeable */
	unsigned long hint_merges;	/* merges made on hinted visits */
	unsigned long lru_drains_cpu;	/* one CPU's LRU batches drained */
	unsigned long lru_drains_all;	/* every CPU's, for a hinted page */
	unsigned long hint_extra_pages;	/* the advisor's, per batch, for hints */
};
extern struct ksmpp_stats ksmpp_stats;

/* Scanner states, as /proc/ksmpp names them. */
enum ksmpp_state {
	KSMPP_STOPPED,
	KSMPP_RUNNING,
	KSMPP_BLOCKED,		/* kernel KSM is running */
	KSMPP_UNMERGING,
};
extern enum ksmpp_state ksmpp_state;
const char *ksmpp_state_name(void);

/* The scanner (scanner.c). */
extern struct mutex ksmpp_lock;
void ksmpp_lock_ahead_of_scan(void);
int ksmpp_scanner_init(void);
void ksmpp_scanner_exit(void);
int ksmpp_set_run(unsigned long run);
int ksmpp_set_merge_across_nodes(unsigned long merge);
int ksmpp_set_merge_scope(unsigned long scope);
int ksmpp_give_way_to_ksm(void);
void ksmpp_mm_free(struct ksmpp_mm *slot);

/* The hook on /sys/kernel/mm/ksm/run (ksm_guard.c). */
int ksmpp_ksm_guard_init(void);
void ksmpp_ksm_guard_exit(void);
void ksmpp_scanner_wake(void);

/* Merging (merge.c); all under ksmpp_lock. */
int ksmpp_merge_init(void);
void ksmpp_merge_exit(void);
struct vm_area_struct *ksmpp_mergeable_vma(struct mm_struct *mm,
					   unsigned long addr);
void ksmpp_cmp_and_merge_page(struct ksmpp_mm *slot, unsigned long addr,
			      struct page *page, bool hinted);
bool ksmpp_smart_skip(struct ksmpp_mm *slot, unsigned long addr, struct page *page);
void ksmpp_forget_range(struct ksmpp_mm *slot, unsigned long start,
			unsigned long end);
void ksmpp_stable_index_add(struct ksmpp_node *node);
void ksmpp_stable_index_del(struct ksmpp_node *node);
void ksmpp_unstable_reset(bool pass_end);
void ksmpp_fit_indexes(void);
void ksmpp_count_index_bytes(long bytes);

/* Stable nodes, rmap items and unmerging (stable.c); under ksmpp_lock. */
int ksmpp_stable_init(void);
void ksmpp_stable_exit(void);
void ksmpp_stable_fit(void);
struct ksmpp_node *ksmpp_own_node(const struct ksm_stable_node *stable);
struct ksmpp_node *ksmpp_node_alloc(void);
void ksmpp_node_free(struct ksmpp_node *node);
struct folio *ksmpp_node_get_folio(struct ksmpp_node *node, bool lock);
void ksmpp_node_install(struct ksmpp_node *node, struct folio *folio);
void ksmpp_node_link(struct ksmpp_node *node, struct ksmpp_item *item);
void ksmpp_node_put_unmapped(struct ksmpp_node *node);
struct ksmpp_item *ksmpp_item_alloc(void);
void ksmpp_item_discard(struct ksmpp_item *item);
void ksmpp_item_remove(struct ksmpp_item *item);
void ksmpp_reclaim_stale(void);
void ksmpp_rescope_nodes(void);
unsigned long ksmpp_skip_unmapped(struct mm_struct *mm, unsigned long addr,
				  unsigned long end);
int ksmpp_unmerge_range(struct vm_area_struct *vma, unsigned long start,
			unsigned long end, const struct ksmpp_mm *keep,
			bool interruptible);
unsigned long ksmpp_release_nodes(void);
unsigned long ksmpp_hand_over_nodes(void);

#endif /* _KSMPP_H */
