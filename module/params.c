// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: module parameters.
 *
 * Every tunable is an unsigned long with an allowed range, parsed as kernel
 * KSM parses the file of the same name in /sys/kernel/mm/ksm: decimal
 * (kstrtoul(buf, 10)), y/n/on/off/1/0 for KSM's on/off knobs (kstrtobool),
 * or one of a list of names (advisor_mode, hook_mode, merge_scope,
 * stats_mode), shown as KSM shows advisor_mode: "[none] scan-time". One set
 * of parameter ops checks a value the same way at load time (modprobe ksmpp
 * x=y: the load fails) and at run time (/sys/module/ksmpp/parameters/x: the
 * write fails with -EINVAL). A rejected value is named in one kernel log
 * line with the allowed range, and the old value stays. Writers are
 * serialised by the kernel's parameter lock; readers use READ_ONCE().
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/gfp.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/string.h>
#include <linux/stringify.h>

#include "ksmpp.h"

/* How a parameter's text is read, and which values it may take. */
enum ksmpp_param_kind {
	KSMPP_NUMBER,		/* decimal, min to max */
	KSMPP_POWER_OF_2,	/* decimal, min to max, a power of two */
	KSMPP_ON_OFF,		/* kstrtobool: 1/0, y/n, on/off; shown as 1 or 0 */
	KSMPP_CHOICE,		/* a name of .choices, stored as its index */
};

/* A parameter's storage and the values it may take. */
struct ksmpp_param {
	unsigned long *value;	/* where the value lives */
	unsigned long min;	/* smallest allowed value */
	unsigned long max;	/* largest allowed value */
	enum ksmpp_param_kind kind;
	const char * const *choices; /* KSMPP_CHOICE: the names of 0..max */
	const char *choice_list; /* KSMPP_CHOICE: the names, for messages */
	int (*apply)(unsigned long value); /* stores and acts on a value */
};

static int ksmpp_param_parse(const struct ksmpp_param *p, const char *val,
			     unsigned long *v)
{
	bool on;

	switch (p->kind) {
	case KSMPP_ON_OFF:
		if (kstrtobool(val, &on))
			return -EINVAL;
		*v = on;
		return 0;
	case KSMPP_CHOICE:
		for (*v = 0; *v <= p->max; (*v)++)
			if (sysfs_streq(val, p->choices[*v]))
				return 0;
		return -EINVAL;
	default:
		if (kstrtoul(val, 10, v) || *v < p->min || *v > p->max ||
		    (p->kind == KSMPP_POWER_OF_2 && !is_power_of_2(*v)))
			return -EINVAL;
		return 0;
	}
}

/* The kernel log line for a value @p does not take. */
static void ksmpp_param_refuse(const struct ksmpp_param *p, const char *name,
			       const char *val)
{
	int len = strcspn(val, "\n");

	switch (p->kind) {
	case KSMPP_ON_OFF:
		pr_err("invalid %s '%.*s': allowed are 0 or 1 (y/n, on/off)\n",
		       name, len, val);
		break;
	case KSMPP_CHOICE:
		pr_err("invalid %s '%.*s': allowed are %s\n", name, len, val,
		       p->choice_list);
		break;
	default:
		pr_err("invalid %s '%.*s': allowed are %s%lu to %lu\n", name, len,
		       val, p->kind == KSMPP_POWER_OF_2 ? "powers of two from " : "",
		       p->min, p->max);
	}
}

static int ksmpp_param_set(const char *val, const struct kernel_param *kp)
{
	const struct ksmpp_param *p = kp->arg;
	unsigned long v;

	if (ksmpp_param_parse(p, val, &v)) {
		ksmpp_param_refuse(p, kp->name, val);
		return -EINVAL;
	}
	if (p->apply)
		return p->apply(v);
	WRITE_ONCE(*p->value, v);
	return 0;
}

