#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only
# /init of the nested QEMU guests of the "# vm: qemu" groups (see
# scripts/qemu-payload.sh): a guest as those booting from shared golden
# images. Its disks are golden images a, b and c (/dev/vda, vdb, vdc), on
# which it acts when told, one command a line on its console:
#   read X   read every file of disk X once (tar of the tree to /dev/null:
#            the reads land in its page cache, that is in QEMU's guest RAM
#            on the host)
#   sums TAG check every file read so far against the disks' MD5SUMS (made
#            on the host), through its page cache
# The disks are mounted (read-only) before READY, so that a guest started
# from the saved state (scripts/qemu-payload.sh) runs no mount: under
# nested TCG each kernel path a guest runs for the first time costs it
# seconds.
# Its lines start with QGUEST-: READY, READ X, SUMS-OK TAG or SUMS-BAD TAG,
# FAIL.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /mnt
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
say() { echo "QGUEST-$*"; }

for name in virtio_pci virtio_blk crc32c_generic crc32c_cryptoapi ext4; do
	[ -f /kmod/$name.load ] || continue
	while read -r ko; do
		grep -q "^${ko%.ko} " /proc/modules || insmod /kmod/$ko || say "FAIL insmod $ko"
	done < /kmod/$name.load
done
for disk in a b c; do
	mkdir -p /mnt/$disk
	mount -t ext4 -o ro,noload /dev/vd$disk /mnt/$disk || say "FAIL mount $disk"
done
was_read=
say READY
# init must never end (the kernel would panic): a failed read (the
# console's input hung up, as after a restore) is retried.
while :; do
	read -r command disk || { sleep 1; continue; }
	case "$command $disk" in
	"read a" | "read b" | "read c")
		if tar c -C /mnt/$disk . > /dev/null; then
			was_read="$was_read $disk"
			say "READ $disk"
		else
			say "FAIL read $disk"
		fi ;;
	sums\ ?*)
		bad=0
		for d in $was_read; do
			(cd /mnt/$d && md5sum -c -s MD5SUMS) || bad=$((bad + 1))
		done
		if [ $bad = 0 ]; then say "SUMS-OK $disk"; else say "SUMS-BAD $disk"; fi ;;
	*)
		say "FAIL no command $command $disk" ;;
	esac
done
