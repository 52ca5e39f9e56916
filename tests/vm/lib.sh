# SPDX-License-Identifier: GPL-2.0-only
# Helpers for the in-guest test groups (sourced by each /tests/GROUP.sh).

KSMPP_KO=/modules/ksmpp.ko

# Results go to the console and to /tmp/ksmpp-results, which /init prints
# again at the end (see there).
pass() { echo "KSMPP-RESULT PASS $GROUP: $*" | tee -a /tmp/ksmpp-results; }
fail() { echo "KSMPP-RESULT FAIL $GROUP: $*" | tee -a /tmp/ksmpp-results; }

# check NAME COMMAND...: one result, from COMMAND's exit status.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

# check_merging NAME COMMAND...: check, for a test program that waits for the
# engine to merge: once one has failed, the next ones wait less (15 s for a
# merge, 5 s for counters), so that a group ends in time even against an
# engine that merges nothing.
check_merging() {
	local name=$1
	shift
	if "$@"; then
		pass "$name"
	else
		fail "$name"
		export KSMPP_MERGE_TIMEOUT=15 KSMPP_COUNTER_TIMEOUT=5
	fi
}

not() { ! "$@"; }
loaded() { grep -q '^ksmpp ' /proc/modules; }
unload() { ! loaded || rmmod ksmpp; }

# uptime_s: whole seconds since the guest booted.
uptime_s() { cut -d. -f1 /proc/uptime; }
# proc_field KEY: the value of KEY in /proc/ksmpp.
proc_field() { sed -n "s/^$1: *//p" /proc/ksmpp; }
# state_is STATE: ksmpp's state (/proc/ksmpp) is STATE.
state_is() { [ "$(proc_field state 2>/dev/null)" = "$1" ]; }

# ksmpp_log: the module's own kernel log lines since the last dmesg -c
# (the kernel's notes about loading an unsigned out-of-tree module left out).
ksmpp_log() {
	dmesg | grep 'ksmpp: ' | grep -v 'taints kernel\|module verification failed'
}

# logged TEXT: TEXT appears in the kernel log since the last dmesg -c.
logged() { dmesg | grep -qF -- "$1"; }

# The merge engine the merging tests drive: ksmpp (the module, default) or
# ksm (the kernel's own KSM, to check the tests themselves). From the
# environment or the kernel command line (ksmppengine=, see scripts/vm.sh).
KSMPP_ENGINE=${KSMPP_ENGINE:-${ksmppengine:-ksmpp}}
export KSMPP_ENGINE
KSM_SYSFS=/sys/kernel/mm/ksm
KSMPP_PARAMS=/sys/module/ksmpp/parameters

# engine_start [PAGES_TO_SCAN [SLEEP_MILLISECS]]: the engine merges from now
# on, at 1000 pages every 10 ms unless told otherwise (or as its advisor
# sets pages_to_scan, if advisor_mode is scan-time).
engine_start() {
	local pages=${1:-1000} sleep=${2:-10} dir=$KSMPP_PARAMS
	[ "$KSMPP_ENGINE" = ksm ] && dir=$KSM_SYSFS
	if [ "$KSMPP_ENGINE" = ksm ] || loaded; then
		if ! grep -qF '[scan-time]' $dir/advisor_mode 2>/dev/null; then
			echo "$pages" > $dir/pages_to_scan || return 1
		fi
		echo "$sleep" > $dir/sleep_millisecs && echo 1 > $dir/run
	else
		insmod $KSMPP_KO pages_to_scan="$pages" sleep_millisecs="$sleep" run=1
	fi
}

# engine_knob NAME VALUE: set the engine's knob NAME; ksmpp, if not loaded,
# is loaded with NAME=VALUE.
engine_knob() {
	if [ "$KSMPP_ENGINE" = ksm ]; then
		echo "$2" > $KSM_SYSFS/"$1"
	elif loaded; then
		echo "$2" > /sys/kernel/mm/ksmpp/"$1"
	else
		insmod $KSMPP_KO "$1=$2"
	fi
}

# engine_unmerge: unmerge everything and stop (run=2); returns once done.
engine_unmerge() {
	if [ "$KSMPP_ENGINE" = ksm ]; then
		echo 2 > $KSM_SYSFS/run
	else
		echo 2 > $KSMPP_PARAMS/run && wait_for 60 state_is stopped
	fi
}

# engine_stop: no more merging and nothing left merged: ksmpp unloaded
# (which unmerges), or KSM's run=2.
engine_stop() {
	if [ "$KSMPP_ENGINE" = ksm ]; then
		echo 2 > $KSM_SYSFS/run
	else
		unload
	fi
}

# engine_counter NAME: pages_shared, pages_sharing, full_scans... of the
# engine under test.
engine_counter() {
	if [ "$KSMPP_ENGINE" = ksm ]; then
		cat $KSM_SYSFS/"$1"
	else
		proc_field "$1"
	fi
}

