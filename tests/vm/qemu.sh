# SPDX-License-Identifier: GPL-2.0-only
# vm: qemu not-debug not-6.1 not-6.12-deb12 not-6.12-deb13 not-7.x
# For now this group runs only when asked for by name (make test
# TESTS=qemu): in a full run, beside the other guests, its nested guests
# sometimes do not answer within 300 s of their start (seen on 7.x).
# Real QEMU guests (nested, see "Nested guests" in lib.sh), as a host
# administrator runs them: three guests whose RAM is mergeable (QEMU's
# mem-merge=on) read the same golden images, each through one of QEMU's I/O
# modes: its default (preadv() from its thread pool), cache=none (O_DIRECT)
# and aio=io_uring. What merging saves is measured by frames across the
# QEMU processes' guest RAM, counting only pages whose content is a block of
# the image read (guest-ram -r): at most twice the image's pages. In order:
# - kernel KSM merges the reads of image a;
# - ksmppctl enable hands merging over: KSM stopped, its knobs carried
#   over, its merged pages kept;
# - ksmpp with hints on (its default) merges half of image b's reads or more
#   within WINDOW seconds of the guests' reads ending; with hints off (image c,
#   same window) under half the share;
# - ksmppctl disable hands merging back to KSM, with ksmpp's knobs.
# After each step the guests check every file they read against the sums
# made on the host (through their page cache, that is the merged pages).
. /tests/lib.sh

WINDOW=10
GUESTS="g1 g2 g3"

# most IMAGE: the most three guests' reads of IMAGE can save, twice its
# pages of files (scripts/qemu-payload.sh).
most() { awk -v disk="$1" '$1 == disk { print 2 * $2 }' /qemu/golden.pages; }

# saved_from IMAGE: pages saved across the guests' RAM that hold IMAGE's data.
saved_from() { guest-ram -r /qemu/golden-$1.img $(nested_pids) | awk '{ print $NF }'; }
# at_least N IMAGE: saved_from IMAGE is N or more.
at_least() { [ "$(saved_from "$2")" -ge "$1" ]; }

# all COMMAND ANSWER SECONDS: every guest told COMMAND answers ANSWER (their
# last lines shown if not).
all() {
	local g
	for g in $GUESTS; do nested_tell $g "$1"; done
	for g in $GUESTS; do
		nested_did $g "$2" "$3" || { tail -n 5 $NESTED/*.log; return 1; }
	done
}

# all_ready SECONDS: every guest runs.
all_ready() {
	local g
	for g in $GUESTS; do nested_ready $g "$1" || return 1; done
}

# sums_ok STEP: every guest's files match their sums.
sums=0
sums_ok() {
	sums=$((sums + 1))
	check "after $1, every file the guests read matches the host's sums" \
		all "sums $sums" "SUMS-OK $sums" 180
}

# ksm NAME: kernel KSM's knob NAME.
ksm() { cat $KSM_SYSFS/"$1"; }

if ! check "the QEMU payload disk mounts" nested_setup; then
	return 0
fi
max_a=$(most a) max_b=$(most b) max_c=$(most c)
if ! check "the images' sizes are known ($max_a, $max_b, $max_c pages to save)" \
	[ "${max_a:-0}" -gt 0 -a "${max_b:-0}" -gt 0 -a "${max_c:-0}" -gt 0 ]; then
	return 0
fi
unload
t0=$(cut -d. -f1 /proc/uptime)
nested_start g1 threads && nested_start g2 direct && nested_start g3 io_uring
if ! check "three QEMU guests start (TCG in TCG)" all_ready 300; then
	tail -n 20 $NESTED/*.log
	nested_stop
	return 0
fi
echo "started in $(($(cut -d. -f1 /proc/uptime) - t0)) s"

check "the guests read image a" all "read a" "READ a" 300
echo "read in $(($(cut -d. -f1 /proc/uptime) - t0)) s"
echo 1000 > $KSM_SYSFS/pages_to_scan && echo 20 > $KSM_SYSFS/sleep_millisecs &&
	echo 1 > $KSM_SYSFS/run
check "kernel KSM merges half of what the guests read of image a or more" \
	within 180 at_least $((max_a / 2)) a
echo "image a: $(saved_from a) of $max_a pages saved under KSM"
sums_ok "kernel KSM's merging"

# Knobs of KSM's that enable must carry over.
echo 200 > $KSM_SYSFS/pages_to_scan && echo 30 > $KSM_SYSFS/sleep_millisecs
before=$(saved_from a)
check "ksmppctl enable hands over from kernel KSM" env KSMPP_MODULE=$KSMPP_KO ksmppctl enable
check "kernel KSM is stopped, ksmpp runs" [ "$(ksm run)" = 0 -a "$(cat $KSMPP_PARAMS/run)" = 1 ]
check "ksmpp took KSM's knobs (pages_to_scan 200, sleep_millisecs 30)" \
	[ "$(cat $KSMPP_PARAMS/pages_to_scan)" = 200 -a "$(cat $KSMPP_PARAMS/sleep_millisecs)" = 30 ]
check "KSM's merged pages stay merged ($before before)" at_least $((before * 9 / 10)) a
sums_ok "ksmppctl enable"

check "the guests read image b" all "read b" "READ b" 300
sleep $WINDOW
on=$(saved_from b)
echo 0 > $KSMPP_PARAMS/hint_scan_percent
check "the guests read image c" all "read c" "READ c" 300
sleep $WINDOW
off=$(saved_from c)
echo "$WINDOW s after the reads: hints on $on of $max_b, hints off $off of $max_c pages saved"
check "hints on: half of image b or more merged within $WINDOW s of the reads ($on of $max_b)" \
	[ "$on" -ge $((max_b / 2)) ]
check "hints off: under half the share in the same time ($off of $max_c, $on of $max_b)" \
	[ $((2 * off * max_b)) -lt $((on * max_c)) ]
check "the merges of image b came through hints" [ "$(proc_field merges_hint)" -gt 0 ]
sums_ok "ksmpp's merging"

echo 75 > $KSMPP_PARAMS/hint_scan_percent && echo 400 > $KSMPP_PARAMS/sleep_millisecs
check "ksmppctl disable hands back to kernel KSM" ksmppctl disable
handed_back() { [ "$(ksm run)" = 1 -a "$(ksm sleep_millisecs)" = 400 ] && not loaded; }
check "ksmpp is unloaded, kernel KSM runs with ksmpp's knobs (sleep_millisecs 400)" handed_back
sums_ok "ksmppctl disable"

nested_stop
echo 2 > $KSM_SYSFS/run && echo 0 > $KSM_SYSFS/run
echo 100 > $KSM_SYSFS/pages_to_scan && echo 20 > $KSM_SYSFS/sleep_millisecs
