#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bench.sh: the ksmpp benchmark (make bench), in QEMU guests of kernel
# line KERNELS (default 6.1; several lines run one after the other).
#
# Guest runs (BENCH_RUNS, each one QEMU boot):
#   io    the I/O workload (tests/bench/vmsim.c) under each configuration of
#         BENCH_IO_CONFIGS: kernel KSM, ksmpp with hints off, ksmpp with
#         hints on at hint ring sizes 256, 1k, 4k, 16k. Same workload, seed,
#         pages_to_scan and sleep_millisecs for all.
#   share the same under BENCH_SHARE_CONFIGS: ksmpp at hint_scan_percent
#         10, 25, 50, 75 and 100 (the share of each batch hints may take).
#   big   the same with BENCH_BIG_FACTOR times the guest RAM per VM
#         (configurations BENCH_BIG_CONFIGS).
#   advisor  the I/O workload with a ring of 256 hints, which bursts
#         overflow at the default rate: ksmpp at fixed pages_to_scan
#         (BENCH_ADVISOR_CONFIGS: 100, 200, 300, 400) against advisor_mode=scan-time
#         starting at 100; the scanner's CPU time for each.
#   zero  the I/O workload with BENCH_ZERO_PERCENT of the guests' own pages
#         zeroed (at boot and by the churn), KSM and ksmpp at
#         use_zero_pages 0 and 1 (BENCH_ZERO_CONFIGS).
#   smart the I/O workload, then the compute workload, under ksmpp with
#         smart_scan 1 and 0, hints off and on (BENCH_SMART_CONFIGS).
#   scope the I/O workload with the VMs in two cgroups, under ksmpp with
#         merge_scope global, cgroup and process (BENCH_SCOPE_CONFIGS): the
#         sharing each scope gives up.
#   misc  identical anonymous data produced by computation (no I/O).
#   pread the cost of ksmpp's hooks on a cached 4 KiB pread() loop, in
#         instructions per call: the guest's clock counts instructions
#         (tests/bench/bench-pread.sh).
#   scale what ksmppd costs against ksmd as the host grows
#         (tests/bench/bench-scale.sh, scalesim.c), hints off, both at
#         BENCH_SCALE_PAGES_TO_SCAN: CPU time per page scanned and per batch,
#         metadata per page tracked, and process walks, as the opted-in
#         processes grow through BENCH_SCALE_PROCS (beside
#         BENCH_SCALE_THREADS other threads), the mergeable memory through
#         BENCH_SCALE_MIB, the share of pages that merge through
#         BENCH_SCALE_DUPS (percent), and the guest's CPUs through
#         BENCH_SCALE_CPUS (one guest each; with the I/O workload for the
#         LRU drains of hinted pages); scale.png plots them.
#   qemu  real QEMU guests (nested TCG, tests/bench/bench-qemu.sh) reading
#         golden disk images beside a tenant of BENCH_QEMU_TENANT_MIB of
#         unique mergeable memory, for each QEMU I/O mode of
#         BENCH_QEMU_MODES under each configuration of BENCH_QEMU_CONFIGS:
#         pages saved across the guests' RAM (counted by frames) and the
#         engine's CPU time, every second (qemu.png). khugepaged's
#         max_ptes_shared is BENCH_QEMU_MAX_PTES_SHARED if set (0: it never
#         collapses a range holding merged pages).
# Output in build/bench/LINE/: one CSV per run and configuration
# (RUN/CONFIG.csv), the engine's final counters (RUN/CONFIG.state), vmsim's
# summary (RUN/CONFIG.summary), pread.txt, results.md (the tables) and
# bench.png (merged pages over time), and each guest's console log.
#
# Every size is a variable (defaults below), e.g.
#   make bench BENCH_SECONDS=30 BENCH_RUNS=io BENCH_IO_CONFIGS="ksm ksmpp-h1k"
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/workload.sh"

