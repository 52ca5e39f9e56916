/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ksmpp: every difference between the supported kernels (6.1, 6.12, 7.x).
 *
 * The rest of the module is written against the newest kernel's names; this
 * header maps them for older kernels and declares the kernel functions that
 * are found at load time. Those are reached only through static calls:
 * static_call(ksmpp_<function>)(...), never through a function pointer.
 */
#ifndef _KSMPP_COMPAT_H
#define _KSMPP_COMPAT_H

#include <linux/mm_types.h>
#include <linux/static_call.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "ksmpp supports Linux 6.1 and later"
#endif

/* folio_walk_start() replaced follow_page() in 6.12. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#define KSMPP_HAVE_FOLIO_WALK
#include <linux/pagewalk.h>
#endif

/*
 * Prototypes of the resolved functions, as the running kernel defines them.
 * They only give the static calls their types: nothing links against them.
 */
unsigned long ksmpp_proto_kallsyms_lookup_name(const char *name);
int ksmpp_proto_try_to_merge_one_page(struct vm_area_struct *vma,
				      struct page *page, struct page *kpage);
void ksmpp_proto___put_anon_vma(struct anon_vma *anon_vma);
void ksmpp_proto_lru_add_drain_all(void);
#ifdef KSMPP_HAVE_FOLIO_WALK
struct folio *ksmpp_proto_folio_walk_start(struct folio_walk *fw,
					   struct vm_area_struct *vma,
					   unsigned long addr,
					   folio_walk_flags_t flags);
#else
struct page *ksmpp_proto_follow_page(struct vm_area_struct *vma,
				     unsigned long address,
				     unsigned int foll_flags);
#endif

#define KSMPP_DECLARE_RESOLVED(fn) \
	DECLARE_STATIC_CALL(ksmpp_##fn, ksmpp_proto_##fn)

KSMPP_DECLARE_RESOLVED(try_to_merge_one_page);
KSMPP_DECLARE_RESOLVED(__put_anon_vma);
KSMPP_DECLARE_RESOLVED(lru_add_drain_all);
#ifdef KSMPP_HAVE_FOLIO_WALK
KSMPP_DECLARE_RESOLVED(folio_walk_start);
#else
KSMPP_DECLARE_RESOLVED(follow_page);
#endif

#endif /* _KSMPP_COMPAT_H */
