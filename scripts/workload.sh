# SPDX-License-Identifier: GPL-2.0-only
# The vmsim workload on the host side, shared by scripts/bench.sh and
# scripts/demo.sh (sourced after lib.sh, not run): the disk image, a
# Kbuild-only build of ksmpp, the guest's extra files, and the guest's
# "PREFIX RUN/CONFIG csv ..." console lines split into files.

# workload_image DIR MIB SRC: DIR/disk.img, the first MIB MiB of a tar of
# the real files under SRC (in name order), and the same image in an ext4
# file system, DIR/disk.ext4. Kept for later runs with the same MIB and SRC.
workload_image() {
	local dir=$1 mib=$2 src=$3 img=$1/disk.img stamp="$3 $2"
	if [ -f "$img" ] && [ -f "$dir/disk.ext4" ] &&
	   [ "$(cat "$img.stamp" 2>/dev/null)" = "$stamp" ]; then
		return 0
	fi
	mkdir -p "$dir"
	log "disk image: $mib MiB of $src (tar)"
	{ tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
		-cf - -C "$src" . 2>/dev/null || true; } |
		head -c $((mib << 20)) > "$img.tmp"
	[ "$(stat -c %s "$img.tmp")" -eq $((mib << 20)) ] ||
		die "$src holds less than $mib MiB"
	mv "$img.tmp" "$img"
	# The same image in an ext4 file system, read-only in the guest.
	rm -rf "$dir/ext4" "$dir/disk.ext4" && mkdir "$dir/ext4"
	ln "$img" "$dir/ext4/disk.img"
	mke2fs -q -F -t ext4 -d "$dir/ext4" "$dir/disk.ext4" $((mib + 16))M >/dev/null
	rm -rf "$dir/ext4"
	echo "$stamp" > "$img.stamp"
}

# workload_module SRC LINE NAME OUT: ksmpp.ko from the tree SRC (Kbuild
# only) into OUT/, built in the line's chroot in /build/NAME, a directory
# of its own there, one build at a time per chroot (as
# scripts/build-module.sh). Prints which module source it built.
workload_module() {
	local src=$1 line=$2 dir=/build/$3 out=$4
	# shellcheck disable=SC1090
	. "$("$KSMPP_TOP/scripts/kernel.sh" prepare "$line")"
	echo "module source: $(git -C "$src" log -1 --format='%h %cI' -- module Kbuild)$(
		git -C "$src" diff --quiet HEAD -- module Kbuild || echo ' (with uncommitted changes)')"
	(
		flock 9
		rm -rf "${CHROOT:?}$dir" && mkdir -p "$CHROOT$dir"
		cp -a "$src/Kbuild" "$src/dkms.conf" "$src/module" "$CHROOT$dir/"
		# 7.x's objtool reads /proc.
		mounted=
		if ! mountpoint -q "$CHROOT/proc"; then
			mount -t proc proc "$CHROOT/proc" && mounted=1
		fi
		chroot "$CHROOT" make -s -j"$(nproc)" -C "/lib/modules/$KVER/build" M="$dir" modules || {
			[ -z "$mounted" ] || umount "$CHROOT/proc" || true
			exit 1
		}
		[ -z "$mounted" ] || umount "$CHROOT/proc" || true
		rm -rf "$out" && mkdir -p "$out" &&
			cp "$CHROOT$dir/module/ksmpp.ko" "$out/"
	) 9>"$CHROOT.lock"
}

# workload_stage LINE STAGE IMAGEDIR FS: into the initramfs stage
# directory STAGE of a guest of kernel LINE, made by scripts/vm.sh (which
# puts the programs of tests/bench in /bin), the guest helpers
# (tests/bench/bench-lib.sh, in /tests), and the disk image of IMAGEDIR
# (workload_image) in /bench: on ext4 with the guest modules that mount it
# (FS ext4), or as a plain file (FS tmpfs). KSMPP_BUILD is the build tree
# the stage belongs to.
workload_stage() {
	local line=$1 stage=$2 images=$3 fs=$4
	mkdir -p "$stage/bench"
	cp "$KSMPP_TOP/tests/bench/bench-lib.sh" "$stage/tests/"
	if [ "$fs" = ext4 ]; then
		cp "$images/disk.ext4" "$stage/bench/disk.ext4"
		# crc32c_generic: what ext4's checksums need on kernels that have it.
		"$KSMPP_TOP/scripts/guest-modules.sh" "$line" "$stage/kmod" \
			loop ext4 crc32c_generic 2>/dev/null ||
			"$KSMPP_TOP/scripts/guest-modules.sh" "$line" "$stage/kmod" loop ext4
	else
		cp "$images/disk.img" "$stage/bench/disk.img"
	fi
}

# workload_pack STAGE CPIO: the stage directory as the guest's initramfs.
workload_pack() {
	(cd "$1" && find . | cpio -o -H newc --quiet) > "$2"
}

# workload_split LOG DIR RUN: the guest's "KSMPP-BENCH" lines into files
# under DIR: RUN/CONFIG.csv (header, then one line a second),
# RUN/CONFIG.summary and RUN/CONFIG.state (the engine's final counters),
# pread.txt, RUN.points (the scale run's "RUN point ..." lines), and every
# other line into RUN.notes.txt.
workload_split() {
	local log=$1 dir=$2 run=$3
	sed -n 's/.*KSMPP-BENCH //p' "$log" | awk -v dir="$dir" -v run="$run" '
		$2 == "header" { split($1, a, "/"); system("mkdir -p " dir "/" a[1])
				 print $3 > (dir "/" $1 ".csv"); next }
		$2 == "csv"    { print $3 >> (dir "/" $1 ".csv"); next }
		$2 == "summary" { f = dir "/" $1 ".summary"; sub(/^[^ ]* +[^ ]* +/, ""); print > f; next }
		$2 == "state"  { print $3, $4 >> (dir "/" $1 ".state"); next }
		$1 == "pread"  { print >> (dir "/pread.txt"); next }
		$2 == "point"  { print >> (dir "/" $1 ".points"); next }
		{ print >> (dir "/" run ".notes.txt") }'
}
