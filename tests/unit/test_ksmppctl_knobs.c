// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for tools/ksmppctl/knobs.c: values and parameters checked as
 * the module checks them, and the table against module/params.c.
 * unit-tool-sources: knobs.c
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ksmppctl.h"
#include "knobs.h"

static void knobs_parse_ulong_as_kstrtoul(void **state)
{
	static const struct { const char *text; unsigned long value; } good[] = {
		{ "0", 0 }, { "7", 7 }, { "100000", 100000 }, { "+5", 5 },
		{ "010", 10 }, { "00", 0 }, { "4294967295", UINT_MAX },
		{ "4294967296", 4294967296UL }, { "18446744073709551615", ULONG_MAX },
	};
	static const char * const bad[] = {
		"", "+", "-1", "-0", "abc", "12x", " 1", "1 ", "0x", "0x10", "0X1f",
		/* The kernel takes one trailing newline (sysfs); argv has none. */
		"1\n",
		"18446744073709551616", "99999999999999999999", "1.5", "++1",
	};
	unsigned long v;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		v = 12345;
		assert_int_equal(knob_parse_ulong(good[i].text, &v), 0);
		assert_int_equal(v, good[i].value);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 12345;
		assert_int_equal(knob_parse_ulong(bad[i], &v), -1);
		assert_int_equal(v, 12345);
	}
}

static void knobs_parse_on_off_as_kstrtobool(void **state)
{
	static const struct { const char *text; unsigned long value; } good[] = {
		{ "1", 1 }, { "y", 1 }, { "Y", 1 }, { "yes", 1 }, { "true", 1 },
		{ "on", 1 }, { "ON", 1 }, { "enable", 1 }, { "1abc", 1 },
		{ "0", 0 }, { "n", 0 }, { "no", 0 }, { "false", 0 }, { "off", 0 },
		{ "Off", 0 }, { "disable", 0 },
	};
	static const char * const bad[] = { "", "2", "-1", "o", "ok", "x", " y", "maybe" };
	unsigned long v;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		v = 12345;
		assert_int_equal(knob_parse_on_off(good[i].text, &v), 0);
		assert_int_equal(v, good[i].value);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 12345;
		assert_int_equal(knob_parse_on_off(bad[i], &v), -1);
		assert_int_equal(v, 12345);
	}
}

static void knobs_find(void **state)
{
	(void)state;
	assert_non_null(knob_find("pages_to_scan"));
	assert_string_equal(knob_find("run")->name, "run");
	assert_null(knob_find("pages"));
	assert_null(knob_find(""));
	assert_null(knob_find("RUN"));
	assert_int_equal(ksmpp_nknobs, 18);
}

/* Check @text for knob @name: 0 and *@v, or -1 and the message in @err. */
static int check(const char *name, const char *text, unsigned long *v, char *err)
{
	const struct ksmpp_knob *k = knob_find(name);

	assert_non_null(k);
	err[0] = '\0';
	return knob_check(k, text, v, err, 256);
}

