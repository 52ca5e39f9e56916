# SPDX-License-Identifier: GPL-2.0-only
# vm: numa
# Merged pages migrate between the guest's two NUMA nodes with every process
# that maps them, and survive compaction (tests/vm/bin/ksm-migrate.c).
. /tests/lib.sh

check "two NUMA nodes" [ -d /sys/devices/system/node/node1 ]
check_merging "merged pages migrate with all sharers" ksm-migrate
