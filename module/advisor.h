/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ksmpp advisor: how many pages ksmppd visits per batch when
 * advisor_mode=scan-time. See the DOC comment in advisor.c.
 */
#ifndef _KSMPP_ADVISOR_H
#define _KSMPP_ADVISOR_H

#include <linux/types.h>

/* The advisor_* knobs, read once per decision. */
struct ksmpp_advisor_limits {
	unsigned long target_scan_time;	/* seconds a full pass should take */
	unsigned long max_cpu;		/* most per cent of a CPU for ksmppd */
	unsigned long min_pages;	/* fewest pages_to_scan */
	unsigned long max_pages;	/* most pages per batch, hints included */
};

/* What the advisor remembers between decisions; all zero to start afresh. */
struct ksmpp_advisor {
	unsigned long scan_time;	/* seconds the last pass took, 0: none */
	unsigned long change;		/* smoothed pass time, % of the last */
	unsigned long hint_pages;	/* extra hinted pages per batch */
};

/* One batch of ksmppd and the sleep after it. */
struct ksmpp_batch_report {
	u64 wall_ns;			/* from this batch's start to the next's */
	u64 cpu_ns;			/* ksmppd's CPU time in that while */
	unsigned long pages;		/* pages visited, hinted and linear */
	unsigned long hint_share;	/* pages_to_scan's hinted share */
	unsigned long hinted;		/* hinted pages it visited, extra ones too */
	u64 hints_pending;		/* hints left in the ring when it ended */
	u64 hints_dropped;		/* hints lost since the batch before */
};

unsigned long ksmpp_advise_pass(struct ksmpp_advisor *adv,
				const struct ksmpp_advisor_limits *lim,
				unsigned long pages_to_scan, u64 wall_ns, u64 cpu_ns);
unsigned long ksmpp_advise_hints(struct ksmpp_advisor *adv,
				 const struct ksmpp_advisor_limits *lim,
				 unsigned long pages_to_scan,
				 const struct ksmpp_batch_report *batch);

#endif /* _KSMPP_ADVISOR_H */
