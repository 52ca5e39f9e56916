# SPDX-License-Identifier: GPL-2.0-only
# Merged pages go out to swap (zram) and come back intact: a memory cgroup's
# memory.reclaim pushes them out (tests/vm/bin/ksm-swap.c).
. /tests/lib.sh

CGROUP=/sys/fs/cgroup/ksmpp-swap

check "zram loads" kmod_load zram
check "zram swap on" sh -c 'echo 256M > /sys/block/zram0/disksize &&
	mkswap /dev/zram0 >/dev/null && swapon /dev/zram0'
check "memory cgroup" sh -c "mount -t cgroup2 none /sys/fs/cgroup &&
	echo +memory > /sys/fs/cgroup/cgroup.subtree_control && mkdir $CGROUP"
check_merging "merged pages swapped out and in, intact" ksm-swap $CGROUP
swapoff /dev/zram0
