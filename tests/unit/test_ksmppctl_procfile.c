// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for tools/ksmppctl/procfile.c: parsing /proc/ksmpp.
 * unit-tool-sources: procfile.c
 */
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
#include "test_ksmppctl_sample.h"

static struct ksmpp_status st;

static void procfile_parses_sample(void **state)
{
	char err[128] = "";

	(void)state;
	assert_int_equal(ksmpp_status_parse(&st, sample_proc, err, sizeof(err)), 0);
	assert_int_equal(st.nfields, SAMPLE_FIELDS);
	/* In order, keys and values without the alignment. */
	assert_string_equal(st.fields[0].key, "version");
	assert_string_equal(st.fields[0].value, "0.1.0");
	assert_false(st.fields[0].numeric);
	assert_string_equal(st.fields[SAMPLE_FIELDS - 1].key, "hooked_blkdev_direct_IO");
	assert_string_equal(ksmpp_status_str(&st, "hooked_filemap_read", NULL), "ftrace");
	assert_string_equal(ksmpp_status_str(&st, "kernel", NULL), "6.1.0-56-amd64");
	assert_string_equal(ksmpp_status_str(&st, "state", NULL), "running");
	assert_int_equal(ksmpp_status_num(&st, "pages_sharing"), 384);
	assert_int_equal(ksmpp_status_num(&st, "pages_scanned"), 123456);
	assert_int_equal(ksmpp_status_num(&st, "hint_bytes"), 5242880);
	assert_true(ksmpp_status_has_num(&st, "hints_missed"));
	assert_int_equal(ksmpp_status_num(&st, "hints_missed"), 0);
	/* Absent fields, and text asked for as a number. */
	assert_null(ksmpp_status_field(&st, "general_profit"));
	assert_string_equal(ksmpp_status_str(&st, "nope", "dflt"), "dflt");
	assert_int_equal(ksmpp_status_num(&st, "nope"), 0);
	assert_false(ksmpp_status_has_num(&st, "nope"));
	assert_int_equal(ksmpp_status_num(&st, "version"), 0);
	assert_false(ksmpp_status_has_num(&st, "state"));
}

static void procfile_tolerates_layout(void **state)
{
	char err[128];

	(void)state;
	/* No final newline, blank lines, tabs, trailing blanks, big numbers. */
	assert_int_equal(ksmpp_status_parse(&st,
		"a:1\n\nb:\t 18446744073709551615  \nc: some text here\nd: 18446744073709551616\ne: -5",
		err, sizeof(err)), 0);
	assert_int_equal(st.nfields, 5);
	assert_int_equal(ksmpp_status_num(&st, "a"), 1);
	assert_int_equal(ksmpp_status_num(&st, "b"), 18446744073709551615ULL);
	assert_string_equal(ksmpp_status_str(&st, "b", NULL), "18446744073709551615");
	assert_string_equal(ksmpp_status_str(&st, "c", NULL), "some text here");
	/* Too big for 64 bits, or signed: kept as text. */
	assert_false(ksmpp_status_has_num(&st, "d"));
	assert_string_equal(ksmpp_status_str(&st, "d", NULL), "18446744073709551616");
	assert_false(ksmpp_status_has_num(&st, "e"));
	/* An empty value is text. */
	assert_int_equal(ksmpp_status_parse(&st, "empty:\n", err, sizeof(err)), 0);
	assert_string_equal(ksmpp_status_str(&st, "empty", NULL), "");
	assert_false(ksmpp_status_has_num(&st, "empty"));
}

static void procfile_refuses_garbage(void **state)
{
	static const struct { const char *text, *err; } bad[] = {
		{ "", "empty" },
		{ "\n\n", "empty" },
		{ "version 0.1.0\n", "line 1: not a \"key: value\" line" },
		{ "a: 1\n: 2\n", "line 2: not a \"key: value\" line" },
		{ "a: 1\nb-c: 2\n", "line 2: not a \"key: value\" line" },
		{ "a: 1\nb", "line 2: not a \"key: value\" line" },
		{ "a: 1\na: 2\n", "line 2: a repeated" },
		{ "a_key_that_is_much_longer_than_any_that_ksmpp_uses: 1\n",
		  "line 1: key too long" },
	};
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		assert_int_equal(ksmpp_status_parse(&st, bad[i].text, err, sizeof(err)), -1);
		assert_string_equal(err, bad[i].err);
	}
}

static void procfile_limits(void **state)
{
	char err[128], *text, *p;
	size_t i, len = (KSMPP_FIELDS_MAX + 1) * 16 + KSMPP_VALUE_MAX + 16;

	(void)state;
	text = calloc(1, len);
	assert_non_null(text);
	/* A value just too long. */
	p = text + sprintf(text, "k: ");
	memset(p, 'x', KSMPP_VALUE_MAX);
	assert_int_equal(ksmpp_status_parse(&st, text, err, sizeof(err)), -1);
	assert_string_equal(err, "line 1: value of k too long");
	p[KSMPP_VALUE_MAX - 1] = '\0';
	assert_int_equal(ksmpp_status_parse(&st, text, err, sizeof(err)), 0);
	assert_int_equal(strlen(ksmpp_status_str(&st, "k", "")), KSMPP_VALUE_MAX - 1);
	/* As many lines as fit, then one more. */
	for (p = text, i = 0; i < KSMPP_FIELDS_MAX; i++)
		p += sprintf(p, "k%zu: %zu\n", i, i);
	assert_int_equal(ksmpp_status_parse(&st, text, err, sizeof(err)), 0);
	assert_int_equal(st.nfields, KSMPP_FIELDS_MAX);
	sprintf(p, "one_more: 1\n");
	assert_int_equal(ksmpp_status_parse(&st, text, err, sizeof(err)), -1);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(procfile_parses_sample),
		cmocka_unit_test(procfile_tolerates_layout),
		cmocka_unit_test(procfile_refuses_garbage),
		cmocka_unit_test(procfile_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
