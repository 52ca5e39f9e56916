#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only
# /init of the ksmpp test guest: runs the test groups named on the kernel
# command line (ksmpptests=a,b), reports through the serial console and
# powers off. The host decides success from the markers printed here.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tmpfs tmp /tmp
# An empty module index, so that busybox's modinfo works.
mkdir -p /lib/modules/$(uname -r) && touch /lib/modules/$(uname -r)/modules.dep
echo 'KSMPP-BOOTED'

# The debug kernel line (ksmppdebug=1 on the command line, see
# scripts/debug-kernel.sh) has kmemleak: after the tests and ksmpp's unload,
# any object allocated since the tests started and no longer referenced
# fails the run. kmemleak reports only objects 5 s old, and one whose
# content changed since the previous scan only on the next scan: wait, then
# scan twice. What boot allocated is left out by its allocation time (a
# clear before the tests would need the same two scans, 15-30 s each under
# TCG).
KMEMLEAK=/sys/kernel/debug/kmemleak
# jiffies: the kernel's tick count now (0 if unknown: nothing left out).
jiffies() { awk '/^jiffies: / { print $2; exit }' /proc/timer_list 2>/dev/null | grep . || echo 0; }
# kmemleak_report SINCE: the reported objects allocated from SINCE (in
# jiffies) on; the scans' "N new suspected memory leaks", which may count
# boot's, stay off the console, which the host judges.
kmemleak_report() {
	local console scanned=
	console=$(cut -f1 /proc/sys/kernel/printk)
	dmesg -n 1
	sleep 5 && echo scan > $KMEMLEAK && echo scan > $KMEMLEAK && scanned=1
	dmesg -n "$console"
	[ -n "$scanned" ] || return 1
	awk -v since="$1" '
		function flush() { if (obj != "" && born >= since) print obj; obj = "" }
		/^unreferenced object/ { flush(); obj = $0; born = since; next }
		{ obj = obj "\n" $0 }
		match($0, /jiffies [0-9]+/) { born = substr($0, RSTART + 8, RLENGTH - 8) + 0 }
		END { flush() }' $KMEMLEAK
}
if [ -n "$ksmppdebug" ]; then
	tests_start=$(jiffies)
	echo "KSMPP-KMEMLEAK objects from jiffies $tests_start on"
	# Merging takes several times longer on this kernel, more so while
	# the host builds the other lines: the test programs wait up to 120 s
	# for a merge (tests/vm/bin/pool.h), not 60.
	export KSMPP_MERGE_TIMEOUT=120
fi

# result "PASS|FAIL what": a result of the guest's own (see tests/lib.sh).
result() { echo "KSMPP-RESULT $*" | tee -a /tmp/ksmpp-results; }

for group in $(echo "$ksmpptests" | tr ',' ' '); do
	echo "KSMPP-GROUP $group"
	# A group whose script stops early (a shell error) fails.
	rm -f /tmp/.group-done
	GROUP=$group sh -c ". /tests/$group.sh; : > /tmp/.group-done"
	[ -e /tmp/.group-done ] ||
		result "FAIL $group: its script stopped before the end"
done

if [ -n "$ksmppdebug" ]; then
	if grep -q '^ksmpp ' /proc/modules && ! rmmod ksmpp; then
		result "FAIL $ksmpptests: ksmpp does not unload before the leak check"
	fi
	if ! report=$(kmemleak_report "$tests_start"); then
		result "FAIL $ksmpptests: no kmemleak scan"
	elif [ -n "$report" ]; then
		echo "$report"
		result "FAIL $ksmpptests: kmemleak found $(echo "$report" | grep -c '^unreferenced object') unreferenced objects"
	else
		result "PASS $ksmpptests: no leak (kmemleak) after the tests and ksmpp's unload"
	fi
fi

# Out-of-tree (O) and unsigned (E) are the only taints a clean run may have.
taint=$(cat /proc/sys/kernel/tainted)
if [ $((taint & ~(4096 | 8192))) -ne 0 ]; then
	result "FAIL kernel taint: unexpected flags $taint"
fi
# Every result again, in one block: a kernel message printed while a group
# ran can cut into a result line on the console; none is printed now.
dmesg -n 1
echo 'KSMPP-RESULTS-BEGIN'
cat /tmp/ksmpp-results 2>/dev/null
echo 'KSMPP-RESULTS-END'
echo 'KSMPP-END'
poweroff -f
