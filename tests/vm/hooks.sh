# SPDX-License-Identifier: GPL-2.0-only
# The I/O hooks: in each hook_mode (ftrace, as auto chooses, and kprobes)
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
check "... named in the log" logged "ksmpp: invalid hook_mode 'uprobe': allowed are auto, ftrace and kprobe"

for hook_mode in kprobe auto; do
	insmod $KSMPP_KO hook_mode=$hook_mode
	how=$( [ $hook_mode = auto ] && echo ftrace || echo kprobe )
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
check "hook_mode unchanged after that" grep -qx '\[auto\] ftrace kprobe' \
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
