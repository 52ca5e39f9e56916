# SPDX-License-Identifier: GPL-2.0-only
# vm: not-debug
# ksmppctl, every command, bad input included: exit codes and messages,
# the kernel's own reasons when it refuses, status in its three forms
# against /proc/ksmpp, and unload's unmerge progress under merged memory.
# (The guest gets ksmppctl and its libraries from scripts/guest-tools.sh.)
# The module's side of all this (loads, parameters, /proc/ksmpp, unload)
# is the load group's and the races group's, which the debug line runs:
# make test leaves this user-space tool's group out there.
. /tests/lib.sh

version=$(cat /modules/version)

# ctl ARGS...: run ksmppctl; its exit status in $rc, both output streams
# in $out (and in the log, as "| " lines).
ctl() {
	ksmppctl "$@" > /tmp/ctl.out 2>&1
	rc=$?
	out=$(cat /tmp/ctl.out)
	echo "| \$ ksmppctl $* (exit $rc)"
	sed 's/^/| /' /tmp/ctl.out
}
# exits CODE: the last ctl exited with CODE.
exits() { [ "$rc" = "$1" ]; }
# said TEXT: the last ctl's output has TEXT.
said() { printf '%s\n' "$out" | grep -qF -- "$1"; }
# said_line LINE: the last ctl's output has the whole line LINE.
said_line() { printf '%s\n' "$out" | grep -qxF -- "$1"; }
# said_count N TEXT: TEXT is on exactly N lines of the last ctl's output.
said_count() { [ "$(printf '%s\n' "$out" | grep -cF -- "$2")" = "$1" ]; }
# kernel_saw TEXT: a ksmpp line with TEXT in the kernel log since dmesg -c.
kernel_saw() { ksmpp_log | grep -qF -- "$1"; }
# every_proc_field FN: FN KEY VALUE succeeds for every line of /proc/ksmpp.
every_proc_field() {
	local key value
	while read -r key value; do
		"$1" "${key%:}" "$value" || return 1
	done < /proc/ksmpp
}

if [ ! -x /bin/ksmppctl ]; then
	fail "ksmppctl in the guest (scripts/guest-tools.sh)"
	exit 0
fi
pass "ksmppctl in the guest (scripts/guest-tools.sh)"
unload

# --- Without the module -----------------------------------------------------
ctl --version
check "--version: exit 0" exits 0
check "--version names the module's version" said_line "ksmppctl $version"
ctl --help
check "--help: exit 0" exits 0
check "--help documents the exit codes" said "  3  the kernel refused"
check "--help lists the knobs with ranges" said "hint_buffer_size   powers of two 16..1048576, default 1024"
ctl
check "no command: exit 1" exits 1
ctl frobnicate
check "unknown command: exit 1" exits 1
check "unknown command: message" said "unknown command 'frobnicate'"
ctl status --bogus
check "unknown option: exit 1" exits 1

for cmd in "status" "status --json" "status --prometheus" "watch -c 1" "unload"; do
	# shellcheck disable=SC2086
	ctl $cmd
	check "$cmd without the module: exit 2" exits 2
	check "$cmd without the module: message" said "ksmpp is not loaded"
done
ctl set pages_to_scan 100
check "set without the module: exit 2" exits 2
check "set without the module: message" said "ksmpp is not loaded"

# No modules.dep entry in the guest: the installed module is not found.
ctl load
check "load, no installed module: exit 2" exits 2
check "load, no installed module: message" said "module ksmpp not found for kernel $(uname -r)"
ctl load --module /nonexistent/ksmpp.ko
check "load of a missing file: exit 2" exits 2
check "load of a missing file: message" said "/nonexistent/ksmpp.ko"

# Invalid parameters: refused before the kernel sees them.
dmesg -c >/dev/null
ctl load --module $KSMPP_KO pages_to_scan=0x10
check "load pages_to_scan=0x10: exit 1" exits 1
check "load pages_to_scan=0x10: message with the range" \
	said "invalid pages_to_scan '0x10': allowed are 0 to 4294967295"
