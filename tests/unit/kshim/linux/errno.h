/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace shim of <linux/errno.h>: the system's, which libc's <errno.h>
 * includes too (so no guard of its own here).
 */
#include_next <linux/errno.h>
