// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: hooks on the kernel's file I/O paths, the hints' producers.
 *
 * DOC: Hooks
 *
 * When a process that opted into merging moves file data into or out of its
 * own memory, the user range it used is a prime candidate for duplicates:
 * page cache content now also lives in anonymous memory. A kretprobe on
 * each function that copies between the page cache (or a device, for
 * direct I/O) and a user iov_iter records that range as a hint:
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
 * The entry handler keeps a copy of the iov_iter (its iovec array is kernel
 * memory); the return handler reads how far the caller's iterator advanced:
 * that is how many bytes actually moved (for queued direct I/O, the bytes
 * submitted). Each iovec segment becomes a hint in the lossy ring, or one
 * run of segments adjacent in user memory does. Hint ranges are
 * byte-exact: pages only partly covered are partial, and the scanner
 * visits only a range's whole pages. Only
 * user-backed iterators of processes whose mm has MMF_VM_MERGEABLE count;
 * kernel threads and kernel-internal I/O are ignored at entry, at the cost
 * of one flag test.
 *
 * Handlers run with preemption disabled: they never sleep, never allocate,
 * never touch user memory and take no reference on the mm, which the ring
 * keeps only as an identity. The consumer validates it against the
 * processes it knows, so a stale hint may be wasted, never dangerous. The
 * ring is replaced (hint_buffer_size) under RCU: handlers are RCU-sched
 * readers.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
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
/* The ring exists and the probes may be live (under ksmpp_lock). */
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
};
static DEFINE_PER_CPU(struct ksmpp_hint_counts, ksmpp_hint_counts);

/* One hooked function. */
struct ksmpp_io_probe {
	struct kretprobe krp;
	unsigned int iter_arg;		/* which argument is the iov_iter */
	bool direct;			/* direction read from the iterator */
	bool write;			/* else: writes, not reads */
	bool optional;			/* kernels without it load all the same */
	const char *clone;		/* hooked instead where it exists */
	bool live;			/* registered */
};

/* What a hooked call keeps between entry and return. */
struct ksmpp_io_call {
	struct iov_iter *iter;		/* the caller's, advanced by the I/O */
	struct iov_iter start;		/* a copy, as it was at entry */
};

static void ksmpp_hint_range(unsigned long start, unsigned long len, u8 source)
{
	struct ksmpp_hint hint = {
		.mm = current->mm,
		.start = start,
		.len = len,
		.tgid = current->tgid,
		.cpu = raw_smp_processor_id(),
		.source = source,
	};
	struct ksmpp_hint_ring *ring = rcu_dereference_sched(ksmpp_ring);

	if (unlikely(!ring))
		return;
	ksmpp_hint_ring_push(ring, &hint);
	trace_ksmpp_hint(hint.tgid, start, len, source);
	this_cpu_inc(ksmpp_hint_counts.generated[source]);
	this_cpu_add(ksmpp_hint_counts.bytes, len);
}

/*
 * Hint the first @bytes of the user memory @it describes. Segments that
 * continue one another in user memory (a contiguous buffer split into
 * blocks) make one hint. The walk stops once @bytes are accounted for, so
 * it visits at most nr_segs segments (UIO_MAXIOV for a user iovec array);
 * past KSMPP_HINT_MAX_RANGES hints the rest is lost, as if overwritten in
 * the ring.
 */
static void ksmpp_hint_iter(const struct iov_iter *it, size_t bytes, u8 source)
{
	const struct iovec *iov;
	size_t skip = it->iov_offset, len;
	unsigned long seg, base, start = 0, run = 0;
	unsigned int ranges = 0;

	if (iter_is_ubuf(it)) {
		ksmpp_hint_range((unsigned long)it->ubuf + skip, bytes, source);
		return;
	}
	iov = iter_iov(it);
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

static int ksmpp_io_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct ksmpp_io_probe *probe = container_of(get_kretprobe(ri),
						    struct ksmpp_io_probe, krp);
	struct ksmpp_io_call *call = (struct ksmpp_io_call *)ri->data;
	struct mm_struct *mm = current->mm;
	struct iov_iter *iter;

	/* Hints turned off, or not a process that opted in: nothing to keep. */
	if (!READ_ONCE(ksmpp_hint_scan_percent) || !mm ||
	    (current->flags & PF_KTHREAD) || !ksmpp_mm_mergeable(mm))
		return 1;
	iter = (struct iov_iter *)regs_get_kernel_argument(regs, probe->iter_arg);
	if (!user_backed_iter(iter) || !iov_iter_count(iter))
		return 1;
	call->iter = iter;
	call->start = *iter;
	return 0;
}

