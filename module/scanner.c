// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: the ksmppd scanner thread.
 *
 * DOC: Scanning
 *
 * ksmppd does kernel ksmd's job: it visits the memory of the processes that
 * opted into KSM (madvise(MADV_MERGEABLE), prctl(PR_SET_MEMORY_MERGE)),
 * pages_to_scan pages per wake-up, then sleeps sleep_millisecs. A pass walks
 * every registered process's VM_MERGEABLE areas in address order; each
 * anonymous page found goes to ksmpp_cmp_and_merge_page(). What was known
 * about addresses that no longer hold a page is forgotten on the way, so
 * merged mappings that went away (munmap, exit, swap-out) release their
 * items. At the end of a pass the unstable index is emptied (but for
 * recent hints) and stale nodes are reclaimed.
 *
 * Each batch first takes hints, newest first, for up to hint_scan_percent of
 * its pages: the whole pages of each hinted range are visited at once, and
 * enter the unstable index on that first visit (file I/O filled them, so
 * they need no second look to prove them stable; if they change later they
 * are volatile like any page). Then the linear scan goes on, never starved.
 *
 * Processes are found by their mm's MMF_VM_MERGEABLE flag, which only
 * __ksm_enter() sets: on madvise(MADV_MERGEABLE), prctl, fork and exec of
 * an opted-in process. A kretprobe counts those calls, so the host's
 * processes are walked only at the first two pass starts after one (a
 * child opts in before it is on the task list), and when a hint names a
 * process not known yet; each process found is pinned with mmgrab() and
 * dropped once it exits or opts out. Each pass starts by noting who the
 * known processes are now (merge_scope), from their mm's owner. A hint's
 * mm is only compared with the pinned ones.
 *
 * Kernel KSM must not run beside ksmpp: its ksmd would take ksmpp's pages
 * for its own and corrupt its trees. ksmppd therefore does not scan while
 * /sys/kernel/mm/ksm/run is 1 (state "blocked"), and a write that starts
 * KSM first unmerges ksmpp's pages (ksm_guard.c).
 *
 * run=2 and module unload unmerge everything: every mergeable area of every
 * registered process is walked and ksmpp's pages are faulted into private
 * copies (a walk, not the node lists: children forked after a merge map the
 * pages too), then the nodes are released.
 *
 * Locking: ksmpp_lock serialises the scanner, run changes and unload; it is
 * taken before any mmap lock. While scanning and merging, ksmppd only
 * try-locks a process's mmap lock and comes back later if it is busy: it
 * never waits behind the process's own writers while holding ksmpp_lock.
 * Nor does a writer wait behind a whole batch: whoever takes ksmpp_lock
 * through ksmpp_lock_ahead_of_scan() makes the batch under way end at its
 * next page or stretch without pages.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cgroup.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/cred.h>
#include <linux/delay.h>
#include <linux/freezer.h>
#include <linux/hashtable.h>
#include <linux/kprobes.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "advisor.h"
#include "ksmpp.h"
#include "trace.h"

DEFINE_MUTEX(ksmpp_lock);
struct ksmpp_stats ksmpp_stats;
enum ksmpp_state ksmpp_state = KSMPP_STOPPED;

static LIST_HEAD(ksmpp_mms);
static DEFINE_HASHTABLE(ksmpp_mm_table, 10);
static struct task_struct *ksmpp_thread;
static DECLARE_WAIT_QUEUE_HEAD(ksmpp_thread_wait);
/* Set once the module is up; run changes before that only set the value. */
static bool ksmpp_ready;
/* Callers of ksmpp_lock_ahead_of_scan() waiting for ksmpp_lock. */
static atomic_t ksmpp_lock_waiters = ATOMIC_INIT(0);

/*
 * The hint being worked through: a large read's range can take several
 * batches. Pages before .next were visited (or are partial); the range ends
 * at .end.
 */
static struct {
	struct ksmpp_mm *slot;		/* NULL: none */
	unsigned long next;		/* next page to visit */
	unsigned long end;		/* end of the hint's whole pages */
	unsigned int cpu;		/* where the I/O completed */
} ksmpp_hint_cursor;

/* The LRU batches a batch of hinted visits drained: CPUs', or all. */
static struct {
	struct cpumask cpus;
	bool all;
} ksmpp_drained;

/* The last hint taken, to coalesce repeats of it. */
static struct {
	struct ksmpp_mm *slot;
	unsigned long start, end;
} ksmpp_hint_last;

/*
 * The advisor's measurements (advisor_mode=scan-time): ksmppd's alone. A
 * change of advisor_mode, seen at a batch's start, starts them afresh (but
 * the ring's drop count, which every batch keeps up to date).
 */
static struct {
	unsigned long mode;		/* the advisor_mode they belong to */
	struct ksmpp_advisor advisor;
	u64 pass_ns, pass_cpu_ns;	/* the pass's start; 0: not measured */
	u64 batch_ns, batch_cpu_ns;	/* the last batch's start; 0: none */
	struct ksmpp_batch_report batch; /* the last batch, but its times */
	u64 hints_dropped;		/* the ring's count at the last batch */
	unsigned long pages_to_scan;	/* the pass rule's advice; 0: none */
} ksmpp_pace;

/* Where the linear scan is: a process and an address in it. */
static struct {
	struct ksmpp_mm *slot;		/* NULL: between passes */
	unsigned long address;		/* next address to look at */
} ksmpp_cursor;

