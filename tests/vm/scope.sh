# SPDX-License-Identifier: GPL-2.0-only
# merge_scope and stats_mode: the knobs (modinfo, sysfs, ksmppctl,
# refusals), and sharing by physical frames only inside a uid, a cgroup or
# a process, with run-time changes, processes that change uid or cgroup and
# pages kernel KSM merged before a hand-over (tests/vm/bin/ksm-scope.c);
# the figures' readers under stats_mode.
. /tests/lib.sh

dir=/sys/kernel/mm/ksmpp
for name in merge_scope stats_mode; do
	check "$name has a description" \
		sh -c "modinfo -F parm $KSMPP_KO | grep -q '^$name:.\{10,\}'"
done
insmod $KSMPP_KO
check "merge_scope shows its names, global chosen" \
	[ "$(cat $dir/merge_scope)" = "[global] uid cgroup process" ]
check "stats_mode shows world chosen" [ "$(cat $dir/stats_mode)" = "[world] root" ]
check "merge_scope in /proc/ksmpp" [ "$(proc_field merge_scope)" = "[global] uid cgroup process" ]
dmesg -c >/dev/null
check "merge_scope refuses other names" not sh -c "echo user > $dir/merge_scope" 2>/dev/null
check "... named in the log" logged "ksmpp: invalid merge_scope 'user': allowed are global, uid, cgroup and process"
check "... and kept" [ "$(cat $dir/merge_scope)" = "[global] uid cgroup process" ]
check "merge_scope=cgroup taken" sh -c "echo cgroup > $dir/merge_scope"
check "... shown chosen" [ "$(cat /sys/module/ksmpp/parameters/merge_scope)" = "global uid [cgroup] process" ]
check "ksmppctl set merge_scope uid" sh -c "ksmppctl set merge_scope uid >/dev/null"
check "... in effect" [ "$(cat $dir/merge_scope)" = "global [uid] cgroup process" ]
check "ksmppctl refuses merge_scope user" not sh -c "ksmppctl set merge_scope user 2>/dev/null"
check "... and keeps uid" [ "$(cat $dir/merge_scope)" = "global [uid] cgroup process" ]
check "ksmppctl set stats_mode root" sh -c "ksmppctl set stats_mode root >/dev/null"
check "... a figure's mode 0400" [ "$(stat -c %a $dir/pages_sharing)" = 400 ]
unload
check "load refuses merge_scope=user" not insmod $KSMPP_KO merge_scope=user 2>/dev/null
check "load takes merge_scope=process stats_mode=root" insmod $KSMPP_KO merge_scope=process stats_mode=root
check "... a figure's mode 0400 from the start" [ "$(stat -c %a $dir/pages_shared)" = 400 ]
check "... a knob's still 644" [ "$(stat -c %a $dir/run)" = 644 ]
unload

check "cgroup v2" cgroup2_mounted
check_merging "merge_scope=uid: sharing inside each uid only" ksm-scope uid
check_merging "merge_scope=cgroup: sharing inside each cgroup only" ksm-scope cgroup
ksm_knobs="pages_to_scan=$(cat $KSM_SYSFS/pages_to_scan) sleep_millisecs=$(cat $KSM_SYSFS/sleep_millisecs)"
check_merging "merge_scope=uid: kernel KSM's pages merged across uids unmerged" ksm-scope handover
for knob in $ksm_knobs; do echo "${knob#*=}" > $KSM_SYSFS/"${knob%%=*}"; done
rmdir /sys/fs/cgroup/ksmpp-scope-a /sys/fs/cgroup/ksmpp-scope-b 2>/dev/null
check_merging "merge_scope=process: a process's own duplicates only" ksm-scope process
check "stats_mode: figures for every uid, or root only" ksm-scope stats
