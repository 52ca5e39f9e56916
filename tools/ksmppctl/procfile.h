/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ksmppctl: /proc/ksmpp, parsed.
 *
 * The file is one "key: value" line per figure, as /proc/meminfo. Every
 * line is kept, in order, so that figures a newer module adds still reach
 * the JSON and Prometheus outputs; values made of digits only are numbers.
 */
#ifndef KSMPPCTL_PROCFILE_H
#define KSMPPCTL_PROCFILE_H

#include <stdbool.h>
#include <stddef.h>

#define KSMPP_FIELDS_MAX	128
#define KSMPP_KEY_MAX		48
#define KSMPP_VALUE_MAX		128

struct ksmpp_field {
	char key[KSMPP_KEY_MAX];
	char value[KSMPP_VALUE_MAX];
	bool numeric;			/* value is [0-9]+, in num */
	unsigned long long num;
};

struct ksmpp_status {
	struct ksmpp_field fields[KSMPP_FIELDS_MAX];
	size_t nfields;
};

/*
 * Parse the text of /proc/ksmpp into @st. 0 on success; -1 with a message
 * in @err if a line is no "key: value" line, a key repeats or is too long,
 * or the text holds no line at all.
 */
int ksmpp_status_parse(struct ksmpp_status *st, const char *text,
		       char *err, size_t errlen);

/* The field @key, or NULL. */
const struct ksmpp_field *ksmpp_status_field(const struct ksmpp_status *st,
					     const char *key);

/* The value of @key as text, or @def if absent. */
const char *ksmpp_status_str(const struct ksmpp_status *st, const char *key,
			     const char *def);

/* The number @key, or 0 if absent or not a number. */
unsigned long long ksmpp_status_num(const struct ksmpp_status *st,
				    const char *key);

/* Whether @key is present and a number. */
bool ksmpp_status_has_num(const struct ksmpp_status *st, const char *key);

#endif /* KSMPPCTL_PROCFILE_H */