const char *ksmpp_state_name(void)
{
	static const char * const names[] = {
		[KSMPP_STOPPED] = "stopped",
		[KSMPP_RUNNING] = "running",
		[KSMPP_BLOCKED] = "blocked",
		[KSMPP_UNMERGING] = "unmerging",
	};

	return names[READ_ONCE(ksmpp_state)];
}

static struct ksmpp_mm *ksmpp_mm_lookup(struct mm_struct *mm)
{
	struct ksmpp_mm *slot;

	hash_for_each_possible(ksmpp_mm_table, slot, mm_hash, (unsigned long)mm)
		if (slot->mm == mm)
			return slot;
	return NULL;
}

/* @slot's scope key under merge_scope. */
static u64 ksmpp_scope_key(const struct ksmpp_mm *slot)
{
	switch (READ_ONCE(ksmpp_merge_scope)) {
	case KSMPP_SCOPE_UID:
		return slot->uid;
	case KSMPP_SCOPE_CGROUP:
		return slot->cgroup;
	case KSMPP_SCOPE_PROCESS:
		return slot->id;
	default:
		return 0;
	}
}

/*
 * Note who @slot's process is now, from its thread @t (under RCU): its real
 * uid and its cgroup v2, for merge_scope.
 */
static void ksmpp_mm_identify(struct ksmpp_mm *slot, struct task_struct *t)
{
	slot->uid = from_kuid(&init_user_ns, task_uid(t));
	slot->cgroup = cgroup_id(task_dfl_cgroup(t));
	slot->scope = ksmpp_scope_key(slot);
}

/*
 * Start tracking @mm; under RCU and task_lock, so nothing here sleeps.
 * Returns the new slot, or NULL.
 */
static struct ksmpp_mm *ksmpp_mm_register(struct mm_struct *mm)
{
	static u64 ksmpp_mm_count;
	struct ksmpp_mm *slot = kzalloc(sizeof(*slot), GFP_NOWAIT | __GFP_NOWARN);

	if (!slot)
		return NULL;	/* found again at the next walk */
	mmgrab(mm);
	slot->mm = mm;
	slot->id = ++ksmpp_mm_count;
	xa_init(&slot->pages);
	list_add_tail(&slot->scan_list, &ksmpp_mms);
	hash_add(ksmpp_mm_table, &slot->mm_hash, (unsigned long)mm);
	ksmpp_stats.metadata_bytes += sizeof(*slot);
	ksmpp_stats.mms++;
	return slot;
}

static void ksmpp_mm_unregister(struct ksmpp_mm *slot)
{
	if (ksmpp_hint_cursor.slot == slot)
		ksmpp_hint_cursor.slot = NULL;
	if (ksmpp_hint_last.slot == slot)
		ksmpp_hint_last.slot = NULL;
	if (ksmpp_cursor.slot == slot) {
		ksmpp_cursor.slot = list_is_last(&slot->scan_list, &ksmpp_mms) ?
			NULL : list_next_entry(slot, scan_list);
		ksmpp_cursor.address = 0;
	}
	ksmpp_forget_range(slot, 0, ULONG_MAX);
	list_del(&slot->scan_list);
	hash_del(&slot->mm_hash);
	xa_destroy(&slot->pages);
	ksmpp_stats.mms--;
	/* With unstable entries left, it lives on until they are dropped. */
	if (!slot->unstable_entries)
		ksmpp_mm_free(slot);
}

/* Free an unregistered process's slot, which nothing refers to any more. */
void ksmpp_mm_free(struct ksmpp_mm *slot)
{
	mmdrop(slot->mm);
	kfree(slot);
	ksmpp_stats.metadata_bytes -= sizeof(*slot);
}

/* __ksm_enter() calls that returned; a missed return counts as one. */
static atomic_long_t ksmpp_ksm_enters;

static int ksmpp_ksm_entered(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	/* Ordered after the flag's set_bit(), which the walk reads. */
	smp_mb__before_atomic();
	atomic_long_inc(&ksmpp_ksm_enters);
	return 0;
}

static struct kretprobe ksmpp_ksm_enter_probe = {
	.kp.symbol_name = "__ksm_enter",
	.handler = ksmpp_ksm_entered,
};

static unsigned long ksmpp_ksm_enters_now(void)
{
	unsigned long enters = atomic_long_read(&ksmpp_ksm_enters) +
			       READ_ONCE(ksmpp_ksm_enter_probe.nmissed);

	smp_rmb();	/* the count before the flags it stands for */
	return enters;
}

/* The __ksm_enter() count at walks and pass starts, ULONG_MAX: none yet. */
static struct {
	unsigned long walk;	/* at the last walk's start */
	unsigned long pass[2];	/* at the last two pass starts, newest first */
	bool again;		/* a process found could not be registered */
} ksmpp_enters_seen = { ULONG_MAX, { ULONG_MAX, ULONG_MAX } };

/*
 * Register every process that opted into merging and is not known yet, and
 * note who it is (ksmpp_identify_mms() notes the known ones again). A
 * process's threads share its mm: the first thread that still has one (its
 * leader, unless that exited first) stands for them all, so a walk costs
 * one look per process, not per thread.
 */
