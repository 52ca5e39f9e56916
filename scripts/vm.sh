#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# vm.sh initramfs LINE        pack the test guest for kernel LINE
# vm.sh run LINE GROUPS LOG   boot it under QEMU (TCG), run the in-guest test
#                             groups (comma-separated), console to LOG
#
# The guest is the Debian kernel, booted from its uncompressed vmlinux, with
# a busybox initramfs holding tests/vm/ and the modules built for it.
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

initramfs() {
	local line=$1 stage=$KSMPP_BUILD/$1/initramfs
	rm -rf "$stage"
	mkdir -p "$stage"/{bin,proc,sys,dev,tmp,tests,modules}
	cp /bin/busybox "$stage/bin/busybox"
	install -m 755 "$KSMPP_TOP/tests/vm/init.sh" "$stage/init"
	cp "$KSMPP_TOP"/tests/vm/*.sh "$stage/tests/"
	cp "$KSMPP_TOP/scripts/demo-guest.sh" "$stage/tests/demo.sh"
	cp -a "$KSMPP_BUILD/$line/modules/." "$stage/modules/"
	(cd "$stage" && find . | cpio -o -H newc --quiet) > "$KSMPP_BUILD/$line/initramfs.cpio"
}

run() {
	local line=$1 groups=$2 log=$3
	# shellcheck disable=SC1090
	. "$KSMPP_CACHE/kernels/$line.env"
	mkdir -p "$(dirname "$log")"
	timeout "${KSMPP_VM_TIMEOUT:-300}" qemu-system-x86_64 \
		-accel tcg,thread=single -cpu max -smp 2 -m "${KSMPP_VM_MEMORY:-2048}" \
		-nographic -no-reboot -nic none \
		-kernel "$VMLINUX" -initrd "$KSMPP_BUILD/$line/initramfs.cpio" \
		-append "$KSMPP_VM_CMDLINE ksmpptests=$groups" \
		</dev/null >"$log" 2>&1 || true
	tr -d '\r' < "$log" > "$log.tmp" && mv "$log.tmp" "$log"
}

case ${1:-} in
initramfs)	initramfs "${2:?line}" ;;
run)		run "${2:?line}" "${3:?groups}" "${4:?log}" ;;
*)		die "usage: $0 initramfs LINE | run LINE GROUPS LOG" ;;
esac
