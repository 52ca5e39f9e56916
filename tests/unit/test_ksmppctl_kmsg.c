// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for tools/ksmppctl/kmsg.c: ksmpp's lines in the kernel log.
 * unit-tool-sources: kmsg.c
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kmsg.h"

static bool line(const char *rec, char *buf, size_t len)
{
	buf[0] = '\0';
	return kmsg_ksmpp_line(rec, strlen(rec), buf, len);
}

static void kmsg_dev_kmsg_records(void **state)
{
	char buf[256];

	(void)state;
	assert_true(line("3,1234,5678901,-;ksmpp: invalid pages_to_scan '0': allowed are 1 to 100000\n",
			 buf, sizeof(buf)));
	assert_string_equal(buf, "ksmpp: invalid pages_to_scan '0': allowed are 1 to 100000");
	/* Dictionary lines after the text are not part of it. */
	assert_true(line("3,77,100,c;ksmpp: kernel 6.1.0: symbol foo not found (error -2), not loading\n"
			 " SUBSYSTEM=module\n DEVICE=+module:ksmpp\n", buf, sizeof(buf)));
	assert_string_equal(buf, "ksmpp: kernel 6.1.0: symbol foo not found (error -2), not loading");
	/* The module loader's lines name the module the same way. */
	assert_true(line("4,9,9,-;ksmpp: Unknown symbol bar (err -2)\n", buf, sizeof(buf)));
	assert_string_equal(buf, "ksmpp: Unknown symbol bar (err -2)");
	/* Without a final newline. */
	assert_true(line("6,1,1,-;ksmpp: unloaded", buf, sizeof(buf)));
	assert_string_equal(buf, "ksmpp: unloaded");
}

static void kmsg_klogctl_lines(void **state)
{
	char buf[256];

	(void)state;
	assert_true(line("<3>[    2.204295] ksmpp: invalid run '7': allowed are 0 to 2", buf, sizeof(buf)));
	assert_string_equal(buf, "ksmpp: invalid run '7': allowed are 0 to 2");
	assert_true(line("<6>ksmpp: version 0.1.0 loaded", buf, sizeof(buf)));
	assert_string_equal(buf, "ksmpp: version 0.1.0 loaded");
	assert_false(line("<6", buf, sizeof(buf)));
	assert_false(line("<6>[ 1.0 ksmpp: x", buf, sizeof(buf)));
}

static void kmsg_other_lines_ignored(void **state)
{
	char buf[256];

	(void)state;
	assert_false(line("6,1,1,-;zram: Added device: zram0\n", buf, sizeof(buf)));
	assert_false(line("6,1,1,-;notksmpp: x\n", buf, sizeof(buf)));
	assert_false(line("6,1,1,-;ksmppd: x\n", buf, sizeof(buf)));
	assert_false(line("6,1,1,-;x ksmpp: x\n", buf, sizeof(buf)));
	assert_false(line("6,1,1,-;ksmpp:\n", buf, sizeof(buf)));
	assert_false(line("no separator ksmpp: x", buf, sizeof(buf)));
	assert_false(line("", buf, sizeof(buf)));
	/* The kernel's taint notes about any out-of-tree module. */
	assert_false(line("4,1,1,-;ksmpp: loading out-of-tree module taints kernel.\n", buf, sizeof(buf)));
	assert_false(line("4,1,1,-;ksmpp: module verification failed: signature and/or required key missing - tainting kernel\n",
			  buf, sizeof(buf)));
	assert_false(line("<4>[    2.1] ksmpp: module verification failed: signature", buf, sizeof(buf)));
	/* The text after ';' only: a ';' in the message is kept. */
	assert_true(line("6,1,1,-;ksmpp: a; b\n", buf, sizeof(buf)));
	assert_string_equal(buf, "ksmpp: a; b");
}

static void kmsg_buffer_bounds(void **state)
{
	char buf[12];

	(void)state;
	memset(buf, 'z', sizeof(buf));
	assert_true(kmsg_ksmpp_line("6,1,1,-;ksmpp: a long message", 30, buf, 10));
	assert_string_equal(buf, "ksmpp: a ");
	assert_int_equal(buf[10], 'z');
	assert_false(kmsg_ksmpp_line("6,1,1,-;ksmpp: x", 16, buf, 0));
	/* Only @len bytes are looked at. */
	assert_false(kmsg_ksmpp_line("6,1,1,-;ksmpp: x", 10, buf, sizeof(buf)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kmsg_dev_kmsg_records),
		cmocka_unit_test(kmsg_klogctl_lines),
		cmocka_unit_test(kmsg_other_lines_ignored),
		cmocka_unit_test(kmsg_buffer_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
