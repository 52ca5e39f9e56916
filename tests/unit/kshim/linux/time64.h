/* SPDX-License-Identifier: GPL-2.0-only */
/* Userspace stand-in for <linux/time64.h>: what the module code uses. */
#ifndef _KSHIM_LINUX_TIME64_H
#define _KSHIM_LINUX_TIME64_H

#define NSEC_PER_SEC	1000000000L

#endif
