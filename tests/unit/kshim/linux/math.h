/* SPDX-License-Identifier: GPL-2.0-only */
/* Userspace stand-in for <linux/math.h>: what the module code uses. */
#ifndef _KSHIM_LINUX_MATH_H
#define _KSHIM_LINUX_MATH_H

#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))

#endif