static void ksmpp_discover_mms(void)
{
	struct task_struct *g, *t;
	struct ksmpp_mm *slot;
	struct mm_struct *mm;

	ksmpp_enters_seen.walk = ksmpp_ksm_enters_now();
	ksmpp_enters_seen.again = false;
	rcu_read_lock();
	for_each_process(g) {
		if (g->flags & PF_KTHREAD)
			continue;
		for_each_thread(g, t) {
			task_lock(t);
			mm = t->mm;
			if (mm && ksmpp_mm_mergeable(mm) && atomic_read(&mm->mm_users) &&
			    !ksmpp_mm_lookup(mm)) {
				slot = ksmpp_mm_register(mm);
				if (slot)
					ksmpp_mm_identify(slot, t);
				else
					ksmpp_enters_seen.again = true;
			}
			task_unlock(t);
			if (mm)
				break;
		}
	}
	rcu_read_unlock();
	ksmpp_stats.process_walks++;
}

/* Walk the host's processes if one opted in since @enters was counted. */
static void ksmpp_discover_mms_since(unsigned long enters)
{
	if (ksmpp_ksm_enters_now() != enters || ksmpp_enters_seen.again)
		ksmpp_discover_mms();
}

/*
 * Note who each known process is now, from its mm's owner (kept while the
 * mm has none: its last thread is exiting).
 */
static void ksmpp_identify_mms(void)
{
	struct task_struct *owner;
	struct ksmpp_mm *slot;

	rcu_read_lock();
	list_for_each_entry(slot, &ksmpp_mms, scan_list) {
		owner = rcu_dereference(slot->mm->owner);
		if (owner)
			ksmpp_mm_identify(slot, owner);
	}
	rcu_read_unlock();
}

/*
 * At a pass start: find the processes that opted in since the pass start
 * before the last one (a child opts in before it is on the task list, so
 * each opt-in is looked for at two pass starts), and note who each is now.
 */
static void ksmpp_refresh_mms(void)
{
	unsigned long enters = ksmpp_ksm_enters_now();

	ksmpp_discover_mms_since(ksmpp_enters_seen.pass[1]);
	ksmpp_enters_seen.pass[1] = ksmpp_enters_seen.pass[0];
	ksmpp_enters_seen.pass[0] = enters;
	ksmpp_identify_mms();
}

/* Take ksmpp_lock, ending the batch under way early (run, resizes). */
void ksmpp_lock_ahead_of_scan(void)
{
	atomic_inc(&ksmpp_lock_waiters);
	mutex_lock(&ksmpp_lock);
	atomic_dec(&ksmpp_lock_waiters);
}

/* The batch under way ends here: someone waits for ksmpp_lock, or unload. */
static bool ksmpp_batch_must_end(void)
{
	return atomic_read(&ksmpp_lock_waiters) || kthread_should_stop();
}

static bool ksmpp_mm_gone(struct ksmpp_mm *slot)
{
	return !atomic_read(&slot->mm->mm_users) || !ksmpp_mm_mergeable(slot->mm);
}

/*
 * Addresses without a page that a batch may pass over, per page of its
 * budget; a stretch with no page table at all counts as one. A huge,
 * sparse mergeable area costs a batch no more than that.
 */
#define KSMPP_HOLES_PER_PAGE	64

/*
 * The first anonymous page at or after the cursor in @slot's mergeable
 * areas, with a reference; its address in @addr. NULL at the end of the
 * process, ERR_PTR(-EAGAIN) once @holes addresses without a page were
 * passed over or the batch must end (@addr is where to go on). Mmap lock
 * held.
 */
static struct page *ksmpp_scan_mm(struct ksmpp_mm *slot, unsigned long *addr,
				  unsigned long *holes)
{
	VMA_ITERATOR(vmi, slot->mm, ksmpp_cursor.address);
	struct vm_area_struct *vma;
	unsigned long next;
	struct page *page;

	for_each_vma(vmi, vma) {
		if (!(vma->vm_flags & VM_MERGEABLE) || !vma->anon_vma)
			continue;
		for (*addr = max(ksmpp_cursor.address, vma->vm_start);
		     *addr < vma->vm_end; *addr = next) {
			next = ksmpp_skip_unmapped(slot->mm, *addr, vma->vm_end);
			if (next == *addr) {
				page = ksmpp_get_anon_page(vma, *addr);
				if (page)
					return page;
				next = *addr + PAGE_SIZE;
			}
			if (!--*holes || ksmpp_batch_must_end()) {
				*addr = next;
				return ERR_PTR(-EAGAIN);
			}
			cond_resched();
		}
	}
	return NULL;
}

/*
 * The next page of the pass, referenced; NULL when the pass is over, or an
 * error: -EBUSY when the process's mmap lock is taken, -EAGAIN when the
 * batch passed over @holes empty addresses (go on in the next batch).
 */
static struct page *ksmpp_scan_next(struct ksmpp_mm **slotp, unsigned long *addr,
				    unsigned long *holes)
{
	struct ksmpp_mm *slot;
	struct page *page;
	unsigned long from;

	while ((slot = ksmpp_cursor.slot)) {
		from = ksmpp_cursor.address;
		/* Never wait behind the process's own mmap writers: come back. */
		if (!mmap_read_trylock(slot->mm))
			return ERR_PTR(-EBUSY);
		/* Exit is tested under the mmap lock, as mm/ksm.c does. */
		if (ksmpp_mm_gone(slot)) {
			mmap_read_unlock(slot->mm);
			ksmpp_mm_unregister(slot);
			continue;
		}
		page = ksmpp_scan_mm(slot, addr, holes);
		mmap_read_unlock(slot->mm);
		/* Addresses passed over hold no page (any more). */
		ksmpp_forget_range(slot, from, page ? *addr : ULONG_MAX);
		if (page) {
			ksmpp_cursor.address = *addr + (IS_ERR(page) ? 0 : PAGE_SIZE);
			*slotp = slot;
			return page;
		}
		ksmpp_cursor.slot = list_is_last(&slot->scan_list, &ksmpp_mms) ?
			NULL : list_next_entry(slot, scan_list);
		ksmpp_cursor.address = 0;
	}
	return NULL;
}

