# SPDX-License-Identifier: GPL-2.0-only
# vm: icount
# pread: what ksmpp's hooks add to a cached 4 KiB pread() loop, for a
# process that opted into merging (reading into one range, whose repeats
# ksmpp need not push again, or into a new range each call) and one that
# did not, on tmpfs (shmem read path) and ramfs (filemap_read path), with
# the module not loaded, and loaded with run=0 (hooks only) and with run=1
# in each hook_mode (auto, which hooks by direct calls, ftrace and kprobe).
# The guest runs with QEMU's -icount (scripts/vm.sh): its clock counts
# the instructions executed, one a nanosecond, so preadloop's "ns_per_call"
# is the instructions a call takes, the same in every round. The states
# still take turns in each of PREAD_REPEATS rounds: a round that differs
# from the others shows that something other than the call was counted.
. /tests/bench-lib.sh

engines_off
mkdir -p /mnt/ramfs && mount -t ramfs ramfs /mnt/ramfs
dd if=/dev/urandom of=/tmp/pread.dat bs=4096 count=16 2>/dev/null
cp /tmp/pread.dat /mnt/ramfs/pread.dat
# measure STATE ROUND: one count of each (fs, mergeable) pair.
measure() {
	local fs m file
	for fs in tmpfs ramfs; do
		file=/tmp/pread.dat
		[ $fs = ramfs ] && file=/mnt/ramfs/pread.dat
		for m in 1 2 0; do
			[ $(($2 % 2)) -eq 1 ] && m=$((2 - m))	# alternate the order
			say "pread $1 $fs mergeable=$m round=$2 $(preadloop $file "$PREAD_CALLS" $m)"
		done
	done
}
# Not counted: a first loop. The first round may still count other work
# of a guest just booted (up to 2x on 6.12-deb13 and 7.x, the table's
# spread shows it), which the fewest of the rounds leaves out.
preadloop /tmp/pread.dat "$PREAD_CALLS" 1 >/dev/null
round=1
while [ $round -le "$PREAD_REPEATS" ]; do
	measure unloaded $round
	for mode in auto ftrace kprobe; do
		insmod $KSMPP_KO run=0 hook_mode=$mode ||
			say "error insmod ksmpp run=0 hook_mode=$mode failed"
		measure loaded-$mode-run0 $round
		echo 1 > /sys/module/ksmpp/parameters/run
		measure loaded-$mode-run1 $round
		rmmod ksmpp
	done
	round=$((round + 1))
done
umount /mnt/ramfs
kernel_check
