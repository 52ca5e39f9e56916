# SPDX-License-Identifier: GPL-2.0-only
# Merged pages go out to swap (zram) and come back intact: a memory cgroup's
# memory.reclaim pushes them out (tests/vm/bin/ksm-swap.c).
. /tests/lib.sh

CGROUP=/sys/fs/cgroup/ksmpp-swap

check "zram swap on" zram_swap_on 256M
check "memory cgroup" memory_cgroup $CGROUP
check_merging "merged pages swapped out and in, intact" ksm-swap $CGROUP
zram_swap_off
