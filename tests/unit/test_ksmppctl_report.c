// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for tools/ksmppctl/report.c: the summary's figures and the
 * human, JSON and Prometheus outputs of a sample /proc/ksmpp.
 * unit-tool-sources: report.c procfile.c
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ksmppctl.h"
#include "procfile.h"
#include "report.h"
#include "test_ksmppctl_sample.h"

static struct ksmpp_status st;
static struct ksmpp_summary sum;

static void parse(const char *text)
{
	char err[128];

	if (ksmpp_status_parse(&st, text, err, sizeof(err)))
		fail_msg("sample does not parse: %s", err);
}

enum output { HUMAN, JSON, PROMETHEUS };

/* The output for @text, pages of 4 KiB and kernel KSM's run @ksm_run. */
static char *render(const char *text, int ksm_run, enum output what)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	parse(text);
	ksmpp_summarize(&sum, &st, 4096, ksm_run);
	if (what == HUMAN)
		report_human(f, &st, &sum);
	else if (what == JSON)
		report_json(f, &st, &sum);
	else
		report_prometheus(f, &st, &sum);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* @out has the whole line @line. */
static void assert_line(const char *out, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = out; (p = strstr(p, line)); p++)
		if ((p == out || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
			return;
	fail_msg("no line \"%s\" in:\n%s", line, out);
}

static void report_summary_figures(void **state)
{
	(void)state;
	parse(sample_proc);
	ksmpp_summarize(&sum, &st, 4096, 0);
	assert_int_equal(sum.page_size, 4096);
	assert_int_equal(sum.saved_bytes, 384 * 4096);
	assert_int_equal(sum.general_profit, 384 * 4096 - 65536);
	assert_true(sum.has_sharing_ratio);
	assert_true(sum.sharing_ratio > 31.999 && sum.sharing_ratio < 32.001);
	assert_true(sum.has_hint_hit_rate);
	assert_true(sum.hint_hit_rate > 0.01999 && sum.hint_hit_rate < 0.02001);
	assert_int_equal(sum.hints_generated, 1000 + 10 + 200 + 24);
	assert_int_equal(sum.ksm_run, 0);
	assert_false(sum.ksm_blocks);

	/* Kernel KSM running blocks ksmpp; unknown does not. */
	ksmpp_summarize(&sum, &st, 65536, 1);
	assert_true(sum.ksm_blocks);
	assert_int_equal(sum.saved_bytes, 384ULL * 65536);
	ksmpp_summarize(&sum, &st, 4096, -1);
	assert_false(sum.ksm_blocks);

	/* Nothing shared or hinted yet: no ratios; profit below zero. */
	parse(sample_proc_idle);
	ksmpp_summarize(&sum, &st, 4096, 2);
	assert_false(sum.has_sharing_ratio);
	assert_false(sum.has_hint_hit_rate);
	assert_int_equal(sum.saved_bytes, 0);
	assert_int_equal(sum.general_profit, -49152);
	assert_int_equal(sum.hints_generated, 0);
	assert_false(sum.ksm_blocks);
}

static void report_bytes(void **state)
{
	static const struct { long long bytes; const char *text; } cases[] = {
		{ 0, "0 B" }, { 1023, "1023 B" }, { 1024, "1.0 KiB" },
		{ 1536, "1.5 KiB" }, { 1572864, "1.5 MiB" },
		{ 3LL << 30, "3.0 GiB" }, { 5LL << 40, "5.0 TiB" },
		{ 2048LL << 50, "2048.0 PiB" }, { -49152, "-48.0 KiB" },
		{ -5, "-5 B" },
	};
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		format_bytes(buf, sizeof(buf), cases[i].bytes);
		assert_string_equal(buf, cases[i].text);
	}
}