static void knobs_ranges(void **state)
{
	static const struct { const char *name, *text; } good[] = {
		{ "run", "0" }, { "run", "2" },
		{ "pages_to_scan", "0" }, { "pages_to_scan", "4294967295" },
		{ "sleep_millisecs", "0" }, { "sleep_millisecs", "4294967295" },
		{ "max_page_sharing", "2" }, { "max_page_sharing", "2147483647" },
		{ "merge_across_nodes", "0" }, { "merge_across_nodes", "1" },
		{ "use_zero_pages", "on" }, { "use_zero_pages", "0" },
		{ "stable_node_chains_prune_millisecs", "0" },
		{ "hint_buffer_size", "16" }, { "hint_buffer_size", "1048576" },
		{ "hint_buffer_size", "4096" },
		{ "hint_scan_percent", "0" }, { "hint_scan_percent", "100" },
		{ "advisor_mode", "none" }, { "advisor_mode", "scan-time" },
		{ "advisor_max_cpu", "0" }, { "advisor_max_cpu", "18446744073709551615" },
		{ "advisor_min_pages_to_scan", "0" }, { "advisor_max_pages_to_scan", "4294967296" },
		{ "advisor_target_scan_time", "1" },
	};
	static const struct { const char *name, *text; } bad[] = {
		{ "run", "3" }, { "run", "-1" },
		{ "pages_to_scan", "4294967296" }, { "pages_to_scan", "0x10" },
		{ "max_page_sharing", "1" }, { "max_page_sharing", "2147483648" },
		{ "merge_across_nodes", "2" }, { "use_zero_pages", "2" },
		{ "hint_buffer_size", "8" }, { "hint_buffer_size", "2097152" },
		{ "hint_buffer_size", "1000" }, { "hint_buffer_size", "17" },
		{ "hint_buffer_size", "1048575" }, { "hint_buffer_size", "0x400" },
		{ "hint_scan_percent", "101" }, { "hint_scan_percent", "" },
		{ "advisor_mode", "scan" }, { "advisor_mode", "None" }, { "advisor_mode", "1" },
		{ "advisor_mode", "" }, { "advisor_target_scan_time", "0" },
		{ "advisor_max_cpu", "18446744073709551616" },
		{ "advisor_min_pages_to_scan", "-1" },
	};
	char err[256];
	unsigned long v;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		assert_int_equal(check(good[i].name, good[i].text, &v, err), 0);
		assert_string_equal(err, "");
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(check(bad[i].name, bad[i].text, &v, err), -1);
		assert_non_null(strstr(err, bad[i].name));
	}
}

/* Refusals are worded as the kernel's log line (module/params.c). */
static void knobs_messages_match_kernel(void **state)
{
	char err[256];
	unsigned long v;

	(void)state;
	check("pages_to_scan", "0x10", &v, err);
	assert_string_equal(err, "invalid pages_to_scan '0x10': allowed are 0 to 4294967295");
	check("use_zero_pages", "maybe", &v, err);
	assert_string_equal(err, "invalid use_zero_pages 'maybe': allowed are 0 or 1 (y/n, on/off)");
	check("hint_buffer_size", "1000", &v, err);
	assert_string_equal(err,
		"invalid hint_buffer_size '1000': allowed are powers of two from 16 to 1048576");
	check("run", "abc", &v, err);
	assert_string_equal(err, "invalid run 'abc': allowed are 0 to 2");
	check("advisor_mode", "auto", &v, err);
	assert_string_equal(err, "invalid advisor_mode 'auto': allowed are none and scan-time");
	check("merge_scope", "user", &v, err);
	assert_string_equal(err,
		"invalid merge_scope 'user': allowed are global, uid, cgroup and process");
	assert_int_equal(check("merge_scope", "cgroup", &v, err), 0);
	assert_int_equal(v, 2);
	check("advisor_target_scan_time", "0", &v, err);
	assert_string_equal(err,
		"invalid advisor_target_scan_time '0': allowed are 1 to 18446744073709551615");
}