static int ksmpp_param_get(char *buf, const struct kernel_param *kp)
{
	const struct ksmpp_param *p = kp->arg;
	unsigned long v = READ_ONCE(*p->value), i;
	int len = 0;

	if (p->kind != KSMPP_CHOICE)
		return sprintf(buf, "%lu\n", v);
	/* Every name, the chosen one in brackets, as KSM's advisor_mode. */
	for (i = 0; i <= p->max; i++)
		len += sprintf(buf + len, i == v ? "%s[%s]" : "%s%s", i ? " " : "",
			       p->choices[i]);
	return len + sprintf(buf + len, "\n");
}

static const struct kernel_param_ops ksmpp_param_ops = {
	.set = ksmpp_param_set,
	.get = ksmpp_param_get,
};

/* Define a parameter NAME backed by ksmpp_NAME, of KIND (minus KSMPP_). */
#define KSMPP_PARAM(name, def, lo, hi, kind_, names, list, set)	\
	unsigned long ksmpp_##name = def;				\
	static struct ksmpp_param ksmpp_##name##_param = {		\
		.value = &ksmpp_##name, .min = lo, .max = hi,		\
		.kind = KSMPP_##kind_, .choices = names,		\
		.choice_list = list, .apply = set,			\
	};								\
	module_param_cb(name, &ksmpp_param_ops, &ksmpp_##name##_param, 0644)

/* A number from LO to HI, or a power of two (KIND POWER_OF_2). */
#define KSMPP_NUMBER_PARAM(name, def, lo, hi, kind, set, desc)		\
	KSMPP_PARAM(name, def, lo, hi, kind, NULL, NULL, set);		\
	MODULE_PARM_DESC(name, desc " (" #lo ".." #hi ", default " __stringify(def) ")")

#define KSMPP_ON_OFF_PARAM(name, def, desc)				\
	KSMPP_PARAM(name, def, 0, 1, ON_OFF, NULL, NULL, NULL);		\
	MODULE_PARM_DESC(name, desc " (0 or 1, default " #def ")")

/*
 * One of the names NAMES (an array), with the choices and default in WORDS,
 * and the names in LIST for error messages ("a and b").
 */
#define KSMPP_CHOICE_PARAM(name, def, names, set, desc, words, list)	\
	KSMPP_PARAM(name, def, 0, ARRAY_SIZE(names) - 1, CHOICE, names, list, set); \
	MODULE_PARM_DESC(name, desc " (" words ")")

static int ksmpp_set_sleep_millisecs(unsigned long ms)
{
	WRITE_ONCE(ksmpp_sleep_millisecs, ms);
	ksmpp_scanner_wake();	/* a shorter sleep starts now, as KSM's */
	return 0;
}

/* advisor_mode's names, as KSM's. */
static const char * const ksmpp_advisor_modes[] = {
	[KSMPP_ADVISOR_NONE] = "none",
	[KSMPP_ADVISOR_SCAN_TIME] = "scan-time",
};

static const char * const ksmpp_merge_scopes[] = {
	[KSMPP_SCOPE_GLOBAL] = "global",
	[KSMPP_SCOPE_UID] = "uid",
	[KSMPP_SCOPE_CGROUP] = "cgroup",
	[KSMPP_SCOPE_PROCESS] = "process",
};

static const char * const ksmpp_hook_modes[] = {
	[KSMPP_HOOK_MODE_AUTO] = "auto",
	[KSMPP_HOOK_MODE_DIRECT] = "direct",
	[KSMPP_HOOK_MODE_FTRACE] = "ftrace",
	[KSMPP_HOOK_MODE_KPROBE] = "kprobe",
};

const char *ksmpp_hook_mode_name(unsigned long mode)
{
	return ksmpp_hook_modes[mode];
}

static const char * const ksmpp_stats_modes[] = {
	[KSMPP_STATS_WORLD] = "world",
	[KSMPP_STATS_ROOT] = "root",
};

/*
 * While the advisor sets pages_to_scan, a write of it fails (-EINVAL) as
 * KSM's does, with the reason in the kernel log.
 */
static int ksmpp_set_pages_to_scan(unsigned long pages)
{
	if (READ_ONCE(ksmpp_advisor_mode) != KSMPP_ADVISOR_NONE) {
		pr_err("pages_to_scan is the advisor's while advisor_mode is scan-time: write none to advisor_mode first\n");
		return -EINVAL;
	}
	WRITE_ONCE(ksmpp_pages_to_scan, pages);
	return 0;
}

/*
 * A change of advisor_mode starts from KSM's defaults: pages_to_scan 100
 * for none, advisor_min_pages_to_scan for scan-time (whose adjustments then
 * start afresh: ksmppd sees the change at its next batch).
 */
static int ksmpp_set_advisor_mode(unsigned long mode)
{
	if (mode == ksmpp_advisor_mode)
		return 0;
	WRITE_ONCE(ksmpp_advisor_mode, mode);
	WRITE_ONCE(ksmpp_pages_to_scan, mode == KSMPP_ADVISOR_NONE ?
		   KSMPP_DEFAULT_PAGES_TO_SCAN :
		   clamp(READ_ONCE(ksmpp_advisor_min_pages_to_scan), 1UL, (unsigned long)UINT_MAX));
	return 0;
}

/*
 * The KSM knobs, with kernel KSM's defaults and accepted values. The
 * advisor's numbers only matter with advisor_mode=scan-time; in mode none
 * they are kept, as KSM keeps them.
 */
KSMPP_NUMBER_PARAM(run, 0, 0, 2, NUMBER, ksmpp_set_run,
		   "0 stop, 1 merge, 2 unmerge everything and stop");
KSMPP_NUMBER_PARAM(pages_to_scan, KSMPP_DEFAULT_PAGES_TO_SCAN, 0, UINT_MAX, NUMBER, ksmpp_set_pages_to_scan,
		   "pages the scanner visits per wake-up");
KSMPP_NUMBER_PARAM(sleep_millisecs, 20, 0, UINT_MAX, NUMBER, ksmpp_set_sleep_millisecs,
		   "milliseconds the scanner sleeps between batches");
KSMPP_NUMBER_PARAM(max_page_sharing, 256, 2, INT_MAX, NUMBER, NULL,
		   "most mappings of one merged page");
KSMPP_NUMBER_PARAM(merge_across_nodes, 1, 0, 1, NUMBER, ksmpp_set_merge_across_nodes,
		   "1 merge pages of all NUMA nodes, 0 only pages of one node");
KSMPP_ON_OFF_PARAM(use_zero_pages, 0, "merge empty pages with the kernel's zero page");
KSMPP_ON_OFF_PARAM(smart_scan, 1, "visit pages that keep failing to merge less often");
KSMPP_NUMBER_PARAM(stable_node_chains_prune_millisecs, 2000, 0, UINT_MAX, NUMBER, NULL,
		   "KSM's, kept for tools: stale nodes go at every pass end");
KSMPP_CHOICE_PARAM(advisor_mode, KSMPP_ADVISOR_NONE, ksmpp_advisor_modes,
		   ksmpp_set_advisor_mode,
		   "none: pages_to_scan as set; scan-time: set by the advisor",
		   "none or scan-time, default none", "none and scan-time");
KSMPP_NUMBER_PARAM(advisor_max_cpu, 70, 0, ULONG_MAX, NUMBER, NULL,
		   "scan-time: most CPU per cent ksmppd may use");
KSMPP_NUMBER_PARAM(advisor_min_pages_to_scan, 500, 0, ULONG_MAX, NUMBER, NULL,
		   "scan-time: fewest pages per wake-up");
KSMPP_NUMBER_PARAM(advisor_max_pages_to_scan, 30000, 0, ULONG_MAX, NUMBER, NULL,
		   "scan-time: most pages per wake-up, hinted pages included");
KSMPP_NUMBER_PARAM(advisor_target_scan_time, 200, 1, ULONG_MAX, NUMBER, NULL,
		   "scan-time: seconds a full pass should take");
/* ksmpp's own. */
KSMPP_NUMBER_PARAM(hint_buffer_size, 1024, 16, 1048576, POWER_OF_2,
		   ksmpp_set_hint_buffer_size,
		   "entries of the I/O hint ring, a power of two");
KSMPP_NUMBER_PARAM(hint_scan_percent, 75, 0, 100, NUMBER, NULL,
		   "most of each batch that hinted pages may take (0: no hints)");
KSMPP_CHOICE_PARAM(hook_mode, KSMPP_HOOK_MODE_AUTO, ksmpp_hook_modes,
		   ksmpp_set_hook_mode,
		   "how the I/O functions are hooked, chosen at load time: a direct call, else ftrace, else a kprobe, per function; direct calls only; ftrace only; or kprobes only",
		   "auto, direct, ftrace or kprobe, default auto", "auto, direct, ftrace and kprobe");
KSMPP_CHOICE_PARAM(merge_scope, KSMPP_SCOPE_GLOBAL, ksmpp_merge_scopes,
		   ksmpp_set_merge_scope,
		   "whose pages may share a merged page: any process's, one uid's, one cgroup's, or one process's only",
		   "global, uid, cgroup or process, default global",
		   "global, uid, cgroup and process");
KSMPP_CHOICE_PARAM(stats_mode, KSMPP_STATS_WORLD, ksmpp_stats_modes,
		   ksmpp_sysfs_set_stats_mode,
		   "who may read the figures (/proc/ksmpp, /sys/kernel/mm/ksmpp)",
		   "world or root, default world", "world and root");

#ifdef KSMPP_TEST_HOOKS
static unsigned int ksmpp_test_delay_point, ksmpp_test_delay_ms, ksmpp_test_faults;
module_param_named(test_delay_point, ksmpp_test_delay_point, uint, 0644);
MODULE_PARM_DESC(test_delay_point, "test builds: where to sleep (enum ksmpp_test_delay)");
module_param_named(test_delay_ms, ksmpp_test_delay_ms, uint, 0644);
MODULE_PARM_DESC(test_delay_ms, "test builds: how long to sleep there");
module_param_named(test_fault, ksmpp_test_faults, uint, 0644);
MODULE_PARM_DESC(test_fault, "test builds: faults to inject (KSMPP_TEST_FAULT_* bits)");

void ksmpp_test_delay(enum ksmpp_test_delay point)
{
	if (READ_ONCE(ksmpp_test_delay_point) == point)
		msleep(READ_ONCE(ksmpp_test_delay_ms));
}

bool ksmpp_test_fault(unsigned int fault)
{
	return READ_ONCE(ksmpp_test_faults) & fault;
}
#endif

/* The parameter @name of this module, or NULL. */
static const struct kernel_param *ksmpp_param(const char *name)
{
	const struct kernel_param *kp;

	for (kp = THIS_MODULE->kp; kp < THIS_MODULE->kp + THIS_MODULE->num_kp; kp++)
		if (!strcmp(kp->name, name))
			return kp;
	return NULL;
}

/* Write parameter @name, as /sys/module/ksmpp/parameters/@name does. */
int ksmpp_param_write(const char *name, const char *buf)
{
	const struct kernel_param *kp = ksmpp_param(name);
	int err;

	if (!kp)
		return -ENOENT;
	kernel_param_lock(THIS_MODULE);
	err = kp->ops->set(buf, kp);
	kernel_param_unlock(THIS_MODULE);
	return err;
}

/* Read parameter @name into @buf (a sysfs page). */
int ksmpp_param_read(const char *name, char *buf)
{
	const struct kernel_param *kp = ksmpp_param(name);

	return kp ? kp->ops->get(buf, kp) : -ENOENT;
}

/*
 * The parameters, in definition order, for /proc/ksmpp: @show(@arg, name,
 * value text) for each but the test builds' own.
 */
void ksmpp_params_for_each(void (*show)(void *arg, const char *name, const char *value),
			   void *arg)
{
	const struct kernel_param *kp;
	char *buf = (char *)__get_free_page(GFP_KERNEL);

	if (!buf)
		return;
	for (kp = THIS_MODULE->kp; kp < THIS_MODULE->kp + THIS_MODULE->num_kp; kp++) {
		if (!strncmp(kp->name, "test_", 5) || kp->ops->get(buf, kp) < 0)
			continue;
		show(arg, kp->name, strim(buf));
	}
	free_page((unsigned long)buf);
}