/*
 * ksmppd's CPU time: the scheduler's sum, exact up to the last time it was
 * switched out (a tick at most behind), the source of KSM's
 * task_sched_runtime(), which is not exported.
 */
static u64 ksmpp_cpu_ns(void)
{
	return READ_ONCE(current->se.sum_exec_runtime);
}

static void ksmpp_advisor_limits(struct ksmpp_advisor_limits *lim)
{
	lim->target_scan_time = READ_ONCE(ksmpp_advisor_target_scan_time);
	lim->max_cpu = READ_ONCE(ksmpp_advisor_max_cpu);
	lim->min_pages = READ_ONCE(ksmpp_advisor_min_pages_to_scan);
	lim->max_pages = READ_ONCE(ksmpp_advisor_max_pages_to_scan);
}

static void ksmpp_pass_start(void)
{
	if (ksmpp_pace.mode == KSMPP_ADVISOR_SCAN_TIME) {
		ksmpp_pace.pass_ns = ktime_get_ns();
		ksmpp_pace.pass_cpu_ns = ksmpp_cpu_ns();
	}
	ksmpp_refresh_mms();
	ksmpp_cursor.slot = list_first_entry_or_null(&ksmpp_mms, struct ksmpp_mm,
						     scan_list);
	ksmpp_cursor.address = 0;
	/* Pages fresh from a fault sit in per-CPU LRU batches, referenced. */
	if (ksmpp_cursor.slot)
		static_call(ksmpp_lru_add_drain_all)();
}

static void ksmpp_pass_end(void)
{
	struct ksmpp_advisor_limits lim;

	ksmpp_unstable_reset(true);
	ksmpp_reclaim_stale();
	ksmpp_stats.full_scans++;
	if (ksmpp_pace.mode != KSMPP_ADVISOR_SCAN_TIME || !ksmpp_pace.pass_ns)
		return;
	ksmpp_advisor_limits(&lim);
	ksmpp_pace.pages_to_scan =
		ksmpp_advise_pass(&ksmpp_pace.advisor, &lim, READ_ONCE(ksmpp_pages_to_scan),
				  ktime_get_ns() - ksmpp_pace.pass_ns,
				  ksmpp_cpu_ns() - ksmpp_pace.pass_cpu_ns);
	ksmpp_pace.pass_ns = 0;
}

static long ksmpp_drain_this_cpu(void *unused)
{
	static_call(ksmpp_lru_add_drain)();
	return 0;
}

/*
 * @page, named by a hint, is not on the LRU: a page fresh from a fault sits
 * in a per-CPU LRU batch, whose reference would fail the merge. The I/O
 * faulted it in on its own CPU, most likely @cpu: drain that CPU's batches
 * alone, once per batch of visits, and every CPU's only if the page is
 * still not on the LRU (the reader moved, the page is isolated, or @cpu
 * is offline: hotplug is held off while the work runs there).
 */
static void ksmpp_drain_lru(struct page *page, unsigned int cpu)
{
	bool drained = false;

	if (!cpumask_test_and_set_cpu(cpu, &ksmpp_drained.cpus)) {
		cpus_read_lock();
		if (cpu_online(cpu)) {
			work_on_cpu(cpu, ksmpp_drain_this_cpu, NULL);
			drained = true;
		}
		cpus_read_unlock();
	}
	if (drained) {
		ksmpp_stats.lru_drains_cpu++;
		if (PageLRU(page))
			return;
	}
	if (!ksmpp_drained.all) {
		static_call(ksmpp_lru_add_drain_all)();
		ksmpp_drained.all = true;
		ksmpp_stats.lru_drains_all++;
	}
}

/*
 * Visit one page named by a hint; false if the process's mmap lock was
 * taken (come back to the page in the next batch: a hint is not seen
 * twice). Pages that are not anonymous pages in a mergeable area, or that
 * are merged already, are passed over cheaply.
 */
static bool ksmpp_visit_hinted(struct ksmpp_mm *slot, unsigned long addr)
{
	struct vm_area_struct *vma;
	struct page *page = NULL;

	if (!mmap_read_trylock(slot->mm))
		return false;
	vma = ksmpp_mergeable_vma(slot->mm, addr);
	if (vma)
		page = ksmpp_get_anon_page(vma, addr);
	mmap_read_unlock(slot->mm);
	if (!page || folio_test_ksm(page_folio(page))) {
		ksmpp_stats.hint_pages_skipped++;
	} else {
		unsigned long merges = ksmpp_stats.merges;

		if (!PageLRU(page))
			ksmpp_drain_lru(page, ksmpp_hint_cursor.cpu);
		ksmpp_cmp_and_merge_page(slot, addr, page, true);
		ksmpp_stats.hint_pages_scanned++;
		ksmpp_stats.hint_merges += ksmpp_stats.merges - merges;
	}
	if (page)
		put_page(page);
	return true;
}

