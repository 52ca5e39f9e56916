# SPDX-License-Identifier: GPL-2.0-only
# The I/O hooks: in each hook_mode (direct calls, as auto chooses, ftrace
# and kprobes)
# every read and write path yields the hints it should (pid, range, length,
# source, as /sys/kernel/debug/ksmpp/hints lists them), and /proc/ksmpp
# names the mechanism of each hooked function; a process that did not opt
# in yields none, reads repeated into one buffer push their hint again only
# once the scanner has taken it, an I/O storm overflows the ring with the
# counts adding up, and the hooks detach cleanly while I/O runs. The scanner
# stays stopped (but for the repeats), so hints stay pending.
. /tests/lib.sh

HINTS=/sys/kernel/debug/ksmpp/hints
mkdir -p /mnt/ramfs && mount -t ramfs ramfs /mnt/ramfs
dd if=/dev/urandom of=/mnt/ramfs/file bs=64k count=4 2>/dev/null	# page cache
dd if=/dev/urandom of=/tmp/file bs=64k count=4 2>/dev/null		# tmpfs

# hooked_by HOW: each of the 7 hooked functions /proc/ksmpp lists (8 with
# the optional one, where the kernel has it) got HOW.
hooked_by() {
	local fields
	fields=$(grep '^hooked_' /proc/ksmpp | grep -v '^hooked___iomap_dio_read_simple: *none$')
	echo "$fields"
	[ "$(echo "$fields" | grep -c .)" -ge 7 ] && ! echo "$fields" | grep -vq ": *$1\$"
}

check "hook_mode has a description" \
	sh -c "modinfo -F parm $KSMPP_KO | grep -q '^hook_mode:.\{10,\}'"
dmesg -c >/dev/null
check "load refuses hook_mode=uprobe" not insmod $KSMPP_KO hook_mode=uprobe 2>/dev/null
check "... named in the log" logged "ksmpp: invalid hook_mode 'uprobe': allowed are auto, direct, ftrace and kprobe"

for hook_mode in kprobe ftrace auto; do
	insmod $KSMPP_KO hook_mode=$hook_mode
	how=$( [ $hook_mode = auto ] && echo direct || echo $hook_mode )
	check "hook_mode=$hook_mode: every function hooked by $how" hooked_by $how
	# preadv_many: 40 iovecs, 20 adjacent ones as one hint, 20 apart.
	for mode in read pread readv preadv preadv2 uring_read uring_readv aio_read preadv_many; do
		check "$how: page cache $mode hinted" hinted /mnt/ramfs/file $mode
		check "$how: tmpfs $mode hinted" hinted /tmp/file $mode
	done
	for mode in write pwrite; do
		check "$how: page cache $mode hinted" hinted /mnt/ramfs/file $mode
		check "$how: tmpfs $mode hinted" hinted /tmp/file $mode
	done
	[ $hook_mode = auto ] || unload
done
check "hook_mode cannot change while loaded" \
	sh -c '! echo kprobe > /sys/module/ksmpp/parameters/hook_mode'
check "... the log says why" logged "hook_mode is chosen at load time"
check "hook_mode unchanged after that" grep -qx '\[auto\] direct ftrace kprobe' \
	/sys/module/ksmpp/parameters/hook_mode

before=$(grep -c . $HINTS)
ksmpp-io /mnt/ramfs/file pread && ksmpp-io /tmp/file readv && ksmpp-io /tmp/file write
check "no hint for a process that did not opt in" [ "$(grep -c . $HINTS)" = "$before" ]
echo 0 > /sys/module/ksmpp/parameters/hint_scan_percent
ksmpp-io -m /mnt/ramfs/file pread >/dev/null
check "no hint recorded while hints are off" [ "$(grep -c . $HINTS)" = "$before" ]
echo 75 > /sys/module/ksmpp/parameters/hint_scan_percent
check "partial first page hinted as moved (start not page-aligned)" \
	sh -c "grep -q ' 0x[0-9a-f]*064 65536 read' $HINTS"

# Repeats: reads into one buffer, again and again, push their hint once
# while the scanner has not taken it in, and again once it has.
generated() {
	echo $(( $(proc_field hints_read) + $(proc_field hints_direct_read) +
		 $(proc_field hints_write) + $(proc_field hints_direct_write) ))
}
# repeats ARGS...: run ksmpp-io -m ARGS; "hints generated, of them repeated".
repeats() {
	local g=$(generated) r=$(proc_field hints_repeated)
	ksmpp-io -m "$@" >/dev/null
	echo $(( $(generated) - g )) $(( $(proc_field hints_repeated) - r ))
}
set -- $(repeats -n 1000 /mnt/ramfs/file pread)
check "1000 reads into one buffer: 1000 hints ($1)" [ "$1" = 1000 ]
check "... scanner stopped: at most 100 pushed, the others repeats ($2 repeated)" \
	[ "$2" -ge 900 ]
echo 20 > /sys/module/ksmpp/parameters/sleep_millisecs
echo 1 > /sys/module/ksmpp/parameters/run
set -- $(repeats -n 10 -w 300 /mnt/ramfs/file pread)
echo 0 > /sys/module/ksmpp/parameters/run
check "... scanner running, a read every 300 ms: each taken hint pushed again ($(($1 - $2)) of $1)" \
	[ "$1" = 10 -a $(($1 - $2)) -ge 5 ]

