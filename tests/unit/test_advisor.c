// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for module/advisor.c (advisor_mode=scan-time), built against
 * the userspace kshim. Figures are worked out by hand in the comments.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "advisor.h"

#define SEC	1000000000ULL
#define MSEC	1000000ULL

/* KSM's defaults. */
static const struct ksmpp_advisor_limits ksm_limits = {
	.target_scan_time = 200, .max_cpu = 70, .min_pages = 500, .max_pages = 30000,
};

/* A pass of @secs seconds at @cpu per cent, from 1000 pages per batch. */
static unsigned long pass(struct ksmpp_advisor *adv, const struct ksmpp_advisor_limits *lim,
			  unsigned long secs, unsigned long cpu)
{
	return ksmpp_advise_pass(adv, lim, 1000, secs * SEC, secs * SEC * cpu / 100);
}

static void test_pass_on_target_keeps_rate(void **state)
{
	struct ksmpp_advisor adv = { 0 };

	(void)state;
	assert_int_equal(pass(&adv, &ksm_limits, 200, 20), 1000);
	assert_int_equal(adv.scan_time, 200);
	assert_int_equal(adv.change, 100);
}

static void test_pass_scales_with_time(void **state)
{
	struct ksmpp_advisor slow = { 0 }, fast = { 0 };

	(void)state;
	/* Twice the target: twice the pages; half: half. */
	assert_int_equal(pass(&slow, &ksm_limits, 400, 20), 2000);
	assert_int_equal(pass(&fast, &ksm_limits, 100, 20), 500);
}

static void test_pass_trend_is_smoothed(void **state)
{
	struct ksmpp_advisor adv = { 0 };

	(void)state;
	assert_int_equal(pass(&adv, &ksm_limits, 200, 20), 1000);
	/* Twice as long as the last: trend 70% * 100 + 30% * 200 = 130. */
	assert_int_equal(pass(&adv, &ksm_limits, 400, 20), 2000 * 130 / 100);
	assert_int_equal(adv.change, 130);
}

static void test_pass_cpu_bounds(void **state)
{
	struct ksmpp_advisor hot = { 0 }, idle = { 0 };
	struct ksmpp_advisor_limits lim = ksm_limits;

	(void)state;
	/* 60% for 1000 pages: 16 pages a per cent, at most 70% = 1120. */
	assert_int_equal(pass(&hot, &ksm_limits, 400, 60), 1120);
	/* 1%: 1000 pages a per cent, at least 10% = 10000, over halving. */
	lim.min_pages = 0;
	assert_int_equal(pass(&idle, &lim, 100, 1), 10000);
}

static void test_pass_knob_bounds(void **state)
{
	struct ksmpp_advisor a = { 0 }, b = { 0 }, c = { 0 };
	struct ksmpp_advisor_limits lim = ksm_limits;

	(void)state;
	lim.max_pages = 1500;
	assert_int_equal(pass(&a, &lim, 400, 20), 1500);
	lim.max_pages = 30000;
	lim.min_pages = 800;
	assert_int_equal(pass(&b, &lim, 100, 20), 800);
	/* A minimum over the maximum: the maximum wins. */
	lim.min_pages = 5000;
	lim.max_pages = 3000;
	assert_int_equal(pass(&c, &lim, 100, 20), 3000);
}

static void test_pass_result_in_range(void **state)
{
	struct ksmpp_advisor a = { 0 }, b = { 0 };
	struct ksmpp_advisor_limits lim = {
		.target_scan_time = ULONG_MAX, .max_cpu = ULONG_MAX,
		.min_pages = 0, .max_pages = 0,
	};

	(void)state;
	/* Never 0 (ksmppd would never end a pass), never over UINT_MAX. */
	assert_int_equal(ksmpp_advise_pass(&a, &lim, 0, 0, 0), 1);
	lim.min_pages = lim.max_pages = ULONG_MAX;
	assert_int_equal(ksmpp_advise_pass(&b, &lim, UINT_MAX, ULLONG_MAX, ULLONG_MAX),
			 UINT_MAX);
}

/*
 * A batch of 100 pages (75 hinted share) that cost 1 ms of CPU, then 20 ms
 * of sleep: 10 us a page. At 70% of a CPU, n pages of 10 us with 20 ms of
 * sleep: n <= 70 * 20 ms / (10 us * 30) = 4666 pages a batch.
 */
static struct ksmpp_batch_report batch(unsigned long hinted, unsigned long pending,
				       unsigned long dropped)
{
	return (struct ksmpp_batch_report){
		.wall_ns = 21 * MSEC, .cpu_ns = 1 * MSEC, .pages = 100,
		.hint_share = 75, .hinted = hinted, .hints_pending = pending,
		.hints_dropped = dropped,
	};
}

