// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp_slot: a test module that holds the ftrace direct-call slot of one
 * kernel function, as a BPF fentry program or another tracer's module
 * would, with a trampoline that does nothing. addr= is the function's
 * address (from /proc/kallsyms). The load fails with the registration's
 * error: -EBUSY while ksmpp holds that function's slot.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ftrace.h>
#include <linux/module.h>
#include <asm/ibt.h>
#include <asm/nospec-branch.h>

#include "compat.h"
#include "ksmpp_slot.h"

static unsigned long addr;
module_param(addr, ulong, 0444);
MODULE_PARM_DESC(addr, "address of the function whose direct-call slot to hold");

asm(
"	.pushsection .text, \"ax\", @progbits\n"
"	.type ksmpp_slot_tramp, @function\n"
"	.globl ksmpp_slot_tramp\n"
"ksmpp_slot_tramp:\n"
	ASM_ENDBR
	CALL_DEPTH_ACCOUNT
	ASM_RET
"	.size ksmpp_slot_tramp, .-ksmpp_slot_tramp\n"
"	.popsection\n"
);

static struct ftrace_ops ksmpp_slot_ops;

static int __init ksmpp_slot_init(void)
{
	int err = ftrace_set_filter_ip(&ksmpp_slot_ops, addr, 0, 0);

	if (!err)
		err = ksmpp_register_direct(&ksmpp_slot_ops, (unsigned long)ksmpp_slot_tramp);
	if (err) {
		ftrace_free_filter(&ksmpp_slot_ops);
		pr_info("cannot hold the direct-call slot at %#lx (error %d)\n", addr, err);
	}
	return err;
}

static void __exit ksmpp_slot_exit(void)
{
	ksmpp_unregister_direct(&ksmpp_slot_ops, (unsigned long)ksmpp_slot_tramp);
}

module_init(ksmpp_slot_init);
module_exit(ksmpp_slot_exit);
MODULE_DESCRIPTION("ksmpp test: hold one function's ftrace direct-call slot");
MODULE_LICENSE("GPL");
