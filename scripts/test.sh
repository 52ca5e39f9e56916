#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# test.sh: every ksmpp test. KERNELS and TESTS (space or comma separated)
# narrow a run: TESTS names in-guest groups (tests/vm/GROUP.sh), "unit",
# "checkpatch", "commands", "deb" and "demo".
#   unit tests   tests/unit, under the sanitizers (cmocka)
#   checkpatch   the kernel's style checker on every module source
#   commands     every command the host's scripts run comes from a package
#                they install, or one every Debian system has
#   deb          make deb, then the packages installed (DKMS build) and purged
#                in a Debian 12 chroot
#   demo         make demo, short (15 s a run), on the first kernel of KERNELS
#                (default 6.1), and what it showed and saved (demo-test.sh)
#   per kernel   build (Kbuild and DKMS), the KSM structures' layout and the
#                resolved and hooked functions' prototypes against the
#                kernel's BTF, then one QEMU guest per group
# A group fails on a failed check, on any warning, BUG, oops, "Bad page" or
# lockup in the guest's kernel log, on an unexpected taint, and when the
# guest does not reach its end marker (crash, panic or timeout).
# The output ends with "N passed, N failed".
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

kernels=$(echo "${KERNELS:-$KSMPP_ALL_KERNELS}" | tr ',' ' ')
all_groups=$(cd "$KSMPP_TOP/tests/vm" && ls ./*.sh | sed 's|^\./||; s|\.sh$||' | grep -vx 'init\|lib' | tr '\n' ' ')
tests=$(echo "${TESTS:-unit checkpatch commands deb demo $all_groups}" | tr ',' ' ')
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
# command prints; other lines are shown as they are. A command that fails
# without saying what failed (a check script stopped early) is a failure.
count_lines() {
	local prefix=$1 line failed=0
	shift
	while IFS= read -r line; do
		case $line in
		"PASS "*|"FAIL "*)
			result "${line%% *}" "$prefix${line#* }"
			[ "${line%% *}" = PASS ] || failed=1 ;;
		"count_lines-status "*)
			[ "${line#* }" = 0 ] || [ $failed = 1 ] ||
				result FAIL "$prefix$(basename "$1") stopped with status ${line#* } before reporting a failure" ;;
		*) echo "$line" ;;
		esac
	done < <("$@" && echo "count_lines-status 0" || echo "count_lines-status $?")
}

# Lines of a guest's console that fail a run, wherever they come from.
KERNEL_BAD='WARNING:|BUG:|Oops|Bad page|soft lockup|hard LOCKUP|Kernel panic|general protection|Call Trace|blocked for more than|detected stalls on tasks|UBSAN:|KASAN:|kmemleak:|unreferenced object|possible circular locking|inconsistent lock state|Tainted:'
# Lines KERNEL_BAD matches that are no failure: the debug kernel's kmemleak
# starting up.
KERNEL_FINE='kmemleak: Kernel memory leak detector initialized'

# kernel_log LOG: LOG without two kinds of report that are no failure of
# ksmpp's.
# - The stack dumps of 6.1's kernel KSM unmerging (run=2) a page that
#   userfaultfd write-protects. Its break_ksm() faults for write without
#   FAULT_FLAG_ALLOW_RETRY, which handle_userfault() reports with a stack on
#   CONFIG_DEBUG_VM kernels (the debug line) and refuses; 6.2's break_ksm()
#   unshares instead, as ksmpp's unmerge does on every line. A block from
#   that message to the dump's end is left out only if break_ksm() is in it.
# - An RCU stall report in which every CPU had passed a quiescent state
#   ("All QSes seen") and RCU's grace-period kthread was not woken because
#   its timer did not fire ("timer wakeup didn't happen") on a CPU that was
#   idle (the dump of that CPU is the idle task's): the emulated CPU was not
#   given its timer interrupt, as happens to TCG guests on a busy host (CI
#   once, 6.12-deb13). A CPU held by a loop, ksmpp's or not, fails the run:
#   its report names the stalled CPU and its stack, or the stopped timer's
#   CPU was not idle. The report is replaced by one line saying so.
kernel_log() {
	awk '/FAULT_FLAG_ALLOW_RETRY missing/ { block = $0; next }
		block != "" { block = block "\n" $0
			if (/<\/TASK>/) {
				if (block !~ / break_ksm\+/) print block
				block = ""
			}
			next }
		{ print }
		END { if (block != "") print block }' "$1" |
	awk 'function flush() { if (report != "") print report; report = "" }
		/rcu: INFO: .*detected stalls on CPUs\/tasks:/ {
			flush(); report = $0; lines = 1; all_qs = 0; last_ran = ""; next }
		report == "" { print; next }
		{ report = report "\n" $0; lines++ }
		/All QSes seen/ { all_qs = 1 }
		lines == 4 && !all_qs || lines > 200 { flush(); next }
		/Stack dump where RCU GP kthread last ran/ { last_ran = "\n"; next }
		last_ran != "" { last_ran = last_ran "\n" $0 }
		last_ran != "" && (/<\/TASK>/ || /skipped: idling at/) {
			if (report ~ /timer wakeup didn.t happen/ &&
			    last_ran ~ /Comm: swapper\/|skipped: idling at/) {
				print "ksmpp-test: left out an RCU stall report: a timer not delivered to an idle CPU"
				report = ""
			} else
				flush()
		}
		END { flush() }'
}

# kernel_lines LOG: the lines of LOG that may fail a run: kernel_log's,
# less KERNEL_FINE's. The functions below read its output.
kernel_lines() { kernel_log "$1" | grep -vF "$KERNEL_FINE"; }

# kernel_bad_lines KLOG: the lines of KLOG (kernel_lines) that fail a run.
kernel_bad_lines() { grep -E "$KERNEL_BAD" "$1"; }

# kernel_bad_context KLOG: the console around the first line of KLOG that
# fails a run, which says what the kernel was reporting (a stack dump's
# heading does not fail a run by itself). Every stage reads its input to
# the end: one that stopped early (grep -m) would end the others with
# SIGPIPE, and pipefail would make this fail.
kernel_bad_context() {
	grep -E -B 10 -A 3 "$KERNEL_BAD" "$1" | sed '/^--$/,$d'
}

# kernel_bad_stacks KLOG: each stack dump from the first line of KLOG that
# fails a run (or the first RCU stall report) on, on a line of its own:
# whose it is, where it was (RIP) and its reliable frames, innermost first,
# without those of the interrupt that dumped it.
# A stall or lockup report dumps every CPU; these lines say in a few lines
# what each was doing.
kernel_bad_stacks() {
	awk -v bad="$KERNEL_BAD" '
		function flush() {
			if (who != "") print "stack of " who (rip != "" ? " at " rip : "") ":" frames
			who = ""; rip = ""; frames = ""; n = 0
		}
		!seen && ($0 ~ bad || /rcu: INFO: /) { seen = 1 }
		!seen { next }
		{ sub(/^\[ *[0-9.]+\] */, "") }
		/^CPU: [0-9]+ PID: [0-9]+ Comm: / { flush(); who = "CPU " $2 " " $6; next }
		/^task:/ { flush(); who = substr($1, 6); next }
		who != "" && /^RIP: [0-9]+:/ {
			rip = $2; sub(/^[0-9]+:/, "", rip); sub(/\+0x.*/, "", rip); next }
		/<IRQ>/ { in_irq = 1 }
		/<\/IRQ>/ { in_irq = 0 }
		who != "" && !in_irq && /^ *[a-z_][a-z_0-9.]*\+0x/ && n < 12 {
			f = $1; sub(/\+0x.*/, "", f); frames = frames " " f; n++; next }
		who != "" && /<\/TASK>/ { flush() }
		END { flush() }' "$1"
}

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

