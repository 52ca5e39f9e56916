// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmppctl: the module's tunables, checked as module/params.c checks them.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ksmppctl.h"
#include "knobs.h"

/* A knob that takes a number or on/off. */
#define KNOB(name, def, min, max, kind, desc) { name, def, min, max, kind, desc, NULL }

const struct ksmpp_knob ksmpp_knobs[] = {
	KNOB("run", 0, 0, 2, KNOB_NUMBER,
	  "0 stop, 1 merge, 2 unmerge everything and stop"),
	KNOB("pages_to_scan", 100, 0, UINT_MAX, KNOB_NUMBER,
	  "pages the scanner visits per wake-up"),
	KNOB("sleep_millisecs", 20, 0, UINT_MAX, KNOB_NUMBER,
	  "milliseconds the scanner sleeps between batches"),
	KNOB("max_page_sharing", 256, 2, INT_MAX, KNOB_NUMBER,
	  "most mappings of one merged page"),
	KNOB("merge_across_nodes", 1, 0, 1, KNOB_NUMBER,
	  "1 merge pages of all NUMA nodes, 0 only pages of one node"),
	KNOB("use_zero_pages", 0, 0, 1, KNOB_ON_OFF,
	  "merge empty pages with the kernel's zero page"),
	KNOB("smart_scan", 1, 0, 1, KNOB_ON_OFF,
	  "visit pages that keep failing to merge less often"),
	KNOB("stable_node_chains_prune_millisecs", 2000, 0, UINT_MAX, KNOB_NUMBER,
	  "KSM's, kept for tools: stale nodes go at every pass end"),
	{ "advisor_mode", 0, 0, 1, KNOB_CHOICE,
	  "none: pages_to_scan as set; scan-time: set by the advisor",
	  (const char * const []){ "none", "scan-time" } },
	KNOB("advisor_max_cpu", 70, 0, ULONG_MAX, KNOB_NUMBER,
	  "scan-time: most CPU per cent ksmppd may use"),
	KNOB("advisor_min_pages_to_scan", 500, 0, ULONG_MAX, KNOB_NUMBER,
	  "scan-time: fewest pages per wake-up"),
	KNOB("advisor_max_pages_to_scan", 30000, 0, ULONG_MAX, KNOB_NUMBER,
	  "scan-time: most pages per wake-up, hinted pages included"),
	KNOB("advisor_target_scan_time", 200, 1, ULONG_MAX, KNOB_NUMBER,
	  "scan-time: seconds a full pass should take"),
	KNOB("hint_buffer_size", 1024, 16, 1048576, KNOB_POWER_OF_2,
	  "entries of the I/O hint ring, a power of two"),
	KNOB("hint_scan_percent", 75, 0, 100, KNOB_NUMBER,
	  "most of each batch that hinted pages may take (0: no hints)"),
	{ "hook_mode", 0, 0, 3, KNOB_CHOICE,
	  "how the I/O functions are hooked, chosen at load time: a direct call, else ftrace, else a kprobe, per function; direct calls only; ftrace only; or kprobes only",
	  (const char * const []){ "auto", "direct", "ftrace", "kprobe" } },
	{ "merge_scope", 0, 0, 3, KNOB_CHOICE,
	  "whose pages may share a merged page: any process's, one uid's, one cgroup's, or one process's only",
	  (const char * const []){ "global", "uid", "cgroup", "process" } },
	{ "stats_mode", 0, 0, 1, KNOB_CHOICE,
	  "who may read the figures (/proc/ksmpp, /sys/kernel/mm/ksmpp)",
	  (const char * const []){ "world", "root" } },
};

const size_t ksmpp_nknobs = ARRAY_SIZE(ksmpp_knobs);

const struct ksmpp_knob *knob_find(const char *name)
{
	size_t i;

	for (i = 0; i < ksmpp_nknobs; i++)
		if (!strcmp(ksmpp_knobs[i].name, name))
			return &ksmpp_knobs[i];
	return NULL;
}

int knob_parse_ulong(const char *s, unsigned long *value)
{
	unsigned long v = 0, digit;
	const char *start;

	if (*s == '+')
		s++;
	for (start = s; *s >= '0' && *s <= '9'; s++) {
		digit = (unsigned long)(*s - '0');
		if (v > (ULONG_MAX - digit) / 10)
			return -1;
		v = v * 10 + digit;
	}
	if (s == start || *s)
		return -1;
	*value = v;
	return 0;
}