/*
 * Take the next hint into the hint cursor: its whole pages (partly filled
 * ones are not I/O content) of a known process. Newer hints for the same
 * range as the one just done are coalesced into it.
 */
static bool ksmpp_next_hint(struct ksmpp_hint_ring *ring, bool *discovered)
{
	struct ksmpp_hint hint;
	struct ksmpp_mm *slot;
	unsigned long start, end;

	while (ksmpp_hint_ring_pop(ring, &hint)) {
		slot = ksmpp_mm_lookup(hint.mm);
		if (!slot && !*discovered) {
			/* A process that opted in since the last walk. */
			ksmpp_discover_mms_since(ksmpp_enters_seen.walk);
			*discovered = true;
			slot = ksmpp_mm_lookup(hint.mm);
		}
		if (!slot || ksmpp_mm_gone(slot)) {
			ksmpp_stats.hints_invalid++;
			continue;
		}
		start = PAGE_ALIGN(hint.start);
		end = (hint.start + hint.len) & PAGE_MASK;
		if (start >= end)
			continue;	/* no whole page */
		if (slot == ksmpp_hint_last.slot && start >= ksmpp_hint_last.start &&
		    end <= ksmpp_hint_last.end) {
			ksmpp_stats.hints_coalesced++;
			continue;
		}
		ksmpp_hint_cursor.slot = slot;
		ksmpp_hint_cursor.next = start;
		ksmpp_hint_cursor.end = end;
		ksmpp_hint_cursor.cpu = hint.cpu;
		ksmpp_hint_last.slot = slot;
		ksmpp_hint_last.start = start;
		ksmpp_hint_last.end = end;
		return true;
	}
	return false;
}

/* Visit up to @budget hinted pages, newest hints first; returns the count. */
static unsigned int ksmpp_scan_hints(unsigned int budget)
{
	struct ksmpp_hint_ring *ring = ksmpp_hints_ring();
	bool discovered = false;
	unsigned int used = 0;

	cpumask_clear(&ksmpp_drained.cpus);
	ksmpp_drained.all = false;
	/* Hints come as their I/O begins: those of the last batch's time wait. */
	if (ring)
		ksmpp_hint_ring_hold_back(ring);

	while (ring && used < budget && !ksmpp_batch_must_end()) {
		if (!ksmpp_hint_cursor.slot && !ksmpp_next_hint(ring, &discovered))
			break;
		if (!ksmpp_visit_hinted(ksmpp_hint_cursor.slot, ksmpp_hint_cursor.next))
			break;
		used++;
		ksmpp_hint_cursor.next += PAGE_SIZE;
		if (ksmpp_hint_cursor.next >= ksmpp_hint_cursor.end)
			ksmpp_hint_cursor.slot = NULL;
	}
	return used;
}

/*
 * Visit up to @budget pages of the linear scan; returns the count. The
 * batch ends at the end of a pass, as ksmd's does, so that processes with
 * nothing to scan cannot make a batch start pass after pass.
 */
static unsigned int ksmpp_scan_linear(unsigned int budget)
{
	unsigned long holes = (unsigned long)budget * KSMPP_HOLES_PER_PAGE;
	unsigned int visited = 0;
	struct ksmpp_mm *slot;
	struct page *page;
	unsigned long addr;

	while (visited < budget && !ksmpp_batch_must_end()) {
		if (!ksmpp_cursor.slot) {
			ksmpp_pass_start();
			if (!ksmpp_cursor.slot) {
				/*
				 * Nobody opted in. The last ones may have been
				 * unregistered while exit still held their pages:
				 * release the nodes of pages freed since.
				 */
				ksmpp_reclaim_stale();
				break;
			}
		}
		page = ksmpp_scan_next(&slot, &addr, &holes);
		if (IS_ERR(page))
			break;
		if (!page) {
			ksmpp_pass_end();
			break;
		}
		/* Passed over, a page costs no more than an empty address. */
		if (ksmpp_smart_skip(slot, addr, page)) {
			put_page(page);
			if (!--holes)
				break;
			continue;
		}
		ksmpp_cmp_and_merge_page(slot, addr, page, false);
		put_page(page);
		visited++;
	}
	return visited;
}

/*
 * KSM's ksm_zero_pages, for the processes ksmpp tracks: the kernel counts
 * the zero pages that KSM or use_zero_pages put in place, per process, and
 * uncounts them when they are written to or unmapped.
 */
static void ksmpp_count_zero_pages(void)
{
#ifdef KSMPP_HAVE_KSM_ZERO_PAGES
	struct ksmpp_mm *slot;
	long pages = 0;

	list_for_each_entry(slot, &ksmpp_mms, scan_list)
		pages += mm_ksm_zero_pages(slot->mm);
	WRITE_ONCE(ksmpp_stats.ksm_zero_pages, max(pages, 0L));
#endif
}

/*
 * At a batch's start: the advisor's measurements are reset if advisor_mode
 * changed; in scan-time mode, the batch before, now that its sleep is over,
 * sets the extra hinted pages of this one.
 */
