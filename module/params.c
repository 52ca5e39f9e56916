// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: module parameters.
 *
 * Every tunable is an unsigned integer with an allowed range, parsed as
 * kernel KSM parses the file of the same name in /sys/kernel/mm/ksm: decimal
 * (kstrtouint(buf, 10)), or y/n/on/off/1/0 for KSM's on/off knobs
 * (kstrtobool). One set of parameter ops checks a value the same way at load
 * time (modprobe ksmpp x=y: the load fails) and at run time
 * (/sys/module/ksmpp/parameters/x: the write fails with -EINVAL). A rejected
 * value is named in one kernel log line with the allowed range, and the old
 * value stays. Writers are serialised by the kernel's parameter lock; readers
 * use READ_ONCE().
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

#include "ksmpp.h"

/* How a parameter's text is read, and which values it may take. */
enum ksmpp_param_kind {
	KSMPP_NUMBER,		/* decimal, min to max */
	KSMPP_POWER_OF_2,	/* decimal, min to max, a power of two */
	KSMPP_ON_OFF,		/* kstrtobool: 1/0, y/n, on/off; shown as 1 or 0 */
};

/* A parameter's storage and the values it may take. */
struct ksmpp_uint_param {
	unsigned int *value;	/* where the value lives */
	unsigned int min;	/* smallest allowed value */
	unsigned int max;	/* largest allowed value */
	enum ksmpp_param_kind kind;
	int (*apply)(unsigned int value); /* stores and acts on a value */
};

static int ksmpp_uint_param_parse(const struct ksmpp_uint_param *p,
				  const char *val, unsigned int *v)
{
	bool on;

	if (p->kind == KSMPP_ON_OFF) {
		if (kstrtobool(val, &on))
			return -EINVAL;
		*v = on;
		return 0;
	}
	if (kstrtouint(val, 10, v) || *v < p->min || *v > p->max ||
	    (p->kind == KSMPP_POWER_OF_2 && !is_power_of_2(*v)))
		return -EINVAL;
	return 0;
}

static int ksmpp_uint_param_set(const char *val, const struct kernel_param *kp)
{
	const struct ksmpp_uint_param *p = kp->arg;
	int len = strcspn(val, "\n");
	unsigned int v;

	if (ksmpp_uint_param_parse(p, val, &v)) {
		if (p->kind == KSMPP_ON_OFF)
			pr_err("invalid %s '%.*s': allowed are 0 or 1 (y/n, on/off)\n",
			       kp->name, len, val);
		else
			pr_err("invalid %s '%.*s': allowed are %s%u to %u\n", kp->name,
			       len, val, p->kind == KSMPP_POWER_OF_2 ?
			       "powers of two from " : "", p->min, p->max);
		return -EINVAL;
	}
	if (p->apply)
		return p->apply(v);
	WRITE_ONCE(*p->value, v);
	return 0;
}

static int ksmpp_uint_param_get(char *buf, const struct kernel_param *kp)
{
	const struct ksmpp_uint_param *p = kp->arg;

	return sprintf(buf, "%u\n", READ_ONCE(*p->value));
}

static const struct kernel_param_ops ksmpp_uint_param_ops = {
	.set = ksmpp_uint_param_set,
	.get = ksmpp_uint_param_get,
};

/* Define a parameter NAME backed by ksmpp_NAME, of KIND (minus KSMPP_). */
#define KSMPP_UINT_PARAM(name, def, lo, hi, kind_, set, desc)		\
	unsigned int ksmpp_##name = def;				\
	static struct ksmpp_uint_param ksmpp_##name##_param = {		\
		.value = &ksmpp_##name, .min = lo, .max = hi,		\
		.kind = KSMPP_##kind_, .apply = set,			\
	};								\
	module_param_cb(name, &ksmpp_uint_param_ops,			\
			&ksmpp_##name##_param, 0644);			\
	MODULE_PARM_DESC(name, desc " (" #lo ".." #hi ", default " #def ")")

static int ksmpp_set_sleep_millisecs(unsigned int ms)
{
	WRITE_ONCE(ksmpp_sleep_millisecs, ms);
	ksmpp_scanner_wake();	/* a shorter sleep starts now, as KSM's */
	return 0;
}

/*
 * The KSM knobs, with kernel KSM's defaults and accepted values. The
 * advisor's numbers only matter with advisor_mode=scan-time; in mode none
 * they are kept, as KSM keeps them.
 */
KSMPP_UINT_PARAM(run, 0, 0, 2, NUMBER, ksmpp_set_run,
		 "0 stop, 1 merge, 2 unmerge everything and stop");
KSMPP_UINT_PARAM(pages_to_scan, 100, 0, UINT_MAX, NUMBER, NULL,
		 "pages the scanner visits per wake-up");
KSMPP_UINT_PARAM(sleep_millisecs, 20, 0, UINT_MAX, NUMBER, ksmpp_set_sleep_millisecs,
		 "milliseconds the scanner sleeps between batches");
KSMPP_UINT_PARAM(max_page_sharing, 256, 2, INT_MAX, NUMBER, NULL,
		 "most mappings of one merged page");
KSMPP_UINT_PARAM(merge_across_nodes, 1, 0, 1, NUMBER, ksmpp_set_merge_across_nodes,
		 "1 merge pages of all NUMA nodes, 0 only pages of one node");
KSMPP_UINT_PARAM(use_zero_pages, 0, 0, 1, ON_OFF, NULL,
		 "merge empty pages with the kernel's zero page");
KSMPP_UINT_PARAM(smart_scan, 1, 0, 1, ON_OFF, NULL,
		 "visit pages that keep failing to merge less often");
KSMPP_UINT_PARAM(stable_node_chains_prune_millisecs, 2000, 0, UINT_MAX, NUMBER, NULL,
		 "KSM's, kept for tools: stale nodes go at every pass end");
/* ksmpp's own. */
KSMPP_UINT_PARAM(hint_buffer_size, 1024, 16, 1048576, POWER_OF_2,
		 ksmpp_set_hint_buffer_size,
		 "entries of the I/O hint ring, a power of two");
KSMPP_UINT_PARAM(hint_scan_percent, 75, 0, 100, NUMBER, NULL,
		 "most of each batch that hinted pages may take (0: no hints)");

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
