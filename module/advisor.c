// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmpp: the advisor, which sets ksmppd's pace when advisor_mode=scan-time.
 *
 * DOC: Advisor
 *
 * Two rules, each a pure function of what ksmppd measured (so that the unit
 * tests can drive them):
 *
 * The pass rule is KSM's scan-time advisor: at the end of every full pass,
 * pages_to_scan is scaled by how far the pass's time was from
 * advisor_target_scan_time, smoothed by the trend of pass times (a moving
 * average that gives the newest pass 30%), and bounded by CPU: by the
 * pages that advisor_max_cpu per cent of a CPU would visit at the pass's
 * cost per page, and by at least the pages of 10%, as KSM bounds it. Then
 * it is held between advisor_min_pages_to_scan and
 * advisor_max_pages_to_scan, as KSM's documentation describes these knobs
 * (KSM's code uses the minimum only as the starting value). Unlike KSM,
 * the first pass's trend counts as steady rather than as 30% of it.
 *
 * The hint rule is ksmpp's own and acts after every batch: hints arrive in
 * bursts, and a pass of 200 s is far too slow a clock for them. When a
 * batch used all of its hinted share and hints were still waiting, or when
 * the ring dropped hints, ksmppd is behind the I/O: the extra hinted pages
 * per batch double (from at least the hinted share). When a batch left
 * part of its share unused and no hint waits, the I/O has paused or
 * stopped: they shrink by a quarter, down to none. Slowly, because reads
 * come in bursts, and pages kept for hints cost nothing while no hint
 * comes: the next burst finds them. The extra pages are bounded by what
 * advisor_max_cpu allows: with the batch's cost per page and the sleep
 * between batches, the pages per batch at which ksmppd would use that much
 * CPU; and by advisor_max_pages_to_scan for the whole batch. The linear
 * scan keeps its share of pages_to_scan meanwhile.
 */
#include <linux/limits.h>
#include <linux/math.h>
#include <linux/minmax.h>
#include <linux/time64.h>

#include "advisor.h"

/* KSM's floor: the pass rule lets ksmppd use at least this CPU per cent. */
#define KSMPP_ADVISOR_MIN_CPU		10
/* Per cent of the newest pass in the moving average of pass times. */
#define KSMPP_ADVISOR_NEWEST_WEIGHT	30
/* Bound of a pass's time against the last one's, per cent (no overflow). */
#define KSMPP_ADVISOR_MAX_TREND		10000UL

/* A per cent of one CPU; more than 100 is all of it. */
static unsigned long ksmpp_cpu_cap(const struct ksmpp_advisor_limits *lim)
{
	return min(lim->max_cpu, 100UL);
}

unsigned long ksmpp_advise_pass(struct ksmpp_advisor *adv,
				const struct ksmpp_advisor_limits *lim,
				unsigned long pages_to_scan, u64 wall_ns, u64 cpu_ns)
{
	unsigned long scan_time = max_t(u64, wall_ns / NSEC_PER_SEC, 1);
	unsigned long cpu_percent = max_t(u64, cpu_ns * 100 / max_t(u64, wall_ns, 1), 1);
	unsigned long last = adv->scan_time ? adv->scan_time : scan_time;
	unsigned long trend = clamp(scan_time * 100 / last, 1UL, KSMPP_ADVISOR_MAX_TREND);
	unsigned long target = min(lim->target_scan_time, ULONG_MAX / 100);
	unsigned long pages_per_percent, pages;

	adv->change = adv->change ?
		((100 - KSMPP_ADVISOR_NEWEST_WEIGHT) * adv->change +
		 KSMPP_ADVISOR_NEWEST_WEIGHT * trend) / 100 : trend;
	adv->scan_time = scan_time;

	/* The rate at which a pass would take the target time... */
	pages = pages_to_scan * 100 / max(target * 100 / scan_time, 1UL);
	pages = pages * adv->change / 100;
	/* ...within the CPU bounds, at this pass's cost per page... */
	pages_per_percent = max(pages_to_scan / cpu_percent, 1UL);
	pages = min(pages, pages_per_percent * ksmpp_cpu_cap(lim));
	pages = max(pages, pages_per_percent * KSMPP_ADVISOR_MIN_CPU);
	/* ...and the knobs' bounds, the maximum winning. */
	pages = min(max(pages, lim->min_pages), lim->max_pages);
	return clamp(pages, 1UL, (unsigned long)UINT_MAX);
}

/*
 * Pages per batch at which ksmppd would use the CPU cap: with c ns of CPU
 * per page and s ns of sleep per batch, n pages cost n*c of every n*c + s
 * ns, at most cap/100 when n <= cap*s / (c*(100 - cap)).
 */
static unsigned long ksmpp_pages_within_cpu(const struct ksmpp_advisor_limits *lim,
					    const struct ksmpp_batch_report *batch)
{
	unsigned long cap = ksmpp_cpu_cap(lim);
	u64 sleep_ns, ns_per_page;

	if (cap >= 100 || !batch->pages || !batch->cpu_ns)
		return UINT_MAX;	/* no bound, or no cost known yet */
	sleep_ns = batch->wall_ns > batch->cpu_ns ? batch->wall_ns - batch->cpu_ns : 0;
	ns_per_page = max_t(u64, batch->cpu_ns / batch->pages, 1);
	return min_t(u64, cap * sleep_ns / (ns_per_page * (100 - cap)), UINT_MAX);
}

unsigned long ksmpp_advise_hints(struct ksmpp_advisor *adv,
				 const struct ksmpp_advisor_limits *lim,
				 unsigned long pages_to_scan,
				 const struct ksmpp_batch_report *batch)
{
	unsigned long budget = batch->hint_share + adv->hint_pages;
	unsigned long pages = adv->hint_pages, room;

	if (batch->hints_dropped || (batch->hints_pending && batch->hinted >= budget))
		pages = max3(pages, batch->hint_share, 1UL) * 2;	/* behind */
	else if (!batch->hints_pending && batch->hinted < budget)
		pages -= DIV_ROUND_UP(pages, 4);			/* caught up */

	/* pages_to_scan and the extra pages, in the CPU cap and the maximum. */
	room = min3(ksmpp_pages_within_cpu(lim, batch), lim->max_pages,
		    (unsigned long)UINT_MAX);
	room = room > pages_to_scan ? room - pages_to_scan : 0;
	adv->hint_pages = min(pages, room);
	return adv->hint_pages;
}
