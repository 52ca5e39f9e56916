# SPDX-License-Identifier: GPL-2.0-only
# vm: not-debug
# ksmpp's tracepoints, through the kernel's tracefs: hints, batches,
# merges and unmerges show up as they happen. make test leaves this group
# out on the debug line, to keep the run short: the code around the
# tracepoints runs there in every merging group, and the events' formats
# are the same on 6.1 with and without the debug options.
. /tests/lib.sh

T=/sys/kernel/tracing
mount -t tracefs nodev $T 2>/dev/null
mkdir -p /mnt/ramfs && mount -t ramfs ramfs /mnt/ramfs
dd if=/dev/urandom of=/mnt/ramfs/file bs=64k count=2 2>/dev/null
insmod $KSMPP_KO run=1 sleep_millisecs=10
for e in ksmpp_hint ksmpp_hints_dropped ksmpp_scan_batch ksmpp_merge ksmpp_unmerge; do
	check "event $e exists" [ -d $T/events/ksmpp/$e ]
done
echo 1 > $T/events/ksmpp/enable
echo > $T/trace

# Two processes read the same file: the hints lead to merges.
KSMPP_IO_HOLD=1 ksmpp-io -m /mnt/ramfs/file pread > /tmp/a &
a=$!
KSMPP_IO_HOLD=1 ksmpp-io -m /mnt/ramfs/file pread > /tmp/b &
b=$!
sleep 3
pid=$(cut -d' ' -f1 /tmp/a)
start=$(cut -d' ' -f2 /tmp/a)
check "ksmpp_hint traced with pid and range" \
	sh -c "grep -q 'ksmpp_hint: pid=$pid start=$start len=65536 source=read' $T/trace"
check "ksmpp_scan_batch traced" sh -c "grep -q 'ksmpp_scan_batch: hinted=[0-9]* linear=' $T/trace"
check "ksmpp_merge traced" sh -c "grep -q 'ksmpp_merge: mm=' $T/trace"
echo 2 > /sys/module/ksmpp/parameters/run
check "ksmpp_unmerge traced" sh -c "grep -q 'ksmpp_unmerge: mm=' $T/trace"
echo 0 > $T/events/ksmpp/enable
kill $a $b
wait 2>/dev/null
unload
