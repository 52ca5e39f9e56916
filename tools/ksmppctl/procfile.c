// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmppctl: parsing /proc/ksmpp.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procfile.h"

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Parse one line (@len characters at @line, no newline) into @f. */
static int parse_line(struct ksmpp_field *f, const char *line, size_t len,
		      unsigned int lineno, char *err, size_t errlen)
{
	size_t k = 0, v;

	while (k < len && is_key_char(line[k]))
		k++;
	if (!k || k >= len || line[k] != ':') {
		snprintf(err, errlen, "line %u: not a \"key: value\" line", lineno);
		return -1;
	}
	if (k >= sizeof(f->key)) {
		snprintf(err, errlen, "line %u: key too long", lineno);
		return -1;
	}
	memcpy(f->key, line, k);
	f->key[k] = '\0';
	for (v = k + 1; v < len && (line[v] == ' ' || line[v] == '\t'); v++)
		;
	while (len > v && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len - v >= sizeof(f->value)) {
		snprintf(err, errlen, "line %u: value of %s too long", lineno, f->key);
		return -1;
	}
	memcpy(f->value, line + v, len - v);
	f->value[len - v] = '\0';
	f->numeric = false;
	f->num = 0;
	if (all_digits(f->value)) {
		errno = 0;
		f->num = strtoull(f->value, NULL, 10);
		f->numeric = errno != ERANGE;
	}
	return 0;
}

int ksmpp_status_parse(struct ksmpp_status *st, const char *text,
		       char *err, size_t errlen)
{
	unsigned int lineno = 0;
	const char *line, *end;

	st->nfields = 0;
	for (line = text; *line; line = *end ? end + 1 : end) {
		struct ksmpp_field *f;

		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		lineno++;
		if (end == line)
			continue;	/* blank lines are tolerated */
		if (st->nfields == KSMPP_FIELDS_MAX) {
			snprintf(err, errlen, "more than %d lines", KSMPP_FIELDS_MAX);
			return -1;
		}
		f = &st->fields[st->nfields];
		if (parse_line(f, line, (size_t)(end - line), lineno, err, errlen))
			return -1;
		if (ksmpp_status_field(st, f->key)) {
			snprintf(err, errlen, "line %u: %s repeated", lineno, f->key);
			return -1;
		}
		st->nfields++;
	}
	if (!st->nfields) {
		snprintf(err, errlen, "empty");
		return -1;
	}
	return 0;
}

const struct ksmpp_field *ksmpp_status_field(const struct ksmpp_status *st,
					     const char *key)
{
	size_t i;

	for (i = 0; i < st->nfields; i++)
		if (!strcmp(st->fields[i].key, key))
			return &st->fields[i];
	return NULL;
}

const char *ksmpp_status_str(const struct ksmpp_status *st, const char *key,
			     const char *def)
{
	const struct ksmpp_field *f = ksmpp_status_field(st, key);

	return f ? f->value : def;
}

unsigned long long ksmpp_status_num(const struct ksmpp_status *st,
				    const char *key)
{
	const struct ksmpp_field *f = ksmpp_status_field(st, key);

	return f && f->numeric ? f->num : 0;
}

bool ksmpp_status_has_num(const struct ksmpp_status *st, const char *key)
{
	const struct ksmpp_field *f = ksmpp_status_field(st, key);

	return f && f->numeric;
}