static void ksmpp_advisor_batch_start(void)
{
	unsigned long mode = READ_ONCE(ksmpp_advisor_mode);
	struct ksmpp_advisor_limits lim;
	u64 now = ktime_get_ns(), cpu = ksmpp_cpu_ns();

	if (mode != ksmpp_pace.mode) {
		ksmpp_pace.mode = mode;
		ksmpp_pace.advisor = (struct ksmpp_advisor){ 0 };
		ksmpp_pace.pass_ns = 0;
		ksmpp_pace.pages_to_scan = 0;
	} else if (mode == KSMPP_ADVISOR_SCAN_TIME && ksmpp_pace.batch_ns) {
		ksmpp_pace.batch.wall_ns = now - ksmpp_pace.batch_ns;
		ksmpp_pace.batch.cpu_ns = cpu - ksmpp_pace.batch_cpu_ns;
		ksmpp_advisor_limits(&lim);
		ksmpp_advise_hints(&ksmpp_pace.advisor, &lim, READ_ONCE(ksmpp_pages_to_scan),
				   &ksmpp_pace.batch);
	}
	ksmpp_pace.batch_ns = now;
	ksmpp_pace.batch_cpu_ns = cpu;
}

/* While ksmppd does not scan: a stop is no part of a pass's or batch's time. */
static void ksmpp_advisor_pause(void)
{
	ksmpp_pace.pass_ns = 0;
	ksmpp_pace.batch_ns = 0;
}

/*
 * Set pages_to_scan to the pass rule's advice. Under the parameters' lock
 * (so never under ksmpp_lock, which run's writers take inside it): a write
 * of advisor_mode=none in between wins.
 */
static void ksmpp_advisor_apply(void)
{
	if (!ksmpp_pace.pages_to_scan)
		return;
	kernel_param_lock(THIS_MODULE);
	if (READ_ONCE(ksmpp_advisor_mode) == KSMPP_ADVISOR_SCAN_TIME)
		WRITE_ONCE(ksmpp_pages_to_scan, ksmpp_pace.pages_to_scan);
	kernel_param_unlock(THIS_MODULE);
	trace_ksmpp_advisor(ksmpp_pace.pages_to_scan, ksmpp_pace.advisor.scan_time);
	ksmpp_pace.pages_to_scan = 0;
}

/*
 * One batch: hints first, up to hint_scan_percent of pages_to_scan (and the
 * advisor's extra hinted pages), then the linear scan for the rest of
 * pages_to_scan, so that it is never starved. Under ksmpp_lock.
 */
static void ksmpp_scan_batch(void)
{
	unsigned int budget = READ_ONCE(ksmpp_pages_to_scan);
	unsigned int share = budget * READ_ONCE(ksmpp_hint_scan_percent) / 100;
	struct ksmpp_hint_ring *ring = ksmpp_hints_ring();
	unsigned long merges = ksmpp_stats.merges;
	u64 dropped = ring ? ksmpp_hint_ring_dropped(ring) : 0, dropped_now;
	unsigned int hinted, linear;

	ksmpp_fit_indexes();
	ksmpp_advisor_batch_start();
	hinted = ksmpp_scan_hints(share + ksmpp_pace.advisor.hint_pages);
	linear = ksmpp_scan_linear(budget - min(hinted, share));
	dropped_now = ring ? ksmpp_hint_ring_dropped(ring) : 0;
	if (dropped_now != dropped)
		trace_ksmpp_hints_dropped(dropped_now - dropped);
	trace_ksmpp_scan_batch(hinted, linear, ksmpp_stats.merges - merges);

	ksmpp_pace.batch = (struct ksmpp_batch_report){
		.pages = hinted + linear,
		.hint_share = share,
		.hinted = hinted,
		.hints_pending = (ring ? ksmpp_hint_ring_pending(ring) : 0) +
				 !!ksmpp_hint_cursor.slot,
	};
	/* A new ring (hint_buffer_size) counts from 0. */
	ksmpp_pace.batch.hints_dropped = dropped_now - min(dropped_now, ksmpp_pace.hints_dropped);
	ksmpp_pace.hints_dropped = dropped_now;
	WRITE_ONCE(ksmpp_stats.hint_extra_pages, ksmpp_pace.advisor.hint_pages);
	ksmpp_hints_count();
	ksmpp_count_zero_pages();
}

/*
 * Unmerge all of @slot's mergeable areas (with @foreign, only the pages
 * outside its scope): 0, -EINTR or -ENOMEM.
 */
static int ksmpp_unmerge_mm(struct ksmpp_mm *slot, bool foreign, bool interruptible)
{
	struct vm_area_struct *vma;
	int err = 0;

	mmap_read_lock(slot->mm);
	if (atomic_read(&slot->mm->mm_users)) {
		VMA_ITERATOR(vmi, slot->mm, 0);

		for_each_vma(vmi, vma) {
			if (!(vma->vm_flags & VM_MERGEABLE) || !vma->anon_vma)
				continue;
			err = ksmpp_unmerge_range(vma, vma->vm_start, vma->vm_end,
						  foreign ? slot : NULL, interruptible);
			if (err)
				break;
		}
	}
	mmap_read_unlock(slot->mm);
	return err;
}

/*
 * Rounds of 100 ms that unmerging retries pages still mapped: by a process
 * being forked or exiting meanwhile, or (on unload) one whose memory cgroup
 * is too full for a private copy.
 */
#define KSMPP_UNMERGE_ROUNDS	50

/*
 * Forget all processes: nothing is merged any more. They are found again by
 * a walk at the next pass start (or hint), whatever opted in meanwhile.
 */
