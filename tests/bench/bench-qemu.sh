# SPDX-License-Identifier: GPL-2.0-only
# vm: qemu
# The qemu run: real QEMU guests (nested TCG, see "Nested guests" in
# tests/vm/lib.sh) beside a tenant of QEMU_TENANT_MIB of unique mergeable
# memory (vmsim, one VM that only holds its own data), so that a linear
# pass is long, as on a host where the guests are a fraction of mergeable
# memory. For each QEMU I/O mode of QEMU_MODES (threads: QEMU's default,
# preadv() from its thread pool; direct: cache=none, O_DIRECT; io_uring:
# aio=io_uring) and each engine configuration of QEMU_CONFIGS (names as
# engine_for reads them), QEMU_GUESTS guests start from the saved state,
# the engine starts, and each guest reads golden images a, b and c, one
# after the other. Every second, for QEMU_SECONDS from the engine's start:
# the pages saved across the guests' RAM (tests/vm/bin/guest-ram.c), split
# into those holding an image's blocks (disk), zero-filled ones and the
# rest, the guests' pages that are part of a huge page (khugepaged copies
# up to max_ptes_shared merged pages of a range into a new huge page,
# undoing their merge), and the engine thread's CPU time.
# Then every guest checks the files it read against the host's sums.
. /tests/lib.sh
. /tests/bench-lib.sh

# drive_options MODE: the -drive options of QEMU I/O mode MODE.
drive_options() {
	case $1 in
	threads)	echo "" ;;
	direct)		echo cache=none ;;
	io_uring)	echo aio=io_uring ;;
	*)		say "error unknown QEMU I/O mode $1"; return 1 ;;
	esac
}

# reader GUEST: GUEST reads images a, b and c; when it was done (seconds
# from t0) in $NESTED/GUEST.done.
reader() {
	local disk
	for disk in a b c; do
		nested_tell "$1" "read $disk"
		nested_did "$1" "READ $disk" 600 || { say "error $1 did not read $disk"; return 1; }
	done
	echo $(($(uptime_s) - t0)) > $NESTED/$1.done
}

# guest_names [SUFFIX]: the guests' names, each followed by SUFFIX.
guest_names() {
	local i=1
	while [ $i -le "$QEMU_GUESTS" ]; do
		echo "g$i$1"
		i=$((i + 1))
	done
}

# qemu_config RUN CONFIG MODE: one configuration's measurement.
qemu_config() {
	local run=$1 name=$2 g t0 t=0 readers= done_at= sums=ok
	engines_off
	# shellcheck disable=SC2046
	nested_boot 600 $(guest_names ":$(drive_options "$3")") ||
		{ say "error $run/$name: the guests did not start"; return; }
	say "$run/$name begin engine=$(engine_for "$name")"
	# shellcheck disable=SC2046
	engine_on $(engine_for "$name")
	say "$run/$name header t,disk,zero,other,huge,cpu_ms"
	t0=$(uptime_s)
	for g in $(guest_names); do
		reader "$g" &
		readers="$readers $!"
	done
	while [ $t -le "$QEMU_SECONDS" ]; do
		say "$run/$name csv $t,$(nested_saved a b c | tr ' ' ,),$((($(scanner_cpu_ns "${name%%-*}") - cpu_at_start) / 1000000))"
		sleep 1
		t=$(($(uptime_s) - t0))
	done
	# shellcheck disable=SC2086
	[ -z "$readers" ] || wait $readers
	for g in $(guest_names); do
		[ -f $NESTED/$g.done ] || done_at=never
		nested_tell "$g" "sums 1"
		nested_did "$g" "SUMS-OK 1" 600 || sums=bad
	done
	[ "$done_at" = never ] || done_at=$(cat $NESTED/*.done | sort -n | tail -n 1)
	[ $sums = ok ] || say "error $run/$name: a guest's files do not match the host's sums"
	say "$run/$name summary reads_done_s=$done_at sums=$sums"
	engine_state "$run/$name" "${name%%-*}"
	nested_stop
	engines_off
}

nested_setup || { say "error the QEMU payload disk does not mount"; exit 0; }
if [ -n "$QEMU_MAX_PTES_SHARED" ]; then
	echo "$QEMU_MAX_PTES_SHARED" > /sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_shared ||
		say "error max_ptes_shared $QEMU_MAX_PTES_SHARED refused"
fi
say "max_ptes_shared $(cat /sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_shared)"
vmsim -w compute -n 1 -m "$QEMU_TENANT_MIB" -t 1000000 -r 0 -c 0 -p tenant > /dev/null &
tenant=$!
# anon_mib: the anonymous memory in use (MiB), the tenant's once it is there.
anon_mib() { echo $(($(sed -n 's/^AnonPages: *\([0-9]*\).*/\1/p' /proc/meminfo) / 1024)); }
tenant_filled() { [ "$(anon_mib)" -ge "$QEMU_TENANT_MIB" ]; }
within 600 tenant_filled || say "error the tenant has $(anon_mib) MiB of $QEMU_TENANT_MIB"
for mode in $QEMU_MODES; do
	for name in $QEMU_CONFIGS; do
		qemu_config "qemu-$mode" "$name" "$mode"
	done
done
kill $tenant
wait $tenant
kernel_check
