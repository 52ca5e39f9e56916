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

DEFINE_STATIC_CALL_NULL(ksmpp_kallsyms_lookup_name,
			ksmpp_proto_kallsyms_lookup_name);
DEFINE_STATIC_CALL_NULL(ksmpp_try_to_merge_one_page,
			ksmpp_proto_try_to_merge_one_page);
DEFINE_STATIC_CALL_NULL(ksmpp___put_anon_vma, ksmpp_proto___put_anon_vma);
DEFINE_STATIC_CALL_NULL(ksmpp_lru_add_drain, ksmpp_proto_lru_add_drain);
DEFINE_STATIC_CALL_NULL(ksmpp_lru_add_drain_all,
			ksmpp_proto_lru_add_drain_all);
#ifdef KSMPP_HAVE_FOLIO_WALK
DEFINE_STATIC_CALL_NULL(ksmpp_folio_walk_start, ksmpp_proto_folio_walk_start);
#else
DEFINE_STATIC_CALL_NULL(ksmpp_follow_page, ksmpp_proto_follow_page);
#endif

unsigned long *ksmpp_kernel_ksm_run;
struct kmem_cache **ksmpp_kernel_stable_node_cache;
struct list_head *ksmpp_kernel_migrate_nodes;
struct kobject *ksmpp_kernel_mm_kobj;

/* A kernel function to resolve and the static call that will reach it. */
struct ksmpp_symbol {
	const char *name;		/* kallsyms name */
	struct static_call_key *key;	/* static call to point at it */
	void *tramp;			/* the static call's trampoline */
};

#define KSMPP_SYMBOL(fn) {						\
	.name = #fn,							\
	.key = &STATIC_CALL_KEY(ksmpp_##fn),				\
	.tramp = STATIC_CALL_TRAMP_ADDR(ksmpp_##fn),			\
}

static const struct ksmpp_symbol ksmpp_symbols[] = {
	KSMPP_SYMBOL(try_to_merge_one_page),
	KSMPP_SYMBOL(__put_anon_vma),
	KSMPP_SYMBOL(lru_add_drain),
	KSMPP_SYMBOL(lru_add_drain_all),
#ifdef KSMPP_HAVE_FOLIO_WALK
	KSMPP_SYMBOL(folio_walk_start),
#else
	KSMPP_SYMBOL(follow_page),
#endif
};

static struct kobject **ksmpp_mm_kobj;

/* A kernel variable that ksmpp reads, and where its address goes. */
struct ksmpp_variable {
	const char *name;
	void **addr;
};

static const struct ksmpp_variable ksmpp_variables[] = {
	{ "ksm_run", (void **)&ksmpp_kernel_ksm_run },
	/* For the hand-over of pages left merged at unload (stable.c). */
	{ "stable_node_cache", (void **)&ksmpp_kernel_stable_node_cache },
	{ "migrate_nodes", (void **)&ksmpp_kernel_migrate_nodes },
	{ "mm_kobj", (void **)&ksmpp_mm_kobj },
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

/*
 * Find kallsyms_lookup_name through a kprobe placed on it. The kprobe is
 * registered disabled: never armed, it touches no code and no ftrace
 * state (armed at an ftrace site while kernel.ftrace_enabled is 0, 6.1
 * leaves ftrace's records unbalanced, and its next user WARNs). Can sleep.
 */
static int ksmpp_resolve_kallsyms(void)
{
	static const char name[] = "kallsyms_lookup_name";
	struct kprobe kp = { .symbol_name = name, .flags = KPROBE_FLAG_DISABLED };
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

/* Can sleep; only after ksmpp_resolve_symbols() succeeded. 0: none. */
unsigned long ksmpp_symbol_address(const char *name)
{
	return static_call(ksmpp_kallsyms_lookup_name)(name);
}

/* Where kernel symbol @name starts (checked); 0 if it has none. */
static unsigned long ksmpp_lookup(const char *name)
{
	unsigned long addr;

	if (ksmpp_test_fault(KSMPP_TEST_FAULT_SYMBOLS))
		return 0;
	addr = static_call(ksmpp_kallsyms_lookup_name)(name);

	return addr && ksmpp_symbol_start(addr, name) == addr ? addr : 0;
}

/* Resolve every function ksmpp needs, or fail the load. Can sleep. */
int ksmpp_resolve_symbols(void)
{
	const struct ksmpp_variable *var;
	const struct ksmpp_symbol *sym;
	unsigned long addr;
	int err;

	err = ksmpp_resolve_kallsyms();
	if (err)
		return err;
	for (sym = ksmpp_symbols; sym < ksmpp_symbols + ARRAY_SIZE(ksmpp_symbols); sym++) {
		addr = ksmpp_lookup(sym->name);
		if (!addr)
			return ksmpp_missing(sym->name, -ENOENT);
		__static_call_update(sym->key, sym->tramp, (void *)addr);
	}
	/* Variables, read (never called). */
	for (var = ksmpp_variables; var < ksmpp_variables + ARRAY_SIZE(ksmpp_variables); var++) {
		addr = ksmpp_lookup(var->name);
		if (!addr)
			return ksmpp_missing(var->name, -ENOENT);
		*var->addr = (void *)addr;
	}
	/* /sys/kernel/mm, not exported on 7.x. */
	ksmpp_kernel_mm_kobj = *ksmpp_mm_kobj;
	return 0;
}
