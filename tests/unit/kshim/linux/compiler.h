/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace shim of <linux/compiler.h>.  READ_ONCE()/WRITE_ONCE() are relaxed
 * atomic accesses so ThreadSanitizer treats them as the marked accesses they
 * are in the kernel.
 */
#ifndef _KSHIM_LINUX_COMPILER_H
#define _KSHIM_LINUX_COMPILER_H

#define unlikely(x)	__builtin_expect(!!(x), 0)

#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, val)	__atomic_store_n(&(x), (val), __ATOMIC_RELAXED)

#endif /* _KSHIM_LINUX_COMPILER_H */
