# SPDX-License-Identifier: GPL-2.0-only
# Identical MADV_MERGEABLE memory of several processes gets merged (frames
# compared through pagemap, counters, /proc/PID/ksm_merging_pages and
# ksm_stat's ksm_rmap_items), and
# merged memory stays private through copy-on-write, fork, exit, munmap,
# mremap, mprotect, MADV_UNMERGEABLE and transparent huge pages; a process
# whose main thread exited is merged too (tests/vm/bin/ksm-leader-exit.c);
# ksmpp's indexes grow with what they hold and shrink back; ksmpp walks the
# host's processes only after one opted in; a process that exits with
# hinted pages indexed leaves no metadata behind.
# Each scenario is one program run (tests/vm/bin/ksm-merge.c) that starts
# and stops the engine itself.
. /tests/lib.sh

check_merging "two processes merge" ksm-merge two
check_merging "four processes merge" ksm-merge four
check_merging "copy-on-write isolates the writer" ksm-merge cow
check_merging "fork after merge: writes isolated both ways" ksm-merge fork
check_merging "a sharer exits: the others intact" ksm-merge exit
check_merging "munmap of part of a merged region" ksm-merge munmap
check_merging "mremap of a merged region" ksm-merge mremap
check_merging "mprotect(PROT_READ) on a merged region" ksm-merge mprotect
check_merging "MADV_UNMERGEABLE unmerges that process" ksm-merge unmergeable
check_merging "huge-page-backed regions split and merge" ksm-merge thp
check_merging "a process whose main thread exited is merged" ksm-leader-exit
if [ "$KSMPP_ENGINE" = ksmpp ]; then
	check_merging "ksmpp's indexes grow with what they hold and shrink back" ksm-merge indexes
	check_merging "processes are walked only after an opt-in, and found" ksm-merge discovery
fi
if [ "$KSMPP_ENGINE" = ksmpp ]; then
	# A process that exits with hinted pages in the unstable index: those
	# entries are kept through the pass end after the hint, and its slot
	# outlives it until they are dropped (module/merge.c). At 16 pages a
	# second the pass end is 16 s away; the engine is stopped while the
	# reader exits, so that it is found gone with those entries. Then
	# metadata_bytes is back where it was before the reader.
	metadata_back() { [ "$(proc_field metadata_bytes)" -eq "$idle" ]; }
	hinted_indexed() { [ "$(proc_field pages_unshared)" -ge 15 ]; }
	unload
	dd if=/dev/urandom of=/tmp/gone-file bs=64k count=1 2>/dev/null
	insmod $KSMPP_KO run=1 pages_to_scan=16 sleep_millisecs=1000
	idle=$(proc_field metadata_bytes)
	KSMPP_IO_HOLD=1 ksmpp-io -m /tmp/gone-file pread > /dev/null &
	reader=$!
	wait_for 30 hinted_indexed
	echo 0 > $KSMPP_PARAMS/run
	unshared=$(proc_field pages_unshared)
	kill $reader
	wait $reader 2>/dev/null
	echo 1 > $KSMPP_PARAMS/run
	check "a reader exits with its 15 hinted pages in the unstable index (pages_unshared $unshared)" \
		[ "$unshared" -ge 15 ]
	check "then its entries and its slot are freed: metadata_bytes back to $idle" \
		within 60 metadata_back
	unload
	rm -f /tmp/gone-file
fi
