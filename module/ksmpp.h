/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ksmpp: declarations shared by the units of the module.
 */
#ifndef _KSMPP_H
#define _KSMPP_H

#include <linux/types.h>

struct seq_file;

/* Tunables (params.c): written only through their parameter ops. */
extern unsigned int ksmpp_pages_to_scan;
extern unsigned int ksmpp_sleep_millisecs;
extern unsigned int ksmpp_max_page_sharing;
extern unsigned int ksmpp_hint_buffer_size;
void ksmpp_params_show(struct seq_file *m);

/* Kernel functions resolved at load time (compat.c). */
int ksmpp_resolve_symbols(void);

/* /proc/ksmpp (procfs.c). */
int ksmpp_procfs_init(void);
void ksmpp_procfs_exit(void);

/* One "key: value" line of /proc/ksmpp, aligned as in /proc/meminfo. */
#define ksmpp_seq_field(m, key, fmt, ...) \
	seq_printf(m, "%-20s" fmt "\n", key ":", ##__VA_ARGS__)

#endif /* _KSMPP_H */
