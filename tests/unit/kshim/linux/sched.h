/* SPDX-License-Identifier: GPL-2.0-only */
/* Userspace shim of <linux/sched.h>: what the module code uses. */
#ifndef _KSHIM_LINUX_SCHED_H
#define _KSHIM_LINUX_SCHED_H

static inline void cond_resched(void)
{
}

#endif /* _KSHIM_LINUX_SCHED_H */
