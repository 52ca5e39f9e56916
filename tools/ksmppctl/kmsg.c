// SPDX-License-Identifier: GPL-2.0-only
/*
 * ksmppctl: ksmpp's lines in the kernel log.
 */
#include <string.h>

#include "ksmppctl.h"
#include "kmsg.h"

#define KSMPP_PREFIX "ksmpp: "

/* Lines the kernel logs about any out-of-tree module: noise here. */
static const char * const noise[] = {
	"loading out-of-tree module taints kernel",
	"module verification failed",
};

bool kmsg_ksmpp_line(const char *rec, size_t len, char *buf, size_t buflen)
{
	const char *text = rec, *end = rec + len, *nl, *semi;
	size_t n, i;

	if (!buflen)
		return false;
	/* Only the first line: /dev/kmsg's dictionary lines follow it. */
	nl = memchr(rec, '\n', len);
	if (nl)
		end = nl;
	if (len && rec[0] == '<') {
		/* klogctl: "<3>[    1.234567] text" */
		text = memchr(rec, '>', (size_t)(end - rec));
		if (!text)
			return false;
		text++;
		if (text < end && *text == '[') {
			text = memchr(text, ']', (size_t)(end - text));
			if (!text)
				return false;
			text++;
			while (text < end && *text == ' ')
				text++;
		}
	} else {
		/* /dev/kmsg: "6,1234,5678,-;text" */
		semi = memchr(rec, ';', (size_t)(end - rec));
		if (!semi)
			return false;
		text = semi + 1;
	}
	n = (size_t)(end - text);
	if (n < strlen(KSMPP_PREFIX) || memcmp(text, KSMPP_PREFIX, strlen(KSMPP_PREFIX)))
		return false;
	for (i = 0; i < ARRAY_SIZE(noise); i++) {
		size_t m = strlen(noise[i]);

		if (n >= strlen(KSMPP_PREFIX) + m &&
		    !memcmp(text + strlen(KSMPP_PREFIX), noise[i], m))
			return false;
	}
	if (n >= buflen)
		n = buflen - 1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	return true;
}
