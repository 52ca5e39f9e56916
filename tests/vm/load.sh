# SPDX-License-Identifier: GPL-2.0-only
# Loading with defaults, /proc/ksmpp's content, unloading.
. /tests/lib.sh

dmesg -c >/dev/null
check "load with defaults" insmod $KSMPP_KO
check "listed in /proc/modules" loaded
check "load logged" logged "ksmpp: version $(cat /modules/version) loaded"
check "/proc/ksmpp version" [ "$(proc_field version)" = "$(cat /modules/version)" ]
check "/proc/ksmpp kernel" [ "$(proc_field kernel)" = "$(uname -r)" ]
check "/proc/ksmpp state" [ "$(proc_field state)" = stopped ]
check "/proc/ksmpp defaults" [ "$(proc_field run)/$(proc_field pages_to_scan)/$(proc_field sleep_millisecs)/$(proc_field max_page_sharing)/$(proc_field hint_buffer_size)" = 0/100/20/256/1024 ]
for key in pages_shared pages_sharing pages_unshared pages_volatile full_scans \
	   pages_scanned merges cow_breaks stale_reclaimed processes; do
	check "/proc/ksmpp $key is 0 when stopped" [ "$(proc_field $key)" = 0 ]
done
check "/proc/ksmpp metadata_bytes counts the indexes" [ "$(proc_field metadata_bytes)" -gt 0 ]
check "/proc/ksmpp is key: value lines" [ -z "$(grep -v '^[A-Za-z0-9_]*: *[^ ].*$' /proc/ksmpp)" ]
check "/proc/ksmpp read-only" [ "$(stat -c %a /proc/ksmpp)" = 444 ]
# Running while nobody opted in: ksmppd looks for processes twice a second
# and drains no LRU cache in between. Counted in wakeups, which TCG's load
# on the host stretches less than time: 9-11 in 5 s, 17 on the debug kernel
# under CI's load (250 when it looked at every 20 ms batch). Its CPU time,
# sampled at ticks, is 0 of 5 s on a quiet host and up to 5 ticks on the
# debug kernel under CI's load: bounded at 5% only.
echo 1 > $KSMPP_PARAMS/run
ksmppd_wakeups() { awk '/^voluntary_ctxt_switches/ { print $2 }' /proc/$(pidof ksmppd)/status; }
ksmppd_ticks() { awk '{ print $14 + $15 }' /proc/$(pidof ksmppd)/stat; }
wakeups=$(ksmppd_wakeups)
ticks=$(ksmppd_ticks)
sleep 5
wakeups=$(($(ksmppd_wakeups) - wakeups))
ticks=$(($(ksmppd_ticks) - ticks))
check "running with nobody opted in: ksmppd looks twice a second ($wakeups wakeups in 5 s)" \
	[ "$wakeups" -ge 4 -a "$wakeups" -le 50 ]
check "running with nobody opted in: ksmppd near idle ($ticks ticks in 5 s)" [ "$ticks" -le 25 ]
check "running with nobody opted in: state running" state_is running
check "running with nobody opted in: the processes walked twice, after the load ($(proc_field process_walks))" \
	[ "$(proc_field process_walks)" = 2 ]
echo 0 > $KSMPP_PARAMS/run
check "unload" rmmod ksmpp
check "gone from /proc/modules" not loaded
check "/proc/ksmpp removed" [ ! -e /proc/ksmpp ]
check "unload logged" logged "ksmpp: unloaded"
check "nothing else logged" [ "$(ksmpp_log | sed 's/^\[[ 0-9.]*\] //')" = "ksmpp: version $(cat /modules/version) loaded
ksmpp: unloaded" ]
