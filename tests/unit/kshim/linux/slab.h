/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace shim of <linux/slab.h>: kvcalloc()/kvfree() on libc.  Memory is
 * SMP_CACHE_BYTES aligned so ____cacheline_aligned_in_smp members are really
 * aligned (UBSan checks that).
 */
#ifndef _KSHIM_LINUX_SLAB_H
#define _KSHIM_LINUX_SLAB_H

#include <stdlib.h>
#include <string.h>

#include <linux/cache.h>
#include <linux/types.h>

typedef unsigned int gfp_t;

#define GFP_KERNEL	0u
#define __GFP_NOWARN	0u

static inline void *kvcalloc(size_t n, size_t size, gfp_t flags)
{
	size_t bytes;
	void *p;

	(void)flags;
	if (__builtin_mul_overflow(n, size, &bytes) ||
	    bytes > SIZE_MAX - SMP_CACHE_BYTES)
		return NULL;
	bytes = (bytes + SMP_CACHE_BYTES - 1) & ~(size_t)(SMP_CACHE_BYTES - 1);
	p = aligned_alloc(SMP_CACHE_BYTES, bytes ? bytes : SMP_CACHE_BYTES);
	if (p)
		memset(p, 0, bytes);
	return p;
}

static inline void kvfree(const void *p)
{
	free((void *)p);
}

#endif /* _KSHIM_LINUX_SLAB_H */