static void ksmpp_forget_all(void)
{
	struct ksmpp_mm *slot, *next;

	list_for_each_entry_safe(slot, next, &ksmpp_mms, scan_list)
		ksmpp_mm_unregister(slot);
	ksmpp_enters_seen.walk = ULONG_MAX;
	ksmpp_enters_seen.pass[1] = ULONG_MAX;
	ksmpp_cursor.slot = NULL;
	ksmpp_unstable_reset(false);
	ksmpp_count_zero_pages();
}

/*
 * Unmerge every page ksmpp merged and forget all state; under ksmpp_lock.
 * Pages still mapped afterwards (by a process being forked or exiting) are
 * tried again, for KSMPP_UNMERGE_ROUNDS; then it gives up with -EBUSY. A
 * page that cannot be copied (-ENOMEM), or a signal with @interruptible
 * (-EINTR), ends it at once, as KSM's run=2; unload goes on retrying
 * (ksmpp_unmerge_for_unload()). Whatever is still merged when it gives up
 * stays as it is: tracked, and merged as before.
 */
static int ksmpp_unmerge_all(bool interruptible)
{
	struct ksmpp_mm *slot;
	unsigned long busy;
	int rounds, err;

	for (rounds = 1; ; rounds++) {
		ksmpp_discover_mms();
		list_for_each_entry(slot, &ksmpp_mms, scan_list) {
			err = ksmpp_unmerge_mm(slot, false, interruptible);
			if (err == -EINTR || (err && interruptible))
				return err;
		}
		busy = ksmpp_release_nodes();
		if (!busy) {
			ksmpp_forget_all();
			return 0;
		}
		if (rounds == KSMPP_UNMERGE_ROUNDS) {
			pr_warn("unmerge: %lu merged pages are still mapped after %d tries\n",
				busy, rounds);
			return -EBUSY;
		}
		if (!interruptible)
			msleep(100);
		else if (msleep_interruptible(100))
			return -EINTR;
	}
}

/*
 * Unload: unmerge everything; what cannot be unmerged is handed over to
 * kernel KSM's kind of memory (ksmpp_hand_over_nodes()), so that no page
 * is left pointing into the module.
 */
static void ksmpp_unmerge_for_unload(void)
{
	while (ksmpp_unmerge_all(false) && ksmpp_hand_over_nodes())
		msleep(100);	/* out of memory for the hand-over: again */
	ksmpp_forget_all();
}

/* Work out the state from run and kernel KSM; act on changes. */
static void ksmpp_update_state(void)
{
	enum ksmpp_state state = KSMPP_STOPPED;

	if (READ_ONCE(ksmpp_run) == KSMPP_RUN_MERGE)
		state = ksmpp_kernel_ksm_runs() ? KSMPP_BLOCKED : KSMPP_RUNNING;
	if (state == ksmpp_state)
		return;
	if (state == KSMPP_BLOCKED) {
		pr_warn("kernel KSM is running (/sys/kernel/mm/ksm/run is 1): ksmpp does not merge while it runs\n");
		if (ksmpp_stats.pages_shared) {
			WRITE_ONCE(ksmpp_state, KSMPP_UNMERGING);
			if (!ksmpp_unmerge_all(false))
				pr_warn("unmerged all of ksmpp's pages, for kernel KSM\n");
		}
	} else if (ksmpp_state == KSMPP_BLOCKED) {
		pr_info("kernel KSM stopped: ksmpp merges again\n");
	}
	WRITE_ONCE(ksmpp_state, state);
}

/*
 * Kernel KSM is being started (ksm_guard.c): unmerge all of ksmpp's pages
 * first, so that ksmd never meets one. Under ksmpp_lock, which the caller
 * keeps until KSM's run flag is set.
 */
int ksmpp_give_way_to_ksm(void)
{
	int err;

	if (!ksmpp_ready)
		return 0;
	if (ksmpp_stats.pages_shared)
		pr_info("kernel KSM is starting: unmerging ksmpp's pages first\n");
	WRITE_ONCE(ksmpp_state, KSMPP_UNMERGING);
	err = ksmpp_unmerge_all(true);
	WRITE_ONCE(ksmpp_state, KSMPP_STOPPED);
	ksmpp_scanner_wake();
	return err;
}

/*
 * How long to sleep after a batch. While no process has opted in and no
 * hint waits, nothing is scanned and a batch only looks for processes:
 * ksmd sleeps until madvise() wakes it, which ksmpp cannot see, so it
 * looks again only every KSMPP_IDLE_POLL_MS. Under ksmpp_lock.
 */
#define KSMPP_IDLE_POLL_MS	500

static unsigned int ksmpp_batch_sleep_ms(void)
{
	unsigned int ms = READ_ONCE(ksmpp_sleep_millisecs);
	struct ksmpp_hint_ring *ring = ksmpp_hints_ring();

	if (list_empty(&ksmpp_mms) && (!ring || !ksmpp_hint_ring_pending(ring)))
		ms = max_t(unsigned int, ms, KSMPP_IDLE_POLL_MS);
	return ms;
}

