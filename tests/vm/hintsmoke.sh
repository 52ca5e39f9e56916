# SPDX-License-Identifier: GPL-2.0-only
# vm: not-debug
# I/O hints pay off. Two VM-like processes (vmsim) with 64 MiB of mergeable
# memory each read the same 8 MiB of a file into their memory; 5 s after
# the reads began, ksmpp with its default knobs (hints on) has merged over a
# quarter of those duplicates (all of them on an idle host; a busy host
# slows the guest) and several times what it merged with hints off (a
# linear pass over the 32768 pages takes about 6.5 s at the default rate,
# and hints-off needs two), and says the merges came through hints. And a
# hinted page is kept in the unstable index through a pass end, and pages a
# read faulted in merge, with only its CPU's LRU batches drained (below).
# vmsim is tests/bench/vmsim.c. make test leaves this group out on the
# debug line: a measure of speed, where everything is several times slower
# and starved by the other lines' guests (even 12 s and "twice hints off"
# failed there); the code it runs, the hints' way into the scanner, runs
# there in the torture group (its workers pread() a file).
. /tests/lib.sh

IMG=/tmp/hintsmoke.img
RUN_SECONDS=5

# merged_after [PARAM=VALUE...]: "merged opportunities merges_hint" at the
# end of a run of ksmpp with these parameters.
merged_after() {
	local out hint_merges
	unload
	echo 2 > $KSM_SYSFS/run && echo 0 > $KSM_SYSFS/run
	insmod $KSMPP_KO run=1 "$@" || return 1
	# -K 2048: each VM reads blocks 0..2047 once (8 MiB, in 8-block
	# preadv()s, at 1000 pages/s so that the default 1024-entry hint
	# ring keeps up), then nothing changes (-c 0).
	out=$(vmsim -n 2 -m 64 -t $RUN_SECONDS -i $IMG -K 2048 -r 1000 -c 0 -f 50 -E ksmpp \
		-L 1 -p HS 2>&1) || { echo "$out" >&2; unload; return 1; }
	hint_merges=$(proc_field merges_hint)
	unload
	echo "$(echo "$out" | sed -n 's/^HS csv \([0-9]*\),\([-0-9]*\),[-0-9]*,\([0-9]*\),.*/\2 \3/p' |
		tail -n 1) $hint_merges"
}

vmsim -n 1 -m 1 -t 0.1 -g 8 -i $IMG -r 0 -c 0 -E none -p HS >/dev/null 2>&1
off=$(merged_after hint_scan_percent=0)
on=$(merged_after)
set -- $off $on
if [ $# -ne 6 ]; then
	fail "hints on merge more than hints off (no result: off '$off' on '$on')"
else
	check "hints on (the defaults) merge more than hints off ($4 vs $1 of $5 duplicates after $RUN_SECONDS s)" \
		[ "$4" -gt $(($5 / 4)) -a "$4" -gt $((2 * $1 + 100)) ]
	check "merges_hint counts the hinted merges (off $3, on $6)" [ "$3" = 0 -a "$6" -gt 0 ]
fi

# A hinted page waits in the unstable index through the pass end after its
# hint: one process reads a file, a pass ends, then another reads the same
# file. Their copies merge at once, not when the linear scan comes back to
# the first process, 16 s on: a tenant of 64 MiB of unique mergeable memory,
# started first and so scanned first, at 1,000 pages a second.
# hinted_frames FILE: the pagemap entries of the whole pages of the hinted
# range in FILE ("pid start length source", as ksmpp-io prints it; its
# buffer starts 100 bytes into a page).
hinted_frames() {
	local pid start len first
	read -r pid start len _ < "$1"
	first=$(((start + 4095) / 4096))
	dd if=/proc/$pid/pagemap bs=8 skip=$first count=$(((start + len) / 4096 - first)) \
		2>/dev/null | od -An -v -tx8 -w8
}
# same_frames: both readers map those pages at the same present frames.
same_frames() {
	local a b
	a=$(hinted_frames /tmp/hint-a)
	b=$(hinted_frames /tmp/hint-b)
	[ -n "$a" ] && ! echo "$a" | grep -qv '^ [89a-f]' && [ "$a" = "$b" ]
}
passes_above() { [ "$(proc_field full_scans)" -gt "$1" ]; }
unload
dd if=/dev/urandom of=/tmp/hint-file bs=64k count=1 2>/dev/null
vmsim -n 1 -m 64 -t 180 -i $IMG -r 0 -c 0 -f 0 -E none -p TENANT >/dev/null 2>&1 &
tenant=$!
sleep 3
insmod $KSMPP_KO run=1 pages_to_scan=100 sleep_millisecs=100
KSMPP_IO_HOLD=1 ksmpp-io -m /tmp/hint-file pread > /tmp/hint-a &
reader_a=$!
sleep 1
passes=$(proc_field full_scans)
if within 60 passes_above "$passes"; then
	KSMPP_IO_HOLD=1 ksmpp-io -m /tmp/hint-file pread > /tmp/hint-b &
	reader_b=$!
	start=$(uptime_s)
	within 6 same_frames
	check "a hinted page kept through a pass end merges with a later read of the same data ($(($(uptime_s) - start)) s after it)" same_frames
	kill $reader_b
else
	fail "a hinted page kept through a pass end: no pass ended within 60 s"
fi
kill $reader_a
wait $reader_a 2>/dev/null

# A read that faults its buffer's pages in (-u) leaves the last of them in
# its CPU's LRU batches, whose reference would fail a merge. Its 15 whole
# pages hold one content (a file of one 4 KiB block repeated): ksmppd merges
# them all through the hint, having drained that CPU's batches, every CPU's
# only if the reader moved meanwhile. The kernel drains them too, now and
# then: so does ksmppd at each pass start, made rare by the tenant (one in
# several seconds), and other faults on a busy host, which the reader waits
# out (-w) so that its hint is visited first. A read whose pages were all
# drained before the visit is tried again, twice at most.
unload
head -c 4096 /tmp/hint-file > /tmp/hint-block
for i in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do cat /tmp/hint-block; done > /tmp/hint-file
insmod $KSMPP_KO run=1
reads=0
while [ $reads -lt 3 ] && [ "$(proc_field lru_drains_cpu)" -eq 0 ]; do
	ksmpp-io -m -u -w 2000 /tmp/hint-file pread > /dev/null
	reads=$((reads + 1))
done
drains_cpu=$(proc_field lru_drains_cpu)
drains_all=$(proc_field lru_drains_all)
check "pages a read faulted in merge through its hint (merges_hint $(proc_field merges_hint) of $((15 * reads)), $reads reads)" \
	[ "$(proc_field merges_hint)" -eq $((15 * reads)) ]
check "their reader's CPU's LRU batches drained for them, every CPU's less often (drains: $drains_cpu of one CPU, $drains_all of all, $reads reads)" \
	[ "$drains_cpu" -gt 0 -a "$drains_all" -lt "$drains_cpu" ]
kill $tenant
wait 2>/dev/null
unload
rm -f $IMG /tmp/hint-file /tmp/hint-block /tmp/hint-a /tmp/hint-b
