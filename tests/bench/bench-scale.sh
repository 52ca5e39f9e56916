# SPDX-License-Identifier: GPL-2.0-only
# vm: slab_nomerge
# The scale run: what ksmppd costs against ksmd as the host grows. Both
# engines scan SCALE_PAGES_TO_SCAN pages per SLEEP_MILLISECS, hints off, the
# memory of scalesim's processes (tests/bench/scalesim.c). Points:
#  - procs: SCALE_PROCS opted-in processes sharing SCALE_PROCS_MIB MiB,
#    beside a process of SCALE_THREADS sleeping threads that did not opt in;
#  - mem: SCALE_MIB MiB of mergeable memory in 4 processes;
#  - dup: SCALE_CPUS_MIB MiB in 4 processes, SCALE_DUPS percent of whose
#    pages merge (50 at the other points);
#  - cpus: SCALE_CPUS_MIB MiB in 4 processes on this guest's CPUs (each
#    guest of the run has another count), and the I/O workload (vmsim) under
#    ksmpp with hints on, for its LRU drains.
# At each point the engine runs until SCALE_PASSES passes are complete (its
# metadata is then that of all the memory), then its thread's CPU time
# (schedstat), pages scanned and sleeps (one a batch) are taken over
# SCALE_WINDOW seconds, metadata each second of it (its least and most,
# with the xarray nodes it added; ksmpp's slab caches' bytes at the end,
# against its metadata_bytes).
# slab_nomerge keeps each cache apart in /proc/slabinfo. One line a point:
# "scale point axis=A x=X engine=E key=value...".
. /tests/bench-lib.sh

cpus=$(grep -c ^processor /proc/cpuinfo)

# counter ENGINE NAME: one of the engine's counters; empty if it has none.
counter() {
	if [ "$1" = ksm ]; then
		cat "$KSM_SYSFS/$2" 2>/dev/null || true
	else
		sed -n "s/^$2: *//p" /proc/ksmpp
	fi
}

# slab_bytes CACHE...: the bytes of the caches' objects in use.
slab_bytes() {
	awk -v names=" $* " 'index(names, " " $1 " ") { sum += $2 * $4 } END { print sum + 0 }' \
		/proc/slabinfo
}

# metadata ENGINE: the engine's metadata bytes now: ksmpp's metadata_bytes,
# KSM's slab caches (rmap items, stable nodes, mm slots); for both, plus the
# xarray nodes added since the engine started (radix_before): ksmpp keeps
# each page's last content hash in an xarray, which metadata_bytes leaves
# out (scalesim does no file I/O, so the page cache's stay put).
metadata() {
	local own
	if [ "$1" = ksm ]; then
		own=$(slab_bytes ksm_rmap_item ksm_stable_node ksm_mm_slot)
	else
		own=$(counter "$1" metadata_bytes)
	fi
	echo $((own + $(slab_bytes radix_tree_node) - radix_before))
}

# sample ENGINE PID: "cpu_ns pages sleeps" of the engine now; pages is 0
# where KSM does not count them (6.1).
sample() {
	local pages
	pages=$(counter "$1" pages_scanned)
	echo "$(cut -d' ' -f1 "/proc/$2/schedstat") ${pages:-0}" \
		"$(awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$2/status")"
}

# passes_done ENGINE: SCALE_PASSES passes complete since the engine started
# (KSM's count goes on across starts: from passes_base).
passes_done() { [ "$(($(counter "$1" full_scans) - passes_base))" -ge "$SCALE_PASSES" ]; }

# measure AXIS X ENGINE TRACKED: the engine's figures at this point, once
# SCALE_PASSES passes are complete (within SCALE_PASS_TIMEOUT seconds).
measure() {
	local axis=$1 x=$2 engine=$3 tracked=$4 pid left=$SCALE_PASS_TIMEOUT a pages
	local meta meta_min meta_max slab xarray
	pid=$(scanner_pid "$engine")
	while ! passes_done "$engine" && [ "$left" -gt 0 ]; do
		sleep 1
		left=$((left - 1))
	done
	passes_done "$engine" ||
		say "error scale $axis=$x $engine: $SCALE_PASSES passes not done in $SCALE_PASS_TIMEOUT s"
	a=$(sample "$engine" "$pid")
	# Metadata each second: ksmpp's unstable index fills up over a pass.
	meta_min= meta_max=0 left=$SCALE_WINDOW
	while [ "$left" -gt 0 ]; do
		sleep 1
		left=$((left - 1))
		meta=$(metadata "$engine")
		[ -n "$meta_min" ] && [ "$meta_min" -le "$meta" ] || meta_min=$meta
		[ "$meta_max" -ge "$meta" ] || meta_max=$meta
	done
	# shellcheck disable=SC2086
	set -- $a $(sample "$engine" "$pid")
	slab=$meta xarray=$(($(slab_bytes radix_tree_node) - radix_before))
	[ "$engine" = ksm ] || slab=$(slab_bytes ksmpp_node ksmpp_item ksmpp_unstable)
	# Without KSM's count: pages_to_scan a batch (ksmd ends a batch early
	# only at a pass's end).
	pages=$(($5 - $2))
	[ "$pages" -gt 0 ] || pages="~$((($6 - $3) * SCALE_PAGES_TO_SCAN))"
	say "scale point axis=$axis x=$x engine=$engine cpus=$cpus tracked=$tracked" \
		"cpu_ns=$(($4 - $1)) pages=$pages sleeps=$(($6 - $3)) window_s=$SCALE_WINDOW" \
		"meta_min=$meta_min meta_max=$meta_max meta_bytes=$meta slab_bytes=$slab" \
		"xarray_bytes=$xarray own_bytes=$(($(metadata "$engine") - xarray))" \
		"walks=$(counter "$engine" process_walks)"
}