# wait_for SECONDS COMMAND...: poll COMMAND every 100 ms until it succeeds;
# fails when SECONDS have passed.
wait_for() {
	local left=$(($1 * 10))
	shift
	until "$@"; do
		[ $left -gt 0 ] || return 1
		sleep 0.1
		left=$((left - 1))
	done
}

# within SECONDS COMMAND...: poll COMMAND every second until it succeeds;
# fails once SECONDS have passed by the clock (for a slow COMMAND, where
# wait_for's count of polls would run far longer).
within() {
	local up end
	read -r up _ < /proc/uptime
	end=$((${up%.*} + $1))
	shift
	until "$@"; do
		read -r up _ < /proc/uptime
		[ "${up%.*}" -lt $end ] || return 1
		sleep 1
	done
}

# bounded SECONDS COMMAND...: COMMAND's exit status, or 124 if it has not
# ended after SECONDS. It is left behind then (a process stuck in the kernel
# cannot be killed, and busybox's timeout would wait for it), and the group
# goes on.
bounded() {
	local seconds=$1 status
	shift
	bounded_runs=$((${bounded_runs:-0} + 1))
	status=/tmp/.bounded.$$.$bounded_runs
	rm -f "$status"
	("$@"; echo $? > "$status.tmp" && mv "$status.tmp" "$status") &
	if wait_for "$seconds" [ -e "$status" ]; then
		wait $! 2>/dev/null
		return "$(cat "$status")"
	fi
	echo "still running after $seconds s, left behind: $*"
	return 124
}

# zram_swap_on SIZE: swap on /dev/zram0 (SIZE as "256M"), unless a group
# before this one in the same guest left it on.
zram_swap_on() {
	kmod_load zram || return 1
	grep -q '^/dev/zram0 ' /proc/swaps && return 0
	echo "$1" > /sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null &&
		swapon /dev/zram0
}

# zram_swap_off: swap off, and /dev/zram0 reset for the next group.
zram_swap_off() {
	swapoff /dev/zram0 && echo 1 > /sys/block/zram0/reset
}

# cgroup2_mounted: the cgroup v2 hierarchy is at /sys/fs/cgroup.
cgroup2_mounted() {
	grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts ||
		mount -t cgroup2 none /sys/fs/cgroup
}

# memory_cgroup DIR: DIR, a cgroup v2 directory with the memory controller.
memory_cgroup() {
	cgroup2_mounted &&
		echo +memory > /sys/fs/cgroup/cgroup.subtree_control && mkdir -p "$1"
}

# hinted [OPTION...] FILE MODE: the hints "ksmpp-io -m" expects for its I/O
# are all listed in /sys/kernel/debug/ksmpp/hints (ksmpp loaded, hints on).
hinted() {
	local expected line
	expected=$(ksmpp-io -m "$@") || return 1
	[ -n "$expected" ] || return 1
	echo "$expected" | while read -r line; do
		grep -qxF "$line" /sys/kernel/debug/ksmpp/hints ||
			{ echo "missing hint: $line"; return 1; }
	done
}

# kmod_load NAME: load the Debian kernel module NAME and what it needs, as
# scripts/guest-modules.sh packed them in /kmod.
kmod_load() {
	local ko
	while read -r ko; do
		grep -q "^${ko%.ko} " /proc/modules || insmod "/kmod/$ko" || return 1
	done < "/kmod/$1.load"
}

# kmods NAME...: Debian modules, those the line has as modules (the others
# are built in).
kmods() {
	local m
	for m; do
		[ ! -f "/kmod/$m.load" ] || kmod_load "$m" || return 1
	done
}

# disk NAME: the device of disk NAME (serial ksmpp-NAME).
disk() {
	local d
	for d in /sys/block/vd*; do
		if [ "$(cat "$d/serial" 2>/dev/null)" = "ksmpp-$1" ]; then
			echo "/dev/${d##*/}"
			return 0
		fi
	done
	return 1
}

# Nested guests (groups whose first lines hold "# vm: qemu"): real QEMU
# guests, from the disk of scripts/qemu-payload.sh, mounted at /qemu. Each
# boots Debian 12's kernel, whatever the test guest's line (a 6.12 kernel
# died there under nested TCG; see qemu-payload.sh), and
# has 128 MiB of guest RAM (mem-merge=on, QEMU's default), the golden images
# a, b and c as its disks, and runs tests/vm/nested/guest-init.sh, which
# reads a disk or checks the sums when told. They start from the state of
# one booted on the host (guest.state), so all start with the same memory.
# State in $NESTED: NAME.pid, NAME.log (its console), NAME.in (its input).
NESTED=/tmp/nested

