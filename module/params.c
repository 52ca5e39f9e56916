// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: module parameters.
 *
 * Every tunable is an unsigned integer with an allowed range (and, for ring
 * sizes, a power-of-two rule). One set of parameter ops checks a value the
 * same way at load time (modprobe ksmpp x=y: the load fails) and at run time
 * (/sys/module/ksmpp/parameters/x: the write fails with -EINVAL). A rejected
 * value is named in one kernel log line with the allowed range, and the old
 * value stays. Writers are serialised by the kernel's parameter lock; readers
 * use READ_ONCE().
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/seq_file.h>
#include <linux/string.h>

#include "ksmpp.h"

/* A parameter's storage and the values it may take. */
struct ksmpp_uint_param {
	unsigned int *value;	/* where the value lives */
	unsigned int min;	/* smallest allowed value */
	unsigned int max;	/* largest allowed value */
	bool power_of_2;	/* value must also be a power of two */
	int (*apply)(unsigned int value); /* stores and acts on a value */
};

static int ksmpp_uint_param_set(const char *val, const struct kernel_param *kp)
{
	const struct ksmpp_uint_param *p = kp->arg;
	unsigned int v;

	if (kstrtouint(val, 0, &v) || v < p->min || v > p->max ||
	    (p->power_of_2 && !is_power_of_2(v))) {
		pr_err("invalid %s '%.*s': allowed are %s%u to %u\n", kp->name,
		       (int)strcspn(val, "\n"), val,
		       p->power_of_2 ? "powers of two from " : "", p->min, p->max);
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

/* Define a range-checked parameter NAME backed by ksmpp_NAME. */
#define KSMPP_UINT_PARAM(name, def, lo, hi, pow2, set, desc)		\
	unsigned int ksmpp_##name = def;				\
	static struct ksmpp_uint_param ksmpp_##name##_param = {		\
		.value = &ksmpp_##name, .min = lo, .max = hi,		\
		.power_of_2 = pow2, .apply = set,			\
	};								\
	module_param_cb(name, &ksmpp_uint_param_ops,			\
			&ksmpp_##name##_param, 0644);			\
	MODULE_PARM_DESC(name, desc " (" #lo ".." #hi ", default " #def ")")

/* The KSM knobs, with kernel KSM's defaults. */
KSMPP_UINT_PARAM(run, 0, 0, 2, false, ksmpp_set_run,
		 "0 stop, 1 merge, 2 unmerge everything and stop");
KSMPP_UINT_PARAM(pages_to_scan, 100, 1, 100000, false, NULL,
		 "pages the scanner visits per wake-up");
KSMPP_UINT_PARAM(sleep_millisecs, 20, 0, 60000, false, NULL,
		 "milliseconds the scanner sleeps between batches");
KSMPP_UINT_PARAM(max_page_sharing, 256, 2, 32768, false, NULL,
		 "most mappings of one merged page");
/* ksmpp's own. */
KSMPP_UINT_PARAM(hint_buffer_size, 1024, 16, 1048576, true,
		 ksmpp_set_hint_buffer_size,
		 "entries of the I/O hint ring, a power of two");
KSMPP_UINT_PARAM(hint_scan_percent, 75, 0, 100, false, NULL,
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

void ksmpp_params_show(struct seq_file *m)
{
	ksmpp_seq_field(m, "run", "%u", READ_ONCE(ksmpp_run));
	ksmpp_seq_field(m, "pages_to_scan", "%u", READ_ONCE(ksmpp_pages_to_scan));
	ksmpp_seq_field(m, "sleep_millisecs", "%u", READ_ONCE(ksmpp_sleep_millisecs));
	ksmpp_seq_field(m, "max_page_sharing", "%u", READ_ONCE(ksmpp_max_page_sharing));
	ksmpp_seq_field(m, "hint_buffer_size", "%u", READ_ONCE(ksmpp_hint_buffer_size));
	ksmpp_seq_field(m, "hint_scan_percent", "%u", READ_ONCE(ksmpp_hint_scan_percent));
}
