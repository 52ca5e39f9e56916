/* SPDX-License-Identifier: GPL-2.0-only */
/* Userspace stand-in for <linux/limits.h>. */
#ifndef _KSHIM_LINUX_LIMITS_H
#define _KSHIM_LINUX_LIMITS_H

#include <limits.h>
#include <stdint.h>

#define U64_MAX	UINT64_MAX

#endif
