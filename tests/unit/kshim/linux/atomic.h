/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Userspace shim of <linux/atomic.h>: the atomic64_t operations, cmpxchg()
 * and SMP barriers, on GCC __atomic builtins.  As in the kernel, value
 * returning RMW operations (and a successful cmpxchg()) are fully ordered:
 * they act as smp_mb() on both sides, which a C11 seq_cst RMW alone does
 * not guarantee for the surrounding relaxed accesses.  atomic64_inc() is
 * relaxed.
 */
#ifndef _KSHIM_LINUX_ATOMIC_H
#define _KSHIM_LINUX_ATOMIC_H

#include <linux/compiler.h>
#include <linux/types.h>

typedef struct {
	s64 counter;
} atomic64_t;

#define smp_rmb()		__atomic_thread_fence(__ATOMIC_ACQUIRE)
#define smp_wmb()		__atomic_thread_fence(__ATOMIC_RELEASE)
#define __kshim_full_mb()	__atomic_thread_fence(__ATOMIC_SEQ_CST)

static inline s64 atomic64_read(const atomic64_t *v)
{
	return __atomic_load_n(&v->counter, __ATOMIC_RELAXED);
}

static inline void atomic64_set(atomic64_t *v, s64 i)
{
	__atomic_store_n(&v->counter, i, __ATOMIC_RELAXED);
}

static inline void atomic64_inc(atomic64_t *v)
{
	__atomic_fetch_add(&v->counter, 1, __ATOMIC_RELAXED);
}

static inline s64 atomic64_inc_return(atomic64_t *v)
{
	s64 ret;

	__kshim_full_mb();
	ret = __atomic_add_fetch(&v->counter, 1, __ATOMIC_SEQ_CST);
	__kshim_full_mb();
	return ret;
}

/* Returns the value found at @ptr; the store happened iff it equals @old. */
#define cmpxchg(ptr, old, new)						\
({									\
	__typeof__(*(ptr)) __kshim_old = (old);				\
									\
	__kshim_full_mb();						\
	if (__atomic_compare_exchange_n((ptr), &__kshim_old, (new), false, \
					__ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) \
		__kshim_full_mb();					\
	__kshim_old;							\
})

#endif /* _KSHIM_LINUX_ATOMIC_H */
