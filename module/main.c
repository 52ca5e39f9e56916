// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: I/O-hinted, KSM-compatible memory deduplication.
 *
 * DOC: Overview
 *
 * Kernel KSM finds identical anonymous pages by scanning the memory that
 * processes opted into (madvise MADV_MERGEABLE, prctl PR_SET_MEMORY_MERGE)
 * linearly: a new duplicate is merged only after two full passes. On a
 * virtualisation host, much duplicate memory is born in file I/O: a guest's
 * RAM filled by reads from a shared disk image. ksmpp (after KSM++ and XLH)
 * records the user ranges that file I/O fills as hints and lets its scanner
 * visit hinted pages first, interleaved with KSM's linear scan and within the
 * same rate limits.
 *
 * The data path, one unit each:
 *   hooks   - probes on the kernel's read, write and direct-I/O paths record
 *             (mm, range) hints, without sleeping or allocating;
 *   ring    - a small lossy ring keeps the newest hints;
 *   scanner - the ksmppd thread takes hints first, then the linear scan;
 *   merge   - identical pages are merged with KSM's own primitive into
 *             genuine KSM pages (stable node and rmap items in the
 *             kernel's layout), so COW, fork, swap and migration work.
 * hooks.c holds the probes, hint_ring.c the ring, scanner.c ksmppd, merge.c
 * the content index and the merging; ksm_guard.c keeps kernel KSM off
 * ksmpp's pages; compat.c and
 * compat.h everything that differs between kernel versions; params.c the
 * tunables; procfs.c the /proc/ksmpp report; sysfs.c /sys/kernel/mm/ksmpp.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>

#include "ksmpp.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

static int __init ksmpp_init(void)
{
	int err;

	err = ksmpp_resolve_symbols();
	if (err)
		return err;
	err = ksmpp_merge_init();
	if (err)
		return err;
	err = ksmpp_ksm_guard_init();
	if (err)
		goto merge_exit;
	err = ksmpp_hooks_init();
	if (err)
		goto guard_exit;
	err = ksmpp_scanner_init();
	if (err)
		goto hooks_exit;
	err = ksmpp_procfs_init();
	if (err)
		goto scanner_exit;
	err = ksmpp_sysfs_init();
	if (err)
		goto procfs_exit;
	pr_info("version %s loaded\n", KSMPP_VERSION);
	return 0;

procfs_exit:
	ksmpp_procfs_exit();
scanner_exit:
	ksmpp_scanner_exit();
hooks_exit:
	ksmpp_hooks_exit();
guard_exit:
	ksmpp_ksm_guard_exit();
merge_exit:
	ksmpp_merge_exit();
	return err;
}

static void __exit ksmpp_exit(void)
{
	ksmpp_sysfs_exit();
	ksmpp_procfs_exit();
	ksmpp_scanner_exit();
	ksmpp_hooks_exit();
	/* Only now that no page of ksmpp's is left may kernel KSM start freely. */
	ksmpp_ksm_guard_exit();
	ksmpp_merge_exit();
	pr_info("unloaded\n");
}

module_init(ksmpp_init);
module_exit(ksmpp_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The ksmpp developers");
MODULE_DESCRIPTION("I/O-hinted, KSM-compatible memory deduplication");
MODULE_VERSION(KSMPP_VERSION);
