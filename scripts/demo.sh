#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# demo.sh: the main job in a QEMU guest, for the first kernel of KERNELS
# (default 6.1). DEMO_VMS vmsim "VMs" of DEMO_VM_MIB MiB of guest RAM each
# read files of one shared disk image (a tar of real files, on ext4) for
# DEMO_SECONDS, with ksmpp loaded (hints on, default knobs), while the
# guest's `ksmppctl status` is shown live every DEMO_STATUS_EVERY seconds;
# then the same workload under kernel KSM, for comparison (DEMO_CONFIGS).
# The workload and its helpers are the benchmark's (scripts/workload.sh,
# tests/bench/); the guest side is scripts/demo-guest.sh.
# Output in build/demo/: merged.png (merged pages over time), io/CONFIG.csv
# (one line a second: t, merged pages, ..., opportunities), results.md and
# the guest's console log, demo.log.
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/workload.sh"

: "${DEMO_SECONDS:=40}"              # length of each configuration
: "${DEMO_CONFIGS:=ksmpp ksm}"       # ksmpp (default knobs), then kernel KSM
: "${DEMO_STATUS_EVERY:=5}"          # seconds between status snapshots
: "${DEMO_VMS:=4}"
: "${DEMO_VM_MIB:=32}"
: "${DEMO_IMAGE_MIB:=48}"
: "${DEMO_IMAGE_DIR:=/usr/share}"

line=$(echo "${KERNELS:-6.1}" | tr ',' ' ' | cut -d' ' -f1)
out=$KSMPP_BUILD/demo
# The guest gets its own build tree: make test may be using build/LINE.
vm_build=$out/vm
stage=$vm_build/$line/initramfs
log=$out/demo.log

# shellcheck disable=SC2086
need_packages $KSMPP_HOST_PACKAGES gnuplot-nox python3 e2fsprogs

# The workload's settings, read by the guest (/bench/bench.env) and plot.py.
demo_env() {
	cat <<EOF
VMS=$DEMO_VMS
VM_MIB=$DEMO_VM_MIB
SECONDS_PER_CONFIG=$DEMO_SECONDS
CONFIGS="$DEMO_CONFIGS"
STATUS_EVERY=$DEMO_STATUS_EVERY
READ_RATE=500
CHURN_RATE=1000
CACHE_PERCENT=50
READ_BLOCKS=8
SEED=1
PAGES_TO_SCAN=100
SLEEP_MILLISECS=20
IMAGE=/bench/disk.img
IMAGE_MIB=$DEMO_IMAGE_MIB
BENCH_FS=ext4
EOF
}

# summary CONFIG: one line on how much CONFIG merged by the end of its run;
# fails if the guest left no figures for it.
summary() {
	local csv=$out/io/$1.csv
	if ! awk -F, 'NR > 1 && NF > 3 { found = 1 } END { exit !found }' "$csv" 2>/dev/null; then
		echo "$1: no figures (see $log and $out/io.notes.txt)" >&2
		return 1
	fi
	awk -F, -v name="$1" 'NR > 1 && NF > 3 { t = $1; merged = $2; opp = $4 }
		END { printf "%s: %d pages merged (%.1f MiB saved) of %d opportunities (%d%%) after %d s\n",
			name, merged, merged / 256, opp, (opp > 0 ? 100 * merged / opp : 0), t }' "$csv"
}

mkdir -p "$out" "$vm_build/$line"
workload_image "$out" "$DEMO_IMAGE_MIB" "$DEMO_IMAGE_DIR"
log "building ksmpp for kernel $line"
workload_module "$KSMPP_TOP" "$line" demo-ksmpp "$vm_build/$line/modules" \
	> "$out/build.log" 2>&1 || die "module build failed, see $out/build.log"
KSMPP_BUILD=$vm_build "$KSMPP_TOP/scripts/vm.sh" initramfs "$line"
KSMPP_BUILD=$vm_build workload_stage "$line" "$stage" "$out" ext4
demo_env | tee "$out/bench.env" > "$stage/bench/bench.env"
workload_pack "$stage" "$vm_build/$line/initramfs.cpio"

# shellcheck disable=SC2086
log "booting kernel $line under QEMU: $DEMO_VMS VMs, $(echo $DEMO_CONFIGS | wc -w) runs of $DEMO_SECONDS s"
: > "$log"
KSMPP_BUILD=$vm_build KSMPP_VM_TIMEOUT=$((180 + 4 * DEMO_SECONDS)) \
	"$KSMPP_TOP/scripts/vm.sh" run "$line" demo "$log" &
vm=$!
# The viewer's lines, as the guest prints them.
tail -n +1 -f --pid="$vm" "$log" | sed -u -n 's/\r$//; s/^| //p'
wait "$vm"
grep -q KSMPP-END "$log" || die "the guest did not finish, see $log"

rm -rf "$out/io" "$out/io.notes.txt"
workload_split "$log" "$out" io
grep -h '^error' "$out/io.notes.txt" >&2 || true
rm -f "$out/merged.png"
python3 "$KSMPP_TOP/scripts/plot.py" "$out" "$out/merged.png" \
	"ksmpp demo: $DEMO_VMS VMs x $DEMO_VM_MIB MiB reading one disk image, kernel $line"
echo
figures=true
for config in $DEMO_CONFIGS; do summary "$config" || figures=false; done
$figures || die "a run left no figures"
[ -f "$out/merged.png" ] || die "no plot (gnuplot failed?)"
echo "merged pages over time: $out/merged.png (data: $out/io/*.csv, tables: $out/results.md)"
