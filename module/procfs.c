// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: /proc/ksmpp, one "key: value" line per figure as in /proc/meminfo:
 * what is loaded, on which kernel, in which state, with which configuration.
 */
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/utsname.h>

#include "ksmpp.h"

static int ksmpp_proc_show(struct seq_file *m, void *v)
{
	ksmpp_seq_field(m, "version", "%s", KSMPP_VERSION);
	ksmpp_seq_field(m, "kernel", "%s", init_utsname()->release);
	ksmpp_seq_field(m, "state", "%s", "stopped");
	ksmpp_params_show(m);
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