check "load pages_to_scan=0x10: not loaded" not loaded
check "load pages_to_scan=0x10: the kernel never saw it" not kernel_saw "invalid"
ctl load --module $KSMPP_KO hint_buffer_size=1000
check "load hint_buffer_size=1000: exit 1" exits 1
check "load hint_buffer_size=1000: message" \
	said "invalid hint_buffer_size '1000': allowed are powers of two from 16 to 1048576"
ctl load --module $KSMPP_KO run=3
check "load run=3: exit 1" exits 1
ctl load --module $KSMPP_KO hint_scan_percent=101
check "load hint_scan_percent=101: exit 1" exits 1
ctl load --module $KSMPP_KO max_page_sharing=1
check "load max_page_sharing=1: exit 1" exits 1
ctl load --module $KSMPP_KO sleep_millisecs=abc
check "load sleep_millisecs=abc: exit 1" exits 1
ctl load --module $KSMPP_KO frobs=1
check "load frobs=1: exit 1" exits 1
check "load frobs=1: message" said "unknown parameter 'frobs'"
ctl load --module $KSMPP_KO run
check "load run (no value): exit 1" exits 1
check "nothing loaded by the refusals" not loaded

# The kernel refuses: its reason is shown.
dmesg -c >/dev/null
ctl load --force --module $KSMPP_KO pages_to_scan=0x10
check "load --force pages_to_scan=0x10: kernel refuses, exit 3" exits 3
check "... the kernel's message shown" \
	said "kernel: ksmpp: invalid pages_to_scan '0x10': allowed are 0 to 4294967295"
check "... not loaded" not loaded
if [ -f /modules/ksmpp-test.ko ]; then
	ctl load --force --module /modules/ksmpp-test.ko test_fault=4
	check "load of a module missing a kernel symbol: exit 3" exits 3
	check "... the kernel's message shown" said "kernel: ksmpp: kernel $(uname -r): symbol"
	check "... not loaded" not loaded
fi

# --- Loaded with defaults -----------------------------------------------------
dmesg -c >/dev/null
ctl load --module $KSMPP_KO
check "load with defaults: exit 0" exits 0
check "load with defaults: message" said_line "ksmpp $version loaded"
check "load with defaults: loaded" loaded
check "load with defaults: defaults in /proc/ksmpp" \
	[ "$(proc_field run)/$(proc_field pages_to_scan)/$(proc_field hint_buffer_size)" = 0/100/1024 ]
ctl load --module $KSMPP_KO
check "load when loaded: exit 4" exits 4
check "load when loaded: message" said "ksmpp is already loaded"

# status: stopped, nothing moves, so every figure can be compared.
ctl status
check "status: exit 0" exits 0
check "status: version and kernel" said_line "ksmpp $version on kernel $(uname -r)"
check "status: state" said_line "state:           stopped (run 0; 100 pages every 20 ms)"
check "status: kernel KSM not running" \
	said_line "kernel KSM:      not running (/sys/kernel/mm/ksm/run is 0)"
check "status: memory saved" said_line "memory saved:    0 B (0 pages sharing, 4096 bytes each)"
check "status: sharing ratio" said_line "sharing ratio:   - (0 pages sharing / 0 pages shared)"
check "status: hint hit rate" said_line "hint hit rate:   - (0 merges / 0 pages scanned from hints)"
check "status: hint ring" said "hint ring:       1024 entries, at most 75% of a batch;"
check "status: hooks, filemap_read by a direct call" said "hooks:           filemap_read direct, "

ctl status --json
check "status --json: exit 0" exits 0
check "status --json: an object" sh -c "head -n 1 /tmp/ctl.out | grep -qx '{' && tail -n 1 /tmp/ctl.out | grep -qx '}'"
# json_has KEY VALUE: the last ctl's JSON has "KEY": VALUE (a string unless
# a number).
json_has() {
	case $2 in
	*[!0-9]*|'') said_line "  \"$1\": \"$2\"," ;;
	*) said_line "  \"$1\": $2," ;;
	esac
}
check "status --json: every /proc/ksmpp field, same value" every_proc_field json_has
check "status --json: kernel_ksm_blocks" said_line '  "kernel_ksm_blocks": false'
check "status --json: sharing_ratio null" said_line '  "sharing_ratio": null,'