: "${BENCH_RUNS:=io share big advisor zero smart scope misc pread scale qemu}"
: "${BENCH_VMS:=4}"                  # VM processes
: "${BENCH_VM_MIB:=32}"              # guest RAM per VM (MiB)
: "${BENCH_BIG_FACTOR:=8}"           # guest RAM factor of the "big" run
: "${BENCH_SECONDS:=60}"             # length of each I/O configuration
: "${BENCH_READ_RATE:=500}"          # pages read per second per VM
: "${BENCH_CHURN_RATE:=1000}"        # private page writes per second per VM
: "${BENCH_CACHE_PERCENT:=50}"       # share of guest RAM that is page cache
: "${BENCH_READ_BLOCKS:=8}"          # most blocks (iovecs) per preadv
: "${BENCH_SEED:=1}"
: "${BENCH_PAGES_TO_SCAN:=100}"      # the engines' knobs, the kernel's defaults
: "${BENCH_SLEEP_MILLISECS:=20}"
: "${BENCH_HINT_SCAN_PERCENT:=75}"   # ksmpp's default
: "${BENCH_IMAGE_MIB:=48}"           # the disk image: a tar of real files
: "${BENCH_IMAGE_DIR:=/usr/share}"   # ... from here, in name order
: "${BENCH_IO_CONFIGS:=ksm ksmpp-off ksmpp-h256 ksmpp-h1k ksmpp-h4k ksmpp-h16k}"
: "${BENCH_BIG_CONFIGS:=ksm ksmpp-off ksmpp-h256 ksmpp-h1k ksmpp-h16k}"
: "${BENCH_SHARE_CONFIGS=ksmpp-p10 ksmpp-p25 ksmpp-p50 ksmpp-p75 ksmpp-p100}"
: "${BENCH_DIRECT_CONFIGS=ksmpp-off ksmpp-h1k}" # O_DIRECT reads
: "${BENCH_ADVISOR_CONFIGS:=ksmpp-h256 ksmpp-h256-s200 ksmpp-h256-s300 ksmpp-h256-s400 ksmpp-h256-adv}"
: "${BENCH_ZERO_CONFIGS:=ksm ksm-z ksmpp ksmpp-z}"
: "${BENCH_SMART_CONFIGS:=ksmpp-off ksmpp-off-ns ksmpp ksmpp-ns}"
: "${BENCH_SCOPE_CONFIGS:=ksmpp ksmpp-cgroup ksmpp-process}"
: "${BENCH_ZERO_PERCENT:=50}"        # share of the guests' own pages zeroed
: "${BENCH_FS:=ext4}"                # the image on ext4 (loop device), or tmpfs
: "${BENCH_COMPUTE_CONFIGS:=ksm ksmpp-off ksmpp-h1k}"
: "${BENCH_COMPUTE_SECONDS:=40}"
: "${BENCH_COMPUTE_RATE:=2000}"      # computed pages per second per VM
: "${BENCH_COMPUTE_BLOCKS:=$((BENCH_VM_MIB * 256 * BENCH_CACHE_PERCENT / 100))}"
: "${BENCH_PREAD_CALLS:=30000}"
: "${BENCH_PREAD_REPEATS:=3}"
: "${BENCH_VMSIM_EXTRA:=}"           # more vmsim options for the I/O runs
: "${BENCH_QEMU_MODES:=threads direct io_uring}"
: "${BENCH_QEMU_CONFIGS:=ksm ksmpp-off ksmpp}"
: "${BENCH_QEMU_GUESTS:=2}"
: "${BENCH_QEMU_SECONDS:=240}"       # from the engine's start
: "${BENCH_QEMU_TENANT_MIB:=1024}"
: "${BENCH_QEMU_MAX_PTES_SHARED:=}"  # empty: the kernel's (256)
: "${BENCH_SCALE_CONFIGS:=ksm ksmpp-off}"
: "${BENCH_SCALE_PAGES_TO_SCAN:=2000}"
: "${BENCH_SCALE_PROCS:=10 100 1000}"   # opted-in processes ...
: "${BENCH_SCALE_PROCS_MIB:=256}"       # ... sharing this memory
: "${BENCH_SCALE_THREADS:=10000}"       # other threads beside them
: "${BENCH_SCALE_MIB:=256 1024 4096 8192}" # mergeable memory, 4 processes
: "${BENCH_SCALE_DUPS:=0 10 25 50 75}"  # percent of pages that merge, 4 processes
: "${BENCH_SCALE_CPUS:=2 4 8}"          # the guest's CPUs, a guest each
: "${BENCH_SCALE_CPUS_MIB:=256}"
: "${BENCH_SCALE_PASSES:=2}"            # passes before a measurement
: "${BENCH_SCALE_WINDOW:=10}"           # seconds measured
: "${BENCH_SCALE_PASS_TIMEOUT:=900}"
export KSMPP_VM_MEMORY=${KSMPP_VM_MEMORY:-3072}

