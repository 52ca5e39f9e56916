// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: /proc/ksmpp, one "key: value" line per figure as in /proc/meminfo:
 * what is loaded, on which kernel, in which state, with which configuration,
 * and what the scanner has done. The figures are read without a lock: each
 * is exact, together they are a near snapshot.
 */
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/utsname.h>

#include "ksmpp.h"

static int ksmpp_proc_show(struct seq_file *m, void *v)
{
	ksmpp_seq_field(m, "version", "%s", KSMPP_VERSION);
	ksmpp_seq_field(m, "kernel", "%s", init_utsname()->release);
	ksmpp_seq_field(m, "state", "%s", ksmpp_state_name());
	ksmpp_params_show(m);
	ksmpp_seq_field(m, "pages_shared", "%lu", READ_ONCE(ksmpp_stats.pages_shared));
	ksmpp_seq_field(m, "pages_sharing", "%lu", READ_ONCE(ksmpp_stats.pages_sharing));
	ksmpp_seq_field(m, "pages_unshared", "%lu", READ_ONCE(ksmpp_stats.pages_unshared));
	ksmpp_seq_field(m, "pages_volatile", "%lu", READ_ONCE(ksmpp_stats.pages_volatile));
	ksmpp_seq_field(m, "full_scans", "%lu", READ_ONCE(ksmpp_stats.full_scans));
	ksmpp_seq_field(m, "pages_scanned", "%lu", READ_ONCE(ksmpp_stats.pages_scanned));
	ksmpp_seq_field(m, "merges", "%lu", READ_ONCE(ksmpp_stats.merges));
	ksmpp_seq_field(m, "cow_breaks", "%lu", READ_ONCE(ksmpp_stats.cow_breaks));
	ksmpp_seq_field(m, "stale_reclaimed", "%lu", READ_ONCE(ksmpp_stats.stale_reclaimed));
	ksmpp_seq_field(m, "processes", "%lu", READ_ONCE(ksmpp_stats.mms));
	ksmpp_seq_field(m, "metadata_bytes", "%lu", READ_ONCE(ksmpp_stats.metadata_bytes));
	return 0;
}

int ksmpp_procfs_init(void)
{
	return proc_create_single("ksmpp", 0444, NULL, ksmpp_proc_show) ? 0 : -ENOMEM;
}

void ksmpp_procfs_exit(void)
{
	remove_proc_entry("ksmpp", NULL);
}
