# SPDX-License-Identifier: GPL-2.0-only
# vm: not-debug
# /sys/kernel/mm/ksmpp: KSM's file names and meanings, the knobs validated
# as the module parameters are (checked against KSM's own files in
# parity.sh). make test leaves this group out on the debug line, to keep
# the run short: the knobs share their setters with the parameters, which
# the races, unmerge and hooks groups write there.
. /tests/lib.sh

dir=/sys/kernel/mm/ksmpp
insmod $KSMPP_KO
check "$dir exists" [ -d $dir ]
for f in run pages_to_scan sleep_millisecs max_page_sharing pages_shared \
	 pages_sharing pages_unshared pages_volatile full_scans general_profit \
	 merge_across_nodes use_zero_pages stable_node_chains stable_node_dups \
	 stable_node_chains_prune_millisecs smart_scan pages_skipped \
	 hint_buffer_size hint_scan_percent hints_generated hints_dropped \
	 hints_consumed hints_pending hints_invalid hint_extra_pages advisor_max_cpu \
	 advisor_min_pages_to_scan advisor_max_pages_to_scan advisor_target_scan_time; do
	check "$f readable as a number" sh -c "grep -qx -- '-\?[0-9]*' $dir/$f"
done
for f in pages_shared pages_sharing pages_unshared full_scans; do
	check "$f agrees with /proc/ksmpp" [ "$(cat $dir/$f)" = "$(proc_field $f)" ]
done

check "pages_to_scan written through sysfs" sh -c "echo 777 > $dir/pages_to_scan"
check "... seen as the module parameter" \
	[ "$(cat /sys/module/ksmpp/parameters/pages_to_scan)" = 777 ]
dmesg -c >/dev/null
check "sysfs refuses pages_to_scan=abc" not sh -c "echo abc > $dir/pages_to_scan" 2>/dev/null
check "refusal logged with the range" logged "ksmpp: invalid pages_to_scan 'abc': allowed are 0 to 4294967295"
check "old value kept" [ "$(cat $dir/pages_to_scan)" = 777 ]
check "sysfs refuses hint_buffer_size=1000" not sh -c "echo 1000 > $dir/hint_buffer_size" 2>/dev/null
check "read-only figures refuse writes" not sh -c "echo 1 > $dir/pages_shared" 2>/dev/null
check "run=1 through sysfs starts ksmppd" sh -c "echo 1 > $dir/run && sleep 1 && grep -q '^state: *running' /proc/ksmpp"
check "run=0 through sysfs stops it" sh -c "echo 0 > $dir/run && grep -q '^state: *stopped' /proc/ksmpp"
rmmod ksmpp
check "$dir removed on unload" [ ! -e $dir ]
