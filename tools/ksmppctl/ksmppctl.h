/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ksmppctl: kernel-style helpers shared by its sources.
 */
#ifndef KSMPPCTL_KSMPPCTL_H
#define KSMPPCTL_KSMPPCTL_H

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define __printf(a, b)	__attribute__((format(printf, a, b)))

#endif /* KSMPPCTL_KSMPPCTL_H */
