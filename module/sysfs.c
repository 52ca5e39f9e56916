// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: /sys/kernel/mm/ksmpp, laid out like /sys/kernel/mm/ksm.
 *
 * The files keep KSM's names and meanings, so tools written for KSM
 * (ksmtuned-style scripts, exporters) work by changing the path. The knobs
 * are the module parameters: a write goes through the same validation, which
 * takes the values KSM's file takes (a clear log line and -EINVAL for a bad
 * value, the old value kept). ksmpp's own figures (the hints) follow.
 *
 * The figures are world-readable, as KSM's, or root's only with
 * stats_mode=root: they tell of other processes' merges (docs/security.md).
 * A change of stats_mode changes their file modes in place.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sysfs.h>

#include "ksmpp.h"

static ssize_t ksmpp_knob_show(struct kobject *kobj, struct kobj_attribute *attr,
			       char *buf)
{
	return ksmpp_param_read(attr->attr.name, buf);
}

static ssize_t ksmpp_knob_store(struct kobject *kobj, struct kobj_attribute *attr,
				const char *buf, size_t count)
{
	int err = ksmpp_param_write(attr->attr.name, buf);

	return err ? err : count;
}

#define KSMPP_KNOB(name)						\
	static struct kobj_attribute ksmpp_attr_##name =		\
		__ATTR(name, 0644, ksmpp_knob_show, ksmpp_knob_store)

#define KSMPP_FIGURE(name, fmt, expr)					\
	static ssize_t name##_show(struct kobject *kobj,		\
				   struct kobj_attribute *attr, char *buf) \
	{								\
		return sysfs_emit(buf, fmt "\n", expr);			\
	}								\
	static struct kobj_attribute ksmpp_attr_##name = __ATTR_RO(name)

/* A hint total, summed over CPUs and rings. */
static u64 ksmpp_hint_figure(size_t offset)
{
	struct ksmpp_hint_totals t;

	ksmpp_hint_totals(&t);
	return *(u64 *)((char *)&t + offset);
}

static u64 ksmpp_hints_generated(void)
{
	struct ksmpp_hint_totals t;
	u64 sum = 0;
	int i;

	ksmpp_hint_totals(&t);
	for (i = 0; i < KSMPP_HINT_SOURCES; i++)
		sum += t.generated[i];
	return sum;
}

#define KSMPP_STAT(name) \
	KSMPP_FIGURE(name, "%lu", READ_ONCE(ksmpp_stats.name))
#define KSMPP_HINT_TOTAL(name, field) \
	KSMPP_FIGURE(name, "%llu", \
		     ksmpp_hint_figure(offsetof(struct ksmpp_hint_totals, field)))

KSMPP_KNOB(run);
KSMPP_KNOB(pages_to_scan);
KSMPP_KNOB(sleep_millisecs);
KSMPP_KNOB(max_page_sharing);
KSMPP_KNOB(merge_across_nodes);
KSMPP_KNOB(use_zero_pages);
KSMPP_KNOB(smart_scan);
KSMPP_KNOB(stable_node_chains_prune_millisecs);
KSMPP_KNOB(advisor_mode);
KSMPP_KNOB(advisor_max_cpu);
KSMPP_KNOB(advisor_min_pages_to_scan);
KSMPP_KNOB(advisor_max_pages_to_scan);
KSMPP_KNOB(advisor_target_scan_time);
KSMPP_KNOB(hint_buffer_size);
KSMPP_KNOB(hint_scan_percent);
KSMPP_KNOB(merge_scope);
KSMPP_KNOB(stats_mode);

KSMPP_STAT(pages_shared);
KSMPP_STAT(pages_sharing);
KSMPP_STAT(pages_unshared);
KSMPP_STAT(pages_volatile);
KSMPP_STAT(pages_scanned);
KSMPP_STAT(pages_skipped);
KSMPP_STAT(full_scans);
/*
 * Saved memory less what ksmpp spends on it, as KSM's general_profit: the
 * zero pages put in place count as saved (6.10 on, where they are counted).
 */
KSMPP_FIGURE(general_profit, "%ld",
	     (long)((READ_ONCE(ksmpp_stats.pages_sharing) +
		     READ_ONCE(ksmpp_stats.ksm_zero_pages)) * PAGE_SIZE) -
	     (long)READ_ONCE(ksmpp_stats.metadata_bytes));
#ifdef KSMPP_HAVE_KSM_ZERO_PAGES
KSMPP_FIGURE(ksm_zero_pages, "%ld", (long)READ_ONCE(ksmpp_stats.ksm_zero_pages));
#endif
KSMPP_STAT(stable_node_chains);
KSMPP_STAT(stable_node_dups);

KSMPP_HINT_TOTAL(hints_generated_bytes, bytes);
KSMPP_FIGURE(hints_generated, "%llu", ksmpp_hints_generated());
KSMPP_HINT_TOTAL(hints_pending, pending);
KSMPP_HINT_TOTAL(hints_dropped, dropped);
KSMPP_HINT_TOTAL(hints_consumed, consumed);
KSMPP_STAT(hints_invalid);
KSMPP_STAT(hint_pages_scanned);
KSMPP_STAT(hint_merges);
KSMPP_STAT(hint_extra_pages);