ctl status --prometheus
check "status --prometheus: exit 0" exits 0
# prom_has KEY VALUE: the last ctl's Prometheus text has metric ksmpp_KEY
# (or ksmpp_KEY_total) at VALUE, with HELP and TYPE; VALUE not a number: no
# metric expected.
prom_has() {
	case $2 in
	*[!0-9]*|'') return 0 ;;
	esac
	{ said_line "ksmpp_$1 $2" || said_line "ksmpp_${1}_total $2"; } &&
		said "# TYPE ksmpp_$1" && said "# HELP ksmpp_$1"
}
check "status --prometheus: every number of /proc/ksmpp, same value" every_proc_field prom_has
check "status --prometheus: ksmpp_info" \
	said_line "ksmpp_info{version=\"$version\",kernel=\"$(uname -r)\"} 1"
check "status --prometheus: state" said_line 'ksmpp_state{state="stopped"} 1'
check "status --prometheus: counters named _total" said_line "# TYPE ksmpp_full_scans_total counter"
check "status --prometheus: only metric, HELP and TYPE lines" \
	not grep -qvE '^(# (HELP|TYPE) ksmpp_[a-z_]+ .+|ksmpp_[a-z_]+(\{[^}]*\})? -?[0-9.]+)$' /tmp/ctl.out

# set
dmesg -c >/dev/null
ctl set pages_to_scan 777
check "set pages_to_scan 777: exit 0" exits 0
check "set pages_to_scan 777: message" said_line "pages_to_scan = 777"
check "set pages_to_scan 777: in /proc/ksmpp" [ "$(proc_field pages_to_scan)" = 777 ]
check "set pages_to_scan 777: as the parameter" \
	[ "$(cat /sys/module/ksmpp/parameters/pages_to_scan)" = 777 ]
ctl set use_zero_pages on
check "set use_zero_pages on: exit 0" exits 0
check "set use_zero_pages on: applied, shown as 1" [ "$(proc_field use_zero_pages)" = 1 ]
ctl set pages_to_scan 0x10
check "set pages_to_scan 0x10: exit 1" exits 1
check "set pages_to_scan 0x10: message" said "invalid pages_to_scan '0x10': allowed are 0 to 4294967295"
check "set pages_to_scan 0x10: old value kept" [ "$(proc_field pages_to_scan)" = 777 ]
check "set pages_to_scan 0x10: the kernel never saw it" not kernel_saw "invalid"
ctl set hint_buffer_size 1000
check "set hint_buffer_size 1000: exit 1" exits 1
ctl set pages_shared 1
check "set of a figure, not a knob: exit 1" exits 1
check "set of a figure: message" said "unknown knob 'pages_shared'"
ctl set pages_to_scan
check "set without a value: exit 1" exits 1
ctl set --force pages_to_scan 0x10
check "set --force pages_to_scan 0x10: kernel refuses, exit 3" exits 3
check "... the kernel's message shown" \
	said "kernel: ksmpp: invalid pages_to_scan '0x10': allowed are 0 to 4294967295"
check "... old value kept" [ "$(proc_field pages_to_scan)" = 777 ]
ctl set --force no_such_knob 1
check "set --force of no knob: exit 1" exits 1

# watch
ctl watch -n 0.5 -c 2
check "watch -n 0.5 -c 2: exit 0" exits 0
check "watch -c 2: two refreshes" said_count 2 "Every 0.5s: ksmppctl status"
check "watch -c 2: two summaries" said_count 2 "ksmpp $version on kernel"
check "watch -c 2: rates after the first" said_count 1 "rates:           0.0 pages/s scanned"
ctl watch -n 0 -c 1
check "watch -n 0: exit 1" exits 1
ctl watch -c 0
check "watch -c 0: exit 1" exits 1
ctl watch -c x
check "watch -c x: exit 1" exits 1

