# SPDX-License-Identifier: GPL-2.0-only
# The races and bounds of a merger, each forced where a test can force it:
# unload while a write to KSM's run sleeps inside ksmpp, a write of 3 to
# KSM's run (which starts nothing), unload with nodes whose content hash is
# wrong, parameter reads during run=2, run=2 under userfaultfd write
# protection, pages that cannot be unmerged, what a scanner batch costs.
# ksmpp-test.ko is the test build with delays and faults to inject
# (KSMPP_TEST_HOOKS, see module/ksmpp.h).
. /tests/lib.sh
export KSMPP_ENGINE=ksmpp
TEST_KO=/modules/ksmpp-test.ko
FAST="run=1 pages_to_scan=1000 sleep_millisecs=10"

# A write that starts kernel KSM sleeps 3 s inside ksmpp's hook (delay
# point 1) while ksmpp unloads: unload waits for it, the write then starts
# KSM, and no code of the module runs after it is gone.
insmod $TEST_KO test_delay_point=1 test_delay_ms=3000 $FAST
check_merging "unload while a write of KSM's run sleeps in ksmpp: contents intact" \
	ksm-unmerge hook 'echo 1 > /sys/kernel/mm/ksm/run & sleep 1; rmmod ksmpp && wait $!'
check "ksmpp unloaded" not loaded
check "kernel KSM started by that write" [ "$(cat $KSM_SYSFS/run)" = 1 ]
echo 2 > $KSM_SYSFS/run

# Only a write of 1 starts kernel KSM: KSM refuses 3 (EINVAL), and ksmpp
# must not unmerge for it.
insmod $KSMPP_KO $FAST
check_merging "a write of 3 to KSM's run leaves ksmpp's pages merged" \
	ksm-unmerge hook '! echo 3 > /sys/kernel/mm/ksm/run &&
		[ "$(sed -n "s/^pages_shared: *//p" /proc/ksmpp)" -gt 0 ]'
unload

# Nodes whose content hash does not match their page (fault 1): ksmpp
# still knows its pages (by node address) and unload unmerges them all.
insmod $TEST_KO test_fault=1
KSMPP_UNMERGE_PROCESSES=2 check_merging "unload with wrong node hashes unmerges everything" \
	ksm-unmerge unload
check "ksmpp unloaded" not loaded

# run=2 sleeps 3 s before it unmerges (delay point 2), holding no lock a
# parameter read needs.
insmod $TEST_KO test_delay_point=2 test_delay_ms=3000 $FAST
echo 2 > $KSMPP_PARAMS/run &
sleep 1
check "parameters read while run=2 unmerges" timeout 1 cat $KSMPP_PARAMS/pages_to_scan
wait
check "run=2 done" state_is stopped
unload

check_merging "run=2 unmerges memory write-protected with userfaultfd" ksm-unmerge uffd-wp

# No private copy can be made (fault 2: as in a full memory cgroup where
# nothing may be killed): run=2 and KSM's start fail at once, unload gives
# up after its retries and hands the pages over to kernel KSM.
insmod $TEST_KO test_fault=2
check_merging "pages that cannot be unmerged: run=2 fails, unload hands them over" \
	ksm-unmerge unbreakable
check "ksmpp unloaded" not loaded

check "a batch ends at the end of a pass" ksm-scan-cost empty
check "a huge sparse area: merged, with quick run writes and unload" ksm-scan-cost sparse
unload
