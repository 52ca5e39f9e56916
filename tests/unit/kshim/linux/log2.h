/* SPDX-License-Identifier: GPL-2.0-only */
/* Userspace shim of <linux/log2.h>. */
#ifndef _KSHIM_LINUX_LOG2_H
#define _KSHIM_LINUX_LOG2_H

#include <linux/types.h>

static inline bool is_power_of_2(unsigned long n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

/* log2 of @n, rounded down; @n must not be 0. */
static inline int ilog2(unsigned long n)
{
	return 63 - __builtin_clzl(n);
}

#endif /* _KSHIM_LINUX_LOG2_H */
