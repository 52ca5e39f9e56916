// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: keeping kernel KSM's ksmd off ksmpp's pages.
 *
 * ksmd must never scan while ksmpp has merged pages: it would take them for
 * KSM pages forked from its own, append its rmap items to ksmpp's nodes and
 * later free those nodes into its own cache. Noticing "run" become 1 from
 * ksmppd is too late (ksmd starts at once), so ksmpp steps in front of the
 * write itself: an ftrace hook on the store function of
 * /sys/kernel/mm/ksm/run (found through that very file, not by a name that
 * other files share) sends the write to ksmpp_ksm_run_store(). When the
 * write starts KSM, that first unmerges all of ksmpp's pages, holding
 * ksmpp_lock so that ksmppd cannot merge again before KSM is running, then
 * calls the kernel's store function, which ksmppd will then see. A signal
 * during the unmerge fails the write with -EINTR, and pages that cannot be
 * unmerged with -EBUSY: KSM is not started then. The hook lets ksmpp's own
 * call through (its caller is in this module).
 *
 * A writer can sleep in ksmpp_ksm_run_store() (on ksmpp_lock, which unload
 * holds while it unmerges, or in the kernel's store function): unload must
 * not free the module's text under it. The hook counts writers in before it
 * redirects them. Unload, once nothing of ksmpp's is merged, closes the
 * guard (the hook redirects no writer any more: the kernel's store takes
 * them all), waits for the count to drop to zero, then unregisters the
 * hook. That waits for an RCU-tasks grace period, which covers a hook call
 * still running and a writer preempted between its last decrement and its
 * return (a task is only through when it has switched voluntarily, and a
 * preempted one has not): one grace period, each of which can take seconds
 * on a busy host, where waiting for the writers after unregistering took
 * two.
 *
 * The hook must never be off while ksmpp is loaded: its ftrace_ops is
 * permanent, as livepatch's are. Setting kernel.ftrace_enabled to 0 then
 * fails (-EBUSY) instead of silently letting ksmd start, and while it is 0
 * ksmpp refuses to load.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ftrace.h>
#include <linux/kernfs.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/sysfs.h>
#include <linux/wait_bit.h>
#include <linux/utsname.h>

#include "ksmpp.h"

/* KSM's run_store(), reached only through this static call (IBT). */
DEFINE_STATIC_CALL_NULL(ksmpp_kernel_run_store, ksmpp_proto_run_store);

static unsigned long ksmpp_kernel_run_store_addr;
/* Writers redirected into ksmpp_ksm_run_store() and not out of it yet. */
static atomic_t ksmpp_run_writers = ATOMIC_INIT(0);
/* Unload closed the guard: the hook redirects no more writers. */
static bool ksmpp_guard_closed;

static void ksmpp_run_writer_out(void)
{
	if (atomic_dec_and_test(&ksmpp_run_writers))
		wake_up_var(&ksmpp_run_writers);
}

static ssize_t notrace ksmpp_ksm_run_store(struct kobject *kobj,
					   struct kobj_attribute *attr,
					   const char *buf, size_t count)
{
	unsigned int flags;
	ssize_t ret;

	ksmpp_test_delay(KSMPP_TEST_DELAY_RUN_STORE);
	/* As KSM's run_store(): 1 starts ksmd, 0 and 2 do not. */
	if (kstrtouint(buf, 10, &flags) || flags != KSMPP_KERNEL_KSM_RUN_MERGE) {
		ret = static_call(ksmpp_kernel_run_store)(kobj, attr, buf, count);
	} else {
		ksmpp_lock_ahead_of_scan();
		ret = ksmpp_give_way_to_ksm();
		if (!ret)
			ret = static_call(ksmpp_kernel_run_store)(kobj, attr, buf, count);
		mutex_unlock(&ksmpp_lock);
	}
	ksmpp_run_writer_out();
	return ret;
}

static void notrace ksmpp_ksm_run_hook(unsigned long ip, unsigned long parent_ip,
				       struct ftrace_ops *ops, struct ftrace_regs *fregs)
{
	if (within_module(parent_ip, THIS_MODULE))
		return;
	atomic_inc(&ksmpp_run_writers);
	/* Counted before the flag is read: pairs with ksmpp_ksm_guard_exit(). */
	smp_mb__after_atomic();
	if (READ_ONCE(ksmpp_guard_closed)) {
		ksmpp_run_writer_out();
		return;
	}
	ftrace_regs_set_instruction_pointer(fregs, (unsigned long)ksmpp_ksm_run_store);
}

static struct ftrace_ops ksmpp_ksm_run_ops = {
	.func = ksmpp_ksm_run_hook,
	.flags = FTRACE_OPS_FL_IPMODIFY | FTRACE_OPS_FL_PERMANENT | KSMPP_FTRACE_ARGS_FLAGS,
};

/* The store function behind /sys/kernel/mm/ksm/run, from the file itself. */
static unsigned long ksmpp_find_ksm_run_store(void)
{
	struct kernfs_node *dir, *file;
	unsigned long store = 0;

	dir = kernfs_find_and_get(ksmpp_kernel_mm_kobj->sd, "ksm");
	if (!dir)
		return 0;
	file = kernfs_find_and_get(dir, "run");
	if (file) {
		struct attribute *attr = file->priv;

		store = (unsigned long)container_of(attr, struct kobj_attribute, attr)->store;
		kernfs_put(file);
	}
	kernfs_put(dir);
	return store;
}

int ksmpp_ksm_guard_init(void)
{
	int err;

	ksmpp_kernel_run_store_addr = ksmpp_find_ksm_run_store();
	if (!ksmpp_kernel_run_store_addr) {
		pr_err("kernel %s: /sys/kernel/mm/ksm/run not found, not loading\n",
		       init_utsname()->release);
		return -ENOENT;
	}
	static_call_update(ksmpp_kernel_run_store, (void *)ksmpp_kernel_run_store_addr);
	err = ftrace_set_filter_ip(&ksmpp_ksm_run_ops, ksmpp_kernel_run_store_addr, 0, 0);
	if (!err)
		err = register_ftrace_function(&ksmpp_ksm_run_ops);
	if (!err)
		return 0;
	ftrace_set_filter_ip(&ksmpp_ksm_run_ops, ksmpp_kernel_run_store_addr, 1, 0);
	/* -EBUSY: ftrace is off, or a livepatch modifies the same function. */
	pr_err("kernel %s: cannot hook /sys/kernel/mm/ksm/run (error %d%s), not loading\n",
	       init_utsname()->release, err,
	       err == -EBUSY ? ": is kernel.ftrace_enabled 0?" : "");
	return err;
}

/* Once nothing of ksmpp's is merged: see the top of this file. */
void ksmpp_ksm_guard_exit(void)
{
	WRITE_ONCE(ksmpp_guard_closed, true);
	smp_mb();	/* the flag set before the count is read */
	wait_var_event(&ksmpp_run_writers, !atomic_read(&ksmpp_run_writers));
	/* Waits for RCU tasks (the ops is dynamic: it lives in a module). */
	unregister_ftrace_function(&ksmpp_ksm_run_ops);
	ftrace_set_filter_ip(&ksmpp_ksm_run_ops, ksmpp_kernel_run_store_addr, 1, 0);
}
