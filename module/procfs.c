// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: /proc/ksmpp, one "key: value" line per figure as in /proc/meminfo:
 * what is loaded, on which kernel, in which state, with which configuration,
 * and what the scanner and the hooks have done. The scanner's figures are
 * read without a lock: each is exact, together they are a near snapshot.
 * /sys/kernel/debug/ksmpp/hints lists the pending hints, newest first, as
 * "pid start length source" lines.
 */
#include <linux/debugfs.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/utsname.h>

#include "ksmpp.h"

void ksmpp_seq_field(struct seq_file *m, const char *key, const char *fmt, ...)
{
	va_list args;

	seq_printf(m, "%s:%*s", key, max(1, 19 - (int)strlen(key)), "");
	va_start(args, fmt);
	seq_vprintf(m, fmt, args);
	va_end(args);
	seq_putc(m, '\n');
}

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
	ksmpp_seq_field(m, "pages_scanned_hint", "%lu", READ_ONCE(ksmpp_stats.hint_pages_scanned));
	ksmpp_seq_field(m, "merges", "%lu", READ_ONCE(ksmpp_stats.merges));
	ksmpp_seq_field(m, "merges_hint", "%lu", READ_ONCE(ksmpp_stats.hint_merges));
	ksmpp_seq_field(m, "cow_breaks", "%lu", READ_ONCE(ksmpp_stats.cow_breaks));
	ksmpp_seq_field(m, "stale_reclaimed", "%lu", READ_ONCE(ksmpp_stats.stale_reclaimed));
	ksmpp_seq_field(m, "processes", "%lu", READ_ONCE(ksmpp_stats.mms));
	ksmpp_seq_field(m, "metadata_bytes", "%lu", READ_ONCE(ksmpp_stats.metadata_bytes));
	ksmpp_hints_show(m);
	return 0;
}

static int ksmpp_hints_file_show(struct seq_file *m, void *v)
{
	ksmpp_hints_list(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ksmpp_hints_file);

static struct dentry *ksmpp_debugfs;

int ksmpp_procfs_init(void)
{
	if (!proc_create_single("ksmpp", 0444, NULL, ksmpp_proc_show))
		return -ENOMEM;
	/* Debugging aid only: no error if debugfs is absent. */
	ksmpp_debugfs = debugfs_create_dir("ksmpp", NULL);
	debugfs_create_file("hints", 0400, ksmpp_debugfs, NULL, &ksmpp_hints_file_fops);
	return 0;
}

void ksmpp_procfs_exit(void)
{
	debugfs_remove(ksmpp_debugfs);
	remove_proc_entry("ksmpp", NULL);
}