static void knobs_assignments(void **state)
{
	const struct ksmpp_knob *k;
	unsigned long v;
	char err[640];

	(void)state;
	assert_int_equal(knob_check_assignment("pages_to_scan=500", &k, &v, err, sizeof(err)), 0);
	assert_string_equal(k->name, "pages_to_scan");
	assert_int_equal(v, 500);
	assert_int_equal(knob_check_assignment("use_zero_pages=y", &k, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 1);

	assert_int_equal(knob_check_assignment("pages=5", &k, &v, err, sizeof(err)), -1);
	assert_null(k);
	assert_string_equal(err, "unknown parameter 'pages': known are run, pages_to_scan, "
			    "sleep_millisecs, max_page_sharing, merge_across_nodes, use_zero_pages, "
			    "smart_scan, stable_node_chains_prune_millisecs, advisor_mode, "
			    "advisor_max_cpu, advisor_min_pages_to_scan, advisor_max_pages_to_scan, "
			    "advisor_target_scan_time, hint_buffer_size, hint_scan_percent, hook_mode, "
			    "merge_scope, stats_mode");
	assert_int_equal(knob_check_assignment("advisor_mode=scan-time", &k, &v, err, sizeof(err)),
			 0);
	assert_int_equal(v, 1);
	assert_int_equal(knob_check_assignment("run", &k, &v, err, sizeof(err)), -1);
	assert_string_equal(err, "parameter run needs a value: run=VALUE");
	assert_int_equal(knob_check_assignment("run=", &k, &v, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid run '': allowed are 0 to 2");
	assert_int_equal(knob_check_assignment("run=1=2", &k, &v, err, sizeof(err)), -1);
	assert_int_equal(knob_check_assignment("=1", &k, &v, err, sizeof(err)), -1);
	/* A name longer than any buffer is refused, not overflowed. */
	assert_int_equal(knob_check_assignment(
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=1",
		&k, &v, err, sizeof(err)), -1);
	/* Messages are cut to the buffer, never overrun. */
	assert_int_equal(knob_check_assignment("pages=5", &k, &v, err, 10), -1);
	assert_int_equal(strlen(err), 9);
}

static void knobs_names_fit(void **state)
{
	char buf[16];

	(void)state;
	knob_names(buf, sizeof(buf));
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_memory_equal(buf, "run, pages_to_s", sizeof(buf));
}

/* module/params.c, found from this file's own path. */
static char *read_module_params(void)
{
	const char *self = __FILE__, *tail = strstr(self, "tests/unit/");
	char path[4096];
	FILE *f;
	char *text;
	long len;

	assert_non_null(tail);
	snprintf(path, sizeof(path), "%.*smodule/params.c", (int)(tail - self), self);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return text;
}

/*
 * A value as params.c writes it: a number, a <limits.h> name, or a name
 * that module/ksmpp.h defines (a #define or an enum constant).
 */
static unsigned long value_of(const char *text)
{
	/* The enum constants params.c uses as defaults (module/ksmpp.h). */
	static const struct {
		const char *name;
		unsigned long value;
	} constants[] = {
		{ "KSMPP_ADVISOR_NONE", 0 }, { "KSMPP_ADVISOR_SCAN_TIME", 1 },
		{ "KSMPP_HOOK_MODE_AUTO", 0 }, { "KSMPP_SCOPE_GLOBAL", 0 },
		{ "KSMPP_STATS_WORLD", 0 },
	};
	size_t i;

	if (!strcmp(text, "ULONG_MAX"))
		return ULONG_MAX;
	if (!strcmp(text, "UINT_MAX"))
		return UINT_MAX;
	if (!strcmp(text, "INT_MAX"))
		return INT_MAX;
	if (!strcmp(text, "KSMPP_DEFAULT_PAGES_TO_SCAN"))
		return 100;
	for (i = 0; i < ARRAY_SIZE(constants); i++)
		if (!strcmp(text, constants[i].name))
			return constants[i].value;
	if (text[0] < '0' || text[0] > '9')
		fail_msg("params.c value %s unknown to this test", text);
	return strtoul(text, NULL, 10);
}

/* The string after @p's next '"', cut at its closing '"'; @p moves past it. */
static char *next_string(char **p)
{
	char *q, *start = strchr(*p, '"');

	assert_non_null(start);
	q = strchr(start + 1, '"');
	assert_non_null(q);
	*q = '\0';
	*p = q;
	return start + 1;
}

/* Every KSMPP_*_PARAM() of the module is in the table, alike, and back. */
static void knobs_table_matches_module(void **state)
{
	static const char * const kinds[] = {
		[KNOB_NUMBER] = "NUMBER", [KNOB_POWER_OF_2] = "POWER_OF_2",
		[KNOB_ON_OFF] = "ON_OFF", [KNOB_CHOICE] = "CHOICE",
	};
	char *text = read_module_params(), *p, name[64], def[64], lo[32], hi[64], kind[16];
	const struct ksmpp_knob *k;
	unsigned int n = 0;
	unsigned long i;

	(void)state;
	for (p = strstr(text, "\nKSMPP_"); p; p = strstr(p + 1, "\nKSMPP_")) {
		if (sscanf(p, " KSMPP_NUMBER_PARAM(%63[a-z_0-9], %63[A-Z_0-9], %31[A-Z_0-9], "
			   "%63[A-Z_0-9], %15[A-Z_0-9],", name, def, lo, hi, kind) == 5) {
		} else if (sscanf(p, " KSMPP_ON_OFF_PARAM(%63[a-z_0-9], %63[0-9],", name, def) == 2) {
			strcpy(lo, "0");
			strcpy(hi, "1");
			strcpy(kind, "ON_OFF");
		} else if (sscanf(p, " KSMPP_CHOICE_PARAM(%63[a-z_0-9], %63[A-Z_0-9],",
				  name, def) == 2) {
			strcpy(lo, "0");
			strcpy(kind, "CHOICE");
			k = knob_find(name);
			assert_non_null(k);
			snprintf(hi, sizeof(hi), "%lu", k->max);
			/* Each of ksmppctl's names is one of the module's. */
			for (i = 0; i <= k->max; i++) {
				char choice[64];

				snprintf(choice, sizeof(choice), "\"%s\"", k->choices[i]);
				assert_non_null(strstr(text, choice));
			}
		} else {
			continue;	/* a helper's name, not a definition */
		}
		k = knob_find(name);
		if (!k)
			fail_msg("module parameter %s is not in ksmppctl's table", name);
		assert_int_equal(k->def, value_of(def));
		assert_int_equal(k->min, value_of(lo));
		assert_int_equal(k->max, value_of(hi));
		assert_string_equal(kinds[k->kind], kind);
		/* The description: the macro's first string. */
		assert_string_equal(k->desc, next_string(&p));
		n++;
	}
	assert_int_equal(n, ksmpp_nknobs);
	free(text);
}

/* Values as KSM's and ksmpp's sysfs files show them, and back. */
static void knobs_from_files(void **state)
{
	static const struct {
		const char *name, *text;
		unsigned long value;
		const char *formatted;
	} good[] = {
		{ "pages_to_scan", "100\n", 100, "100" },
		{ "use_zero_pages", "1\n", 1, "1" },
		{ "advisor_mode", "[none] scan-time\n", 0, "none" },
		{ "advisor_mode", "none [scan-time]\n", 1, "scan-time" },
		{ "advisor_max_cpu", "70", 70, "70" },
		{ "merge_scope", "global uid [cgroup] process\n", 2, "cgroup" },
		{ "stats_mode", "world [root]\n", 1, "root" },
	};
	static const struct { const char *name, *text; } bad[] = {
		{ "pages_to_scan", "\n" }, { "pages_to_scan", "-1\n" },
		{ "merge_across_nodes", "2\n" }, { "advisor_mode", "[none scan-time\n" },
		{ "advisor_mode", "[other] none\n" },
		{ "pages_to_scan", "100000000000000000000000000000000000000000000000000000000000000000000\n" },
	};
	char out[32];
	unsigned long v;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		const struct ksmpp_knob *k = knob_find(good[i].name);

		assert_int_equal(knob_from_file(k, good[i].text, &v), 0);
		assert_int_equal(v, good[i].value);
		knob_format(k, v, out, sizeof(out));
		assert_string_equal(out, good[i].formatted);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(knob_from_file(knob_find(bad[i].name), bad[i].text, &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(knobs_parse_ulong_as_kstrtoul),
		cmocka_unit_test(knobs_parse_on_off_as_kstrtobool),
		cmocka_unit_test(knobs_find),
		cmocka_unit_test(knobs_ranges),
		cmocka_unit_test(knobs_messages_match_kernel),
		cmocka_unit_test(knobs_assignments),
		cmocka_unit_test(knobs_names_fit),
		cmocka_unit_test(knobs_table_matches_module),
		cmocka_unit_test(knobs_from_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
