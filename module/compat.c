// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: the kernel functions found at load time.
 *
 * ksmpp merges through KSM's own primitive and walks page tables with the
 * kernel's helpers; none of them is exported to modules. kallsyms_lookup_name
 * (itself unexported since 5.7) is located once through a kprobe on it and
 * then finds the others by name.
 *
 * Kernels built with IBT (6.12 and 7.x on Debian) seal the ENDBR of functions
 * that are never called indirectly, and static functions have none, so an
 * indirect call to any of them faults on a CET-capable CPU. Each resolved
 * function therefore gets a static call: its trampoline (or the patched call
 * site) reaches the function with a direct jump. A kprobe on an IBT kernel
 * reports the address after the ENDBR; the symbol's start is recovered from
 * the offset kallsyms reports, and every address is checked to be the start
 * of the symbol it was looked up for.
 *
 * A symbol that cannot be found refuses the load with one log line naming it
 * and the running kernel.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/string.h>
#include <linux/utsname.h>

#include "compat.h"
#include "ksmpp.h"

/* Test builds look up names that do not exist, to exercise the refusal. */
#ifndef KSMPP_TEST_SYMBOL_SUFFIX
#define KSMPP_TEST_SYMBOL_SUFFIX ""
#endif

DEFINE_STATIC_CALL_NULL(ksmpp_kallsyms_lookup_name,
			ksmpp_proto_kallsyms_lookup_name);
DEFINE_STATIC_CALL_NULL(ksmpp_try_to_merge_one_page,
			ksmpp_proto_try_to_merge_one_page);
DEFINE_STATIC_CALL_NULL(ksmpp___put_anon_vma, ksmpp_proto___put_anon_vma);
DEFINE_STATIC_CALL_NULL(ksmpp_lru_add_drain_all,
			ksmpp_proto_lru_add_drain_all);
#ifdef KSMPP_HAVE_FOLIO_WALK
DEFINE_STATIC_CALL_NULL(ksmpp_folio_walk_start, ksmpp_proto_folio_walk_start);
#else
DEFINE_STATIC_CALL_NULL(ksmpp_follow_page, ksmpp_proto_follow_page);
#endif

unsigned long *ksmpp_kernel_ksm_run;
struct kobject *ksmpp_kernel_mm_kobj;

/* A kernel function to resolve and the static call that will reach it. */
struct ksmpp_symbol {
	const char *name;		/* kallsyms name */
	struct static_call_key *key;	/* static call to point at it */
	void *tramp;			/* the static call's trampoline */
};

#define KSMPP_SYMBOL(fn) {						\
	.name = #fn KSMPP_TEST_SYMBOL_SUFFIX,				\
	.key = &STATIC_CALL_KEY(ksmpp_##fn),				\
	.tramp = STATIC_CALL_TRAMP_ADDR(ksmpp_##fn),			\
}

static const struct ksmpp_symbol ksmpp_symbols[] = {
	KSMPP_SYMBOL(try_to_merge_one_page),
	KSMPP_SYMBOL(__put_anon_vma),
	KSMPP_SYMBOL(lru_add_drain_all),
#ifdef KSMPP_HAVE_FOLIO_WALK
	KSMPP_SYMBOL(folio_walk_start),
#else
	KSMPP_SYMBOL(follow_page),
#endif
};

/*
 * The start of symbol @name, given an address inside it (0 if the address
 * is not within @name).
 */
static unsigned long ksmpp_symbol_start(unsigned long addr, const char *name)
{
	char buf[KSYM_SYMBOL_LEN];
	size_t len = strlen(name);
	unsigned long offset;

	sprint_symbol(buf, addr);
	if (strncmp(buf, name, len) || buf[len] != '+' ||
	    sscanf(buf + len, "+%lx", &offset) != 1 || offset > addr)
		return 0;
	return addr - offset;
}

static int ksmpp_missing(const char *name, int err)
{
	pr_err("kernel %s: symbol %s not found (error %d), not loading\n",
	       init_utsname()->release, name, err);
	return err;
}

/* Find kallsyms_lookup_name through a kprobe placed on it. Can sleep. */
static int ksmpp_resolve_kallsyms(void)
{
	static const char name[] = "kallsyms_lookup_name";
	struct kprobe kp = { .symbol_name = name };
	unsigned long addr;
	int err;

	err = register_kprobe(&kp);
	if (err)
		return ksmpp_missing(name, err);
	addr = ksmpp_symbol_start((unsigned long)kp.addr, name);
	unregister_kprobe(&kp);
	if (!addr)
		return ksmpp_missing(name, -ENOENT);
	static_call_update(ksmpp_kallsyms_lookup_name, (void *)addr);
	return 0;
}

/* Can sleep; only after ksmpp_resolve_symbols() succeeded. */
bool ksmpp_symbol_exists(const char *name)
{
	return static_call(ksmpp_kallsyms_lookup_name)(name) != 0;
}

/* Resolve every function ksmpp needs, or fail the load. Can sleep. */
int ksmpp_resolve_symbols(void)
{
	const struct ksmpp_symbol *sym;
	unsigned long addr;
	int err;

	err = ksmpp_resolve_kallsyms();
	if (err)
		return err;
	for (sym = ksmpp_symbols; sym < ksmpp_symbols + ARRAY_SIZE(ksmpp_symbols); sym++) {
		addr = static_call(ksmpp_kallsyms_lookup_name)(sym->name);
		if (!addr || ksmpp_symbol_start(addr, sym->name) != addr)
			return ksmpp_missing(sym->name, -ENOENT);
		__static_call_update(sym->key, sym->tramp, (void *)addr);
	}
	/* A variable, read (never called): /sys/kernel/mm/ksm/run. */
	addr = static_call(ksmpp_kallsyms_lookup_name)("ksm_run");
	if (!addr || ksmpp_symbol_start(addr, "ksm_run") != addr)
		return ksmpp_missing("ksm_run", -ENOENT);
	ksmpp_kernel_ksm_run = (unsigned long *)addr;
	/* /sys/kernel/mm, not exported on 7.x. */
	addr = static_call(ksmpp_kallsyms_lookup_name)("mm_kobj");
	if (!addr || ksmpp_symbol_start(addr, "mm_kobj") != addr)
		return ksmpp_missing("mm_kobj", -ENOENT);
	ksmpp_kernel_mm_kobj = *(struct kobject **)addr;
	return 0;
}
