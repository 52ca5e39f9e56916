# SPDX-License-Identifier: GPL-2.0-only
# 50 load/unload cycles, reading /proc/ksmpp in each.
. /tests/lib.sh

ok=0
i=0
while [ $i -lt 50 ]; do
	insmod $KSMPP_KO && [ "$(proc_field state)" = stopped ] && rmmod ksmpp &&
		[ ! -e /proc/ksmpp ] && ok=$((ok + 1))
	i=$((i + 1))
done
check "50 load/unload cycles ($ok succeeded)" [ $ok -eq 50 ]
check "not loaded after the cycles" not loaded
