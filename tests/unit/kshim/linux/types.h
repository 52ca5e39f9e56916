/* SPDX-License-Identifier: GPL-2.0-only */
/* Userspace shim of <linux/types.h> for ksmpp unit tests. */
#ifndef _KSHIM_LINUX_TYPES_H
#define _KSHIM_LINUX_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef unsigned long long u64;
typedef long long s64;

#endif /* _KSHIM_LINUX_TYPES_H */