int knob_parse_on_off(const char *s, unsigned long *value)
{
	switch (tolower((unsigned char)s[0])) {
	case '1': case 'y': case 't': case 'e':
		*value = 1;
		return 0;
	case '0': case 'n': case 'f': case 'd':
		*value = 0;
		return 0;
	case 'o':
		if (tolower((unsigned char)s[1]) == 'n' || tolower((unsigned char)s[1]) == 'f') {
			*value = tolower((unsigned char)s[1]) == 'n';
			return 0;
		}
		break;
	}
	return -1;
}

static bool is_power_of_2(unsigned long v)
{
	return v && !(v & (v - 1));
}

void knob_choices(const struct ksmpp_knob *knob, const char *last, char *buf,
		  size_t len)
{
	size_t used = 0;
	unsigned long v;
	int n;

	for (v = 0; v <= knob->max && used < len; v++) {
		n = snprintf(buf + used, len - used, "%s%s",
			     !v ? "" : v == knob->max ? last : ", ", knob->choices[v]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

int knob_check(const struct ksmpp_knob *knob, const char *text,
	       unsigned long *value, char *err, size_t errlen)
{
	char choices[256];
	unsigned long v;

	if (knob->kind == KNOB_CHOICE) {
		for (v = 0; v <= knob->max; v++)
			if (!strcmp(text, knob->choices[v])) {
				*value = v;
				return 0;
			}
		knob_choices(knob, " and ", choices, sizeof(choices));
		snprintf(err, errlen, "invalid %s '%s': allowed are %s",
			 knob->name, text, choices);
		return -1;
	}
	if (knob->kind == KNOB_ON_OFF) {
		if (!knob_parse_on_off(text, value))
			return 0;
		snprintf(err, errlen, "invalid %s '%s': allowed are 0 or 1 (y/n, on/off)",
			 knob->name, text);
		return -1;
	}
	if (knob_parse_ulong(text, &v) || v < knob->min || v > knob->max ||
	    (knob->kind == KNOB_POWER_OF_2 && !is_power_of_2(v))) {
		snprintf(err, errlen, "invalid %s '%s': allowed are %s%lu to %lu",
			 knob->name, text,
			 knob->kind == KNOB_POWER_OF_2 ? "powers of two from " : "",
			 knob->min, knob->max);
		return -1;
	}
	*value = v;
	return 0;
}

void knob_names(char *buf, size_t len)
{
	size_t i, used = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (i = 0; i < ksmpp_nknobs && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 ksmpp_knobs[i].name);

		if (n < 0)
			break;
		used += (size_t)n;
	}
}

int knob_check_assignment(const char *arg, const struct ksmpp_knob **knob,
			  unsigned long *value, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	char name[64], names[512];
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);

	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	memcpy(name, arg, len);
	name[len] = '\0';
	*knob = knob_find(name);
	if (!*knob) {
		knob_names(names, sizeof(names));
		snprintf(err, errlen, "unknown parameter '%s': known are %s",
			 name, names);
		return -1;
	}
	if (!eq) {
		snprintf(err, errlen, "parameter %s needs a value: %s=VALUE",
			 name, name);
		return -1;
	}
	return knob_check(*knob, eq + 1, value, err, errlen);
}

int knob_from_file(const struct ksmpp_knob *knob, const char *text,
		   unsigned long *value)
{
	const char *start = text, *bracket = strchr(text, '[');
	char word[64], err[640];
	size_t n = strcspn(text, "\n");

	if (knob->kind == KNOB_CHOICE && bracket) {
		start = bracket + 1;
		n = strcspn(start, "]");
		if (!start[n])
			return -1;
	}
	if (n >= sizeof(word))
		return -1;
	memcpy(word, start, n);
	word[n] = '\0';
	return knob_check(knob, word, value, err, sizeof(err));
}

void knob_format(const struct ksmpp_knob *knob, unsigned long value, char *buf,
		 size_t len)
{
	if (knob->kind == KNOB_CHOICE && value <= knob->max)
		snprintf(buf, len, "%s", knob->choices[value]);
	else
		snprintf(buf, len, "%lu", value);
}
