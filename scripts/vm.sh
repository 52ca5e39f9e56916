#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# vm.sh initramfs LINE        pack the test guest for kernel LINE
# vm.sh run LINE GROUPS LOG   boot it under QEMU (TCG), run the in-guest test
#                             groups (comma-separated), console to LOG
#
# The guest is the Debian kernel, booted from its uncompressed vmlinux, with
# a busybox initramfs holding tests/vm/, the test programs of tests/vm/bin
# and the benchmark's workloads of tests/bench (static, in /bin), the
# modules built for it (/modules) and the Debian kernel modules the tests
# need (/kmod, see guest-modules.sh).
# KSMPP_ENGINE (ksmpp or ksm) picks the engine the merging tests drive;
# KSMPP_VM_MEMORY (MiB, default 2048), KSMPP_VM_CPUS (default 2) and
# KSMPP_VM_TIMEOUT (s; default the line's VM_TIMEOUT, else 240, for each
# group) size the guest; the line's
# VM_CMDLINE (in its env file, see kernel.sh) is added to the kernel
# command line, and so are
# the NAME=VALUE words of KSMPP_GUEST_ENV: the kernel hands them to /init as
# environment variables, which the groups see (e.g. KSMPP_TORTURE_SECONDS,
# KSMPP_STRESS_SEED). A group file
# whose first lines hold "# vm: numa" gets two NUMA nodes, one CPU and half
# the memory each; "# vm: slab_nomerge" boots with each slab cache apart;
# "# vm: icount" gets one CPU and a clock that counts the instructions it
# executes, one a nanosecond (QEMU's -icount; sleep=off: time spent idle
# is skipped, not waited for), so that timings in the guest are exact
# instruction counts.
# QEMU exits 0 even when the guest panics: callers judge the run by the
# markers in LOG (see scripts/test.sh).
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

# Multi-threaded TCG occasionally runs a stale int3 of the kernel's own boot
# time text patching on the other vCPU (an oops before any module loads, about
# one boot in 25 on 6.12); one host thread for both vCPUs is exact.
# Kernel command line: any warning panics, and so does a soft lockup.
KSMPP_VM_CMDLINE="console=ttyS0 loglevel=7 panic=-1 panic_on_warn=1 oops=panic softlockup_panic=1"

# The Debian kernel modules the tests load (with what they depend on); a
# NAME? only where the line has it as a module (see guest-modules.sh).
KSMPP_GUEST_MODULES="zram virtio_pci? virtio_blk ext4 xfs btrfs vfat nls_cp437 nls_ascii
	crc32c_generic? crc32c_cryptoapi?"

# The disks of a group whose first lines hold "# vm: disks": NAME:MIB, a
# sparse raw image each (NAME a file system made on it, or raw), made anew
# for every run. The guest finds each by its serial, ksmpp-NAME; its writes
# go to a QEMU snapshot, never to the image. (xfs needs 300 MB at least.)
KSMPP_DISKS="ext4:64 xfs:320 btrfs:256 vfat:64 raw:16"

