# SPDX-License-Identifier: GPL-2.0-only
# vm: numa
# Torture: workers write mostly duplicate memory while the engine merges and
# chaos actors migrate, compact, reclaim, page out, soft-offline, collapse
# and split huge pages, write-protect with userfaultfd, fork, remap, flip
# run, start kernel KSM and reload ksmpp, all at once; every page must match
# its shadow at the end of every round (tests/vm/bin/ksm-torture.c).
# KSMPP_TORTURE_SECONDS (default 60) and KSMPP_TORTURE_SEED (default a
# random one, in the result's name) come from the environment, which
# `make torture` sets through the kernel command line (scripts/torture.sh).
. /tests/lib.sh

CGROUP=/sys/fs/cgroup/ksmpp-torture
# The debug line's kernel (KASAN, lockdep) is several times slower: an
# operation may take longer before it counts as a hang, and there is no
# memory.reclaim actor, whose thrashing of the whole cgroup starves every
# worker there.
if [ -n "$ksmppdebug" ]; then
	export KSMPP_TORTURE_OP_TIMEOUT=120
else
	export KSMPP_TORTURE_CGROUP=$CGROUP
fi
THP=/sys/kernel/mm/transparent_hugepage
seconds=${KSMPP_TORTURE_SECONDS:-60}
seed=${KSMPP_TORTURE_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}

# thp_set NAME=VALUE...: files under $THP.
thp_set() {
	local setting
	for setting; do
		echo "${setting#*=}" > "$THP/${setting%%=*}" || return 1
	done
}
# thp_get NAME: the value of a file under $THP (the [chosen] one of a list).
thp_get() { sed 's/.*\[\(.*\)\].*/\1/' "$THP/$1"; }

check "two NUMA nodes" [ -d /sys/devices/system/node/node1 ]
check "zram swap on" zram_swap_on 256M
# An RCU-tasks grace period (rmmod waits for ftrace's) that tasks hold up
# for three quarters of the operation timeout: the kernel log names each
# task that holds it and where, as a stall (a failure), before rmmod hangs
# (by default only after 10 min).
op=${KSMPP_TORTURE_OP_TIMEOUT:-60}
RCU_TASK_STALL=/sys/module/rcupdate/parameters/rcu_task_stall_timeout
rcu_task_stall_saved=$(cat $RCU_TASK_STALL)
# rcu_task_stall_after SECONDS: in jiffies (HZ is 250 on Debian's kernels,
# 1000 on the debug line's), of which the default holds 600 s.
rcu_task_stall_after() { echo $(($1 * rcu_task_stall_saved / 600)) > $RCU_TASK_STALL; }
check "RCU-tasks stalls reported after $((op * 3 / 4)) s" rcu_task_stall_after $((op * 3 / 4))
check "memory cgroup" memory_cgroup $CGROUP
thp_saved=""
for name in enabled defrag khugepaged/scan_sleep_millisecs \
	khugepaged/alloc_sleep_millisecs khugepaged/pages_to_scan; do
	thp_saved="$thp_saved $name=$(thp_get $name)"
done
# Huge pages where asked for (MADV_HUGEPAGE), khugepaged busy.
check "THP on madvise, khugepaged every 100 ms" thp_set enabled=madvise defrag=madvise \
	khugepaged/scan_sleep_millisecs=100 khugepaged/alloc_sleep_millisecs=100 \
	khugepaged/pages_to_scan=4096

# The program bounds each of its steps by the operation timeout (op, plus
# up to 30 s): the last round's check, and at the end the actors' last
# operations, KSM's stop, the engine's start, a last round and the
# workers' exit: six of them at most, even when every one is slow.
check "torture $seconds s, seed $seed: contents intact, no hang" \
	bounded $((seconds + 6 * (op + 30))) ksm-torture "$seconds" "$seed"
if [ "$KSMPP_ENGINE" = ksmpp ]; then
	# An actor's rmmod still running (rmmod fails meanwhile) ends first.
	check "ksmpp unloads after the torture" bounded 90 within 60 unload
else
	echo 2 > $KSM_SYSFS/run
fi

# As it was, for the groups after this one in the same guest.
# shellcheck disable=SC2086
thp_set $thp_saved
echo "$rcu_task_stall_saved" > $RCU_TASK_STALL
bounded 60 zram_swap_off
rmdir $CGROUP 2>/dev/null
rm -f /tmp/ksmpp-torture.dat