# Running, then blocked by kernel KSM.
ctl set run 1
check "set run 1: exit 0" exits 0
check "set run 1: running" wait_for 10 state_is running
ctl status
check "status: running" said "state:           running (run 1; 777 pages every 20 ms)"
echo 1 > $KSM_SYSFS/run
check "kernel KSM on: blocked" wait_for 10 state_is blocked
ctl status
check "status: kernel KSM blocks ksmpp" \
	said_line "kernel KSM:      running (/sys/kernel/mm/ksm/run is 1): ksmpp does not merge while it runs"
check "status: state blocked" said "state:           blocked"
ctl status --json
check "status --json: kernel_ksm_blocks true" said_line '  "kernel_ksm_blocks": true'
ctl status --prometheus
check "status --prometheus: kernel KSM running" said_line "ksmpp_kernel_ksm_running 1"
check "status --prometheus: state blocked" said_line 'ksmpp_state{state="blocked"} 1'
echo 2 > $KSM_SYSFS/run
echo 0 > $KSM_SYSFS/run
check "kernel KSM off: running again" wait_for 10 state_is running

# unload: unmerge with progress, then remove.
ctl unload
check "unload: exit 0" exits 0
check "unload: unmerge shown" said "unmerging: "
check "unload: unmerged" said "unmerged: 0 pages sharing left"
check "unload: message" said_line "ksmpp unloaded"
check "unload: module gone" not loaded
check "unload: /proc/ksmpp gone" [ ! -e /proc/ksmpp ]

# --- Loaded with parameters (from $KSMPP_MODULE), merging ---------------------
export KSMPP_MODULE=$KSMPP_KO
ctl load pages_to_scan=1000 sleep_millisecs=10 run=1 hint_buffer_size=2048
check "load with parameters: exit 0" exits 0
check "load with parameters: message" \
	said_line "ksmpp $version loaded with pages_to_scan=1000 sleep_millisecs=10 run=1 hint_buffer_size=2048"
check "load with parameters: applied" \
	[ "$(proc_field pages_to_scan)/$(proc_field sleep_millisecs)/$(proc_field run)/$(proc_field hint_buffer_size)" = 1000/10/1/2048 ]
unset KSMPP_MODULE

# With memory merged (ksm-unmerge hook: three processes, 512 shared pages
# each; contents checked around the command): status, then unload.
cmd="ksmppctl status > /tmp/merged.status && ksmppctl status --json > /tmp/merged.json &&"
cmd="$cmd ksmppctl unload > /tmp/merged.unload 2>&1"
check_merging "status and unload while merged, contents intact" ksm-unmerge hook "$cmd"
sed 's/^/| /' /tmp/merged.status /tmp/merged.unload 2>/dev/null
sharing_before=$(sed -n 's/^unmerging: \([0-9]*\) pages sharing$/\1/p' /tmp/merged.unload 2>/dev/null)
check "merged: status shows memory saved" \
	not grep -q '^memory saved:    0 B' /tmp/merged.status
check "merged: status shows a sharing ratio" grep -q '^sharing ratio:   [0-9]' /tmp/merged.status
check "merged: JSON pages_sharing above 0" grep -q '^  "pages_sharing": [1-9]' /tmp/merged.json
check "merged: unload started from pages sharing" [ "${sharing_before:-0}" -gt 0 ]
check "merged: unload unmerged them all" grep -qx 'unmerged: 0 pages sharing left (from [0-9]*)' /tmp/merged.unload
check "merged: unloaded" grep -qx 'ksmpp unloaded' /tmp/merged.unload
check "merged: module gone" not loaded

