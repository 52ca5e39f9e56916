# SPDX-License-Identifier: GPL-2.0-only
# advisor_mode=scan-time: KSM's knobs and values (parity.sh compares the
# values with KSM's own files where the kernel has them, from 6.7), the
# pass rule moving pages_to_scan towards advisor_target_scan_time, and the
# hint rule: extra hinted pages while a burst of reads outruns a small hint
# ring, none once the reads stop. Duplicates merge meanwhile, by frames.
. /tests/lib.sh

dir=/sys/kernel/mm/ksmpp
IMG=/tmp/advisor.img

# knob NAME: the value of ksmpp's knob NAME.
knob() { cat $dir/"$1"; }
# pages_over N / pages_under N: pages_to_scan compared with N.
pages_over() { [ "$(knob pages_to_scan)" -gt "$1" ]; }
pages_under() { [ "$(knob pages_to_scan)" -lt "$1" ]; }
scans_at_least() { [ "$(knob full_scans)" -ge "$1" ]; }
no_extra_pages() { [ "$(knob hint_extra_pages)" = 0 ]; }

insmod $KSMPP_KO
check "advisor_mode shows none chosen, as KSM's" [ "$(knob advisor_mode)" = "[none] scan-time" ]
check "KSM's advisor defaults" [ "$(knob advisor_max_cpu) $(knob advisor_min_pages_to_scan) \
$(knob advisor_max_pages_to_scan) $(knob advisor_target_scan_time)" = "70 500 30000 200" ]
echo 300 > $dir/pages_to_scan
check "advisor_mode=scan-time taken" sh -c "echo scan-time > $dir/advisor_mode"
check "... shown chosen" [ "$(knob advisor_mode)" = "none [scan-time]" ]
check "... pages_to_scan starts at advisor_min_pages_to_scan" [ "$(knob pages_to_scan)" = 500 ]
dmesg -c >/dev/null
check "pages_to_scan refused while the advisor sets it" \
	not sh -c "echo 200 > $dir/pages_to_scan" 2>/dev/null
check "... and unchanged" [ "$(knob pages_to_scan)" = 500 ]
check "... the reason logged" logged "ksmpp: pages_to_scan is the advisor's while advisor_mode is scan-time"
check "scan-time again changes nothing" sh -c "echo scan-time > $dir/advisor_mode && [ \$(cat $dir/pages_to_scan) = 500 ]"
check "advisor_mode=none: pages_to_scan back to KSM's default" \
	sh -c "echo none > $dir/advisor_mode && [ \$(cat $dir/pages_to_scan) = 100 ]"
check "advisor_mode refuses other names" not sh -c "echo auto > $dir/advisor_mode" 2>/dev/null
check "... named in the log" logged "ksmpp: invalid advisor_mode 'auto': allowed are none and scan-time"
check "advisor_target_scan_time refuses 0" not sh -c "echo 0 > $dir/advisor_target_scan_time" 2>/dev/null
check "advisor_max_cpu refuses more than an unsigned long" \
	not sh -c "echo 18446744073709551616 > $dir/advisor_max_cpu" 2>/dev/null
check "... with the range in the log" \
	logged "ksmpp: invalid advisor_max_cpu '18446744073709551616': allowed are 0 to 18446744073709551615"
check "advisor_max_cpu takes any unsigned long" \
	sh -c "echo 18446744073709551615 > $dir/advisor_max_cpu && [ \$(cat $dir/advisor_max_cpu) = 18446744073709551615 ]"
rmmod ksmpp
for name in advisor_mode advisor_max_cpu advisor_min_pages_to_scan \
	advisor_max_pages_to_scan advisor_target_scan_time; do
	check "$name has a description" \
		sh -c "modinfo -F parm $KSMPP_KO | grep -q '^$name:.\{10,\}'"
done
check "modprobe refuses advisor_mode=auto" not insmod $KSMPP_KO advisor_mode=auto 2>/dev/null
check "... and takes advisor_mode=scan-time" insmod $KSMPP_KO advisor_mode=scan-time
check "... pages_to_scan from advisor_min_pages_to_scan" [ "$(knob pages_to_scan)" = 500 ]
rmmod ksmpp

