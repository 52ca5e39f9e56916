# SPDX-License-Identifier: GPL-2.0-only
# vm: disks not-debug
# The I/O hooks on real file systems and a block device (virtio disks, see
# scripts/vm.sh): buffered reads from the disk and from the page cache,
# O_DIRECT reads through iomap (ext4, xfs, btrfs), the legacy direct-I/O
# path (vfat) and the block device's own, buffered and direct writes, with
# the functions hooked by direct calls and by ftrace. Each
# yields the hints ksmpp-io expects (pid, range, length, source); a cold
# read also has to reach the disk (its read sector count grows).
# make test leaves this group out on the debug line, to keep the run short:
# the hook handlers and the ring run there in the hooks and hintsmoke
# groups, and what this group adds is which kernel functions each file
# system reaches, the same on 6.1 with and without the debug options.
. /tests/lib.sh

# from_disk DEV COMMAND...: COMMAND succeeds and DEV read sectors meanwhile.
sectors_read() { awk '{ print $3 }' "/sys/block/${1#/dev/}/stat"; }
from_disk() {
	local dev=$1 before
	shift
	before=$(sectors_read "$dev")
	"$@" && [ "$(sectors_read "$dev")" -gt "$before" ]
}

drop_caches() { sync && echo 3 > /proc/sys/vm/drop_caches; }

# crc32c's providers first: 6.1's libcrc32c asks the crypto API at init.
check "disk and file system modules load" kmods virtio_pci virtio_blk \
	crc32c_generic crc32c_cryptoapi ext4 xfs btrfs nls_cp437 nls_ascii vfat
check "the disks appear" wait_for 10 disk raw
# btrfs without data checksums: from 6.12 on, btrfs turns O_DIRECT writes
# of checksummed files into buffered ones, which copy in btrfs itself and
# are not hooked (hooks.c).
for fs in ext4 xfs btrfs vfat; do
	mkdir -p /mnt/$fs
	options=defaults
	[ $fs != btrfs ] || options=nodatasum
	check "$fs mounts" mount -t $fs -o $options "$(disk $fs)" /mnt/$fs
	dd if=/dev/urandom of=/mnt/$fs/file bs=64k count=4 2>/dev/null
done
raw=$(disk raw)
# Which direct-I/O functions this kernel has (GCC clones included).
grep -E ' (__iomap_dio_r[a-z_]*|__blockdev_direct_IO|blkdev_direct_IO)(\.[a-z]+\.[0-9]+)?$' \
	/proc/kallsyms | sed 's/^[0-9a-f]* . /kallsyms: /'

# Each path in the modes auto (direct calls) and ftrace.
for hook_mode in auto ftrace; do
	how=$( [ $hook_mode = auto ] && echo direct || echo $hook_mode )
	drop_caches
	insmod $KSMPP_KO hook_mode=$hook_mode
	for fs in ext4 xfs btrfs vfat; do
		f=/mnt/$fs/file
		dev=$(disk $fs)
		drop_caches
		check "$how: $fs: pread from the disk hinted" from_disk "$dev" hinted $f pread
		check "$how: $fs: readv from the page cache hinted" hinted $f readv
		check "$how: $fs: O_DIRECT read (64 KiB) hinted, from the disk" \
			from_disk "$dev" hinted $f direct_read
		check "$how: $fs: O_DIRECT read (4 KiB) hinted" hinted -s 4096 $f direct_read
		check "$how: $fs: O_DIRECT write hinted" hinted $f direct_write
	done
	check "$how: ext4: preadv of 40 iovecs hinted" hinted /mnt/ext4/file preadv_many
	# btrfs's buffered writes copy in btrfs itself: not hooked (hooks.c).
	for fs in ext4 xfs vfat; do
		check "$how: $fs: write hinted" hinted /mnt/$fs/file write
		check "$how: $fs: pwrite hinted" hinted /mnt/$fs/file pwrite
	done

	drop_caches
	check "$how: block device: pread from the disk hinted" from_disk "$raw" hinted "$raw" pread
	check "$how: block device: preadv from the page cache hinted" hinted "$raw" preadv
	check "$how: block device: O_DIRECT read (64 KiB) hinted, from the disk" \
		from_disk "$raw" hinted "$raw" direct_read
	check "$how: block device: O_DIRECT read (4 KiB) hinted" hinted -s 4096 "$raw" direct_read
	check "$how: block device: write hinted" hinted "$raw" write
	check "$how: block device: O_DIRECT write hinted" hinted "$raw" direct_write

	before=$(grep -c . /sys/kernel/debug/ksmpp/hints)
	ksmpp-io /mnt/xfs/file direct_read && ksmpp-io "$raw" direct_read
	check "$how: no hint for a process that did not opt in" \
		[ "$(grep -c . /sys/kernel/debug/ksmpp/hints)" = "$before" ]
	unload
done
for fs in ext4 xfs btrfs vfat; do
	check "$fs unmounts" umount /mnt/$fs
done
