# SPDX-License-Identifier: GPL-2.0-only
# Helpers of the in-guest benchmark groups (sourced by /tests/bench-*.sh).
# Sizes and rates come from /bench/bench.env, written by scripts/bench.sh.
# Every line for the host starts with "KSMPP-BENCH "; scripts/bench.sh
# splits them into build/bench/.

. /bench/bench.env
KSM_SYSFS=/sys/kernel/mm/ksm
KSMPP_KO=/modules/ksmpp.ko
# Kernel messages would cut into the data lines on the console.
dmesg -n 1

say() { echo "KSMPP-BENCH $*"; }

ksmpp_loaded() { grep -q '^ksmpp ' /proc/modules; }

# engines_off: neither engine runs, nothing merged.
engines_off() {
	if ksmpp_loaded; then rmmod ksmpp || say "error rmmod ksmpp failed"; fi
	echo 2 > $KSM_SYSFS/run
	echo 0 > $KSM_SYSFS/run
}

# scanner_pid ENGINE: the pid of the engine's thread (ksmd, ksmppd); none
# if there is none.
scanner_pid() {
	local name=ksmd f
	[ "$1" = ksm ] || name=ksmppd
	for f in /proc/[0-9]*/comm; do
		if [ "$(cat "$f" 2>/dev/null)" = $name ]; then
			f=${f%/comm}
			echo "${f#/proc/}"
			return
		fi
	done
}

# scanner_cpu_ns ENGINE: the CPU time of the engine's thread so far, from
# /proc/PID/schedstat; 0 if there is none.
scanner_cpu_ns() {
	local pid
	pid=$(scanner_pid "$1")
	if [ -n "$pid" ]; then
		cut -d' ' -f1 "/proc/$pid/schedstat"
	else
		echo 0
	fi
}

# engine_on ENGINE [PARAM=VALUE...]: start kernel KSM (ksm) or load ksmpp,
# both at the benchmark's pages_to_scan and sleep_millisecs, then the
# PARAMs (KSM's written to its files).
engine_on() {
	local engine=$1 p
	shift
	engines_off
	if [ "$engine" = ksm ]; then
		echo "$PAGES_TO_SCAN" > $KSM_SYSFS/pages_to_scan
		echo "$SLEEP_MILLISECS" > $KSM_SYSFS/sleep_millisecs
		for p; do
			echo "${p#*=}" > $KSM_SYSFS/"${p%%=*}" || say "error KSM's $p refused"
		done
		echo 1 > $KSM_SYSFS/run
	else
		insmod $KSMPP_KO run=1 pages_to_scan="$PAGES_TO_SCAN" \
			sleep_millisecs="$SLEEP_MILLISECS" "$@" ||
			say "error insmod ksmpp $* failed"
	fi
	cpu_at_start=$(scanner_cpu_ns "$engine")
}

# engine_state RUN/CONFIG ENGINE: the engine's counters, one line each.
engine_state() {
	local f
	if [ "$2" = ksm ]; then
		for f in $KSM_SYSFS/*; do
			[ -f "$f" ] && say "$1 state ${f##*/} $(cat "$f" 2>/dev/null)"
		done
	elif ksmpp_loaded; then
		sed "s|^\([a-z_]*\): *|KSMPP-BENCH $1 state \1 |" /proc/ksmpp
	fi
	say "$1 state scanner_cpu_ms $((($(scanner_cpu_ns "$2") - cpu_at_start) / 1000000))"
}

# config RUN CONFIG ENGINE [PARAM=VALUE...] -- VMSIM ARGS...: one run of
# vmsim under one engine configuration.
config() {
	local run=$1 name=$2 engine=$3 params="" start
	start=$(date +%s)
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		params="$params $1"
		shift
	done
	shift
	say "$run/$name begin engine=$engine$params"
	# shellcheck disable=SC2086
	engine_on "$engine" $params
	vmsim -E "$engine" -p "KSMPP-BENCH $run/$name" "$@" ||
		say "error $run/$name: vmsim failed"
	engine_state "$run/$name" "$engine"
	engines_off
	say "$run/$name end seconds=$(($(date +%s) - start))"
}