initramfs() {
	local line=$1 stage=$KSMPP_BUILD/$1/initramfs
	rm -rf "$stage"
	mkdir -p "$stage"/{bin,proc,sys,dev,tmp,tests,modules}
	cp /bin/busybox "$stage/bin/busybox"
	install -m 755 "$KSMPP_TOP/tests/vm/init.sh" "$stage/init"
	cp "$KSMPP_TOP"/tests/vm/*.sh "$stage/tests/"
	cp "$KSMPP_TOP/scripts/demo-guest.sh" "$stage/tests/demo.sh"
	cp -a "$KSMPP_BUILD/$line/modules/." "$stage/modules/"
	make -s -C "$KSMPP_TOP/tests/vm/bin" OUT="$KSMPP_BUILD/guest-bin"
	make -s -C "$KSMPP_TOP/tests/bench" OUT="$KSMPP_BUILD/guest-bin"
	cp "$KSMPP_BUILD"/guest-bin/* "$stage/bin/"
	"$KSMPP_TOP/scripts/guest-tools.sh" "$stage"
	local modules
	read -ra modules <<<"${KSMPP_GUEST_MODULES//$'\n'/ }"
	"$KSMPP_TOP/scripts/guest-modules.sh" "$line" "$stage/kmod" "${modules[@]}"
	(cd "$stage" && find . | cpio -o -H newc --quiet) > "$KSMPP_BUILD/$line/initramfs.cpio"
	rm -f "$KSMPP_BUILD/$line/qemu.img"
}

# disks DIR: the images of KSMPP_DISKS made anew in DIR; their QEMU options.
disks() {
	local dir=$1 disk name img
	rm -rf "$dir" && mkdir -p "$dir"
	for disk in $KSMPP_DISKS; do
		name=${disk%%:*}
		img=$dir/$name.img
		truncate -s "${disk#*:}M" "$img"
		case $name in
		ext4)	mkfs.ext4 -q -F "$img" ;;
		xfs)	mkfs.xfs -q -f "$img" ;;
		btrfs)	mkfs.btrfs -q -f "$img" >/dev/null ;;
		vfat)	mkfs.vfat "$img" >/dev/null ;;
		raw)	;;
		*)	die "disk $name: no such file system" ;;
		esac
		echo "-drive file=$img,format=raw,if=none,snapshot=on,id=$name" \
			"-device virtio-blk-pci,drive=$name,serial=ksmpp-$name"
	done
}

# qemu_disk LINE: QEMU options for the disk of scripts/qemu-payload.sh,
# made by the first run that asks for it after the initramfs (one group
# asks: no two runs make it at once).
qemu_disk() {
	local img=$KSMPP_BUILD/$1/qemu.img
	[ -f "$img" ] || "$KSMPP_TOP/scripts/qemu-payload.sh" "$1" "$img" >&2
	echo "-drive file=$img,format=raw,if=none,snapshot=on,id=qemu" \
		"-device virtio-blk-pci,drive=qemu,serial=ksmpp-qemu"
}

# vm_options GROUPS: QEMU options the groups ask for ("# vm: WORD" lines).
vm_options() {
	local memory=${KSMPP_VM_MEMORY:-2048}
	echo "-m $memory"
	if asks "$1" numa; then
		# CPUs split across nodes need one socket per node, or the
		# kernel's topology check warns (fatal with panic_on_warn).
		echo "-smp 2,sockets=2,cores=1,threads=1" \
			"-object memory-backend-ram,size=$((memory / 2))M,id=m0" \
			"-object memory-backend-ram,size=$((memory - memory / 2))M,id=m1" \
			"-numa node,nodeid=0,cpus=0,memdev=m0" \
			"-numa node,nodeid=1,cpus=1,memdev=m1"
	elif asks "$1" icount; then
		echo "-smp 1 -icount shift=0,sleep=off"
	else
		echo "-smp ${KSMPP_VM_CPUS:-2}"
	fi
}

run() {
	local line=$1 groups=$2 log=$3 options word VM_TIMEOUT=240 VM_CMDLINE=
	# shellcheck disable=SC1090
	. "$KSMPP_CACHE/kernels/$line.env"
	mkdir -p "$(dirname "$log")"
	for word in ${KSMPP_GUEST_ENV:-}; do
		[[ $word =~ ^[A-Z_][A-Z0-9_]*=[^\ ]+$ ]] ||
			die "KSMPP_GUEST_ENV: \"$word\" is no NAME=VALUE word"
	done
	options=$(vm_options "$groups")
	if asks "$groups" disks; then
		options="$options $(disks "$KSMPP_BUILD/$line/disks")"
	fi
	if asks "$groups" slab_nomerge; then
		VM_CMDLINE="${VM_CMDLINE:+$VM_CMDLINE }slab_nomerge"
	fi
	if asks "$groups" qemu; then
		options="$options $(qemu_disk "$line")"
		VM_TIMEOUT=$((VM_TIMEOUT + 600))
	fi
	# shellcheck disable=SC2086
	timeout "${KSMPP_VM_TIMEOUT:-$((VM_TIMEOUT * $(tr ',' '\n' <<<"$groups" | wc -l)))}" \
		qemu-system-x86_64 \
		-accel tcg,thread=single -cpu max $options \
		-nographic -no-reboot -nic none \
		-kernel "$VMLINUX" -initrd "$KSMPP_BUILD/$line/initramfs.cpio" \
		-append "$KSMPP_VM_CMDLINE ksmpptests=$groups ksmppengine=${KSMPP_ENGINE:-ksmpp}${VM_CMDLINE:+ $VM_CMDLINE}${KSMPP_GUEST_ENV:+ $KSMPP_GUEST_ENV}" \
		</dev/null >"$log" 2>&1 || true
	tr -d '\r' < "$log" > "$log.tmp" && mv "$log.tmp" "$log"
}

case ${1:-} in
initramfs)	initramfs "${2:?line}" ;;
run)		run "${2:?line}" "${3:?groups}" "${4:?log}" ;;
*)		die "usage: $0 initramfs LINE | run LINE GROUPS LOG" ;;
esac