static int ksmpp_thread_fn(void *unused)
{
	unsigned int sleep_ms = 0;

	set_freezable();
	set_user_nice(current, 5);
	while (!kthread_should_stop()) {
		mutex_lock(&ksmpp_lock);
		ksmpp_update_state();
		if (ksmpp_state == KSMPP_RUNNING) {
			ksmpp_scan_batch();
			sleep_ms = ksmpp_batch_sleep_ms();
		} else {
			ksmpp_advisor_pause();
		}
		mutex_unlock(&ksmpp_lock);
		ksmpp_advisor_apply();

		if (ksmpp_state == KSMPP_RUNNING)
			schedule_timeout_interruptible(msecs_to_jiffies(sleep_ms));
		else if (ksmpp_state == KSMPP_BLOCKED)	/* poll kernel KSM */
			schedule_timeout_interruptible(HZ / 10);
		else
			wait_event_freezable(ksmpp_thread_wait,
					     READ_ONCE(ksmpp_run) == KSMPP_RUN_MERGE ||
					     kthread_should_stop());
		try_to_freeze();
	}
	return 0;
}

void ksmpp_scanner_wake(void)
{
	wake_up_interruptible(&ksmpp_thread_wait);
}

/*
 * Apply a new value of run (params.c), as KSM's run_store() does. The
 * parameter core calls this under kernel_param_lock(), which every read of
 * /sys/module/ksmpp/parameters/ takes too: an unmerge, which can take long,
 * lets go of it meanwhile (every other parameter is a plain value, and
 * ksmpp_lock keeps run changes in order).
 */
int ksmpp_set_run(unsigned long run)
{
	bool unmerge = run == KSMPP_RUN_UNMERGE;
	int err = 0;

	if (unmerge)
		kernel_param_unlock(THIS_MODULE);
	ksmpp_lock_ahead_of_scan();
	if (ksmpp_ready) {
		if (unmerge) {
			WRITE_ONCE(ksmpp_state, KSMPP_UNMERGING);
			ksmpp_test_delay(KSMPP_TEST_DELAY_UNMERGE);
			err = ksmpp_unmerge_all(true);
			if (err)
				run = KSMPP_RUN_STOP;
		}
		WRITE_ONCE(ksmpp_run, run);
		ksmpp_update_state();
	} else {
		WRITE_ONCE(ksmpp_run, run);
	}
	mutex_unlock(&ksmpp_lock);
	if (unmerge)
		kernel_param_lock(THIS_MODULE);
	ksmpp_scanner_wake();
	return err;
}

/*
 * Apply merge_across_nodes (params.c), as KSM's store does: it changes only
 * while nothing is merged (-EBUSY otherwise), so that every merged page
 * follows the rule in force.
 */
int ksmpp_set_merge_across_nodes(unsigned long merge)
{
	int err = 0;

	ksmpp_lock_ahead_of_scan();
	if (merge != ksmpp_merge_across_nodes && ksmpp_stats.pages_shared) {
		pr_err("merge_across_nodes cannot change while ksmpp has merged pages: write 2 to run first\n");
		err = -EBUSY;
	} else {
		WRITE_ONCE(ksmpp_merge_across_nodes, merge);
	}
	mutex_unlock(&ksmpp_lock);
	return err;
}

/*
 * Apply merge_scope (params.c): from now on pages merge only within the new
 * scope, and every merged mapping that the new scope forbids is unmerged
 * before the write returns (each node keeps one of its processes' scopes;
 * see ksmpp_rescope_nodes()). Sharing within a scope is left as it is. A
 * page that cannot be copied now (its memory cgroup is full) is unmerged
 * at the scanner's next visit; the log says how many.
 */
int ksmpp_set_merge_scope(unsigned long scope)
{
	struct ksmpp_mm *slot;
	unsigned long left = 0;

	kernel_param_unlock(THIS_MODULE);
	ksmpp_lock_ahead_of_scan();
	if (scope != ksmpp_merge_scope) {
		WRITE_ONCE(ksmpp_merge_scope, scope);
		if (ksmpp_ready) {
			ksmpp_discover_mms();
			ksmpp_identify_mms();
			ksmpp_rescope_nodes();
			ksmpp_unstable_reset(false);
			list_for_each_entry(slot, &ksmpp_mms, scan_list)
				left += ksmpp_unmerge_mm(slot, true, false) != 0;
		}
	}
	mutex_unlock(&ksmpp_lock);
	kernel_param_lock(THIS_MODULE);
	if (left)
		pr_warn("merge_scope: %lu processes keep pages out of scope for now (no memory to copy them): the scanner unmerges them\n",
			left);
	return 0;
}

int ksmpp_scanner_init(void)
{
	struct task_struct *thread;
	int err;

	err = register_kretprobe(&ksmpp_ksm_enter_probe);
	if (err) {
		pr_err("cannot probe __ksm_enter (error %d), not loading\n", err);
		return err;
	}
	thread = kthread_run(ksmpp_thread_fn, NULL, "ksmppd");
	if (IS_ERR(thread)) {
		unregister_kretprobe(&ksmpp_ksm_enter_probe);
		return PTR_ERR(thread);
	}
	mutex_lock(&ksmpp_lock);
	ksmpp_thread = thread;
	ksmpp_ready = true;
	mutex_unlock(&ksmpp_lock);
	ksmpp_scanner_wake();
	return 0;
}

/* Stop ksmppd and unmerge everything; returns once no page is merged. */
void ksmpp_scanner_exit(void)
{
	kthread_stop(ksmpp_thread);
	unregister_kretprobe(&ksmpp_ksm_enter_probe);
	mutex_lock(&ksmpp_lock);
	ksmpp_ready = false;
	WRITE_ONCE(ksmpp_state, KSMPP_UNMERGING);
	ksmpp_unmerge_for_unload();
	mutex_unlock(&ksmpp_lock);
}
