// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: hooks on the kernel's file I/O paths, the hints' producers.
 *
 * DOC: Hooks
 *
 * When a process that opted into merging moves file data into or out of its
 * own memory, the user range it uses is a prime candidate for duplicates:
 * page cache content then also lives in anonymous memory. A hook at the
 * entry of each function that copies between the page cache (or a device,
 * for direct I/O) and a user iov_iter records that range as a hint:
 *
 *	filemap_read			buffered reads (ext4, xfs, btrfs, vfat,
 *					block devices, ...), from read, pread,
 *					readv, preadv2, io_uring and aio alike
 *	shmem_file_read_iter		tmpfs and memfd reads
 *	__iomap_dio_rw			direct I/O on iomap file systems (ext4,
 *					xfs, btrfs)
 *	__iomap_dio_read_simple		7.x's direct reads of at most one block
 *					on ext4 and xfs (optional: 6.1 and 6.12
 *					have no such function)
 *	__blockdev_direct_IO		direct I/O on the legacy path (vfat,
 *					udf, hfsplus, ...; exfat and ntfs3 up
 *					to 6.12, ext2 on 6.1)
 *	blkdev_direct_IO		direct I/O on block devices (6.1: its
 *					clone blkdev_direct_IO.part.0, compat.h)
 *	generic_perform_write		buffered writes (ext4, vfat, tmpfs, 6.1's
 *					block devices)
 *	iomap_file_buffered_write	buffered writes on xfs (and block
 *					devices from 6.12)
 *
 * Not hinted: btrfs's buffered writes, which copy in btrfs's own
 * btrfs_buffered_write() (a module function), and io_uring's fixed
 * buffers, which reach the hooks as kernel page vectors.
 *
 * Hooks see only a call's entry: no return hook, whose trampoline costs
 * more than the rest and puts its address on the caller's stack. At entry
 * the iterator holds the user range the call is about to fill or drain: a
 * buffered read fills at most up to the end of the file (the iocb's
 * position against the file's size), a direct transfer or a write all of
 * it. A call that moves less (an error, a signal, a short device) leaves a
 * hint on memory it did not fill: a wasted visit, since merging compares
 * contents. A read's hint exists before its data does, so the scanner
 * takes only hints pushed before its previous batch began
 * (ksmpp_hint_ring_hold_back()).
 *
 * Each iovec segment becomes a hint in the lossy ring, or one run of
 * segments adjacent in user memory does. Hint ranges are byte-exact: pages
 * only partly covered are partial, and the scanner visits only a range's
 * whole pages. A hint equal to the last one its CPU pushed, which the
 * scanner has not taken in yet, is not pushed again. Only user-backed
 * iterators of processes whose mm has MMF_VM_MERGEABLE count; kernel
 * threads and kernel-internal I/O are ignored at entry, at the cost of one
 * flag test.
 *
 * hook_mode chooses the mechanism. An ftrace direct call: each function's
 * fentry site calls ksmpp's own trampoline, which for a process that did
 * not opt in costs a call, one question and a return, with no register
 * saved. An ftrace_ops of ours, whose callback ftrace's trampoline calls
 * after saving the argument registers. Or a kprobe per function. A
 * function has one direct-call slot, which a BPF fentry program or
 * another module may hold: auto (the default) gives such a function the
 * ftrace_ops, and a function ftrace cannot hook a kprobe. /proc/ksmpp says
 * which each function got. While ksmpp holds a slot, another tracer's
 * direct call on that function is refused (hook_mode=ftrace leaves the
 * slots free).
 *
 * Hints are recorded with preemption disabled (the direct call's and the
 * ftrace callback's C code disables it once the process is known to have
 * opted in; a kprobe's handler runs so): they never sleep, never allocate,
 * never touch user memory and take no reference on the mm, which the ring
 * keeps only as an identity. The consumer validates it against the
 * processes it knows, so a stale hint may be wasted, never dangerous. The
 * ring is replaced (hint_buffer_size) under RCU: recorders are RCU-sched
 * readers.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ftrace.h>
#include <linux/kprobes.h>
#include <linux/log2.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/uio.h>
#include <linux/utsname.h>

#include "ksmpp.h"
#include "trace.h"

/*
 * Most hints one call records. A scattered transfer has one range per
 * iovec, and a guest's request reaches QEMU as up to 128 of them
 * (virtio-blk's usual seg_max is 126): the cap keeps every range of such a
 * request, while bounding a handler's work (a push costs about as much as
 * a cached 4 KiB copy) and a single call's share of the ring.
 */
#define KSMPP_HINT_MAX_RANGES	128

const char * const ksmpp_hint_source_names[KSMPP_HINT_SOURCES] = {
	[KSMPP_HINT_READ] = "read",
	[KSMPP_HINT_DIRECT_READ] = "direct_read",
	[KSMPP_HINT_WRITE] = "write",
	[KSMPP_HINT_DIRECT_WRITE] = "direct_write",
};

static struct ksmpp_hint_ring __rcu *ksmpp_ring;
/* The ring exists and the hooks may be live (under ksmpp_lock). */
static bool ksmpp_hooks_live;
/* Counters of rings replaced by a resize, so totals survive it. */
static u64 ksmpp_retired_dropped, ksmpp_retired_consumed;
/*
 * The consumer's side of the ring (pending, dropped, consumed) can only be
 * counted under ksmpp_lock, which ksmppd holds while it scans. Readers of
 * the figures never wait for it: they count when the lock is free and
 * otherwise take these, as counted at the end of ksmppd's last batch.
 */
static struct {
	u64 pending, dropped, consumed;
} ksmpp_ring_seen;

/* Per-CPU, so that producers on different CPUs never share a line. */
struct ksmpp_hint_counts {
	u64 generated[KSMPP_HINT_SOURCES];
	u64 bytes;
	u64 repeated;		/* generated, but not pushed: see below */
};
static DEFINE_PER_CPU(struct ksmpp_hint_counts, ksmpp_hint_counts);

/*
 * The hint each CPU pushed last. A hint equal to it is not pushed again
 * while the scanner has not taken that one in (ksmpp_hint_ring_unseen()):
 * a process reading into one buffer again and again costs one push per
 * scanner batch, not one per call. A hook interrupting another on the same
 * CPU (none of the hooked functions runs in interrupts today) could at
 * worst tear the record, and a new ring allocated where a replaced one was
 * could match a stale record: one repeat pushed, or one hint lost.
 */
struct ksmpp_hint_last {
	const struct ksmpp_hint_ring *ring;
	u64 seq;
	struct ksmpp_hint hint;
};
static DEFINE_PER_CPU(struct ksmpp_hint_last, ksmpp_hint_last);

/* What a hooked function does with its iterator's user memory. */
enum ksmpp_io_kind {
	KSMPP_IO_READ,		/* buffered read: fills it up to the end of the file */
	KSMPP_IO_WRITE,		/* buffered write: drains it */
	KSMPP_IO_DIRECT,	/* direct I/O, either way (the iterator says) */
};

/* Where a direct ops is: its filter to free, or to unregister (which frees it). */
enum ksmpp_direct_state {
	KSMPP_DIRECT_UNUSED,
	KSMPP_DIRECT_FILTERED,
	KSMPP_DIRECT_LIVE,
};

/* One hooked function. Its first argument is the iocb. */
struct ksmpp_io_hook {
	const char *name;		/* the function */
	const char *clone;		/* hooked instead where it exists */
	unsigned int iter_arg;		/* which argument is the iov_iter: 1 or 3 */
	enum ksmpp_io_kind kind;
	bool optional;			/* kernels without it load all the same */
	enum ksmpp_hook_how how;	/* the mechanism it got */
	unsigned long site;		/* its ftrace site (fentry call) */
	struct kprobe kp;
#ifdef KSMPP_HAVE_DIRECT_CALLS
	/* Its own direct ops, where the shared one was refused. */
	struct ftrace_ops direct_ops;
	enum ksmpp_direct_state direct_state;
#endif
};

static const char * const ksmpp_hook_how_names[] = {
	[KSMPP_HOOK_NONE] = "none",
	[KSMPP_HOOK_DIRECT] = "direct",
	[KSMPP_HOOK_FTRACE] = "ftrace",
	[KSMPP_HOOK_KPROBE] = "kprobe",
};

/*
 * Push the hint of the current process on [@start, @start + @len) into
 * @ring, recording it as this CPU's last; preemption off. The hint is
 * built in the record and pushed from there: no copy, and no local whose
 * address escapes (which would cost a stack canary on every call).
 */
static noinline void notrace ksmpp_hint_push(struct ksmpp_hint_ring *ring,
					     struct ksmpp_hint_last *last,
					     unsigned long start, unsigned long len, u8 source)
{
	last->ring = ring;
	last->hint = (struct ksmpp_hint) {
		.mm = current->mm,
		.start = start,
		.len = len,
		.tgid = current->tgid,
		.cpu = raw_smp_processor_id(),
		.source = source,
	};
	last->seq = ksmpp_hint_ring_push(ring, &last->hint);
	/* A hint lost to contention is no hint to repeat: match no ring. */
	if (unlikely(last->seq == KSMPP_HINT_RING_LOST))
		last->ring = NULL;
	trace_ksmpp_hint(last->hint.tgid, start, len, source);
}

/*
 * Record one hint; preemption off. A repeat, the common case of a process
 * reading into one buffer, returns without calling anything: the push is
 * a call of its own, in tail position, so that a repeat saves no register.
 */
static void notrace ksmpp_hint_range(unsigned long start, unsigned long len, u8 source)
{
	struct ksmpp_hint_ring *ring = rcu_dereference_sched(ksmpp_ring);
	struct ksmpp_hint_last *last = this_cpu_ptr(&ksmpp_hint_last);

	if (unlikely(!ring))
		return;
	/*
	 * The mask changes no valid source; it shows the compiler the index
	 * is in bounds, so that a kernel with UBSAN_BOUNDS (7.x) checks
	 * nothing here, and the repeat stays a leaf.
	 */
	BUILD_BUG_ON(!is_power_of_2(KSMPP_HINT_SOURCES));
	this_cpu_inc(ksmpp_hint_counts.generated[source & (KSMPP_HINT_SOURCES - 1)]);
	this_cpu_add(ksmpp_hint_counts.bytes, len);
	/* Same mm, same range, same source: tgid and cpu follow. */
	if (last->ring == ring && last->hint.mm == current->mm && last->hint.start == start &&
	    last->hint.len == len && last->hint.source == source &&
	    ksmpp_hint_ring_unseen(ring, last->seq)) {
		this_cpu_inc(ksmpp_hint_counts.repeated);
		return;
	}
	ksmpp_hint_push(ring, last, start, len, source);
}

/*
 * Hint the first @bytes of the user iovec array @it describes. Segments that
 * continue one another in user memory (a contiguous buffer split into
 * blocks) make one hint. The walk stops once @bytes are accounted for, so
 * it visits at most nr_segs segments (UIO_MAXIOV for a user iovec array);
 * past KSMPP_HINT_MAX_RANGES hints the rest is lost, as if overwritten in
 * the ring.
 */
static noinline void notrace ksmpp_hint_iovec(const struct iov_iter *it, size_t bytes,
					      u8 source)
{
	const struct iovec *iov = iter_iov(it);
	size_t skip = it->iov_offset, len;
	unsigned long seg, base, start = 0, run = 0;
	unsigned int ranges = 0;

	for (seg = 0; bytes && seg < it->nr_segs; seg++, skip = 0) {
		if (iov[seg].iov_len <= skip)
			continue;
		base = (unsigned long)iov[seg].iov_base + skip;
		len = min(iov[seg].iov_len - skip, bytes);
		bytes -= len;
		if (run && base == start + run) {
			run += len;
			continue;
		}
		if (run) {
			ksmpp_hint_range(start, run, source);
			if (++ranges == KSMPP_HINT_MAX_RANGES)
				return;
		}
		start = base;
		run = len;
	}
	if (run)
		ksmpp_hint_range(start, run, source);
}

/*
 * As ksmpp_hint_iovec(), for any user-backed iterator: a single buffer
 * (read(), pread()) takes the short way, without the walk's registers.
 */
static __always_inline void ksmpp_hint_iter(const struct iov_iter *it, size_t bytes,
					    u8 source)
{
	if (iter_is_ubuf(it))
		ksmpp_hint_range((unsigned long)it->ubuf + it->iov_offset, bytes, source);
	else
		ksmpp_hint_iovec(it, bytes, source);
}

/* Bytes a buffered read at @iocb's position can fill: up to the file's end. */
static size_t ksmpp_read_bytes_left(const struct kiocb *iocb, size_t count)
{
	loff_t size = i_size_read(iocb->ki_filp->f_mapping->host);

	if (iocb->ki_pos >= size)
		return 0;
	return min_t(u64, count, size - iocb->ki_pos);
}

/* Whether the current task's mm opted into merging (the direct call's question). */
static __always_inline bool ksmpp_io_mm_mergeable(void)
{
	struct mm_struct *mm = current->mm;

	return mm && ksmpp_mm_mergeable(mm);
}

/* The rest of the question: hints on, and not a kernel thread using an mm. */
static __always_inline bool ksmpp_io_hints_taken(void)
{
	return READ_ONCE(ksmpp_hint_scan_percent) && !(current->flags & PF_KTHREAD);
}

/* Whether the current task is a process that opted into merging, with hints on. */
static __always_inline bool ksmpp_io_wanted(void)
{
	return ksmpp_io_hints_taken() && ksmpp_io_mm_mergeable();
}

/* Hint what @hook's call with @iocb and @iter is about to move; preemption off. */
static __always_inline void ksmpp_io_enter(const struct ksmpp_io_hook *hook,
					    const struct kiocb *iocb,
					    const struct iov_iter *iter)
{
	size_t bytes;
	u8 source;

	if (!user_backed_iter(iter))
		return;
	bytes = iov_iter_count(iter);
	switch (hook->kind) {
	case KSMPP_IO_READ:
		bytes = ksmpp_read_bytes_left(iocb, bytes);
		source = KSMPP_HINT_READ;
		break;
	case KSMPP_IO_WRITE:
		source = KSMPP_HINT_WRITE;
		break;
	default:
		source = iov_iter_rw(iter) == WRITE ? KSMPP_HINT_DIRECT_WRITE :
						       KSMPP_HINT_DIRECT_READ;
		break;
	}
	if (bytes)
		ksmpp_hint_iter(iter, bytes, source);
}

/*
 * @hook's iterator, given the call's arguments 1 and 3 (registers both):
 * reading the argument by a variable index would bring in the path to
 * stack arguments, and a stack canary with it, on every call.
 */
static __always_inline const struct iov_iter *ksmpp_io_iter(const struct ksmpp_io_hook *hook,
							    unsigned long arg1,
							    unsigned long arg3)
{
	return (const struct iov_iter *)(hook->iter_arg == 3 ? arg3 : arg1);
}

/* The kprobe pre-handler, run with preemption disabled. */
static int ksmpp_io_kprobe(struct kprobe *kp, struct pt_regs *regs)
{
	const struct ksmpp_io_hook *hook = container_of(kp, struct ksmpp_io_hook, kp);

	if (ksmpp_io_wanted())
		ksmpp_io_enter(hook, (struct kiocb *)regs_get_kernel_argument(regs, 0),
			       ksmpp_io_iter(hook, regs_get_kernel_argument(regs, 1),
					     regs_get_kernel_argument(regs, 3)));
	return 0;
}

/* The optional fields (.optional, .clone) follow the kind. */
#define KSMPP_IO_HOOK(fn, arg, io_kind, ...) {				\
	.name = #fn, .kind = KSMPP_IO_##io_kind,			\
	.iter_arg = arg + BUILD_BUG_ON_ZERO(arg != 1 && arg != 3),	\
	.kp.pre_handler = ksmpp_io_kprobe,				\
	__VA_ARGS__							\
}

static struct ksmpp_io_hook ksmpp_io_hooks[] = {
	KSMPP_IO_HOOK(filemap_read, 1, READ),
	KSMPP_IO_HOOK(shmem_file_read_iter, 1, READ),
	KSMPP_IO_HOOK(__iomap_dio_rw, 1, DIRECT),
	KSMPP_IO_HOOK(__iomap_dio_read_simple, 1, DIRECT, .optional = true),
	KSMPP_IO_HOOK(__blockdev_direct_IO, 3, DIRECT),
	KSMPP_IO_HOOK(blkdev_direct_IO, 1, DIRECT,
		      .clone = KSMPP_SPLIT_CLONE(blkdev_direct_IO)),
	KSMPP_IO_HOOK(generic_perform_write, 1, WRITE),
	KSMPP_IO_HOOK(iomap_file_buffered_write, 1, WRITE),
};

/* The hook of the function whose fentry site is at @ip; NULL for none. */
static __always_inline const struct ksmpp_io_hook *ksmpp_io_hook_at(unsigned long ip)
{
	const struct ksmpp_io_hook *hook;

	/* Unrolled: a comparison a hook, no loop to align or count. */
#pragma GCC unroll 8
	for (hook = ksmpp_io_hooks; hook < ksmpp_io_hooks + ARRAY_SIZE(ksmpp_io_hooks); hook++)
		if (ip == hook->site)
			return hook;
	return NULL;
}

/*
 * Hint the call whose fentry site is at @ip, with arguments @a0, @a1 and
 * @a3, of a process that opted in; preemptible (the ftrace callback and
 * the direct call).
 */
static __always_inline void ksmpp_io_call(unsigned long ip, unsigned long a0,
					  unsigned long a1, unsigned long a3)
{
	const struct ksmpp_io_hook *hook = ksmpp_io_hook_at(ip);

	if (!hook)
		return;
	preempt_disable_notrace();
	ksmpp_io_enter(hook, (const struct kiocb *)a0, ksmpp_io_iter(hook, a1, a3));
	preempt_enable_notrace();
}

/*
 * The ftrace callback, called from a hooked function's fentry site at @ip
 * with the argument registers saved (no SAVE_REGS, no recursion guard: it
 * calls no hooked function). It runs preemptible: a process that did not
 * opt in costs the call and one flag test.
 */
static void notrace ksmpp_io_ftrace(unsigned long ip, unsigned long parent_ip,
				    struct ftrace_ops *ops, struct ftrace_regs *fregs)
{
	if (ksmpp_io_wanted())
		ksmpp_io_call(ip, ksmpp_ftrace_arg(fregs, 0), ksmpp_ftrace_arg(fregs, 1),
			      ksmpp_ftrace_arg(fregs, 3));
}

#ifdef KSMPP_HAVE_DIRECT_CALLS
/*
 * Direct calls: a hooked function's fentry site calls ksmpp_io_direct_tramp
 * (below) itself. The trampoline's question, asked on every call: whether
 * the task's mm opted into merging (ksmpp_io_mm_mergeable(), in four
 * instructions of its own that write only rax, which carries no argument
 * of a hooked function: none is variadic). A process that did not opt in
 * costs that and a return, with no register saved. ksmpp_io_direct() asks
 * the rest of ksmpp_io_wanted().
 *
 * The question needs offsets that only the compiler knows. A top-level asm
 * takes no operands, so this function, never called, hands them to the
 * assembler as local symbols, as the kernel's asm-offsets.c does: where
 * the mm is in the task, and which byte and bit of the mm's flags is
 * MMF_VM_MERGEABLE (x86 is little-endian).
 */
static void __used notrace ksmpp_io_direct_offsets(void)
{
#ifdef KSMPP_CURRENT_TASK_HOT
	BUILD_BUG_ON(offsetof(struct pcpu_hot, current_task) != 0);
#endif
	asm volatile(".set .Lksmpp_task_mm, %c0\n\t"
		     ".set .Lksmpp_mm_mergeable_byte, %c1\n\t"
		     ".set .Lksmpp_mm_mergeable_bit, %c2\n\t"
		     : : "i" (offsetof(struct task_struct, mm)),
			 "i" (offsetof(struct mm_struct, flags) + MMF_VM_MERGEABLE / BITS_PER_BYTE),
			 "i" (BIT(MMF_VM_MERGEABLE % BITS_PER_BYTE)));
}

/*
 * Called by the trampoline, preemptible, for a process that may have
 * opted in: @a0 to @a3 are the hooked function's first four arguments,
 * still in their registers, and @ret is where its fentry call returns to.
 */
static void __used notrace ksmpp_io_direct(unsigned long a0, unsigned long a1,
					   unsigned long a2, unsigned long a3, unsigned long ret)
{
	if (ksmpp_io_hints_taken())
		ksmpp_io_call(ret - MCOUNT_INSN_SIZE, a0, a1, a3);
}

/*
 * The trampoline. It is called from a hooked function's fentry site (or
 * from ftrace's own trampoline, when another tracer shares the function)
 * with the function's arguments in their registers and the site's return
 * address on top of the stack, and returns to the function with all of
 * them as they were. ENDBR first (its address is taken); it accounts the
 * call depth itself (the site's call skips call thunks) and returns
 * through the return thunk. Where the process opted in, it saves the six
 * argument registers and calls ksmpp_io_direct() with the first four
 * where they are and the return address as the fifth (the iterator is
 * the second or fourth). No frame pointer of its own: objtool describes
 * its pushes to the ORC unwinder. No indirect call.
 */
asm(
"	.pushsection .text, \"ax\", @progbits\n"
"	.type ksmpp_io_direct_tramp, @function\n"
"	.globl ksmpp_io_direct_tramp\n"
"ksmpp_io_direct_tramp:\n"
	ASM_ENDBR
	CALL_DEPTH_ACCOUNT
"	movq " KSMPP_CURRENT_TASK_ASM ", %rax\n"
"	movq .Lksmpp_task_mm(%rax), %rax\n"
"	testq %rax, %rax\n"
"	jz 2f\n"
"	testb $.Lksmpp_mm_mergeable_bit, .Lksmpp_mm_mergeable_byte(%rax)\n"
"	jnz 1f\n"
"2:\n"
	ASM_RET
"1:	pushq %rdi\n"
"	pushq %rsi\n"
"	pushq %rdx\n"
"	pushq %rcx\n"
"	pushq %r8\n"
"	pushq %r9\n"
"	movq 48(%rsp), %r8\n"
"	call ksmpp_io_direct\n"
"	popq %r9\n"
"	popq %r8\n"
"	popq %rcx\n"
"	popq %rdx\n"
"	popq %rsi\n"
"	popq %rdi\n"
	ASM_RET
"	.size ksmpp_io_direct_tramp, .-ksmpp_io_direct_tramp\n"
"	.popsection\n"
);

/* One direct ops for every function that takes a direct call. */
static struct ftrace_ops ksmpp_io_direct_ops;
static enum ksmpp_direct_state ksmpp_io_direct_state;

/* Undo @ops in @state (a registered ops is unregistered, which waits for callers). */
static void ksmpp_io_direct_release(struct ftrace_ops *ops, enum ksmpp_direct_state *state)
{
	if (*state == KSMPP_DIRECT_LIVE)
		ksmpp_unregister_direct(ops, (unsigned long)ksmpp_io_direct_tramp);
	else if (*state == KSMPP_DIRECT_FILTERED)
		ftrace_free_filter(ops);
	*state = KSMPP_DIRECT_UNUSED;
}

/* Register @ops, filtered for its functions, and note it in @state. */
static int ksmpp_io_direct_register(struct ftrace_ops *ops, enum ksmpp_direct_state *state)
{
	int err = ksmpp_register_direct(ops, (unsigned long)ksmpp_io_direct_tramp);

	if (!err)
		*state = KSMPP_DIRECT_LIVE;
	return err;
}

/*
 * Filter the shared direct ops for @hook's function: where ftrace has a
 * site for it. Registering comes once all are in (ksmpp_io_direct_attach()).
 */
static int ksmpp_io_direct_filter(struct ksmpp_io_hook *hook)
{
	int err = ftrace_set_filter_ip(&ksmpp_io_direct_ops, hook->site, 0, 0);

	if (!err) {
		ksmpp_io_direct_state = KSMPP_DIRECT_FILTERED;
		hook->how = KSMPP_HOOK_DIRECT;
	}
	return err;
}

static void ksmpp_io_direct_detach(void)
{
	struct ksmpp_io_hook *hook;

	ksmpp_io_direct_release(&ksmpp_io_direct_ops, &ksmpp_io_direct_state);
	for (hook = ksmpp_io_hooks; hook < ksmpp_io_hooks + ARRAY_SIZE(ksmpp_io_hooks); hook++)
		ksmpp_io_direct_release(&hook->direct_ops, &hook->direct_state);
}
#else
static int ksmpp_io_direct_filter(struct ksmpp_io_hook *hook)
{
	return -ENODEV;
}

static void ksmpp_io_direct_detach(void)
{
}
#endif

/*
 * One ftrace_ops for every function it hooks: unregistering an ops waits
 * for RCU-tasks grace periods, which take seconds on a busy host. ftrace
 * stays on while it is registered: ksm_guard's ops is permanent.
 */
static struct ftrace_ops ksmpp_io_ops = {
	.func = ksmpp_io_ftrace,
	.flags = KSMPP_FTRACE_ARGS_FLAGS,
};
static bool ksmpp_io_ops_live;

/* Filter ksmpp_io_ops for @hook's function, registered once all are in. */
static int ksmpp_io_ftrace_filter(struct ksmpp_io_hook *hook)
{
	int err = ftrace_set_filter_ip(&ksmpp_io_ops, hook->site, 0, 0);

	if (!err)
		hook->how = KSMPP_HOOK_FTRACE;
	return err;
}

/* A kprobe on @hook's function, kp.symbol_name. */
static int ksmpp_io_kprobe_register(struct ksmpp_io_hook *hook)
{
	int err = register_kprobe(&hook->kp);

	if (!err)
		hook->how = KSMPP_HOOK_KPROBE;
	return err;
}

static void ksmpp_io_hooks_unregister(void)
{
	struct ksmpp_io_hook *hook;

	ksmpp_io_direct_detach();
	if (ksmpp_io_ops_live) {
		/* Waits for callbacks, preempted ones too (RCU tasks). */
		unregister_ftrace_function(&ksmpp_io_ops);
		ksmpp_io_ops_live = false;
	}
	/* Frees the filter's hashes without resetting them: once only. */
	ftrace_free_filter(&ksmpp_io_ops);
	for (hook = ksmpp_io_hooks; hook < ksmpp_io_hooks + ARRAY_SIZE(ksmpp_io_hooks); hook++) {
		if (hook->how == KSMPP_HOOK_KPROBE)
			unregister_kprobe(&hook->kp);
		hook->how = KSMPP_HOOK_NONE;
	}
}

/* Call @show with each hooked function's name and the mechanism it got. */
void ksmpp_hooks_for_each(void (*show)(void *arg, const char *function, const char *how),
			  void *arg)
{
	const struct ksmpp_io_hook *hook;

	for (hook = ksmpp_io_hooks; hook < ksmpp_io_hooks + ARRAY_SIZE(ksmpp_io_hooks); hook++)
		show(arg, hook->name, ksmpp_hook_how_names[READ_ONCE(hook->how)]);
}

/*
 * Free the ring once no hook can run (hooks unregistered, which waits for
 * running ones).
 */
static void ksmpp_hooks_exit_ring(void)
{
	struct ksmpp_hint_ring *ring;

	mutex_lock(&ksmpp_lock);
	ksmpp_hooks_live = false;
	ring = rcu_replace_pointer(ksmpp_ring, NULL, lockdep_is_held(&ksmpp_lock));
	ksmpp_stats.metadata_bytes -= (long)ksmpp_hint_buffer_size * sizeof(struct ksmpp_hint);
	mutex_unlock(&ksmpp_lock);
	synchronize_rcu();
	ksmpp_hint_ring_free(ring);
}

void ksmpp_hint_totals(struct ksmpp_hint_totals *t)
{
	int cpu, i;

	memset(t, 0, sizeof(*t));
	for_each_possible_cpu(cpu) {
		const struct ksmpp_hint_counts *c = per_cpu_ptr(&ksmpp_hint_counts, cpu);

		for (i = 0; i < KSMPP_HINT_SOURCES; i++)
			t->generated[i] += c->generated[i];
		t->bytes += c->bytes;
		t->repeated += c->repeated;
	}
	for (i = 0; i < ARRAY_SIZE(ksmpp_io_hooks); i++)
		t->missed += READ_ONCE(ksmpp_io_hooks[i].kp.nmissed);
	if (mutex_trylock(&ksmpp_lock)) {
		ksmpp_hints_count();
		mutex_unlock(&ksmpp_lock);
	}
	t->pending = READ_ONCE(ksmpp_ring_seen.pending);
	t->dropped = READ_ONCE(ksmpp_ring_seen.dropped);
	t->consumed = READ_ONCE(ksmpp_ring_seen.consumed);
}

/* Count the consumer's side of the ring, for ksmpp_hint_totals(). */
void ksmpp_hints_count(void)
{
	struct ksmpp_hint_ring *ring = ksmpp_hooks_live ? ksmpp_hints_ring() : NULL;
	u64 pending = 0, dropped = ksmpp_retired_dropped;
	u64 consumed = ksmpp_retired_consumed;

	lockdep_assert_held(&ksmpp_lock);
	if (ring) {
		pending = ksmpp_hint_ring_pending(ring);
		dropped += ksmpp_hint_ring_dropped(ring);
		consumed += ksmpp_hint_ring_consumed(ring);
	}
	WRITE_ONCE(ksmpp_ring_seen.pending, pending);
	WRITE_ONCE(ksmpp_ring_seen.dropped, dropped);
	WRITE_ONCE(ksmpp_ring_seen.consumed, consumed);
}

/* The ring the consumer pops from; under ksmpp_lock. */
struct ksmpp_hint_ring *ksmpp_hints_ring(void)
{
	return rcu_dereference_protected(ksmpp_ring, lockdep_is_held(&ksmpp_lock));
}

/* List the pending hints, newest first (debugfs). */
void ksmpp_hints_list(struct seq_file *m)
{
	struct ksmpp_hint_ring *ring;
	struct ksmpp_hint hint;
	u64 n, unread;

	mutex_lock(&ksmpp_lock);
	ring = ksmpp_hooks_live ? ksmpp_hints_ring() : NULL;
	unread = ring ? ksmpp_hint_ring_unread(ring) : 0;
	/* Lost hints (overwritten, or given up by a contended push) are skipped. */
	for (n = 0; n < unread; n++)
		if (ksmpp_hint_ring_peek(ring, n, &hint))
			seq_printf(m, "%d %#lx %lu %s\n", hint.tgid, hint.start,
				   hint.len, ksmpp_hint_source_names[hint.source]);
	mutex_unlock(&ksmpp_lock);
}

/*
 * Apply hint_buffer_size: replace the ring by an empty one of @size
 * entries; the old ring's pending hints count as dropped. Before the
 * module is up (modprobe's parameters) only the size is stored.
 */
int ksmpp_set_hint_buffer_size(unsigned long size)
{
	struct ksmpp_hint_ring *ring, *old;
	unsigned long old_size;

	ring = ksmpp_hint_ring_alloc(size);
	if (!ring)
		return -ENOMEM;
	ksmpp_lock_ahead_of_scan();
	old_size = ksmpp_hint_buffer_size;
	WRITE_ONCE(ksmpp_hint_buffer_size, size);
	if (!ksmpp_hooks_live) {
		mutex_unlock(&ksmpp_lock);
		ksmpp_hint_ring_free(ring);
		return 0;
	}
	old = rcu_replace_pointer(ksmpp_ring, ring, lockdep_is_held(&ksmpp_lock));
	ksmpp_stats.metadata_bytes += ((long)size - old_size) * sizeof(struct ksmpp_hint);
	synchronize_rcu();	/* no producer is using the old ring any more */
	ksmpp_retired_dropped += ksmpp_hint_ring_dropped(old) +
		ksmpp_hint_ring_pending(old);
	ksmpp_retired_consumed += ksmpp_hint_ring_consumed(old);
	mutex_unlock(&ksmpp_lock);
	ksmpp_hint_ring_free(old);
	return 0;
}

/*
 * Apply hook_mode: stored before the hooks are registered (modprobe's
 * parameters); once they are, a change needs a reload.
 */
int ksmpp_set_hook_mode(unsigned long mode)
{
	int err = 0;

	mutex_lock(&ksmpp_lock);
	if (ksmpp_hooks_live && mode != ksmpp_hook_mode) {
		pr_err("hook_mode is chosen at load time: unload ksmpp and load it with hook_mode=%s\n",
		       ksmpp_hook_mode_name(mode));
		err = -EBUSY;
	} else {
		WRITE_ONCE(ksmpp_hook_mode, mode);
	}
	mutex_unlock(&ksmpp_lock);
	return err;
}

/* @symbol could not be hooked: the load fails. */
static int ksmpp_io_hook_failed(const char *symbol, enum ksmpp_hook_mode mode, int err)
{
	pr_err("kernel %s: cannot hook %s by %s (error %d), not loading\n",
	       init_utsname()->release, symbol, ksmpp_hook_mode_name(mode), err);
	ksmpp_io_hooks_unregister();
	ksmpp_hooks_exit_ring();
	return err;
}

/*
 * The functions ksmpp_io_ops filters for: by kprobes instead (auto mode).
 * The filter stays, inert, for ksmpp_io_hooks_unregister() to free.
 */
static int ksmpp_io_ftrace_to_kprobes(enum ksmpp_hook_mode mode, int err)
{
	struct ksmpp_io_hook *hook;

	for (hook = ksmpp_io_hooks; hook < ksmpp_io_hooks + ARRAY_SIZE(ksmpp_io_hooks); hook++) {
		if (hook->how != KSMPP_HOOK_FTRACE)
			continue;
		hook->how = KSMPP_HOOK_NONE;
		if (mode == KSMPP_HOOK_MODE_FTRACE)
			return ksmpp_io_hook_failed(hook->kp.symbol_name, mode, err);
		err = ksmpp_io_kprobe_register(hook);
		if (err)
			return ksmpp_io_hook_failed(hook->kp.symbol_name, mode, err);
	}
	return 0;
}

#ifdef KSMPP_HAVE_DIRECT_CALLS
/*
 * Register the shared direct ops. Where it is refused (a function's one
 * direct slot is taken: a BPF fentry program, a livepatch, another
 * module), each function tries an ops of its own, so that only those that
 * cannot take a direct call go without: in auto mode they get ksmpp's
 * ftrace_ops instead (the caller registers it), in direct mode the load
 * fails. Each own ops costs a grace period at unload: only in that case.
 */
static int ksmpp_io_direct_attach(enum ksmpp_hook_mode mode)
{
	struct ksmpp_io_hook *hook;
	int err;

	if (ksmpp_io_direct_state == KSMPP_DIRECT_UNUSED)
		return 0;
	err = ksmpp_io_direct_register(&ksmpp_io_direct_ops, &ksmpp_io_direct_state);
	if (!err)
		return 0;
	ksmpp_io_direct_release(&ksmpp_io_direct_ops, &ksmpp_io_direct_state);
	for (hook = ksmpp_io_hooks; hook < ksmpp_io_hooks + ARRAY_SIZE(ksmpp_io_hooks); hook++) {
		if (hook->how != KSMPP_HOOK_DIRECT)
			continue;
		err = ftrace_set_filter_ip(&hook->direct_ops, hook->site, 0, 0);
		if (!err) {
			hook->direct_state = KSMPP_DIRECT_FILTERED;
			err = ksmpp_io_direct_register(&hook->direct_ops, &hook->direct_state);
		}
		if (!err)
			continue;
		ksmpp_io_direct_release(&hook->direct_ops, &hook->direct_state);
		hook->how = KSMPP_HOOK_NONE;
		if (mode == KSMPP_HOOK_MODE_DIRECT)
			return ksmpp_io_hook_failed(hook->kp.symbol_name, mode, err);
		pr_info("%s: no direct call (error %d: another tracer holds it?), hooked by ftrace\n",
			hook->kp.symbol_name, err);
		err = ksmpp_io_ftrace_filter(hook);
		if (err)
			return ksmpp_io_hook_failed(hook->kp.symbol_name, mode, err);
	}
	return 0;
}

#else
static int ksmpp_io_direct_attach(enum ksmpp_hook_mode mode)
{
	return 0;
}

#endif

int ksmpp_hooks_init(void)
{
	enum ksmpp_hook_mode mode = READ_ONCE(ksmpp_hook_mode);
	struct ksmpp_hint_ring *ring;
	struct ksmpp_io_hook *hook;
	unsigned long addr;
	int err;

	ring = ksmpp_hint_ring_alloc(ksmpp_hint_buffer_size);
	if (!ring)
		return -ENOMEM;
	mutex_lock(&ksmpp_lock);
	rcu_assign_pointer(ksmpp_ring, ring);
	ksmpp_hooks_live = true;
	ksmpp_stats.metadata_bytes += (long)ksmpp_hint_buffer_size * sizeof(struct ksmpp_hint);
	mutex_unlock(&ksmpp_lock);

	/*
	 * ftrace's filters take each function by address (by name, ftrace
	 * looks up the name of each of its ~60,000 sites: seconds under TCG).
	 * In auto mode a function goes to the direct ops, else (no direct
	 * calls in this kernel) to the ftrace_ops, else (no ftrace site) to a
	 * kprobe; the other modes take their one mechanism or fail the load.
	 */
	for (hook = ksmpp_io_hooks; hook < ksmpp_io_hooks + ARRAY_SIZE(ksmpp_io_hooks); hook++) {
		addr = hook->clone ? ksmpp_symbol_address(hook->clone) : 0;
		hook->kp.symbol_name = addr ? hook->clone : hook->name;
		if (!addr)
			addr = ksmpp_symbol_address(hook->name);
		if (!addr) {
			if (hook->optional)
				continue;
			return ksmpp_io_hook_failed(hook->kp.symbol_name, mode, -ENOENT);
		}
		/*
		 * The filters take the site itself, as ksmpp_io_hook_at() will
		 * see it. ftrace refuses an address past the symbol that is no
		 * site (-EINVAL): a wrong guess fails the load rather than leave
		 * a hook that is never found. (At the symbol itself, which
		 * ftrace would map to the site, the fentry call is the first
		 * instruction: only an ENDBR goes before it.)
		 */
		hook->site = ksmpp_fentry_site(addr);
		err = -EINVAL;
		if (mode == KSMPP_HOOK_MODE_AUTO || mode == KSMPP_HOOK_MODE_DIRECT)
			err = ksmpp_io_direct_filter(hook);
		if (err && (mode == KSMPP_HOOK_MODE_AUTO || mode == KSMPP_HOOK_MODE_FTRACE))
			err = ksmpp_io_ftrace_filter(hook);
		if (!err)
			continue;
		if (mode != KSMPP_HOOK_MODE_AUTO && mode != KSMPP_HOOK_MODE_KPROBE)
			return ksmpp_io_hook_failed(hook->kp.symbol_name, mode, err);
		err = ksmpp_io_kprobe_register(hook);
		if (err)
			return ksmpp_io_hook_failed(hook->kp.symbol_name, mode, err);
	}
	err = ksmpp_io_direct_attach(mode);
	if (err)
		return err;
	for (hook = ksmpp_io_hooks; hook->how != KSMPP_HOOK_FTRACE; hook++)
		if (hook == ksmpp_io_hooks + ARRAY_SIZE(ksmpp_io_hooks) - 1)
			return 0;
	err = register_ftrace_function(&ksmpp_io_ops);
	if (err)
		return ksmpp_io_ftrace_to_kprobes(mode, err);
	ksmpp_io_ops_live = true;
	return 0;
}

void ksmpp_hooks_exit(void)
{
	ksmpp_io_hooks_unregister();
	ksmpp_hooks_exit_ring();
}