# The scripts (this one included) run from a copy taken now: bash reads a
# script as it runs it, and a checkout being worked on may change them
# during the runs. The copy sees the rest of the tree through symlinks.
if [ -z "${KSMPP_BENCH_SRC:-}" ]; then
	snap=$KSMPP_BUILD/bench/snap
	rm -rf "$snap" && mkdir -p "$snap"
	cp -a "$KSMPP_TOP/scripts" "$snap/scripts"
	for f in "$KSMPP_TOP"/*; do
		case ${f##*/} in scripts|build) ;; *) ln -s "$f" "$snap/${f##*/}" ;; esac
	done
	KSMPP_BENCH_SRC=$KSMPP_TOP KSMPP_BUILD=$KSMPP_BUILD exec "$snap/scripts/bench.sh" "$@"
fi
src=$KSMPP_BENCH_SRC

lines=$(echo "${KERNELS:-6.1}" | tr ',' ' ')
out_top=$KSMPP_BUILD/bench
# The guests get their own build tree: make test may be using build/LINE.
vm_build=$out_top/vm
tests_bench=$src/tests/bench

# shellcheck disable=SC2086
need_packages $KSMPP_HOST_PACKAGES gnuplot-nox python3 e2fsprogs procps

words() { echo $#; }

bench_env() {
	cat <<EOF
VMS=$BENCH_VMS
VM_MIB=$BENCH_VM_MIB
BIG_FACTOR=$BENCH_BIG_FACTOR
SECONDS_PER_CONFIG=$BENCH_SECONDS
READ_RATE=$BENCH_READ_RATE
CHURN_RATE=$BENCH_CHURN_RATE
CACHE_PERCENT=$BENCH_CACHE_PERCENT
READ_BLOCKS=$BENCH_READ_BLOCKS
SEED=$BENCH_SEED
PAGES_TO_SCAN=$BENCH_PAGES_TO_SCAN
SLEEP_MILLISECS=$BENCH_SLEEP_MILLISECS
HINT_SCAN_PERCENT=$BENCH_HINT_SCAN_PERCENT
IMAGE=/bench/disk.img
BENCH_FS=$BENCH_FS
IO_CONFIGS="$BENCH_IO_CONFIGS"
BIG_CONFIGS="$BENCH_BIG_CONFIGS"
SHARE_CONFIGS="$BENCH_SHARE_CONFIGS"
DIRECT_CONFIGS="$BENCH_DIRECT_CONFIGS"
ADVISOR_CONFIGS="$BENCH_ADVISOR_CONFIGS"
ZERO_CONFIGS="$BENCH_ZERO_CONFIGS"
ZERO_PERCENT=$BENCH_ZERO_PERCENT
SMART_CONFIGS="$BENCH_SMART_CONFIGS"
SCOPE_CONFIGS="$BENCH_SCOPE_CONFIGS"
COMPUTE_CONFIGS="$BENCH_COMPUTE_CONFIGS"
COMPUTE_SECONDS=$BENCH_COMPUTE_SECONDS
COMPUTE_RATE=$BENCH_COMPUTE_RATE
COMPUTE_BLOCKS=$BENCH_COMPUTE_BLOCKS
PREAD_CALLS=$BENCH_PREAD_CALLS
PREAD_REPEATS=$BENCH_PREAD_REPEATS
VMSIM_EXTRA="$BENCH_VMSIM_EXTRA"
QEMU_MODES="$BENCH_QEMU_MODES"
QEMU_CONFIGS="$BENCH_QEMU_CONFIGS"
QEMU_GUESTS=$BENCH_QEMU_GUESTS
QEMU_SECONDS=$BENCH_QEMU_SECONDS
QEMU_TENANT_MIB=$BENCH_QEMU_TENANT_MIB
QEMU_MAX_PTES_SHARED=$BENCH_QEMU_MAX_PTES_SHARED
SCALE_CONFIGS="$BENCH_SCALE_CONFIGS"
SCALE_PAGES_TO_SCAN=$BENCH_SCALE_PAGES_TO_SCAN
SCALE_PROCS="$BENCH_SCALE_PROCS"
SCALE_PROCS_MIB=$BENCH_SCALE_PROCS_MIB
SCALE_THREADS=$BENCH_SCALE_THREADS
SCALE_MIB="$BENCH_SCALE_MIB"
SCALE_DUPS="$BENCH_SCALE_DUPS"
SCALE_CPUS_MIB=$BENCH_SCALE_CPUS_MIB
SCALE_PASSES=$BENCH_SCALE_PASSES
SCALE_WINDOW=$BENCH_SCALE_WINDOW
SCALE_PASS_TIMEOUT=$BENCH_SCALE_PASS_TIMEOUT
EOF
}

# prepare LINE: module, test guest, plus the benchmark's files, packed.
prepare() {
	local line=$1 stage=$vm_build/$1/initramfs
	workload_module "$src" "$line" bench-ksmpp "$vm_build/$line/modules" \
		> "$vm_build/$line.build.log" 2>&1 ||
		die "module build failed, see $vm_build/$line.build.log"
	grep '^module source:' "$vm_build/$line.build.log" > "$out/module.txt" || true
	KSMPP_BUILD=$vm_build "$KSMPP_TOP/scripts/vm.sh" initramfs "$line"
	KSMPP_BUILD=$vm_build workload_stage "$line" "$stage" "$out_top" "$BENCH_FS"
	bench_env > "$stage/bench/bench.env"
	cp "$tests_bench/bench-misc.sh" "$tests_bench/bench-pread.sh" \
		"$tests_bench/bench-qemu.sh" "$tests_bench/bench-scale.sh" "$stage/tests/"
	for run in io share big advisor zero smart scope; do
		cp "$tests_bench/bench-io.sh" "$stage/tests/bench-$run.sh"
	done
	workload_pack "$stage" "$vm_build/$line/initramfs.cpio"
}

# timeout_for RUN: seconds the guest may take: twice what it takes on an
# idle host (a busy host slows a TCG guest's clock down too).
timeout_for() {
	local n
	# shellcheck disable=SC2086
	case $1 in
	io)	n=$(words $BENCH_IO_CONFIGS $BENCH_DIRECT_CONFIGS)
		echo $((2 * n * (BENCH_SECONDS + 15) + 300)) ;;
	share)	n=$(words $BENCH_SHARE_CONFIGS)
		echo $((2 * n * (BENCH_SECONDS + 15) + 300)) ;;
	advisor) n=$(words $BENCH_ADVISOR_CONFIGS)
		echo $((2 * n * (BENCH_SECONDS + 15) + 300)) ;;
	zero)	n=$(words $BENCH_ZERO_CONFIGS)
		echo $((2 * n * (BENCH_SECONDS + 15) + 300)) ;;
	smart)	n=$(words $BENCH_SMART_CONFIGS)
		echo $((2 * n * (BENCH_SECONDS + BENCH_COMPUTE_SECONDS + 30) + 300)) ;;
	scope)	n=$(words $BENCH_SCOPE_CONFIGS)
		echo $((2 * n * (BENCH_SECONDS + 15) + 300)) ;;
	big)	n=$(words $BENCH_BIG_CONFIGS)
		echo $((2 * n * (BENCH_SECONDS + 15 + BENCH_BIG_FACTOR * 2) + 300)) ;;
	misc)	n=$(words $BENCH_COMPUTE_CONFIGS)
		echo $((2 * n * (BENCH_COMPUTE_SECONDS + 15) + 300)) ;;
	pread)	echo $((BENCH_PREAD_REPEATS * BENCH_PREAD_CALLS / 100 + 300)) ;;
	scale)	n=$(words $BENCH_SCALE_PROCS $BENCH_SCALE_MIB $BENCH_SCALE_DUPS x)
		echo $((n * $(words $BENCH_SCALE_CONFIGS) * (BENCH_SCALE_PASS_TIMEOUT / 3 + 60) + 300)) ;;
	qemu)	n=$(($(words $BENCH_QEMU_MODES) * $(words $BENCH_QEMU_CONFIGS)))
		echo $((2 * n * (BENCH_QEMU_SECONDS + 120) + 900)) ;;
	esac
}