static struct attribute *ksmpp_knob_attrs[] = {
	&ksmpp_attr_run.attr,
	&ksmpp_attr_pages_to_scan.attr,
	&ksmpp_attr_sleep_millisecs.attr,
	&ksmpp_attr_max_page_sharing.attr,
	&ksmpp_attr_merge_across_nodes.attr,
	&ksmpp_attr_use_zero_pages.attr,
	&ksmpp_attr_smart_scan.attr,
	&ksmpp_attr_stable_node_chains_prune_millisecs.attr,
	&ksmpp_attr_advisor_mode.attr,
	&ksmpp_attr_advisor_max_cpu.attr,
	&ksmpp_attr_advisor_min_pages_to_scan.attr,
	&ksmpp_attr_advisor_max_pages_to_scan.attr,
	&ksmpp_attr_advisor_target_scan_time.attr,
	&ksmpp_attr_hint_buffer_size.attr,
	&ksmpp_attr_hint_scan_percent.attr,
	&ksmpp_attr_merge_scope.attr,
	&ksmpp_attr_stats_mode.attr,
	NULL,
};

static struct attribute *ksmpp_figure_attrs[] = {
	&ksmpp_attr_pages_shared.attr,
	&ksmpp_attr_pages_sharing.attr,
	&ksmpp_attr_pages_unshared.attr,
	&ksmpp_attr_pages_volatile.attr,
	&ksmpp_attr_pages_scanned.attr,
	&ksmpp_attr_pages_skipped.attr,
	&ksmpp_attr_full_scans.attr,
	&ksmpp_attr_general_profit.attr,
#ifdef KSMPP_HAVE_KSM_ZERO_PAGES
	&ksmpp_attr_ksm_zero_pages.attr,
#endif
	&ksmpp_attr_stable_node_chains.attr,
	&ksmpp_attr_stable_node_dups.attr,
	&ksmpp_attr_hints_generated.attr,
	&ksmpp_attr_hints_generated_bytes.attr,
	&ksmpp_attr_hints_pending.attr,
	&ksmpp_attr_hints_dropped.attr,
	&ksmpp_attr_hints_consumed.attr,
	&ksmpp_attr_hints_invalid.attr,
	&ksmpp_attr_hint_pages_scanned.attr,
	&ksmpp_attr_hint_merges.attr,
	&ksmpp_attr_hint_extra_pages.attr,
	NULL,
};

static const struct attribute_group ksmpp_knob_group = {
	.attrs = ksmpp_knob_attrs,
};

/* A figure's file mode under stats_mode. */
static umode_t ksmpp_figure_mode(void)
{
	return READ_ONCE(ksmpp_stats_mode) == KSMPP_STATS_ROOT ? 0400 : 0444;
}

static umode_t ksmpp_figure_visible(struct kobject *kobj, struct attribute *attr,
				    int n)
{
	return ksmpp_figure_mode();
}

static const struct attribute_group ksmpp_figure_group = {
	.attrs = ksmpp_figure_attrs,
	.is_visible = ksmpp_figure_visible,
};

static const struct attribute_group *ksmpp_attr_groups[] = {
	&ksmpp_knob_group,
	&ksmpp_figure_group,
	NULL,
};

/* /sys/kernel/mm/ksmpp while it exists; set under the parameter lock. */
static struct kobject *ksmpp_kobj;

/*
 * Apply stats_mode (params.c; under the parameter lock): the figures'
 * modes change in place, files already open stay open.
 */
int ksmpp_sysfs_set_stats_mode(unsigned long mode)
{
	struct attribute **attr;
	int err = 0;

	WRITE_ONCE(ksmpp_stats_mode, mode);
	for (attr = ksmpp_figure_attrs; ksmpp_kobj && *attr && !err; attr++)
		err = sysfs_chmod_file(ksmpp_kobj, *attr, ksmpp_figure_mode());
	return err;
}

int ksmpp_sysfs_init(void)
{
	struct kobject *kobj;
	int err;

	kobj = kobject_create_and_add("ksmpp", ksmpp_kernel_mm_kobj);
	if (!kobj)
		return -ENOMEM;
	/* Modes from stats_mode; it cannot change until ksmpp_kobj is set. */
	kernel_param_lock(THIS_MODULE);
	err = sysfs_create_groups(kobj, ksmpp_attr_groups);
	if (!err)
		ksmpp_kobj = kobj;
	kernel_param_unlock(THIS_MODULE);
	if (err)
		kobject_put(kobj);
	return err;
}

void ksmpp_sysfs_exit(void)
{
	struct kobject *kobj;

	kernel_param_lock(THIS_MODULE);
	kobj = ksmpp_kobj;
	ksmpp_kobj = NULL;
	kernel_param_unlock(THIS_MODULE);
	kobject_put(kobj);
}
