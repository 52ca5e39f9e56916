// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: /proc/ksmpp, one "key: value" line per figure as in /proc/meminfo:
 * what is loaded, on which kernel, in which state, with which configuration,
 * and what the scanner and the hooks have done. Reading never waits for
 * ksmppd: the scanner's figures are read without a lock (each is exact,
 * together they are a near snapshot), and the hint ring's are counted
 * under ksmpp_lock only when it is free (ksmpp_hint_totals()).
 * /sys/kernel/debug/ksmpp/hints lists the pending hints, newest first, as
 * "pid start length source" lines. With stats_mode=root, only root reads
 * /proc/ksmpp.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/debugfs.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/utsname.h>

#include "ksmpp.h"

/* One "key: value" line, aligned as in /proc/meminfo. */
static __printf(3, 4) void ksmpp_seq_field(struct seq_file *m, const char *key,
					   const char *fmt, ...)
{
	va_list args;

	seq_printf(m, "%s:%*s", key, max(1, 19 - (int)strlen(key)), "");
	va_start(args, fmt);
	seq_vprintf(m, fmt, args);
	va_end(args);
	seq_putc(m, '\n');
}

/* The scanner's figures, in /proc/ksmpp's order. */
static const struct {
	const char *key;
	size_t offset;		/* of an unsigned long in struct ksmpp_stats */
} ksmpp_stat_fields[] = {
#define KSMPP_STAT(key, field) { key, offsetof(struct ksmpp_stats, field) }
	KSMPP_STAT("pages_shared", pages_shared),
	KSMPP_STAT("pages_sharing", pages_sharing),
	KSMPP_STAT("pages_unshared", pages_unshared),
	KSMPP_STAT("pages_volatile", pages_volatile),
	KSMPP_STAT("stable_node_chains", stable_node_chains),
	KSMPP_STAT("stable_node_dups", stable_node_dups),
	KSMPP_STAT("full_scans", full_scans),
	KSMPP_STAT("pages_scanned", pages_scanned),
	KSMPP_STAT("pages_skipped", pages_skipped),
	KSMPP_STAT("pages_scanned_hint", hint_pages_scanned),
	KSMPP_STAT("merges", merges),
	KSMPP_STAT("merges_hint", hint_merges),
	KSMPP_STAT("merges_zero", zero_merges),
#ifdef KSMPP_HAVE_KSM_ZERO_PAGES
	KSMPP_STAT("ksm_zero_pages", ksm_zero_pages),
#endif
	KSMPP_STAT("cow_breaks", cow_breaks),
	KSMPP_STAT("unmerges_scope", scope_unmerges),
	KSMPP_STAT("stale_reclaimed", stale_reclaimed),
	KSMPP_STAT("processes", mms),
	KSMPP_STAT("process_walks", process_walks),
	KSMPP_STAT("lru_drains_cpu", lru_drains_cpu),
	KSMPP_STAT("lru_drains_all", lru_drains_all),
	KSMPP_STAT("metadata_bytes", metadata_bytes),
	KSMPP_STAT("index_buckets", index_buckets),
#undef KSMPP_STAT
};

static void ksmpp_param_field(void *m, const char *name, const char *value)
{
	ksmpp_seq_field(m, name, "%s", value);
}

static void ksmpp_hook_field(void *m, const char *function, const char *how)
{
	char key[48];

	snprintf(key, sizeof(key), "hooked_%s", function);
	ksmpp_seq_field(m, key, "%s", how);
}

/* The hint figures. Can sleep. */
static void ksmpp_hints_show(struct seq_file *m)
{
	struct ksmpp_hint_totals t;
	char key[32];
	int i;

	ksmpp_hint_totals(&t);
	for (i = 0; i < KSMPP_HINT_SOURCES; i++) {
		snprintf(key, sizeof(key), "hints_%s", ksmpp_hint_source_names[i]);
		ksmpp_seq_field(m, key, "%llu", t.generated[i]);
	}
	ksmpp_seq_field(m, "hint_bytes", "%llu", t.bytes);
	ksmpp_seq_field(m, "hints_repeated", "%llu", t.repeated);
	ksmpp_seq_field(m, "hints_pending", "%llu", t.pending);
	ksmpp_seq_field(m, "hints_dropped", "%llu", t.dropped);
	ksmpp_seq_field(m, "hints_consumed", "%llu", t.consumed);
	ksmpp_seq_field(m, "hints_invalid", "%lu", READ_ONCE(ksmpp_stats.hints_invalid));
	ksmpp_seq_field(m, "hints_coalesced", "%lu", READ_ONCE(ksmpp_stats.hints_coalesced));
	ksmpp_seq_field(m, "hint_pages_skipped", "%lu",
			READ_ONCE(ksmpp_stats.hint_pages_skipped));
	ksmpp_seq_field(m, "hints_missed", "%llu", t.missed);
	ksmpp_seq_field(m, "hint_extra_pages", "%lu",
			READ_ONCE(ksmpp_stats.hint_extra_pages));
}

static unsigned long ksmpp_stat(size_t offset)
{
	return READ_ONCE(*(unsigned long *)((char *)&ksmpp_stats + offset));
}

static int ksmpp_proc_show(struct seq_file *m, void *v)
{
	int i;

	ksmpp_seq_field(m, "version", "%s", KSMPP_VERSION);
	ksmpp_seq_field(m, "kernel", "%s", init_utsname()->release);
	ksmpp_seq_field(m, "state", "%s", ksmpp_state_name());
	ksmpp_params_for_each(ksmpp_param_field, m);
	for (i = 0; i < ARRAY_SIZE(ksmpp_stat_fields); i++)
		ksmpp_seq_field(m, ksmpp_stat_fields[i].key, "%lu",
				ksmpp_stat(ksmpp_stat_fields[i].offset));
	/* What the linear scan did: all visits and merges less the hinted. */
	ksmpp_seq_field(m, "pages_scanned_linear", "%lu",
			READ_ONCE(ksmpp_stats.pages_scanned) -
			READ_ONCE(ksmpp_stats.hint_pages_scanned));
	ksmpp_seq_field(m, "merges_linear", "%lu",
			READ_ONCE(ksmpp_stats.merges) - READ_ONCE(ksmpp_stats.hint_merges));
	ksmpp_hints_show(m);
	ksmpp_hooks_for_each(ksmpp_hook_field, m);
	return 0;
}

/*
 * With stats_mode=root, only readers that could read a root-owned file of
 * mode 0400 (as the sysfs figures then are) open /proc/ksmpp.
 */
static int ksmpp_proc_open(struct inode *inode, struct file *file)
{
	if (READ_ONCE(ksmpp_stats_mode) == KSMPP_STATS_ROOT &&
	    !uid_eq(file->f_cred->fsuid, GLOBAL_ROOT_UID) &&
	    !file_ns_capable(file, &init_user_ns, CAP_DAC_READ_SEARCH))
		return -EACCES;
	return single_open(file, ksmpp_proc_show, NULL);
}

static const struct proc_ops ksmpp_proc_ops = {
	.proc_open = ksmpp_proc_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

static int ksmpp_hints_file_show(struct seq_file *m, void *v)
{
	ksmpp_hints_list(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ksmpp_hints_file);

static struct dentry *ksmpp_debugfs;

int ksmpp_procfs_init(void)
{
	if (!proc_create("ksmpp", 0444, NULL, &ksmpp_proc_ops))
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