static void test_hints_behind_doubles(void **state)
{
	struct ksmpp_advisor adv = { 0 };
	struct ksmpp_batch_report b = batch(75, 10, 0);

	(void)state;
	assert_int_equal(ksmpp_advise_hints(&adv, &ksm_limits, 100, &b), 150);
	b.hinted = 75 + 150;
	assert_int_equal(ksmpp_advise_hints(&adv, &ksm_limits, 100, &b), 300);
	/* Pending, but the budget was not used up: steady. */
	b.hinted = 100;
	assert_int_equal(ksmpp_advise_hints(&adv, &ksm_limits, 100, &b), 300);
}

static void test_hints_dropped_is_behind(void **state)
{
	struct ksmpp_advisor adv = { 0 };
	struct ksmpp_batch_report b = batch(10, 0, 3);

	(void)state;
	assert_int_equal(ksmpp_advise_hints(&adv, &ksm_limits, 100, &b), 150);
}

static void test_hints_caught_up_shrinks(void **state)
{
	struct ksmpp_advisor adv = { .hint_pages = 300 };
	struct ksmpp_batch_report b = batch(20, 0, 0);
	int i;

	(void)state;
	/* By a quarter, rounded up: 300 - 75, 225 - 57, ... 3 - 1, 2 - 1, 1 - 1. */
	assert_int_equal(ksmpp_advise_hints(&adv, &ksm_limits, 100, &b), 225);
	assert_int_equal(ksmpp_advise_hints(&adv, &ksm_limits, 100, &b), 168);
	for (i = 0; i < 20; i++)
		ksmpp_advise_hints(&adv, &ksm_limits, 100, &b);
	assert_int_equal(adv.hint_pages, 0);
	/* Budget used up with nothing left: neither behind nor idle. */
	adv.hint_pages = 40;
	b.hinted = 115;
	assert_int_equal(ksmpp_advise_hints(&adv, &ksm_limits, 100, &b), 40);
}

static void test_hints_cpu_cap(void **state)
{
	struct ksmpp_advisor adv = { 0 };
	struct ksmpp_advisor_limits lim = ksm_limits;
	struct ksmpp_batch_report b = batch(75, 1, 0);
	int i;

	(void)state;
	for (i = 0; i < 12; i++) {
		b.hinted = 75 + adv.hint_pages;
		ksmpp_advise_hints(&adv, &lim, 100, &b);
	}
	assert_int_equal(adv.hint_pages, 4666 - 100);
	/* No CPU left over pages_to_scan: no extra pages. */
	lim.max_cpu = 0;
	assert_int_equal(ksmpp_advise_hints(&adv, &lim, 100, &b), 0);
	/* All of a CPU: only advisor_max_pages_to_scan bounds the batch. */
	lim.max_cpu = 100;
	lim.max_pages = 2000;
	for (i = 0; i < 12; i++)
		ksmpp_advise_hints(&adv, &lim, 100, &b);
	assert_int_equal(adv.hint_pages, 1900);
	lim.max_pages = 50;
	assert_int_equal(ksmpp_advise_hints(&adv, &lim, 100, &b), 0);
}

static void test_hints_no_cost_known(void **state)
{
	struct ksmpp_advisor adv = { 0 };
	struct ksmpp_batch_report b = batch(75, 1, 0);

	(void)state;
	/* A batch that visited nothing measures no cost: max_pages bounds. */
	b.pages = 0;
	b.cpu_ns = 0;
	assert_int_equal(ksmpp_advise_hints(&adv, &ksm_limits, 100, &b), 150);
	/* A huge max_pages does not overflow the doubling. */
	adv.hint_pages = UINT_MAX;
	b.hinted = ULONG_MAX;
	{
		struct ksmpp_advisor_limits lim = ksm_limits;

		lim.max_pages = ULONG_MAX;
		assert_int_equal(ksmpp_advise_hints(&adv, &lim, 100, &b), UINT_MAX - 100);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_on_target_keeps_rate),
		cmocka_unit_test(test_pass_scales_with_time),
		cmocka_unit_test(test_pass_trend_is_smoothed),
		cmocka_unit_test(test_pass_cpu_bounds),
		cmocka_unit_test(test_pass_knob_bounds),
		cmocka_unit_test(test_pass_result_in_range),
		cmocka_unit_test(test_hints_behind_doubles),
		cmocka_unit_test(test_hints_dropped_is_behind),
		cmocka_unit_test(test_hints_caught_up_shrinks),
		cmocka_unit_test(test_hints_cpu_cap),
		cmocka_unit_test(test_hints_no_cost_known),
	};

	return cmocka_run_group_tests_name("advisor", tests, NULL, NULL);
}
