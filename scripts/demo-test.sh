#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# demo-test.sh: make demo in its short form (DEMO_SECONDS, 15 here unless
# set), then checks of what it showed and saved: the guest finished with no
# error, ksmppctl status was shown while the guest ran (not only after it
# ended), the CSVs have a line a second and ksmpp merged pages, the plot is
# a PNG image. Prints "PASS demo: ..." / "FAIL demo: ..." lines; exit
# status 1 if any failed. The demo's output, each line with the second it
# arrived, is in build/demo/test.out.
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

export DEMO_SECONDS=${DEMO_SECONDS:-15}
: "${DEMO_STATUS_EVERY:=5}"
: "${DEMO_CONFIGS:=ksmpp ksm}"
export DEMO_STATUS_EVERY DEMO_CONFIGS
out=$KSMPP_BUILD/demo
seen=$out/test.out
failed=0

check() {
	local what=$1
	shift
	if "$@"; then
		echo "PASS demo: $what"
	else
		echo "FAIL demo: $what"
		failed=1
	fi
}

# stamp: each line of the input with the second (epoch) it arrived.
stamp() {
	local line
	while IFS= read -r line; do
		printf '%(%s)T %s\n' -1 "$line"
	done
}

# second_of PATTERN: when the first line matching PATTERN arrived.
second_of() { awk -v p="$1" '$0 ~ p { print $1; exit }' "$seen"; }

# shown_live: the first status snapshot arrived at least DEMO_STATUS_EVERY
# seconds before the demo's last line (the output is not just the log
# printed after the guest ended).
shown_live() {
	local first last
	first=$(second_of ' memory saved: ')
	last=$(tail -n 1 "$seen" | cut -d' ' -f1)
	[ -n "$first" ] && [ $((last - first)) -ge "$DEMO_STATUS_EVERY" ]
}

snapshots() { [ "$(grep -c ' memory saved: ' "$seen")" -ge 2 ]; }

guest_finished() { grep -q KSMPP-END "$out/demo.log"; }

no_error() { [ -f "$out/io.notes.txt" ] && ! grep -q '^error' "$out/io.notes.txt"; }

# seconds CONFIG: CONFIG's CSV has a line for each second of the run.
seconds() {
	[ "$(awk -F, 'NR > 1 && NF > 3 { n++ } END { print n + 0 }' "$out/io/$1.csv" 2>/dev/null)" \
		-ge "$DEMO_SECONDS" ]
}

# merged CONFIG: CONFIG merged pages (pages_sharing) at some point.
merged() { awk -F, 'NR > 1 && $2 > 0 { found = 1 } END { exit !found }' "$out/io/$1.csv"; }

is_png() { cmp -s -n 8 <(printf '\x89PNG\r\n\x1a\n') "$out/merged.png"; }

summary_shown() { grep -q " $1: [0-9]* pages merged (" "$seen"; }

mkdir -p "$out"
rm -f "$out/merged.png" "$out/demo.log"
status=0
"$KSMPP_TOP/scripts/demo.sh" 2>&1 | stamp > "$seen" || status=$?
check "make demo DEMO_SECONDS=$DEMO_SECONDS exits 0 (output: $seen)" [ "$status" -eq 0 ]
check "the guest finished (build/demo/demo.log)" guest_finished
check "the guest reported no error (insmod, vmsim, kernel log)" no_error
check "ksmppctl status shown every $DEMO_STATUS_EVERY s (2 snapshots or more)" snapshots
check "ksmppctl status shown live, while the guest ran" shown_live
for config in $DEMO_CONFIGS; do
	check "io/$config.csv has a line for each of the $DEMO_SECONDS s" seconds "$config"
	check "the summary line for $config was shown" summary_shown "$config"
done
check "ksmpp merged pages (io/ksmpp.csv)" merged ksmpp
check "merged.png is a PNG image" is_png
exit "$failed"