# failed_context LOG: for the guest's first three failing checks, what
# the guest printed for each: its first five lines that say FAIL (a test
# program's reasons), each with the 12 lines after it if it ends "in the
# kernel at:" (where a hung task waits), then its last 15 lines (kernel
# messages among them).
failed_context() {
	awk '/^KSMPP-RESULTS-BEGIN$/ { exit }
		/KSMPP-RESULT FAIL / && shown < 3 {
			name = $0
			sub(/.*KSMPP-RESULT FAIL /, "", name)
			print "before the failing check \"" name "\":"
			for (i = 0; i < nfail; i++)
				print "  " fail[i]
			if (nfail)
				print "  ..."
			for (i = (n > 15 ? n - 15 : 0); i < n; i++)
				print "  " ring[i % 15]
			shown++
		}
		/KSMPP-RESULT / { n = 0; nfail = 0; nfails = 0; stack = 0; next }
		/FAIL/ { stack = 0 }
		stack > 0 { fail[nfail++] = $0; stack-- }
		/FAIL/ && nfails < 5 {
			fail[nfail++] = $0; nfails++
			if (/in the kernel at:$/) stack = 12
		}
		{ ring[n++ % 15] = $0 }' "$1"
}

# judge LINE GROUP LOG: count the results a guest printed.
judge() {
	local line=$1 group=$2 log=$3 p=0 f=0 status text
	kernel_lines "$log" > "$log.kernel" || true
	while read -r status text; do
		if [ "$status" = PASS ]; then p=$((p + 1)); else f=$((f + 1)); fi
		result "$status" "[$line] $text"
	done < <(result_lines "$log" | sed -n 's/.*KSMPP-RESULT \(PASS\|FAIL\) /\1 /p')
	while read -r text; do
		f=$((f + 1))
		result FAIL "[$line] $group: kernel log: $text"
	done < <(kernel_bad_lines "$log.kernel" | head -n 5)
	# Printed again at the end of the run, where it is seen.
	{ kernel_bad_context "$log.kernel" && kernel_bad_stacks "$log.kernel"; } |
		sed "s|^|[$line] $group: |" > "$log.context" || true
	failed_context "$log" | sed "s|^|[$line] |" >> "$log.context" || true
	[ -s "$log.context" ] || rm -f "$log.context"
	rm -f "$log.kernel"
	if ! grep -q KSMPP-END "$log"; then
		f=$((f + 1))
		result FAIL "[$line] $group: guest did not finish (panic, crash or timeout), see $log"
	elif [ $p -eq 0 ]; then
		f=$((f + 1))
		result FAIL "[$line] $group: ran no check"
	fi
	echo "[$line] $group: $p passed, $f failed"
}

