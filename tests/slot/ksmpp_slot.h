/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _KSMPP_SLOT_H
#define _KSMPP_SLOT_H

/* The test module's direct-call trampoline, in assembly: it does nothing. */
void ksmpp_slot_tramp(void);

#endif