# engine_for CONFIG: the engine and its parameters for a configuration
# name: ksm or ksmpp (ksmpp's defaults: hints on, a ring of 1024 entries),
# then any of, dash separated: off (hints off), pN (hint_scan_percent=N),
# hN (hints on, a ring of N entries; Nk = N*1024), sN (pages_to_scan=N),
# adv (advisor_mode=scan-time, starting at the benchmark's pages_to_scan),
# z (use_zero_pages=1), ns (smart_scan=0), cgroup or process (that
# merge_scope). E.g. ksmpp-h256-adv, ksm-z, ksmpp-cgroup.
engine_for() {
	local engine=${1%%-*} rest=$1 field size out
	case $engine in
	ksm|ksmpp)	out=$engine ;;
	*)		say "error unknown configuration $1"; echo none; return ;;
	esac
	while [ "$rest" != "${rest#*-}" ]; do
		rest=${rest#*-}
		field=${rest%%-*}
		case $field in
		off)	out="$out hint_scan_percent=0" ;;
		cgroup|process) out="$out merge_scope=$field" ;;
		p*)	out="$out hint_scan_percent=${field#p}" ;;
		h*)	size=${field#h}
			case $size in *k) size=$((${size%k} * 1024)) ;; esac
			out="$out hint_scan_percent=$HINT_SCAN_PERCENT hint_buffer_size=$size" ;;
		s*)	out="$out pages_to_scan=${field#s}" ;;
		adv)	out="$out advisor_min_pages_to_scan=$PAGES_TO_SCAN advisor_mode=scan-time" ;;
		z)	out="$out use_zero_pages=1" ;;
		ns)	out="$out smart_scan=0" ;;
		*)	say "error unknown configuration $1"; echo none; return ;;
		esac
	done
	echo "$out"
}

# image_setup: IMAGE_PATH, the disk image the VMs read. With BENCH_FS=ext4
# (scripts/bench.sh), /bench/disk.ext4 holds it in an ext4 file system,
# mounted read-only from a loop device (buffered reads take filemap_read,
# O_DIRECT reads iomap's direct I/O, as for a QEMU host's image files);
# else the image is read from the initramfs (tmpfs).
image_setup() {
	local m ko dev
	IMAGE_PATH=$IMAGE
	[ "$BENCH_FS" = ext4 ] || return 0
	if ! grep -q ' /mnt/ext4 ' /proc/mounts; then
		for m in loop crc32c_generic ext4; do
			[ -f /kmod/$m.load ] || continue
			for ko in $(cat /kmod/$m.load); do
				grep -q "^${ko%.ko} " /proc/modules || insmod /kmod/$ko
			done
		done
		mkdir -p /mnt/ext4
		dev=$(losetup -f) && losetup -r "$dev" /bench/disk.ext4 &&
			mount -t ext4 -o ro "$dev" /mnt/ext4 || {
			say "error cannot mount /bench/disk.ext4: reading the image from tmpfs"
			return 0
		}
	fi
	IMAGE_PATH=/mnt/ext4/disk.img
}

# kernel_check: the kernel log has no warning, BUG or oops.
kernel_check() {
	local bad
	bad=$(dmesg | grep -E 'WARNING:|BUG:|Oops|Bad page|soft lockup|general protection|Call Trace' | head -n 5)
	if [ -n "$bad" ]; then
		echo "$bad" | while IFS= read -r line; do say "error kernel: $line"; done
	fi
}

say "kernel $(uname -r) cpus $(grep -c ^processor /proc/cpuinfo) mem_kib $(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo) ksm_pages_scanned $([ -f $KSM_SYSFS/pages_scanned ] && echo yes || echo no)"
