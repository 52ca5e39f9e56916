/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ksmpp: tracepoints (tracefs: events/ksmpp/). Disabled, each costs a
 * patched-out branch.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM ksmpp

#if !defined(_KSMPP_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _KSMPP_TRACE_H

#include <linux/tracepoint.h>

/* A hook pushed a hint (a repeat of its CPU's last, still unseen, is not pushed). */
TRACE_EVENT(ksmpp_hint,
	TP_PROTO(pid_t tgid, unsigned long start, unsigned long len, u8 source),
	TP_ARGS(tgid, start, len, source),
	TP_STRUCT__entry(
		__field(pid_t, tgid)
		__field(unsigned long, start)
		__field(unsigned long, len)
		__field(u8, source)
	),
	TP_fast_assign(
		__entry->tgid = tgid;
		__entry->start = start;
		__entry->len = len;
		__entry->source = source;
	),
	TP_printk("pid=%d start=%#lx len=%lu source=%s", __entry->tgid,
		  __entry->start, __entry->len,
		  __print_symbolic(__entry->source, { 0, "read" }, { 1, "direct_read" },
				   { 2, "write" }, { 3, "direct_write" }))
);

/* Hints lost before the scanner reached them (ring overwritten). */
TRACE_EVENT(ksmpp_hints_dropped,
	TP_PROTO(u64 count),
	TP_ARGS(count),
	TP_STRUCT__entry(__field(u64, count)),
	TP_fast_assign(__entry->count = count;),
	TP_printk("count=%llu", __entry->count)
);

/* The advisor's pages_to_scan, after a pass of scan_time seconds. */
TRACE_EVENT(ksmpp_advisor,
	TP_PROTO(unsigned long pages_to_scan, unsigned long scan_time),
	TP_ARGS(pages_to_scan, scan_time),
	TP_STRUCT__entry(
		__field(unsigned long, pages_to_scan)
		__field(unsigned long, scan_time)
	),
	TP_fast_assign(
		__entry->pages_to_scan = pages_to_scan;
		__entry->scan_time = scan_time;
	),
	TP_printk("pages_to_scan=%lu scan_time=%lu", __entry->pages_to_scan,
		  __entry->scan_time)
);

/* One scanner batch. */
TRACE_EVENT(ksmpp_scan_batch,
	TP_PROTO(unsigned int hinted, unsigned int linear, unsigned long merges),
	TP_ARGS(hinted, linear, merges),
	TP_STRUCT__entry(
		__field(unsigned int, hinted)
		__field(unsigned int, linear)
		__field(unsigned long, merges)
	),
	TP_fast_assign(
		__entry->hinted = hinted;
		__entry->linear = linear;
		__entry->merges = merges;
	),
	TP_printk("hinted=%u linear=%u merges=%lu", __entry->hinted,
		  __entry->linear, __entry->merges)
);

DECLARE_EVENT_CLASS(ksmpp_mapping,
	TP_PROTO(struct mm_struct *mm, unsigned long addr, unsigned long pfn),
	TP_ARGS(mm, addr, pfn),
	TP_STRUCT__entry(
		__field(void *, mm)
		__field(unsigned long, addr)
		__field(unsigned long, pfn)
	),
	TP_fast_assign(
		__entry->mm = mm;
		__entry->addr = addr;
		__entry->pfn = pfn;
	),
	TP_printk("mm=%p addr=%#lx pfn=%#lx", __entry->mm, __entry->addr,
		  __entry->pfn)
);

/* A mapping now maps a merged page. */
DEFINE_EVENT(ksmpp_mapping, ksmpp_merge,
	TP_PROTO(struct mm_struct *mm, unsigned long addr, unsigned long pfn),
	TP_ARGS(mm, addr, pfn));

/* ksmpp broke a merged mapping into a private copy. */
DEFINE_EVENT(ksmpp_mapping, ksmpp_unmerge,
	TP_PROTO(struct mm_struct *mm, unsigned long addr, unsigned long pfn),
	TP_ARGS(mm, addr, pfn));

#endif /* _KSMPP_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