# --- enable and disable: the handover from kernel KSM and back -----------------
# (With real QEMU guests and merged memory: the qemu group.)
KSM_RUN_FILE=/sys/kernel/mm/ksm/run
mkdir -p /etc/modprobe.d /etc/modules-load.d
echo 123 > /sys/kernel/mm/ksm/pages_to_scan && echo 1 > $KSM_RUN_FILE
ctl enable hint_scan_percent=101
check "enable hint_scan_percent=101: exit 1" exits 1
# ksm_alone PAGES: kernel KSM runs at PAGES pages_to_scan, ksmpp not loaded.
ksm_alone() { [ "$(cat $KSM_RUN_FILE)" = 1 -a "$(cat /sys/kernel/mm/ksm/pages_to_scan)" = "$1" ] && not loaded; }
check "enable hint_scan_percent=101: nothing changed (KSM runs, ksmpp not loaded)" ksm_alone 123
ctl enable --frob
check "enable --frob: exit 1" exits 1
ctl enable --help
check "enable --help: exit 0" exits 0
check "enable --help: nothing changed" ksm_alone 123
ctl disable --help
check "disable --help: exit 0" exits 0
export KSMPP_MODULE=$KSMPP_KO
# ksmtuned under systemd: a stand-in systemctl logs its calls and says that
# ksmtuned is active.
mkdir -p /run/systemd/system /tmp/systemd-bin
printf '#!/bin/sh\necho "$*" >> /tmp/systemctl.calls\n' > /tmp/systemd-bin/systemctl
chmod +x /tmp/systemd-bin/systemctl
# systemctl_called ARGS: ksmppctl ran systemctl ARGS.
systemctl_called() { grep -qxF -- "$*" /tmp/systemctl.calls; }
PATH=/tmp/systemd-bin:$PATH
ctl enable --persist hint_scan_percent=50
check "enable --persist: exit 0" exits 0
check "enable --persist under systemd: ksmtuned stopped and disabled" \
	systemctl_called --quiet disable --now ksmtuned.service
check "enable --persist under systemd: said so" said "stopping ksmtuned (and disabling it)"
check "enable: kernel KSM stopped" [ "$(cat $KSM_RUN_FILE)" = 0 ]
check "enable: ksmpp runs with KSM's pages_to_scan and the given hint_scan_percent" \
	[ "$(cat $KSMPP_PARAMS/run)" = 1 -a "$(cat $KSMPP_PARAMS/pages_to_scan)" = 123 -a \
	  "$(cat $KSMPP_PARAMS/hint_scan_percent)" = 50 ]
check "enable --persist: modprobe.d has those parameters" \
	grep -qE '^options ksmpp .*pages_to_scan=123 .*hint_scan_percent=50 run=1$' /etc/modprobe.d/ksmpp.conf
check "enable --persist: modules-load.d loads ksmpp" grep -qx ksmpp /etc/modules-load.d/ksmpp.conf
ctl enable
check "enable when loaded: exit 4" exits 4
echo 456 > $KSMPP_PARAMS/pages_to_scan
ctl disable --persist
check "disable --persist: exit 0" exits 0
check "disable: ksmpp unloaded, KSM runs with ksmpp's pages_to_scan" ksm_alone 456
check "disable --persist: both files removed" \
	[ ! -e /etc/modprobe.d/ksmpp.conf -a ! -e /etc/modules-load.d/ksmpp.conf ]
ctl disable
check "disable when not loaded: exit 2" exits 2
# Without --persist, ksmtuned is only stopped; without systemd, left alone.
rm -f /tmp/systemctl.calls
ctl enable
check "enable under systemd: ksmtuned stopped, not disabled" \
	[ "$(cat /tmp/systemctl.calls)" = "--quiet is-active ksmtuned.service
--quiet stop ksmtuned.service" ]
ctl disable
rm -rf /run/systemd /tmp/systemctl.calls
ctl enable
check "enable without systemd: systemctl not run" [ ! -e /tmp/systemctl.calls ]
ctl disable
check "disable: exit 0" exits 0
# A file that cannot be removed (a directory in its place) is named.
mkdir /etc/modules-load.d/ksmpp.conf
ctl disable --persist
check "disable --persist, one file cannot go: exit 5" exits 5
check "disable --persist, one file cannot go: names it" \
	said "cannot remove /etc/modules-load.d/ksmpp.conf: Is a directory"
rmdir /etc/modules-load.d/ksmpp.conf
unset KSMPP_MODULE
PATH=${PATH#/tmp/systemd-bin:}
echo 2 > $KSM_RUN_FILE && echo 0 > $KSM_RUN_FILE && echo 100 > /sys/kernel/mm/ksm/pages_to_scan

# --- Gone again ------------------------------------------------------------------
ctl status
check "status after unload: exit 2" exits 2
ctl unload
check "unload when not loaded: exit 2" exits 2
check "unload when not loaded: message" said "ksmpp is not loaded"
unload
