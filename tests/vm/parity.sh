# SPDX-License-Identifier: GPL-2.0-only
# vm: numa
# KSM parity: every knob of /sys/kernel/mm/ksm is in /sys/kernel/mm/ksmpp,
# writable where KSM's is, and takes exactly the values KSM's takes (each
# value written to both, the outcomes compared); the knobs that change what
# merges do it as KSM's do, by frames (tests/vm/bin/ksm-parity.c).
. /tests/lib.sh

dir=/sys/kernel/mm/ksmpp

# writable FILE: the owner may write FILE (its mode, as root ignores it).
writable() { [ -n "$(find "$1" -perm -200)" ]; }

# outcome FILE VALUE: "taken" or "refused", for VALUE written to FILE.
outcome() {
	if (printf '%s' "$2" > "$1") 2>/dev/null; then echo taken; else echo refused; fi
}

# value_of FILE: what to write to FILE to restore it: its value, or the
# chosen name of a choice ("[none] scan-time": none).
value_of() { sed 's/.*\[\(.*\)\].*/\1/' "$1"; }

# same_outcomes NAME VALUE...: each VALUE, written to KSM's NAME and to
# ksmpp's, is taken by both or refused by both; both restored after.
same_outcomes() {
	local name=$1 ksm_old ksmpp_old value ksm ksmpp bad=""
	shift
	ksm_old=$(value_of $KSM_SYSFS/$name)
	ksmpp_old=$(value_of $dir/$name)
	for value; do
		ksm=$(outcome $KSM_SYSFS/$name "$value")
		ksmpp=$(outcome $dir/$name "$value")
		[ "$ksm" = "$ksmpp" ] || bad="$bad '$value' ($ksm by KSM, $ksmpp by ksmpp)"
		echo "$ksm_old" > $KSM_SYSFS/$name
		echo "$ksmpp_old" > $dir/$name
	done
	[ -z "$bad" ] || echo "$name:$bad"
	[ -z "$bad" ]
}

numbers="0 1 2 3 7 100 65535 2147483647 2147483648 4294967295 4294967296 \
18446744073709551615 18446744073709551616 -1 +5 0x10 010 abc 1.5 12x"
flags="0 1 2 y n Y N on off yes no true false -1 x"

insmod $KSMPP_KO
for f in $(ls $KSM_SYSFS); do
	if ! check "KSM's $f is in $dir" [ -e $dir/$f ]; then
		continue
	fi
	if writable $KSM_SYSFS/$f; then
		check "$f writable, as KSM's" writable $dir/$f
	else
		check "$f read-only, as KSM's" not writable $dir/$f
	fi
done
for f in pages_to_scan sleep_millisecs max_page_sharing merge_across_nodes \
	stable_node_chains_prune_millisecs; do
	# shellcheck disable=SC2086
	check "$f takes the values KSM's takes" same_outcomes $f $numbers "4 5" " 5" "5 "
done
for f in use_zero_pages smart_scan; do
	# KSM's smart_scan came in 6.7.
	[ -e $KSM_SYSFS/$f ] || continue
	# shellcheck disable=SC2086
	check "$f takes the values KSM's takes" same_outcomes $f $flags
done
# The advisor's, from 6.7.
if [ -e $KSM_SYSFS/advisor_mode ]; then
	for f in advisor_max_cpu advisor_min_pages_to_scan advisor_max_pages_to_scan \
		advisor_target_scan_time; do
		# shellcheck disable=SC2086
		check "$f takes the values KSM's takes" same_outcomes $f $numbers "4 5" " 5"
	done
	check "advisor_mode takes the values KSM's takes" same_outcomes advisor_mode \
		none scan-time scan none-x None SCAN-TIME 0 1 "" " none" "none " "[none]"
	echo scan-time > $KSM_SYSFS/advisor_mode
	echo scan-time > $dir/advisor_mode
	check "pages_to_scan refused by both while the advisor sets it" \
		same_outcomes pages_to_scan 100 abc
	check "... and both start from advisor_min_pages_to_scan" \
		[ "$(cat $KSM_SYSFS/pages_to_scan)" = "$(cat $dir/pages_to_scan)" ]
	echo none > $KSM_SYSFS/advisor_mode
	echo none > $dir/advisor_mode
	check "advisor_mode=none: both back at the same pages_to_scan" \
		[ "$(cat $KSM_SYSFS/pages_to_scan)" = "$(cat $dir/pages_to_scan)" ]
fi
# run: the values KSM's refuses (a write of 1 to KSM's would start ksmd).
check "run refuses what KSM's refuses" same_outcomes run 3 -1 0x1 abc 4294967296 1.0 ""
check "run=0 taken by both" same_outcomes run 0
dmesg -c >/dev/null
check "a refused value is named in the log" not sh -c "echo 0x10 > $dir/pages_to_scan" 2>/dev/null
check "... with the allowed range" logged "ksmpp: invalid pages_to_scan '0x10': allowed are 0 to 4294967295"
check "a refused flag is named in the log" not sh -c "echo maybe > $dir/use_zero_pages" 2>/dev/null
check "... with the values allowed" logged "ksmpp: invalid use_zero_pages 'maybe': allowed are 0 or 1 (y/n, on/off)"
rmmod ksmpp
check "modprobe refuses a value KSM's file refuses" not insmod $KSMPP_KO merge_across_nodes=2 2>/dev/null
check "... and takes one it takes" insmod $KSMPP_KO use_zero_pages=on
check "... shown as KSM shows it" [ "$(cat $dir/use_zero_pages)" = 1 ]
rmmod ksmpp

# What merges, by frames. Each scenario reads the knob it needs back.
engine_knob use_zero_pages 1
check_merging "use_zero_pages=1: empty pages map the zero page" ksm-parity zero
engine_knob use_zero_pages 0
check_merging "use_zero_pages=0: empty pages merge as any" ksm-parity zero-off
engine_knob merge_across_nodes 0
check_merging "merge_across_nodes=0: pages of two nodes never share" ksm-parity nodes-apart
engine_knob merge_across_nodes 1
check_merging "merge_across_nodes=1: pages of two nodes share" ksm-parity nodes-across
engine_knob max_page_sharing 2
check_merging "max_page_sharing=2: chains of duplicates, counted as KSM's" ksm-parity chains
[ "$KSMPP_ENGINE" = ksm ] && engine_knob max_page_sharing 256
if [ "$KSMPP_ENGINE" = ksmpp ] || [ -e $KSM_SYSFS/smart_scan ]; then
	engine_knob smart_scan 1
	check_merging "smart_scan=1: pages that never merge are passed over" ksm-parity smart
	engine_knob smart_scan 0
	check_merging "smart_scan=0: every page is visited" ksm-parity smart-off
	[ "$KSMPP_ENGINE" = ksm ] && engine_knob smart_scan 1
fi
unload