# The outputs of RUN, removed before it runs again.
run_outputs() {
	case $1 in
	io)	echo io io-direct ;;
	share)	echo share ;;
	advisor) echo advisor ;;
	zero)	echo zero ;;
	smart)	echo smart smart-compute ;;
	scope)	echo scope ;;
	big)	echo big ;;
	misc)	echo compute ;;
	pread)	echo pread.txt ;;
	scale)	echo scale.points ;;
	qemu)	for m in $BENCH_QEMU_MODES; do echo "qemu-$m"; done ;;
	esac
}

# guests_of RUN: the CPU counts of the run's guests: one guest per count of
# BENCH_SCALE_CPUS for scale, else a single guest of 2 CPUs.
guests_of() {
	if [ "$1" = scale ]; then echo "$BENCH_SCALE_CPUS"; else echo 2; fi
}

# memory_for RUN CPUS: the guest's RAM (MiB): enough for the largest point
# of the scale run's 2-CPU guest, KSMPP_VM_MEMORY for every other.
memory_for() {
	local mib=0 m
	if [ "$1" = scale ] && [ "$2" = 2 ]; then
		for m in $BENCH_SCALE_MIB $BENCH_SCALE_PROCS_MIB; do
			[ "$m" -gt "$mib" ] && mib=$m
		done
		echo $((mib + 2048))
	else
		echo "$KSMPP_VM_MEMORY"
	fi
}

