/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ksmppctl: the module's tunables and their allowed values.
 *
 * The table mirrors module/params.c (KSMPP_*_PARAM): the same names,
 * defaults, ranges and kinds, so that a bad value is refused
 * before anything reaches the kernel, with the kernel's own wording. A unit
 * test (tests/unit/test_ksmppctl_knobs.c) compares the two.
 */
#ifndef KSMPPCTL_KNOBS_H
#define KSMPPCTL_KNOBS_H

#include <stdbool.h>
#include <stddef.h>

/* How a knob's value is written (module/params.c's enum ksmpp_param_kind). */
enum knob_kind {
	KNOB_NUMBER,		/* decimal, min to max */
	KNOB_POWER_OF_2,	/* decimal, min to max, a power of two */
	KNOB_ON_OFF,		/* 1/0, y/n, on/off...: kstrtobool's words */
	KNOB_CHOICE,		/* a name of .choices; the value is its index */
};

struct ksmpp_knob {
	const char *name;	/* parameter and /sys/kernel/mm/ksmpp file */
	unsigned long def;	/* the module's default */
	unsigned long min;	/* smallest allowed value */
	unsigned long max;	/* largest allowed value */
	enum knob_kind kind;
	const char *desc;	/* one line, for --help and the man page */
	const char * const *choices; /* KNOB_CHOICE: the names of 0..max */
};

extern const struct ksmpp_knob ksmpp_knobs[];
extern const size_t ksmpp_nknobs;

/*
 * A KNOB_CHOICE knob's names in words, into @buf: "a, b" then @last (" and "
 * or " or ") before the last name.
 */
void knob_choices(const struct ksmpp_knob *knob, const char *last, char *buf,
		  size_t len);

/* The knob called @name, or NULL. */
const struct ksmpp_knob *knob_find(const char *name);

/*
 * Parse @text as the kernel's kstrtoul(text, 10) does (as KSM's files do):
 * decimal digits with an optional leading '+', nothing else. 0 on success,
 * -1 if @text is no number that fits an unsigned long.
 */
int knob_parse_ulong(const char *text, unsigned long *value);

/*
 * Parse @text as the kernel's kstrtobool() does (7.x's words): 1/y/t/e/on
 * for 1, 0/n/f/d/off for 0, by the first letters only. 0 or -1.
 */
int knob_parse_on_off(const char *text, unsigned long *value);

/*
 * Check @text as a value of @knob. On success, 0 and *@value; else -1 and
 * a message in @err naming the knob and its allowed range, worded as the
 * kernel's log line ("invalid NAME 'TEXT': allowed are MIN to MAX").
 */
int knob_check(const struct ksmpp_knob *knob, const char *text,
	       unsigned long *value, char *err, size_t errlen);

/*
 * Check a "name=value" load parameter. On success, 0, the knob in *@knob and
 * the value in *@value; else -1 and a message in @err (unknown name, missing
 * '=', bad value).
 */
int knob_check_assignment(const char *arg, const struct ksmpp_knob **knob,
			  unsigned long *value, char *err, size_t errlen);

/*
 * The value of @knob as its sysfs file (KSM's or ksmpp's) shows it: a
 * number, or for a choice the names with the current one in brackets
 * ("[none] scan-time"). 0 and *@value, or -1.
 */
int knob_from_file(const struct ksmpp_knob *knob, const char *text,
		   unsigned long *value);

/* @value of @knob as its file and its parameter take it: "scan-time", "100". */
void knob_format(const struct ksmpp_knob *knob, unsigned long value, char *buf,
		 size_t len);

/* "run, pages_to_scan, ...": every knob name, for messages. */
void knob_names(char *buf, size_t len);

#endif /* KSMPPCTL_KNOBS_H */