# build_line LINE: fetch the kernel, build the modules, check the layout and
# the prototypes.
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
	count_lines "[$line] " "$KSMPP_TOP/scripts/proto-check.sh" "$line"
	count_lines "[$line] " "$KSMPP_TOP/scripts/tramp-check.sh" "$line"
	"$KSMPP_TOP/scripts/vm.sh" initramfs "$line"
}

# guests N GROUP...: the guests to boot, a line each, its groups comma
# separated: one guest per group, or with N > 0 the groups dealt out to N
# guests. A group that runs nested QEMU guests ("# vm: qemu"), the longest,
# gets a guest of its own, the first.
guests() {
	local n=$1 i=0 group
	local -a guest=()
	shift
	if [ "$n" -le 0 ]; then
		printf '%s\n' "$@"
		return
	fi
	for group; do
		if asks "$group" qemu; then
			echo "$group"
			continue
		fi
		guest[i % n]+=${guest[i % n]:+,}$group
		i=$((i + 1))
	done
	printf '%s\n' "${guest[@]}"
}

# line_groups LINE: the groups of this run that LINE runs. In a run of
# every group (no TESTS), a group whose first lines hold "# vm: not-LINE"
# is left out on LINE, and the output says so; asked for by name, it runs.
line_groups() {
	local group
	for group in $vm_groups; do
		if [ -z "${TESTS:-}" ] && asks "$group" "not-$1"; then
			echo "[$1] $group: not run on this line (see tests/vm/$group.sh)" >&2
		else
			echo "$group"
		fi
	done
}