# The pass rule. One process of 64 MiB (16384 pages, all different): a
# pass at 100 pages a batch takes over 3 s, three times a 1 s target, so
# pages_to_scan grows (by at most 100 / CPU per cent: advisor_max_cpu=100).
vmsim -n 1 -m 1 -t 0.1 -g 8 -i $IMG -r 0 -c 0 -E none -p AD >/dev/null 2>&1
vmsim -n 1 -m 64 -t 600 -i $IMG -r 0 -c 0 -E none -p AD >/dev/null 2>&1 &
pid=$!
# (modprobe applies parameters in the order given, as writes of the files.)
insmod $KSMPP_KO run=1 advisor_min_pages_to_scan=100 advisor_max_cpu=100 \
	advisor_target_scan_time=1 advisor_mode=scan-time
check "loaded in scan-time mode: pages_to_scan starts at advisor_min_pages_to_scan" [ "$(knob pages_to_scan)" = 100 ]
check "passes slower than the target: pages_to_scan grows" wait_for 120 pages_over 100
echo "advisor up: pages_to_scan $(knob pages_to_scan) after $(knob full_scans) passes"
# From 4000 pages a batch, passes take well under a second against 200 s:
# pages_to_scan falls to what KSM's floor of 10% CPU allows, well below the
# start (advisor_min_pages_to_scan=10 lets it).
echo 4000 > $dir/advisor_min_pages_to_scan
echo none > $dir/advisor_mode
echo scan-time > $dir/advisor_mode
echo 10 > $dir/advisor_min_pages_to_scan
echo 200 > $dir/advisor_target_scan_time
check "passes faster than the target: pages_to_scan falls" wait_for 120 pages_under 4000
echo "advisor down: pages_to_scan $(knob pages_to_scan) after $(knob full_scans) passes"
kill $pid
wait $pid 2>/dev/null
rmmod ksmpp

# The hint rule: two VMs read the same 8 MiB at 2000 pages/s each, 4000
# hints/s into a ring of 256, more than the hinted share of pages_to_scan
# takes (75 a batch). ksmppd falls behind and takes extra hinted pages per
# batch, up to advisor_max_pages_to_scan. (No CPU bound, advisor_max_cpu=100:
# on the debug line, 70% of a CPU allows hardly any pages over pages_to_scan;
# the bound is unit-tested.)
# hint_burst [PARAM=VALUE...]: the reads under ksmpp with these parameters;
# leaves it loaded, and "dropped merged" in $burst.
hint_burst() {
	local vm_out
	insmod $KSMPP_KO run=1 hint_buffer_size=256 "$@" || return 1
	vm_out=$(vmsim -n 2 -m 32 -t 6 -i $IMG -K 2048 -r 2000 -c 0 -f 50 -E ksmpp -L 1 -p AD 2>&1)
	burst="$(knob hints_dropped) $(echo "$vm_out" |
		sed -n 's/^AD csv [0-9]*,\([0-9]*\),.*/\1/p' | tail -n 1)"
}
hint_burst
fixed=$burst
rmmod ksmpp
out=/tmp/advisor-extra
: > $out
(while sleep 0.05; do knob hint_extra_pages >> $out 2>/dev/null; done) &
sampler=$!
hint_burst advisor_min_pages_to_scan=100 advisor_max_cpu=100 advisor_max_pages_to_scan=5000 \
	advisor_mode=scan-time
kill $sampler
wait $sampler 2>/dev/null
most=$(sort -n $out | tail -n 1)
echo "hint rule: fixed rate: hints dropped, merged: $fixed; advisor: $burst, most extra pages $most"
check "a burst that outruns the ring gets extra hinted pages (most ${most:-none})" \
	[ "${most:-0}" -gt 0 ]
check "... within advisor_max_pages_to_scan" [ "${most:-0}" -le $((5000 - 100)) ]
check "... none once the reads stopped" wait_for 30 no_extra_pages
# A speed measure: not on the debug line, where everything is several times
# slower and the other lines' guests starve it.
if [ "${ksmppdebug:-0}" != 1 ]; then
	check "... and fewer hints dropped than at the fixed rate ($burst against $fixed)" \
		[ "${burst%% *}" -lt "${fixed%% *}" ]
fi
rmmod ksmpp

# Merging under the advisor, by frames.
engine_knob advisor_mode scan-time
check_merging "advisor_mode=scan-time: two processes merge" ksm-merge two
check_merging "advisor_mode=scan-time: copy-on-write isolates the writer" ksm-merge cow
engine_stop
rm -f $IMG