static void report_human_summary(void **state)
{
	char *out = render(sample_proc, 0, HUMAN);

	(void)state;
	assert_line(out, "ksmpp 0.1.0 on kernel 6.1.0-56-amd64");
	assert_line(out, "state:           running (run 1; 100 pages every 20 ms)");
	assert_line(out, "kernel KSM:      not running (/sys/kernel/mm/ksm/run is 0)");
	assert_line(out, "memory saved:    1.5 MiB (384 pages sharing, 4096 bytes each)");
	assert_line(out, "general profit:  1.4 MiB (saved memory less 64.0 KiB of metadata)");
	assert_line(out, "sharing ratio:   32.00 (384 pages sharing / 12 pages shared)");
	assert_line(out, "unshared:        1000 pages, 3 volatile");
	assert_line(out, "scanned:         123456 pages, 7 full scans, 2 processes");
	assert_line(out, "merges:          450 (3 COW breaks, 1 stale reclaimed)");
	assert_line(out, "hint hit rate:   2.00% (40 merges / 2000 pages scanned from hints)");
	assert_line(out, "hints:           1234 generated, 5.0 MiB (read 1000, direct read 10, write 200, direct write 24)");
	assert_line(out, "hint ring:       1024 entries, at most 50% of a batch; 30 pending, 1200 consumed, 4 dropped, 7 repeats not pushed, 0 missed");
	assert_line(out, "hints unused:    0 invalid, 2 coalesced, 5 pages skipped");
	assert_line(out, "hooks:           filemap_read ftrace, blkdev_direct_IO kprobe");
	free(out);

	out = render(sample_proc, 1, HUMAN);
	assert_line(out, "kernel KSM:      running (/sys/kernel/mm/ksm/run is 1): ksmpp does not merge while it runs");
	free(out);
	out = render(sample_proc, -1, HUMAN);
	assert_line(out, "kernel KSM:      unknown (no /sys/kernel/mm/ksm/run)");
	free(out);

	out = render(sample_proc_idle, 0, HUMAN);
	assert_line(out, "ksmpp 0.1.0 on kernel 6.12.95+deb12-amd64");
	assert_line(out, "state:           stopped (run 0; 100 pages every 20 ms)");
	assert_line(out, "memory saved:    0 B (0 pages sharing, 4096 bytes each)");
	assert_line(out, "general profit:  -48.0 KiB (saved memory less 48.0 KiB of metadata)");
	assert_line(out, "sharing ratio:   - (0 pages sharing / 0 pages shared)");
	assert_line(out, "hint hit rate:   - (0 merges / 0 pages scanned from hints)");
	free(out);
}

static void report_json_output(void **state)
{
	char *out = render(sample_proc_idle, 0, JSON);

	(void)state;
	assert_string_equal(out,
		"{\n"
		"  \"version\": \"0.1.0\",\n"
		"  \"kernel\": \"6.12.95+deb12-amd64\",\n"
		"  \"state\": \"stopped\",\n"
		"  \"run\": 0,\n"
		"  \"pages_to_scan\": 100,\n"
		"  \"sleep_millisecs\": 20,\n"
		"  \"pages_shared\": 0,\n"
		"  \"pages_sharing\": 0,\n"
		"  \"pages_scanned\": 0,\n"
		"  \"pages_scanned_hint\": 0,\n"
		"  \"merges_hint\": 0,\n"
		"  \"metadata_bytes\": 49152,\n"
		"  \"page_size\": 4096,\n"
		"  \"memory_saved_bytes\": 0,\n"
		"  \"general_profit\": -49152,\n"
		"  \"sharing_ratio\": null,\n"
		"  \"hint_hit_rate\": null,\n"
		"  \"hints_generated\": 0,\n"
		"  \"kernel_ksm_run\": 0,\n"
		"  \"kernel_ksm_blocks\": false\n"
		"}\n");
	free(out);

	out = render(sample_proc, 1, JSON);
	assert_line(out, "  \"pages_sharing\": 384,");
	assert_line(out, "  \"hints_missed\": 0,");
	assert_line(out, "  \"memory_saved_bytes\": 1572864,");
	assert_line(out, "  \"general_profit\": 1507328,");
	assert_line(out, "  \"sharing_ratio\": 32.0000,");
	assert_line(out, "  \"hint_hit_rate\": 0.0200,");
	assert_line(out, "  \"hints_generated\": 1234,");
	assert_line(out, "  \"kernel_ksm_run\": 1,");
	assert_line(out, "  \"kernel_ksm_blocks\": true");
	free(out);

	/* Strings escaped; a /proc field wins over a summary one of its name. */
	out = render("kernel: a\"b\\c\x01\tz\ngeneral_profit: 5\n", -1, JSON);
	assert_line(out, "  \"kernel\": \"a\\\"b\\\\c\\u0001\\tz\",");
	assert_line(out, "  \"general_profit\": 5,");
	assert_line(out, "  \"kernel_ksm_run\": null,");
	assert_null(strstr(out, "-0\n"));
	assert_null(strstr(strstr(out, "general_profit") + 1, "general_profit"));
	free(out);
}