# guest_test LINE N GROUPS: guest N of LINE, its groups comma separated;
# results and output in build/LINE/guests/N.*.
guest_test() {
	local line=$1 n=$2 groups=$3 name=${3//,/+} start=$SECONDS
	results=$KSMPP_BUILD/$line/guests/$n.results
	: > "$results"
	{
		"$KSMPP_TOP/scripts/vm.sh" run "$line" "$groups" "$KSMPP_BUILD/$line/logs/$name.log"
		judge "$line" "$name" "$KSMPP_BUILD/$line/logs/$name.log"
		echo "guest $line $name: $((SECONDS - start)) s"
	} > "$KSMPP_BUILD/$line/guests/$n.output" 2>&1
}

# guest_chain LINE GROUPS...: guests 0, 1... of LINE, one after the other.
guest_chain() {
	local line=$1 n=0 groups
	shift
	for groups; do
		guest_test "$line" $n "$groups"
		n=$((n + 1))
	done
}

# wait_for_slot: until fewer than $jobs jobs run.
wait_for_slot() {
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
}

# host_tests: the stages that need no kernel line's build; results and
# output in build/host/.
host_tests() {
	results=$KSMPP_BUILD/host/results
	: > "$results"
	if wants unit; then
		stage unit unit_tests
	fi
	if wants checkpatch; then
		stage checkpatch count_lines "" "$KSMPP_TOP/scripts/checkpatch.sh"
	fi
	if wants commands; then
		stage commands count_lines "" "$KSMPP_TOP/scripts/commands-check.sh"
	fi
	if wants deb; then
		stage deb count_lines "" "$KSMPP_TOP/scripts/deb-test.sh"
	fi
	if wants demo; then
		stage demo count_lines "" "$KSMPP_TOP/scripts/demo-test.sh"
	fi
}

# shellcheck disable=SC2086
need_packages $KSMPP_HOST_PACKAGES
total=$SECONDS
vm_groups=$(for group in $all_groups; do if wants "$group"; then echo "$group"; fi; done)
# The host's stages, one job beside the kernel lines' (below): each of
# them is mostly one process, and the machine's CPUs are kept busy.
mkdir -p "$KSMPP_BUILD/host"
host_tests > "$KSMPP_BUILD/host/output" 2>&1 &
built=host
if [ -n "$vm_groups" ]; then
	# Each guest uses one host CPU (single-threaded TCG): guests run side
	# by side, each in the first free slot. A line's groups are dealt out
	# to KSMPP_GUESTS guests (default 4: a boot costs 5 s, on the debug
	# line a minute; each group leaves the guest as it found it), or with
	# KSMPP_GUESTS=0 one guest each. The debug line, several times the
	# others' time, starts first, its guests one after the other in one
	# slot: two of them at once take 2-3 times as long each (its KASAN
	# kernel is bound by memory). The next line builds once its
	# predecessor's guests have all started.
	jobs=${KSMPP_JOBS:-$(nproc)}
	for line in $(echo "$kernels" | tr ' ' '\n' | grep -x debug) \
		$(echo "$kernels" | tr ' ' '\n' | grep -vx debug); do
		stage "build $line" build_line "$line"
		[ -f "$KSMPP_BUILD/$line/initramfs.cpio" ] || continue
		built="$built $line"
		rm -rf "$KSMPP_BUILD/$line/guests" "$KSMPP_BUILD/$line"/logs/*.context
		mkdir -p "$KSMPP_BUILD/$line/guests"
		# shellcheck disable=SC2046
		set -- $(guests "${KSMPP_GUESTS:-4}" $(line_groups "$line"))
		if [ "$line" = debug ]; then
			wait_for_slot
			guest_chain "$line" "$@" &
			continue
		fi
		n=0
		for groups; do
			wait_for_slot
			guest_test "$line" $n "$groups" &
			n=$((n + 1))
		done
	done
fi
wait
for line in $built; do
	if [ "$line" = host ]; then
		cat "$KSMPP_BUILD/host/output"
		cat "$KSMPP_BUILD/host/results" >> "$results"
		continue
	fi
	n=0
	while [ -f "$KSMPP_BUILD/$line/guests/$n.output" ]; do
		cat "$KSMPP_BUILD/$line/guests/$n.output"
		cat "$KSMPP_BUILD/$line/guests/$n.results" >> "$results"
		n=$((n + 1))
	done
done
for line in $built; do
	for context in "$KSMPP_BUILD/$line"/logs/*.log.context; do
		[ -f "$context" ] || continue
		echo "What went wrong in ${context%.context}:"
		cat "$context"
	done
done
echo "total: $((SECONDS - total)) s"
passed=$(grep -c '^PASS ' "$results" || true)
failed=$(grep -c '^FAIL ' "$results" || true)
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
