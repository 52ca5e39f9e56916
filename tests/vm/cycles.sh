# SPDX-License-Identifier: GPL-2.0-only
# vm: not-debug
# Load/unload cycles, reading /proc/ksmpp in each. make test leaves this
# group out on the debug line, to keep the run short (a cycle takes over
# 10 s there): loads and unloads run there in the load, races and torture
# groups, and kmemleak checks what each guest left.
. /tests/lib.sh

ok=0
i=0
while [ $i -lt 20 ]; do
	insmod $KSMPP_KO && [ "$(proc_field state)" = stopped ] && rmmod ksmpp &&
		[ ! -e /proc/ksmpp ] && ok=$((ok + 1))
	i=$((i + 1))
done
check "20 load/unload cycles ($ok succeeded)" [ $ok -eq 20 ]
check "not loaded after the cycles" not loaded