/* Every sample line of @out follows a # TYPE for its metric; names valid. */
static void assert_prometheus_well_formed(const char *out)
{
	char typed[64] = "", name[128], *copy = strdup(out), *line, *save;
	size_t n;

	assert_non_null(copy);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "# HELP ", 7))
			continue;
		if (sscanf(line, "# TYPE %63s", typed) == 1)
			continue;
		n = strcspn(line, "{ ");
		assert_true(n > 0 && n < sizeof(name));
		memcpy(name, line, n);
		name[n] = '\0';
		assert_true(isalpha((unsigned char)name[0]) || name[0] == '_');
		assert_int_equal(strspn(name, "abcdefghijklmnopqrstuvwxyz"
					"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:"), n);
		if (strcmp(name, typed))
			fail_msg("sample %s after # TYPE %s", name, typed);
		/* One value after the name (and labels). */
		assert_non_null(strrchr(line, ' '));
		assert_true(strlen(strrchr(line, ' ')) > 1);
	}
	free(copy);
}

static void report_prometheus_output(void **state)
{
	char *out = render(sample_proc, 0, PROMETHEUS), name[64], sample[128];
	const char *p;
	size_t i;

	(void)state;
	assert_prometheus_well_formed(out);
	assert_line(out, "# HELP ksmpp_info ksmpp's version and the kernel it runs on.");
	assert_line(out, "# TYPE ksmpp_info gauge");
	assert_line(out, "ksmpp_info{version=\"0.1.0\",kernel=\"6.1.0-56-amd64\"} 1");
	assert_line(out, "ksmpp_state{state=\"stopped\"} 0");
	assert_line(out, "ksmpp_state{state=\"running\"} 1");
	assert_line(out, "ksmpp_state{state=\"blocked\"} 0");
	assert_line(out, "ksmpp_state{state=\"unmerging\"} 0");
	assert_line(out, "# TYPE ksmpp_pages_sharing gauge");
	assert_line(out, "ksmpp_pages_sharing 384");
	assert_line(out, "# HELP ksmpp_pages_sharing Further mappings of merged pages: pages saved.");
	assert_line(out, "# TYPE ksmpp_full_scans_total counter");
	assert_line(out, "ksmpp_full_scans_total 7");
	assert_line(out, "ksmpp_merges_hint_total 40");
	assert_line(out, "ksmpp_hint_bytes_total 5242880");
	assert_line(out, "ksmpp_hints_pending 30");
	assert_line(out, "ksmpp_run 1");
	assert_line(out, "ksmpp_memory_saved_bytes 1572864");
	assert_line(out, "ksmpp_general_profit_bytes 1507328");
	assert_line(out, "ksmpp_sharing_ratio 32.000000");
	assert_line(out, "ksmpp_hint_hit_ratio 0.020000");
	assert_line(out, "ksmpp_kernel_ksm_running 0");
	/* Every numeric field of /proc/ksmpp once, under its metric name. */
	for (i = 0; i < st.nfields; i++) {
		if (!st.fields[i].numeric)
			continue;
		prometheus_name(name, sizeof(name), st.fields[i].key);
		snprintf(sample, sizeof(sample), "\n%s %llu\n", name, st.fields[i].num);
		p = strstr(out, sample);
		if (!p)
			fail_msg("no sample \"%s\"", sample + 1);
		assert_null(strstr(p + 1, sample));
	}
	assert_null(strstr(out, "ksmpp_version"));
	free(out);

	/* No ratios without data; kernel KSM unknown: no metric for it. */
	out = render(sample_proc_idle, -1, PROMETHEUS);
	assert_prometheus_well_formed(out);
	assert_null(strstr(out, "ksmpp_sharing_ratio"));
	assert_null(strstr(out, "ksmpp_hint_hit_ratio"));
	assert_null(strstr(out, "ksmpp_kernel_ksm_running"));
	assert_line(out, "ksmpp_general_profit_bytes -49152");
	free(out);

	/* Unknown figures untyped; odd states and label values escaped. */
	out = render("kernel: x\"y\\z\nstate: weird\nfuture_figure: 9\n", 1, PROMETHEUS);
	assert_prometheus_well_formed(out);
	assert_line(out, "ksmpp_info{version=\"\",kernel=\"x\\\"y\\\\z\"} 1");
	assert_line(out, "ksmpp_state{state=\"weird\"} 1");
	assert_line(out, "# HELP ksmpp_future_figure The future_figure figure of /proc/ksmpp.");
	assert_line(out, "# TYPE ksmpp_future_figure untyped");
	assert_line(out, "ksmpp_future_figure 9");
	assert_line(out, "ksmpp_kernel_ksm_running 1");
	free(out);
}

