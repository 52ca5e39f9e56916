/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ksmppctl: the figures derived from /proc/ksmpp, and the three ways of
 * showing them: a human summary, JSON, and the Prometheus text format that
 * node_exporter's textfile collector reads.
 */
#ifndef KSMPPCTL_REPORT_H
#define KSMPPCTL_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "procfile.h"

/* What status shows beyond the raw figures. */
struct ksmpp_summary {
	unsigned long page_size;
	unsigned long long saved_bytes;	/* pages_sharing * page_size */
	long long general_profit;	/* saved_bytes - metadata_bytes, as KSM's */
	bool has_sharing_ratio;		/* pages_shared > 0 */
	double sharing_ratio;		/* pages_sharing / pages_shared */
	bool has_hint_hit_rate;		/* pages_scanned_hint > 0 */
	double hint_hit_rate;		/* merges_hint / pages_scanned_hint */
	unsigned long long hints_generated; /* hints_{read,write,...} summed */
	int ksm_run;			/* /sys/kernel/mm/ksm/run, -1 unknown */
	bool ksm_blocks;		/* kernel KSM runs: ksmpp does not merge */
};

/*
 * Derive the summary of @st, for pages of @page_size bytes and kernel KSM's
 * run value @ksm_run (-1 if unknown).
 */
void ksmpp_summarize(struct ksmpp_summary *sum, const struct ksmpp_status *st,
		     unsigned long page_size, int ksm_run);

/* @bytes as "512 B", "1.5 KiB", "12.0 MiB"... into @buf. */
void format_bytes(char *buf, size_t len, long long bytes);

/* The human summary. */
void report_human(FILE *out, const struct ksmpp_status *st,
		  const struct ksmpp_summary *sum);

/*
 * One line of rates between two readings @seconds apart (for watch);
 * nothing if a counter went backwards (the module was reloaded).
 */
void report_rates(FILE *out, const struct ksmpp_status *prev,
		  const struct ksmpp_status *cur, double seconds);

/* One JSON object: every /proc/ksmpp field, then the summary's figures. */
void report_json(FILE *out, const struct ksmpp_status *st,
		 const struct ksmpp_summary *sum);

/* The Prometheus text exposition format, metric names ksmpp_*. */
void report_prometheus(FILE *out, const struct ksmpp_status *st,
		       const struct ksmpp_summary *sum);

/* The Prometheus metric name of the /proc/ksmpp field @key, into @buf. */
void prometheus_name(char *buf, size_t len, const char *key);

#endif /* KSMPPCTL_REPORT_H */
