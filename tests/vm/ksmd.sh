# SPDX-License-Identifier: GPL-2.0-only
# ksmpp and the kernel's own ksmd never merge at the same time: loaded while
# /sys/kernel/mm/ksm/run is 1, ksmpp waits (state "blocked") and says why;
# when ksmd starts while ksmpp runs, ksmpp stops merging and says so.
# Always about the module, whatever KSMPP_ENGINE says.
. /tests/lib.sh
export KSMPP_ENGINE=ksmpp

# A ksmpp log line about the kernel's KSM (beyond the "ksmpp:" prefix).
ksmd_logged() { ksmpp_log | sed 's/.*ksmpp: //' | grep -qiE 'ksmd|mm/ksm|kernel.{0,8}ksm'; }
# ksmpp's counters that must not move while ksmd runs.
ksmpp_counters() {
	echo "$(proc_field merges)/$(proc_field pages_shared)/$(proc_field pages_sharing)"
}
# Run ksm-merge two with kernel KSM merging (already running, left so).
# On a failure, say what ksmd was doing: once, under CI's load on the
# debug line, it merged 384 of 2,048 pages in 120 s (1.5-3.3 s in 8 runs
# since, alone and beside a qemu group).
ksmd_merges() {
	KSMPP_ENGINE=ksm KSMPP_ENGINE_CONTROL=none ksm-merge two && return
	local f pid counts=
	for f in full_scans pages_shared pages_sharing pages_unshared pages_volatile; do
		counts="$counts $f $(cat $KSM_SYSFS/$f)"
	done
	echo "FAIL: ksmd:$counts"
	pid=$(pidof ksmd)
	echo "FAIL: ksmd: state $(awk '{ print $3, "utime", $14, "stime", $15 }' /proc/$pid/stat)"
	sed 's/^/FAIL: ksmd: stack /' /proc/$pid/stack 2>/dev/null
	return 1
}

# ksmd runs first.
echo 1000 > $KSM_SYSFS/pages_to_scan
echo 10 > $KSM_SYSFS/sleep_millisecs
echo 1 > $KSM_SYSFS/run
dmesg -c >/dev/null
check "loads with run=1 while ksmd runs" insmod $KSMPP_KO run=1 pages_to_scan=1000 sleep_millisecs=10
check "state blocked while ksmd runs" wait_for 10 state_is blocked
check "blocked state logged" ksmd_logged
check_merging "kernel KSM merges meanwhile" ksmd_merges
check "ksmpp merged nothing (merges/pages_shared/pages_sharing)" [ "$(ksmpp_counters)" = 0/0/0 ]
check "ksmpp scanned nothing" [ "$(proc_field pages_scanned)/$(proc_field full_scans)" = 0/0 ]
check "still blocked" state_is blocked
echo 2 > $KSM_SYSFS/run
unload

# ksmd starts while ksmpp merges.
check "loads with run=1" insmod $KSMPP_KO run=1 pages_to_scan=1000 sleep_millisecs=10
check "state running" wait_for 10 state_is running
dmesg -c >/dev/null
check_merging "ksmd starts under merged pages: contents intact" ksm-unmerge hook \
	'echo 1 > /sys/kernel/mm/ksm/run && . /tests/lib.sh && wait_for 10 state_is blocked'
check "state blocked after ksmd started" state_is blocked
check "stop logged" ksmd_logged
before=$(ksmpp_counters)
check_merging "kernel KSM merges, ksmpp not" ksmd_merges
check "ksmpp counters unchanged while ksmd runs" [ "$(ksmpp_counters)" = "$before" ]
echo 2 > $KSM_SYSFS/run
unload