# nested_setup: the payload disk mounted (read-only).
nested_setup() {
	kmods virtio_pci virtio_blk crc32c_generic crc32c_cryptoapi ext4 &&
		wait_for 10 disk qemu >/dev/null && mkdir -p /qemu $NESTED || return 1
	grep -q ' /qemu ' /proc/mounts || mount -t ext4 -o ro "$(disk qemu)" /qemu
}

# nested_start NAME [OPTIONS]: start guest NAME, its disks read through
# QEMU's I/O as OPTIONS of -drive set it: by default (aio=threads,
# cache=writeback) preadv() from QEMU's thread pool, cache=none O_DIRECT,
# aio=io_uring io_uring (QEMU does not register its buffers, which ksmpp
# could not hint). nested_ready tells when it runs.
nested_start() {
	local name=$1 options=${2:+,$2} disk
	rm -f $NESTED/$name.*
	mkfifo $NESTED/$name.in
	set -- $(sed -n 1p /qemu/guest.args)
	for disk in a b c; do
		set -- "$@" -drive file=golden-$disk.img,format=raw,if=virtio,readonly=on$options
	done
	# The console input is opened read-write: never blocks, never ends.
	(cd /qemu && QEMU_MODULE_DIR=qemu/modules exec qemu/ld.so --library-path qemu/lib \
		qemu/qemu-system-x86_64 -L qemu/share "$@" -append "$(sed -n 2p guest.args)" \
		-serial stdio -incoming "exec:cat guest.state" \
		0<>$NESTED/$name.in >$NESTED/$name.log 2>&1) &
	echo $! > $NESTED/$name.pid
}

# nested_ready NAME SECONDS: guest NAME answers within SECONDS (input that
# comes while its state still loads is lost: asked every 2 s).
nested_asked() { nested_tell "$1" "sums 0" && sleep 2 && nested_said "$1" "SUMS-OK 0"; }
nested_ready() { within "$2" nested_asked "$1"; }

# nested_boot SECONDS NAME[:OPTIONS]...: guests NAME started (with -drive
# OPTIONS, as nested_start takes them), every one answering within SECONDS.
# A start that fails is shown and tried once more: before any engine runs,
# a guest dies of nested TCG alone (on a busy host, both guests' kernels on
# 6.12-deb12 once died of an exception in an interrupt while they started;
# a 6.12-deb13 one once did not answer within 600 s).
nested_boot() {
	local seconds=$1 try guest ready
	shift
	for try in first second; do
		ready=true
		for guest; do
			case $guest in
			*:*)	nested_start "${guest%%:*}" "${guest#*:}" ;;
			*)	nested_start "$guest" ;;
			esac
		done
		for guest; do
			nested_ready "${guest%%:*}" "$seconds" || { ready=false; break; }
		done
		$ready && return 0
		echo "the guests did not start within $seconds s ($try start); their consoles:"
		nested_show
		nested_stop
	done
	return 1
}

# nested_said NAME TEXT: guest NAME printed a line QGUEST-TEXT.
nested_said() { tr -d '\r' < $NESTED/$1.log | grep -qx "QGUEST-$2"; }

# nested_tell NAME COMMAND: a command of guest-init.sh to guest NAME (the
# input opened read-write: never blocks, even with QEMU gone); with
# nested_did, its answer (QGUEST-TEXT) within SECONDS.
nested_tell() { echo "$2" 1<>$NESTED/$1.in; }
nested_did() { within "$3" nested_said "$1" "$2"; }

# nested_show: each guest's console, without the answers to nested_ready
# (when a guest fails: an oops of its kernel shows whole).
nested_show() {
	local log
	for log in $NESTED/*.log; do
		echo "==> $log"
		tr -d '\r' < "$log" | grep -v -x -e 'sums 0' -e 'QGUEST-SUMS-OK 0' | tail -n 100
	done
}

# nested_saved DISK...: the pages saved across the running guests' RAM
# (tests/vm/bin/guest-ram.c), "IMAGE ZERO OTHER HUGE": those holding a block
# of one of the golden images DISK (a, b or c), zero-filled ones, the rest;
# then the guests' pages that are part of a huge page.
nested_saved() {
	local disk images=
	for disk; do images="$images -r /qemu/golden-$disk.img"; done
	# shellcheck disable=SC2086
	guest-ram $images $(nested_pids) | awk '{
		for (i = 14; i <= NF; i += 2) image += $i
		print image, $8, $6 - $8 - image, $10 }'
}

# nested_across: the frames that two or more running guests' RAM maps.
nested_across() { guest-ram $(nested_pids) | sed 's/.* across \([0-9]*\).*/\1/'; }

# nested_pids: the running guests' QEMU processes.
nested_pids() { cat $NESTED/*.pid 2>/dev/null; }

# nested_stop: every guest ended.
nested_stop() {
	local pid
	for pid in $(nested_pids); do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	rm -f $NESTED/*.pid
}
