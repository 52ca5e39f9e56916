/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ksmppctl: picking ksmpp's own lines out of the kernel log, to show why
 * the kernel refused a load or a value.
 */
#ifndef KSMPPCTL_KMSG_H
#define KSMPPCTL_KMSG_H

#include <stdbool.h>
#include <stddef.h>

/*
 * If @rec (@len bytes) is a kernel log line of ksmpp's worth showing, copy
 * its text ("ksmpp: ...", no newline) into @buf and return true. @rec is a
 * /dev/kmsg record ("prio,seq,usec,flags;text\n" and dictionary lines) or a
 * klogctl line ("<prio>[  1.234] text", the timestamp optional). The
 * kernel's notes about tainting (out-of-tree, unsigned) are not worth it.
 */
bool kmsg_ksmpp_line(const char *rec, size_t len, char *buf, size_t buflen);

#endif /* KSMPPCTL_KMSG_H */
