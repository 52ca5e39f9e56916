/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A /proc/ksmpp as module/procfs.c writes it (same keys, order and
 * alignment), for the ksmppctl unit tests.
 */
#ifndef TEST_KSMPPCTL_SAMPLE_H
#define TEST_KSMPPCTL_SAMPLE_H

#define SAMPLE_FIELDS	37

static const char sample_proc[] =
	"version:            0.1.0\n"
	"kernel:             6.1.0-56-amd64\n"
	"state:              running\n"
	"run:                1\n"
	"pages_to_scan:      100\n"
	"sleep_millisecs:    20\n"
	"max_page_sharing:   256\n"
	"hint_buffer_size:   1024\n"
	"hint_scan_percent:  50\n"
	"pages_shared:       12\n"
	"pages_sharing:      384\n"
	"pages_unshared:     1000\n"
	"pages_volatile:     3\n"
	"full_scans:         7\n"
	"pages_scanned:      123456\n"
	"pages_scanned_hint: 2000\n"
	"merges:             450\n"
	"merges_hint:        40\n"
	"cow_breaks:         3\n"
	"stale_reclaimed:    1\n"
	"processes:          2\n"
	"metadata_bytes:     65536\n"
	"hints_read:         1000\n"
	"hints_direct_read:  10\n"
	"hints_write:        200\n"
	"hints_direct_write: 24\n"
	"hint_bytes:         5242880\n"
	"hints_repeated:     7\n"
	"hints_pending:      30\n"
	"hints_dropped:      4\n"
	"hints_consumed:     1200\n"
	"hints_invalid:      0\n"
	"hints_coalesced:    2\n"
	"hint_pages_skipped: 5\n"
	"hints_missed:       0\n"
	"hooked_filemap_read: ftrace\n"
	"hooked_blkdev_direct_IO: kprobe\n";

/* Just loaded: stopped, nothing merged or scanned yet. */
static const char sample_proc_idle[] =
	"version:            0.1.0\n"
	"kernel:             6.12.95+deb12-amd64\n"
	"state:              stopped\n"
	"run:                0\n"
	"pages_to_scan:      100\n"
	"sleep_millisecs:    20\n"
	"pages_shared:       0\n"
	"pages_sharing:      0\n"
	"pages_scanned:      0\n"
	"pages_scanned_hint: 0\n"
	"merges_hint:        0\n"
	"metadata_bytes:     49152\n";

#endif /* TEST_KSMPPCTL_SAMPLE_H */
