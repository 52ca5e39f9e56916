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
# KSMPP_VM_MEMORY (MiB, default 2048) and KSMPP_VM_TIMEOUT (s; default the
# line's VM_TIMEOUT, else 300) size the guest; the line's VM_CMDLINE (in its
# env file, see kernel.sh) is added to the kernel command line. A group file
# whose first lines hold "# vm: numa" gets two NUMA nodes, one CPU and half
# the memory each.
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

# The Debian kernel modules the tests load (with what they depend on).
KSMPP_GUEST_MODULES="zram"

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
	# shellcheck disable=SC2086
	"$KSMPP_TOP/scripts/guest-modules.sh" "$line" "$stage/kmod" $KSMPP_GUEST_MODULES
	(cd "$stage" && find . | cpio -o -H newc --quiet) > "$KSMPP_BUILD/$line/initramfs.cpio"
}

# vm_options GROUPS: QEMU options the groups ask for ("# vm: WORD" lines).
vm_options() {
	local group memory=${KSMPP_VM_MEMORY:-2048} numa=
	for group in $(echo "$1" | tr ',' ' '); do
		if head -n 5 "$KSMPP_TOP/tests/vm/$group.sh" 2>/dev/null |
			grep -q '^# vm:.*\bnuma\b'; then
			numa=1
		fi
	done
	echo "-m $memory"
	if [ -n "$numa" ]; then
		# CPUs split across nodes need one socket per node, or the
		# kernel's topology check warns (fatal with panic_on_warn).
		echo "-smp 2,sockets=2,cores=1,threads=1" \
			"-object memory-backend-ram,size=$((memory / 2))M,id=m0" \
			"-object memory-backend-ram,size=$((memory - memory / 2))M,id=m1" \
			"-numa node,nodeid=0,cpus=0,memdev=m0" \
			"-numa node,nodeid=1,cpus=1,memdev=m1"
	else
		echo "-smp 2"
	fi
}

run() {
	local line=$1 groups=$2 log=$3 options VM_TIMEOUT=300 VM_CMDLINE=
	# shellcheck disable=SC1090
	. "$KSMPP_CACHE/kernels/$line.env"
	mkdir -p "$(dirname "$log")"
	options=$(vm_options "$groups")
	# shellcheck disable=SC2086
	timeout "${KSMPP_VM_TIMEOUT:-$VM_TIMEOUT}" qemu-system-x86_64 \
		-accel tcg,thread=single -cpu max $options \
		-nographic -no-reboot -nic none \
		-kernel "$VMLINUX" -initrd "$KSMPP_BUILD/$line/initramfs.cpio" \
		-append "$KSMPP_VM_CMDLINE ksmpptests=$groups ksmppengine=${KSMPP_ENGINE:-ksmpp}${VM_CMDLINE:+ $VM_CMDLINE}" \
		</dev/null >"$log" 2>&1 || true
	tr -d '\r' < "$log" > "$log.tmp" && mv "$log.tmp" "$log"
}

case ${1:-} in
initramfs)	initramfs "${2:?line}" ;;
run)		run "${2:?line}" "${3:?groups}" "${4:?log}" ;;
*)		die "usage: $0 initramfs LINE | run LINE GROUPS LOG" ;;
esac