static int ksmpp_io_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct ksmpp_io_probe *probe = container_of(get_kretprobe(ri),
						    struct ksmpp_io_probe, krp);
	struct ksmpp_io_call *call = (struct ksmpp_io_call *)ri->data;
	size_t before = iov_iter_count(&call->start);
	size_t after = iov_iter_count(call->iter);
	bool write = probe->direct ? iov_iter_rw(&call->start) == WRITE : probe->write;
	u8 source;

	if (after >= before)
		return 0;
	if (probe->direct)
		source = write ? KSMPP_HINT_DIRECT_WRITE : KSMPP_HINT_DIRECT_READ;
	else
		source = write ? KSMPP_HINT_WRITE : KSMPP_HINT_READ;
	ksmpp_hint_iter(&call->start, before - after, source);
	return 0;
}

/* The optional fields (.optional, .clone) follow the direction. */
#define KSMPP_IO_PROBE(fn, arg, is_direct, is_write, ...) {		\
	.krp = {							\
		.kp.symbol_name = #fn,					\
		.entry_handler = ksmpp_io_entry,			\
		.handler = ksmpp_io_return,				\
		.data_size = sizeof(struct ksmpp_io_call),		\
	},								\
	.iter_arg = arg, .direct = is_direct, .write = is_write,	\
	__VA_ARGS__							\
}

static struct ksmpp_io_probe ksmpp_io_probes[] = {
	KSMPP_IO_PROBE(filemap_read, 1, false, false),
	KSMPP_IO_PROBE(shmem_file_read_iter, 1, false, false),
	KSMPP_IO_PROBE(__iomap_dio_rw, 1, true, false),
	KSMPP_IO_PROBE(__iomap_dio_read_simple, 1, true, false, .optional = true),
	KSMPP_IO_PROBE(__blockdev_direct_IO, 3, true, false),
	KSMPP_IO_PROBE(blkdev_direct_IO, 1, true, false,
		       .clone = KSMPP_SPLIT_CLONE(blkdev_direct_IO)),
	KSMPP_IO_PROBE(generic_perform_write, 1, false, true),
	KSMPP_IO_PROBE(iomap_file_buffered_write, 1, false, true),
};

static void ksmpp_io_probes_unregister(void)
{
	struct ksmpp_io_probe *probe;

	for (probe = ksmpp_io_probes; probe < ksmpp_io_probes + ARRAY_SIZE(ksmpp_io_probes); probe++) {
		if (probe->live)
			unregister_kretprobe(&probe->krp);
		probe->live = false;
	}
}


/*
 * Free the ring once no handler can run (probes unregistered, which waits
 * for running handlers).
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
	}
	for (i = 0; i < ARRAY_SIZE(ksmpp_io_probes); i++)
		t->missed += READ_ONCE(ksmpp_io_probes[i].krp.nmissed);
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

int ksmpp_hooks_init(void)
{
	struct ksmpp_hint_ring *ring;
	struct ksmpp_io_probe *probe;
	int i, err;

	ring = ksmpp_hint_ring_alloc(ksmpp_hint_buffer_size);
	if (!ring)
		return -ENOMEM;
	mutex_lock(&ksmpp_lock);
	rcu_assign_pointer(ksmpp_ring, ring);
	ksmpp_hooks_live = true;
	ksmpp_stats.metadata_bytes += (long)ksmpp_hint_buffer_size * sizeof(struct ksmpp_hint);
	mutex_unlock(&ksmpp_lock);

	for (i = 0; i < ARRAY_SIZE(ksmpp_io_probes); i++) {
		probe = &ksmpp_io_probes[i];
		if (probe->clone && ksmpp_symbol_exists(probe->clone))
			probe->krp.kp.symbol_name = probe->clone;
		if (probe->optional && !ksmpp_symbol_exists(probe->krp.kp.symbol_name))
			continue;
		/* Calls can sleep inside (waiting for I/O), holding an instance. */
		probe->krp.maxactive = 32 * num_possible_cpus();
		err = register_kretprobe(&probe->krp);
		if (err) {
			pr_err("kernel %s: cannot hook %s (error %d), not loading\n",
			       init_utsname()->release, probe->krp.kp.symbol_name, err);
			ksmpp_io_probes_unregister();
			ksmpp_hooks_exit_ring();
			return err;
		}
		probe->live = true;
	}
	return 0;
}

void ksmpp_hooks_exit(void)
{
	ksmpp_io_probes_unregister();
	ksmpp_hooks_exit_ring();
}