# wait_quiet: TCG guests slow down, clock included, when other QEMU guests
# (make test) share the host's CPUs: wait up to BENCH_QUIET_WAIT seconds
# for them to end before a run.
wait_quiet() {
	local left=${BENCH_QUIET_WAIT:-600} others
	while others=$(pgrep -c qemu-system || true); [ "$others" -gt 0 ] && [ "$left" -gt 0 ]; do
		[ $((left % 60)) -eq 0 ] && log "waiting for $others other QEMU guest(s) to end (${left} s more at most)"
		sleep 5
		left=$((left - 5))
	done
}

# Host load while the guests run (TCG guests slow down on a busy host).
host_load() {
	while sleep 10; do
		echo "$(date +%s) $(cut -d' ' -f1 /proc/loadavg) $(pgrep -c qemu-system || true)"
	done
}

start=$SECONDS
workload_image "$out_top" "$BENCH_IMAGE_MIB" "$BENCH_IMAGE_DIR"
for line in $lines; do
	out=$out_top/$line
	mkdir -p "$out" "$vm_build/$line"
	log "[$line] preparing the guest"
	prepare "$line"
	bench_env > "$out/bench.env"
	for run in $BENCH_RUNS; do
		log "[$line] run $run (timeout $(timeout_for "$run") s)"
		for f in $(run_outputs "$run"); do rm -rf "${out:?}/$f"; done
		wait_quiet
		t=$SECONDS
		host_load > "$out/$run.hostload" &
		sampler=$!
		trap 'kill "$sampler" 2>/dev/null || true' EXIT
		rm -f "$out/$run.notes.txt"
		for cpus in $(guests_of "$run"); do
			log="$out/$run.log"
			[ "$run" = scale ] && log="$out/$run-$cpus.log"
			KSMPP_BUILD=$vm_build KSMPP_VM_TIMEOUT=$(timeout_for "$run") \
				KSMPP_VM_CPUS=$cpus KSMPP_VM_MEMORY=$(memory_for "$run" "$cpus") \
				"$KSMPP_TOP/scripts/vm.sh" run "$line" "bench-$run" "$log"
			workload_split "$log" "$out" "$run"
			grep -q KSMPP-END "$log" ||
				log "[$line] run $run did not finish (see $log)"
		done
		kill "$sampler" 2>/dev/null || true
		log "[$line] run $run: $((SECONDS - t)) s"
		grep -h '^error' "$out/$run.notes.txt" 2>/dev/null | sed "s/^/[$line] /" >&2 || true
	done
	python3 "$KSMPP_TOP/scripts/plot.py" "$out"
	log "[$line] results: $out/results.md, $out/bench.png"
done
log "bench: $((SECONDS - start)) s"