static void report_prometheus_names(void **state)
{
	char name[64];

	(void)state;
	prometheus_name(name, sizeof(name), "pages_shared");
	assert_string_equal(name, "ksmpp_pages_shared");
	prometheus_name(name, sizeof(name), "pages_scanned");
	assert_string_equal(name, "ksmpp_pages_scanned_total");
	prometheus_name(name, sizeof(name), "something_new");
	assert_string_equal(name, "ksmpp_something_new");
}

static void report_rates_between_readings(void **state)
{
	static struct ksmpp_status prev;
	char *buf = NULL, err[128];
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(ksmpp_status_parse(&prev,
		"pages_scanned: 1000\npages_scanned_hint: 100\nmerges: 10\n"
		"hints_read: 5\nhints_direct_read: 0\nhints_write: 0\nhints_direct_write: 0\n",
		err, sizeof(err)), 0);
	assert_int_equal(ksmpp_status_parse(&st,
		"pages_scanned: 5000\npages_scanned_hint: 300\nmerges: 30\n"
		"hints_read: 25\nhints_direct_read: 0\nhints_write: 20\nhints_direct_write: 0\n",
		err, sizeof(err)), 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	report_rates(f, &prev, &st, 2.0);
	/* Backwards (reloaded), no time, a figure missing: nothing. */
	report_rates(f, &st, &prev, 2.0);
	report_rates(f, &prev, &st, 0);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(buf,
		"rates:           2000.0 pages/s scanned (100.0 from hints), 10.0 merges/s, 20.0 hints/s\n");
	free(buf);

	buf = NULL;
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	parse(sample_proc_idle);
	report_rates(f, &st, &st, 1.0);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(buf, "");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(report_summary_figures),
		cmocka_unit_test(report_bytes),
		cmocka_unit_test(report_human_summary),
		cmocka_unit_test(report_json_output),
		cmocka_unit_test(report_prometheus_output),
		cmocka_unit_test(report_prometheus_names),
		cmocka_unit_test(report_rates_between_readings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
