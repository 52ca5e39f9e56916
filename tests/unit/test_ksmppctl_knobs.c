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

static void knobs_parse_uint_as_kstrtouint(void **state)
{
	static const struct { const char *text; unsigned int value; } good[] = {
		{ "0", 0 }, { "7", 7 }, { "100000", 100000 }, { "+5", 5 },
		{ "010", 10 }, { "00", 0 }, { "4294967295", UINT_MAX },
	};
	static const char * const bad[] = {
		"", "+", "-1", "-0", "abc", "12x", " 1", "1 ", "0x", "0x10", "0X1f",
		/* The kernel takes one trailing newline (sysfs); argv has none. */
		"1\n",
		"4294967296", "99999999999999999999", "1.5", "++1",
	};
	unsigned int v;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		v = 12345;
		assert_int_equal(knob_parse_uint(good[i].text, &v), 0);
		assert_int_equal(v, good[i].value);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 12345;
		assert_int_equal(knob_parse_uint(bad[i], &v), -1);
		assert_int_equal(v, 12345);
	}
}

static void knobs_parse_on_off_as_kstrtobool(void **state)
{
	static const struct { const char *text; unsigned int value; } good[] = {
		{ "1", 1 }, { "y", 1 }, { "Y", 1 }, { "yes", 1 }, { "true", 1 },
		{ "on", 1 }, { "ON", 1 }, { "enable", 1 }, { "1abc", 1 },
		{ "0", 0 }, { "n", 0 }, { "no", 0 }, { "false", 0 }, { "off", 0 },
		{ "Off", 0 }, { "disable", 0 },
	};
	static const char * const bad[] = { "", "2", "-1", "o", "ok", "x", " y", "maybe" };
	unsigned int v;
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
	assert_int_equal(ksmpp_nknobs, 10);
}

/* Check @text for knob @name: 0 and *@v, or -1 and the message in @err. */
static int check(const char *name, const char *text, unsigned int *v, char *err)
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
	};
	char err[256];
	unsigned int v;
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
	unsigned int v;

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
}

static void knobs_assignments(void **state)
{
	const struct ksmpp_knob *k;
	unsigned int v;
	char err[256];

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
			    "smart_scan, stable_node_chains_prune_millisecs, hint_buffer_size, hint_scan_percent");
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

/* A range bound as params.c writes it: a number, or a <limits.h> name. */
static unsigned int bound(const char *text)
{
	if (!strcmp(text, "UINT_MAX"))
		return UINT_MAX;
	if (!strcmp(text, "INT_MAX"))
		return INT_MAX;
	return (unsigned int)strtoul(text, NULL, 10);
}

/* Every KSMPP_UINT_PARAM() of the module is in the table, alike, and back. */
static void knobs_table_matches_module(void **state)
{
	static const char * const kinds[] = {
		[KNOB_NUMBER] = "NUMBER", [KNOB_POWER_OF_2] = "POWER_OF_2",
		[KNOB_ON_OFF] = "ON_OFF",
	};
	char *text = read_module_params(), *p, *q, name[64], lo[16], hi[16], kind[16];
	unsigned int def, n = 0;
	const struct ksmpp_knob *k;

	(void)state;
	for (p = strstr(text, "\nKSMPP_UINT_PARAM("); p;
	     p = strstr(p + 1, "\nKSMPP_UINT_PARAM(")) {
		assert_int_equal(sscanf(p, " KSMPP_UINT_PARAM(%63[a-z_0-9], %u, %15[A-Z_0-9], "
					"%15[A-Z_0-9], %15[A-Z_0-9],", name, &def, lo, hi, kind), 5);
		k = knob_find(name);
		if (!k)
			fail_msg("module parameter %s is not in ksmppctl's table", name);
		assert_int_equal(k->def, def);
		assert_int_equal(k->min, bound(lo));
		assert_int_equal(k->max, bound(hi));
		assert_string_equal(kinds[k->kind], kind);
		/* The description: the macro's first string. */
		p = strchr(p, '"');
		q = strchr(p + 1, '"');
		assert_non_null(q);
		*q = '\0';
		assert_string_equal(k->desc, p + 1);
		p = q;
		n++;
	}
	assert_int_equal(n, ksmpp_nknobs);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(knobs_parse_uint_as_kstrtouint),
		cmocka_unit_test(knobs_parse_on_off_as_kstrtobool),
		cmocka_unit_test(knobs_find),
		cmocka_unit_test(knobs_ranges),
		cmocka_unit_test(knobs_messages_match_kernel),
		cmocka_unit_test(knobs_assignments),
		cmocka_unit_test(knobs_names_fit),
		cmocka_unit_test(knobs_table_matches_module),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
