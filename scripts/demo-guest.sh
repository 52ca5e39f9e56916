# SPDX-License-Identifier: GPL-2.0-only
# The demo, inside the guest (/tests/demo.sh; scripts/demo.sh adds the
# workload of tests/bench and /bench/bench.env): VMS vmsim "VMs" read one
# shared disk image for SECONDS_PER_CONFIG seconds under each engine
# configuration of CONFIGS in turn (ksmpp with its default knobs, then kernel
# KSM for comparison), while the engine's status is shown every STATUS_EVERY
# seconds. Lines for the viewer start with "| "; the data (one CSV line a
# second) with "KSMPP-BENCH " (tests/bench/bench-lib.sh).
. /tests/bench-lib.sh

show() { echo "| $*"; }

# snapshots: how many status snapshots fit in a run, one every STATUS_EVERY
# seconds after the start.
snapshots() {
	local n=$(((SECONDS_PER_CONFIG - 1) / STATUS_EVERY))
	[ "$n" -gt 0 ] || n=1
	echo "$n"
}

# reading: the VMs have started reading the image (ksmpp recorded a read;
# a configuration with hints off records none).
reading() {
	[ "$(sed -n 's/^hints_read: *//p' /proc/ksmpp 2>/dev/null)" -gt 0 ] 2>/dev/null
}

# watch_ksmpp: `ksmppctl watch` from when the VMs start reading (10 s after
# ksmpp is loaded at the latest) until the run ends.
watch_ksmpp() {
	local tries=0
	while ! ksmpp_loaded; do
		tries=$((tries + 1))
		[ "$tries" -le 300 ] || return 0
		sleep 0.1
	done
	tries=0
	while ! reading && [ "$tries" -lt 100 ]; do
		tries=$((tries + 1))
		sleep 0.1
	done
	sleep "$STATUS_EVERY"
	ksmppctl watch -n "$STATUS_EVERY" -c "$(snapshots)" 2>&1 | sed 's/^/| /'
}

# watch_ksm: kernel KSM's figures, every STATUS_EVERY seconds.
watch_ksm() {
	local i=0 sharing
	while [ "$i" -lt "$(snapshots)" ]; do
		i=$((i + 1))
		sleep "$STATUS_EVERY"
		sharing=$(cat "$KSM_SYSFS/pages_sharing")
		show "kernel KSM after $((i * STATUS_EVERY)) s: $sharing pages sharing" \
			"($((sharing / 256)) MiB saved), $(cat "$KSM_SYSFS/full_scans") full scans"
	done
}

image_setup
show "kernel $(uname -r): $VMS VMs (vmsim) of $VM_MIB MiB each read files of one" \
	"$IMAGE_MIB MiB disk image ($IMAGE_PATH on ext4) for $SECONDS_PER_CONFIG s"
for name in $CONFIGS; do
	if [ "$name" = ksm ]; then
		show ""
		show "The same workload under the kernel's own KSM, for comparison" \
			"(pages_to_scan $PAGES_TO_SCAN, sleep_millisecs $SLEEP_MILLISECS as for ksmpp):"
		watch_ksm &
	else
		show ""
		show "ksmpp loaded (hints on, default knobs: pages_to_scan $PAGES_TO_SCAN," \
			"sleep_millisecs $SLEEP_MILLISECS); ksmppctl status every $STATUS_EVERY s:"
		watch_ksmpp &
	fi
	# shellcheck disable=SC2046
	config io "$name" $(engine_for "$name") -- -w io -i "$IMAGE_PATH" -n "$VMS" \
		-m "$VM_MIB" -t "$SECONDS_PER_CONFIG" -S "$SEED" -r "$READ_RATE" \
		-c "$CHURN_RATE" -f "$CACHE_PERCENT" -b "$READ_BLOCKS"
	wait
done
kernel_check
