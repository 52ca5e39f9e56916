#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# qemu-payload.sh LINE IMAGE: the disk that lets a test guest of kernel
# LINE run real QEMU guests of its own (the "# vm: qemu" groups, nested
# TCG): an ext4 image holding
#   qemu/       the host's qemu-system-x86_64, the dynamic loader (ld.so)
#               and every library ldd lists (lib/), its TCG accelerator
#               (a module of Debian's QEMU, modules/) and the firmware of
#               qemu-system-data and seabios (share/): run as
#               "QEMU_MODULE_DIR=qemu/modules qemu/ld.so --library-path
#               qemu/lib qemu/qemu-system-x86_64 -L qemu/share"
#   vmlinux     the kernel the nested guests boot, Debian 12's (line
#               NESTED_LINE, whatever LINE is), uncompressed (PVH):
#               decompressing the bzImage would take them over a minute
#               under nested TCG
#   initrd      their busybox initramfs: /init is tests/vm/nested/guest-init.sh,
#               /kmod has virtio and ext4 (see guest-modules.sh)
#   guest.args  their QEMU options, one line, and kernel command line, the
#               next (QEMU runs in this directory: the paths are relative)
#   guest.state such a guest once booted (QGUEST-READY), saved here by
#               QEMU's migration to a file: the nested guests start from it
#               (-incoming) rather than boot, which under nested TCG takes
#               minutes
#   golden-a.img, golden-b.img, golden-c.img
#               the disk images the nested guests share: ext4 file systems
#               of real files (libraries of the build chroot, GOLDEN_MIB
#               of different ones on each) and MD5SUMS, their checksums
#               made here
#   golden.pages
#               "DISK PAGES" lines: the 4 KiB pages of files on each image
# The test guest finds the disk by its serial, ksmpp-qemu.
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

line=${1:?usage: $0 LINE IMAGE}
image=${2:?usage: $0 LINE IMAGE}
GOLDEN_MIB=4
# The nested guests' kernel. ksmpp runs on LINE's, in the test guest: the
# nested guests only read their disks through virtio-blk, whichever
# kernel they run. A 6.12 kernel there died under nested TCG on a busy
# host (double faults in the slab allocator, with garbage in EFLAGS);
# Debian 12's never did.
NESTED_LINE=6.1
nested_env=$("$KSMPP_TOP/scripts/kernel.sh" prepare $NESTED_LINE)
# shellcheck disable=SC1090
. "$KSMPP_CACHE/kernels/$line.env"
stage=$KSMPP_BUILD/$line/qemu-payload
rm -rf "$stage" && mkdir -p "$stage"/{qemu/lib,qemu/modules,qemu/share,initrd/bin}

# QEMU, its libraries and the loader, flat in qemu/ and qemu/lib/.
qemu=$(command -v qemu-system-x86_64)
cp "$qemu" "$stage/qemu/"
ldd "$qemu" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' |
	xargs -r cp -L -t "$stage/qemu/lib/"
cp -L "$(readelf -l "$qemu" |
	sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')" "$stage/qemu/ld.so"
cp /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so "$stage/qemu/modules/"
# Firmware: seabios's BIOS and qemu-system-data's option ROMs (-kernel
# of an uncompressed kernel: PVH).
cp -L /usr/share/seabios/bios-256k.bin /usr/share/qemu/pvh.bin \
	/usr/share/qemu/kvmvapic.bin "$stage/qemu/share/"

# The nested guests' kernel and initramfs.
cp "$(sed -n 's/^VMLINUX=//p' "$nested_env")" "$stage/vmlinux"
cp /bin/busybox "$stage/initrd/bin/busybox"
install -m 755 "$KSMPP_TOP/tests/vm/nested/guest-init.sh" "$stage/initrd/init"
"$KSMPP_TOP/scripts/guest-modules.sh" $NESTED_LINE "$stage/initrd/kmod" \
	virtio_pci? virtio_blk ext4 crc32c_generic? crc32c_cryptoapi?
(cd "$stage/initrd" && find . | cpio -o -H newc --quiet) > "$stage/initrd.cpio"
rm -rf "$stage/initrd" && mv "$stage/initrd.cpio" "$stage/initrd"

# The golden images a, b and c: the build chroot's libraries, GOLDEN_MIB of
# them each (different files), with their checksums.
(cd "$CHROOT/usr/lib/x86_64-linux-gnu" && find . -maxdepth 1 -type f -printf '%s %P\n' |
	sort -rn | awk -v max=$((GOLDEN_MIB << 20)) -v dir="$stage/golden" '
		$1 > max { next }
		{ while (disk < 3 && $1 > max - sum[disk]) disk++ }
		disk == 3 { exit }
		{ sum[disk] += $1; print $2, dir "-" substr("abc", disk + 1, 1) }' |
	while read -r file dir; do mkdir -p "$dir" && cp "$file" "$dir/"; done)
for disk in a b c; do
	dir=$stage/golden-$disk
	find "$dir" -type f -printf '%s\n' |
		awk -v disk=$disk '{ n += int(($1 + 4095) / 4096) } END { print disk, n }'
	(cd "$dir" && md5sum -- * > ../MD5SUMS && mv ../MD5SUMS .)
	mkfs.ext4 -q -F -b 4096 -d "$dir" "$dir.img" $((GOLDEN_MIB + 8))M >/dev/null
	rm -rf "$dir"
done > "$stage/golden.pages"

# The guests' options, the disks but their I/O mode (see nested_start in
# tests/vm/lib.sh); PVH boot of the uncompressed kernel, no ACPI.
cat > "$stage/guest.args" <<ARGS
-accel tcg -cpu max -m 128 -smp 1 -machine mem-merge=on -nodefaults -display none -no-reboot -kernel vmlinux -initrd initrd
console=ttyS0 panic=-1 acpi=off mitigations=off quiet
ARGS

# guest.state: boot a guest here, and once ready migrate it into the file.
# The monitor's commands go through a pipe once it has shown its prompt.
(
	cd "$stage"
	mkfifo mon.in mon.out
	cat mon.out > mon.log &
	# shellcheck disable=SC2046
	qemu-system-x86_64 $(sed -n 1p guest.args) -append "$(sed -n 2p guest.args)" \
		-drive file=golden-a.img,format=raw,if=virtio,readonly=on \
		-drive file=golden-b.img,format=raw,if=virtio,readonly=on \
		-drive file=golden-c.img,format=raw,if=virtio,readonly=on \
		-serial file:console.log -chardev pipe,id=mon,path=mon \
		-mon chardev=mon,mode=readline &
	qemu=$!
	for _ in $(seq 120); do
		grep -q '^QGUEST-READY' console.log 2>/dev/null && grep -qF '(qemu)' mon.log && break
		sleep 1
	done
	grep -q '^QGUEST-READY' console.log || { kill $qemu; die "the guest did not boot: $stage/console.log"; }
	echo 'migrate "exec:cat > guest.state"' > mon.in
	for _ in $(seq 60); do
		echo 'info migrate' > mon.in
		sleep 1
		grep -q 'Migration status: completed' mon.log && break
	done
	echo quit > mon.in
	wait $qemu
	grep -q 'Migration status: completed' mon.log || die "no guest state: $stage/mon.log"
	rm -f mon.in mon.out mon.log console.log
)

mkfs.ext4 -q -F -b 4096 -d "$stage" "$image" $(($(du -sm "$stage" | cut -f1) * 11 / 10 + 16))M >/dev/null
rm -rf "$stage"