# A storm from several processes through a 16-entry ring.
echo 16 > /sys/module/ksmpp/parameters/hint_buffer_size
for i in 1 2 3 4; do ksmpp-io -m -n 2000 /mnt/ramfs/file pread >/dev/null & done
wait
generated=$(generated)
pushed=$((generated - $(proc_field hints_repeated)))
accounted=$(( $(proc_field hints_pending) + $(proc_field hints_dropped) + $(proc_field hints_consumed) ))
check "storm: over 8000 hints generated ($generated)" [ "$generated" -ge 8000 ]
check "storm: ring holds at most 16 ($(proc_field hints_pending))" [ "$(proc_field hints_pending)" -le 16 ]
check "storm: pushed (generated - repeated) = pending + dropped + consumed ($pushed = $accounted)" \
	[ "$pushed" = "$accounted" ]
check "storm: listing bounded by the ring" [ "$(grep -c . $HINTS)" -le 16 ]

# Another tracer holds a function's direct-call slot (the test module
# ksmpp-slot, as a BPF fentry program would): auto hooks that function by
# ftrace, the others keep their direct calls, and reads are hinted either
# way; hook_mode=direct refuses to load. Loaded first, ksmpp holds the
# slots, and the other tracer's registration is refused (-EBUSY).
unload
SLOT=/modules/ksmpp-slot.ko
slot_addr=0x$(awk '$3 == "shmem_file_read_iter" { print $1; exit }' /proc/kallsyms)
dmesg -c >/dev/null
check "a test module holds shmem_file_read_iter's direct-call slot" insmod $SLOT addr=$slot_addr
check "auto: ksmpp loads beside it" insmod $KSMPP_KO
check "... shmem_file_read_iter hooked by ftrace" \
	grep -q '^hooked_shmem_file_read_iter: *ftrace$' /proc/ksmpp
check "... filemap_read keeps its direct call" grep -q '^hooked_filemap_read: *direct$' /proc/ksmpp
check "... the log says why" logged "shmem_file_read_iter: no direct call (error -16"
for mode in pread readv; do
	check "... tmpfs $mode hinted" hinted /tmp/file $mode
	check "... page cache $mode hinted" hinted /mnt/ramfs/file $mode
done
unload
check "hook_mode=direct: load refused while another tracer holds a slot" \
	not insmod $KSMPP_KO hook_mode=direct 2>/dev/null
check "... named in the log" logged "cannot hook shmem_file_read_iter by direct (error -16)"
check "... nothing left loaded" not loaded
check "the test module lets go of its slot" rmmod ksmpp_slot
check "ksmpp holds the slots: hook_mode=direct loads" insmod $KSMPP_KO hook_mode=direct
check "... every function hooked by direct" hooked_by direct
check "... another tracer's registration is refused" not insmod $SLOT addr=$slot_addr 2>/dev/null
check "... with -EBUSY, in the log" logged "cannot hold the direct-call slot at $slot_addr (error -16)"
check "... tmpfs pread still hinted" hinted /tmp/file pread
# A kprobe on a function with a direct call sends each call through
# ftrace's own trampoline, which then jumps to ksmpp's.
KPROBES=/sys/kernel/debug/tracing/kprobe_events
echo 'p:ksmpp_share filemap_read' >> $KPROBES
echo 1 > /sys/kernel/debug/tracing/events/kprobes/ksmpp_share/enable
check "... a kprobe beside the direct call: page cache pread still hinted" \
	hinted /mnt/ramfs/file pread
echo 0 > /sys/kernel/debug/tracing/events/kprobes/ksmpp_share/enable
echo '-:ksmpp_share' >> $KPROBES
unload
check "unloaded: the slot is free again" insmod $SLOT addr=$slot_addr
rmmod ksmpp_slot

# ksmpp needs ftrace on (ksm_guard): with kernel.ftrace_enabled 0 it does
# not load, and loaded, it keeps ftrace from being turned off under it.
# 7.x has deprecated the sysctl: it no longer turns ftrace off.
unload
dmesg -c >/dev/null
if echo 0 2>/dev/null > /proc/sys/kernel/ftrace_enabled &&
   grep -qx 0 /proc/sys/kernel/ftrace_enabled; then
	check "kernel.ftrace_enabled 0: load refused" not insmod $KSMPP_KO 2>/dev/null
	check "... the log says why" \
		logged "(error -16: is kernel.ftrace_enabled 0?), not loading"
	echo 1 > /proc/sys/kernel/ftrace_enabled
else
	check "kernel.ftrace_enabled cannot be 0 on this kernel: it says it is deprecated" \
		logged "ftrace_enabled file is deprecated"
fi
check "kernel.ftrace_enabled 1: loads" insmod $KSMPP_KO
check "loaded: kernel.ftrace_enabled cannot be set to 0" \
	sh -c '! echo 0 > /proc/sys/kernel/ftrace_enabled 2>/dev/null'
check "... it stays 1" grep -qx 1 /proc/sys/kernel/ftrace_enabled

# Detach while I/O runs.
ksmpp-io -m -n 100000000 /mnt/ramfs/file pread >/dev/null &
io=$!
sleep 1
check "unload while I/O runs" rmmod ksmpp
check "I/O still running after unload" kill -0 $io
kill $io
wait $io 2>/dev/null
check "load again after that" insmod $KSMPP_KO
unload

# The scanner visits a hint's whole pages only: a 64 KiB read to page
# offset 100 covers 15 whole pages, and two pages partly.
visited() { echo $(($(proc_field pages_scanned_hint) + $(proc_field hint_pages_skipped))); }
insmod $KSMPP_KO hint_scan_percent=100
KSMPP_IO_HOLD=1 ksmpp-io -m /mnt/ramfs/file pread > /tmp/partial &
io=$!
wait_for 10 [ -s /tmp/partial ]
echo 1 > /sys/module/ksmpp/parameters/run
wait_for 20 [ "$(visited)" -ge 15 ]
sleep 1
check "partly covered pages not visited: 15 of 17 pages visited ($(visited))" \
	[ "$(visited)" = 15 ]
kill $io
wait $io 2>/dev/null
unload