# point AXIS X PROCS MIB THREADS ENGINE [DUP]: scalesim's processes (DUP
# percent of their pages merge, 50 by default), the engine on them, its
# figures.
point() {
	local axis=$1 x=$2 procs=$3 mib=$4 threads=$5 engine=$6 dup=${7:-50} sim tracked left=600
	engines_off
	# Gone first: the shell truncates it in the child, maybe after the
	# check below has read the last point's "ready".
	rm -f /tmp/scalesim.out
	scalesim -n "$procs" -m "$mib" -d "$dup" -T "$threads" > /tmp/scalesim.out &
	sim=$!
	while ! grep -q '^ready' /tmp/scalesim.out 2>/dev/null && kill -0 $sim 2>/dev/null &&
	      [ $left -gt 0 ]; do
		sleep 1
		left=$((left - 1))
	done
	tracked=$(sed -n 's/^ready //p' /tmp/scalesim.out)
	if [ -z "$tracked" ]; then
		say "error scale $axis=$x: scalesim did not start"
		kill $sim 2>/dev/null
		wait $sim
		return
	fi
	passes_base=0
	[ "$engine" = ksm ] && passes_base=$(counter ksm full_scans)
	radix_before=$(slab_bytes radix_tree_node)
	# shellcheck disable=SC2046
	engine_on $(engine_for "$engine") pages_to_scan="$SCALE_PAGES_TO_SCAN"
	measure "$axis" "$x" "$engine" "$tracked"
	engines_off
	kill $sim
	wait $sim
}

# io_counters: ksmppd's "cpu_ns pages sleeps", then its LRU drains (one
# CPU's, all) and hinted merges.
io_counters() {
	echo "$(sample ksmpp "$1") $(counter ksmpp lru_drains_cpu)" \
		"$(counter ksmpp lru_drains_all) $(counter ksmpp merges_hint)"
}

# io_point: the I/O workload with hints on, ksmpp's LRU drains on this
# guest's CPUs.
io_point() {
	local pid a
	engines_off
	vmsim -w io -i "$IMAGE_PATH" -n "$VMS" -m "$VM_MIB" -t $((SCALE_WINDOW + 20)) -S "$SEED" \
		-r "$READ_RATE" -c "$CHURN_RATE" -f "$CACHE_PERCENT" -b "$READ_BLOCKS" \
		-E ksmpp -p "SCALE-IO" > /dev/null 2>&1 &
	# shellcheck disable=SC2046
	engine_on $(engine_for ksmpp)
	pid=$(scanner_pid ksmpp)
	sleep 10
	a=$(io_counters "$pid")
	sleep "$SCALE_WINDOW"
	# shellcheck disable=SC2086
	set -- $a $(io_counters "$pid")
	say "scale point axis=io x=$cpus engine=ksmpp-hints cpus=$cpus" \
		"tracked=$((VMS * VM_MIB * 256)) cpu_ns=$(($7 - $1)) pages=$(($8 - $2))" \
		"sleeps=$(($9 - $3)) window_s=$SCALE_WINDOW drains_cpu=$((${10} - $4))" \
		"drains_all=$((${11} - $5)) merges_hint=$((${12} - $6))"
	wait
	engines_off
}

if [ "$cpus" -eq 2 ]; then
	for n in $SCALE_PROCS; do
		for engine in $SCALE_CONFIGS; do
			point procs "$n" "$n" "$SCALE_PROCS_MIB" "$SCALE_THREADS" "$engine"
		done
	done
	for mib in $SCALE_MIB; do
		for engine in $SCALE_CONFIGS; do
			point mem "$mib" 4 "$mib" 0 "$engine"
		done
	done
	for dup in $SCALE_DUPS; do
		for engine in $SCALE_CONFIGS; do
			point dup "$dup" 4 "$SCALE_CPUS_MIB" 0 "$engine" "$dup"
		done
	done
fi
for engine in $SCALE_CONFIGS; do
	point cpus "$cpus" 4 "$SCALE_CPUS_MIB" 0 "$engine"
done
image_setup
io_point
kernel_check
