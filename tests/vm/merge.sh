# SPDX-License-Identifier: GPL-2.0-only
# Identical MADV_MERGEABLE memory of several processes gets merged (frames
# compared through pagemap, counters, /proc/PID/ksm_merging_pages and
# ksm_stat's ksm_rmap_items), and
# merged memory stays private through copy-on-write, fork, exit, munmap,
# mremap, mprotect, MADV_UNMERGEABLE and transparent huge pages; a process
# whose main thread exited is merged too (tests/vm/bin/ksm-leader-exit.c);
# ksmpp's indexes grow with what they hold and shrink back; ksmpp walks the
# host's processes only after one opted in.
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
