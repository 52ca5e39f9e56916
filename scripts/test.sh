#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# test.sh: every ksmpp test. KERNELS and TESTS (space or comma separated)
# narrow a run: TESTS names in-guest groups (tests/vm/GROUP.sh), "unit",
# "checkpatch", "deb" and "demo".
#   unit tests   tests/unit, under the sanitizers (cmocka)
#   checkpatch   the kernel's style checker on every module source
#   deb          make deb, then the packages installed (DKMS build) and purged
#                in a Debian 12 chroot
#   demo         make demo, short (15 s a run), on the first kernel of KERNELS
#                (default 6.1), and what it showed and saved (demo-test.sh)
#   per kernel   build (Kbuild and DKMS), the KSM structures' layout against
#                the kernel's BTF, then one QEMU guest per group
# A group fails on a failed check, on any warning, BUG, oops, "Bad page" or
# lockup in the guest's kernel log, on an unexpected taint, and when the
# guest does not reach its end marker (crash, panic or timeout).
# The output ends with "N passed, N failed".
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

kernels=$(echo "${KERNELS:-$KSMPP_ALL_KERNELS}" | tr ',' ' ')
all_groups=$(cd "$KSMPP_TOP/tests/vm" && ls ./*.sh | sed 's|^\./||; s|\.sh$||' | grep -vx 'init\|lib' | tr '\n' ' ')
tests=$(echo "${TESTS:-unit checkpatch deb demo $all_groups}" | tr ',' ' ')
# Every result is a "PASS what" or "FAIL what" line in a results file;
# jobs running in parallel write their own, summed at the end.
results=$KSMPP_BUILD/results
mkdir -p "$KSMPP_BUILD"
: > "$results"

result() {
	echo "$1 $2" >> "$results"
	[ "$1" = PASS ] || echo "FAIL: $2"
}

# stage NAME COMMAND...: run a stage, print how long it took.
stage() {
	local name=$1 start=$SECONDS
	shift
	"$@"
	echo "stage $name: $((SECONDS - start)) s"
}

wants() { grep -qw -- "$1" <<<"$tests"; }

unit_tests() {
	local log=$KSMPP_BUILD/unit.log status name
	if make -s -C "$KSMPP_TOP/tests/unit" OUT="$KSMPP_BUILD/unit" run >"$log" 2>&1; then :; else
		result FAIL "unit tests: make run failed, see $log"
	fi
	grep -E '^\[  (PASSED|FAILED)  \] [0-9]' "$log" || true
	while read -r status name; do
		result "$status" "unit: $name"
	done < <(sed -n 's/^\[       OK \] /PASS /p; s/^\[  FAILED  \] \([a-z]\)/FAIL \1/p' "$log")
}

# count_lines PREFIX COMMAND...: one result per "PASS|FAIL what" line the
# command prints; other lines are shown as they are.
count_lines() {
	local prefix=$1 line
	shift
	while IFS= read -r line; do
		case $line in
		"PASS "*|"FAIL "*) result "${line%% *}" "$prefix${line#* }" ;;
		*) echo "$line" ;;
		esac
	done < <("$@" || true)
}

# Lines of a guest's console that fail a run, wherever they come from.
KERNEL_BAD='WARNING:|BUG:|Oops|Bad page|soft lockup|hard LOCKUP|Kernel panic|general protection|Call Trace|blocked for more than|UBSAN:|KASAN:|kmemleak:|unreferenced object|possible circular locking|inconsistent lock state|Tainted:'
# Lines KERNEL_BAD matches that are no failure: the debug kernel's kmemleak
# starting up.
KERNEL_FINE='kmemleak: Kernel memory leak detector initialized'

# result_lines LOG: the guest's results: the block it prints at the end
# (which kernel messages cannot cut into) if it got that far, else every
# result line it printed as the groups ran.
result_lines() {
	if grep -q '^KSMPP-RESULTS-END$' "$1"; then
		sed -n '/^KSMPP-RESULTS-BEGIN$/,/^KSMPP-RESULTS-END$/p' "$1"
	else
		cat "$1"
	fi
}

# judge LINE GROUP LOG: count the results a guest printed.
judge() {
	local line=$1 group=$2 log=$3 p=0 f=0 status text
	while read -r status text; do
		if [ "$status" = PASS ]; then p=$((p + 1)); else f=$((f + 1)); fi
		result "$status" "[$line] $text"
	done < <(result_lines "$log" | sed -n 's/.*KSMPP-RESULT \(PASS\|FAIL\) /\1 /p')
	while read -r text; do
		f=$((f + 1))
		result FAIL "[$line] $group: kernel log: $text"
	done < <(grep -E "$KERNEL_BAD" "$log" | grep -vF "$KERNEL_FINE" | head -n 5)
	if ! grep -q KSMPP-END "$log"; then
		f=$((f + 1))
		result FAIL "[$line] $group: guest did not finish (panic, crash or timeout), see $log"
	elif [ $p -eq 0 ]; then
		f=$((f + 1))
		result FAIL "[$line] $group: ran no check"
	fi
	echo "[$line] $group: $p passed, $f failed"
}

# build_line LINE: fetch the kernel, build the modules, check the layout.
build_line() {
	local line=$1 env
	rm -f "$KSMPP_BUILD/$line/initramfs.cpio"
	env=$("$KSMPP_TOP/scripts/kernel.sh" prepare "$line")
	echo "[$line] kernel $(sed -n 's/^KVER=//p' "$env") (package $(sed -n 's/^PKGVER=//p' "$env"))"
	if ! "$KSMPP_TOP/scripts/build-module.sh" "$line" >"$KSMPP_BUILD/$line.build.log" 2>&1; then
		result FAIL "[$line] module build (Kbuild and DKMS), see $KSMPP_BUILD/$line.build.log"
		return 0
	fi
	result PASS "[$line] build with Kbuild and DKMS"
	count_lines "[$line] " "$KSMPP_TOP/scripts/layout-check.sh" "$line"
	"$KSMPP_TOP/scripts/vm.sh" initramfs "$line"
}

# guests N GROUP...: the guests to boot, a line each, its groups comma
# separated: one guest per group, or with N > 0 the groups dealt out to N
# guests.
guests() {
	local n=$1 i=0 group
	local -a guest=()
	shift
	if [ "$n" -le 0 ]; then
		printf '%s\n' "$@"
		return
	fi
	for group; do
		guest[i % n]+=${guest[i % n]:+,}$group
		i=$((i + 1))
	done
	printf '%s\n' "${guest[@]}"
}

# guest_tests LINE: the guests of LINE's groups one after the other (one
# per group, or the line's VM_BATCHES, see its env file), in the
# background; results and output in build/LINE/.
guest_tests() {
	local line=$1 groups name start=$SECONDS guest_start VM_BATCHES=0
	# shellcheck disable=SC1090
	. "$KSMPP_CACHE/kernels/$line.env"
	results=$KSMPP_BUILD/$line/results
	: > "$results"
	# shellcheck disable=SC2086
	for groups in $(guests "$VM_BATCHES" $vm_groups); do
		guest_start=$SECONDS
		name=${groups//,/+}
		"$KSMPP_TOP/scripts/vm.sh" run "$line" "$groups" "$KSMPP_BUILD/$line/logs/$name.log"
		judge "$line" "$name" "$KSMPP_BUILD/$line/logs/$name.log"
		echo "guest $line $name: $((SECONDS - guest_start)) s"
	done
	echo "stage guests $line: $((SECONDS - start)) s"
}

# shellcheck disable=SC2086
need_packages $KSMPP_HOST_PACKAGES
total=$SECONDS
if wants unit; then
	stage unit unit_tests
fi
if wants checkpatch; then
	stage checkpatch count_lines "" "$KSMPP_TOP/scripts/checkpatch.sh"
fi
if wants deb; then
	stage deb count_lines "" "$KSMPP_TOP/scripts/deb-test.sh"
fi
if wants demo; then
	stage demo count_lines "" "$KSMPP_TOP/scripts/demo-test.sh"
fi
vm_groups=$(for group in $all_groups; do if wants "$group"; then echo "$group"; fi; done)
if [ -n "$vm_groups" ]; then
	# Each guest uses one host CPU (single-threaded TCG): lines run side by
	# side, each as soon as it is built, the slowest (debug, several times
	# the others' time) first; the next line builds meanwhile.
	built=""
	jobs=${KSMPP_JOBS:-$(nproc)}
	for line in $(echo "$kernels" | tr ' ' '\n' | grep -x debug) \
		$(echo "$kernels" | tr ' ' '\n' | grep -vx debug); do
		stage "build $line" build_line "$line"
		[ -f "$KSMPP_BUILD/$line/initramfs.cpio" ] || continue
		built="$built $line"
		while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
		guest_tests "$line" > "$KSMPP_BUILD/$line/output" 2>&1 &
	done
	wait
	for line in $built; do
		cat "$KSMPP_BUILD/$line/output"
		cat "$KSMPP_BUILD/$line/results" >> "$results"
	done
fi
echo "total: $((SECONDS - total)) s"
passed=$(grep -c '^PASS ' "$results" || true)
failed=$(grep -c '^FAIL ' "$results" || true)
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
