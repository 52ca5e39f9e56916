#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Resolve and prepare one supported kernel line from Debian's archive.
#
#   kernel.sh resolve LINE   print "KVER PKGVERSION SUITE" of the newest kernel
#   kernel.sh prepare LINE   fetch it into the cache and print its env file
#   kernel.sh source LINE    fetch its linux-source tarball, print its path
#
# A line is a kernel series as Debian ships it (6.1, 6.12-deb12, 6.12-deb13,
# 7.x). The newest package of the line is found through the linux-headers-amd64
# meta-package of each suite listed for it, so a new point release is picked up
# without a code change. Its headers are unpacked into a chroot of the suite
# that built it (debootstrap), where its own compiler version runs; the kernel
# image is cut out to an uncompressed vmlinux for QEMU. The mirror is the one
# the system's apt sources use. Everything lives in $KSMPP_CACHE.
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

# line_suites LINE: the suites searched for LINE, and the version glob.
line_suites() {
	case $1 in
	6.1)		echo "6.1.* bookworm bookworm-security" ;;
	6.12-deb12)	echo "6.12.* bookworm-backports" ;;
	6.12-deb13)	echo "6.12.* trixie trixie-security" ;;
	7.x)		echo "7.* trixie-backports sid" ;;
	# Built from 6.1's source by debug-kernel.sh (which resolve and
	# prepare hand over to); "source debug" is 6.1's source.
	debug)		echo "6.1.* bookworm bookworm-security" ;;
	*)		die "unknown kernel line '$1' (known: $KSMPP_ALL_KERNELS)" ;;
	esac
}

APT_DIR=$KSMPP_CACHE/apt
APT_OPTS=(-o "Dir::Etc::SourceList=$APT_DIR/sources.list"
	  -o Dir::Etc::SourceParts=/nonexistent
	  -o "Dir::State::Lists=$APT_DIR/lists"
	  -o "Dir::Cache=$APT_DIR/cache"
	  -o APT::Architecture=amd64 -o Acquire::Languages=none
	  -o APT::Sandbox::User=root)

# Refresh the private package lists of every suite the lines use, at most
# hourly; with no network, the lists already cached are used. One run at a
# time (a subshell, holding a lock on them).
apt_lists_update() (
	local main sec line suite
	main=$(apt_mirror Debian)
	sec=$(apt_mirror Debian-Security)
	[ -n "$main" ] || die "no Debian mirror in the system's apt sources"
	mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
	exec 9>"$APT_DIR/lists.lock"
	flock 9
	{
		for line in $KSMPP_ALL_KERNELS; do
			for suite in $(line_suites "$line" | cut -d' ' -f2-); do
				case $suite in
				*-security) [ -n "$sec" ] && echo "deb $sec $suite main" ;;
				*) echo "deb $main $suite main" ;;
				esac
			done
		done
	} | sort -u > "$APT_DIR/sources.list.new"
	if cmp -s "$APT_DIR/sources.list.new" "$APT_DIR/sources.list" &&
	   [ -z "$(find "$APT_DIR/sources.list" -mmin +60)" ]; then
		rm -f "$APT_DIR/sources.list.new"
		return 0
	fi
	mv "$APT_DIR/sources.list.new" "$APT_DIR/sources.list"
	apt-get "${APT_OPTS[@]}" -qq update >&2 ||
		log "warning: package list update failed, using cached lists"
)

# packages_file SUITE: SUITE's Packages index, decompressed once per update
# (apt may keep its lists compressed); empty if the suite is not reachable.
packages_file() {
	local f out=$APT_DIR/packages/$1
	for f in "$APT_DIR"/lists/*_dists_"$1"_main_binary-amd64_Packages*; do
		[ -f "$f" ] || continue
		if [ ! -f "$out" ] || [ "$f" -nt "$out" ]; then
			mkdir -p "$APT_DIR/packages"
			/usr/lib/apt/apt-helper cat-file "$f" > "$out.new"
			mv "$out.new" "$out"
		fi
		echo "$out"
	done
	return 0
}

# pkg_field FILE PACKAGE FIELD: FIELD of the highest version of PACKAGE.
pkg_field() {
	awk -v p="$2" -v f="$3" '
		function emit() { if (inpkg && (f == "Version" || val != "")) print ver "\t" val }
		$1 == "Package:" { emit(); inpkg = ($2 == p); ver = val = "" }
		inpkg && $1 == "Version:" { ver = $2; if (f == "Version") val = $2 }
		inpkg && $1 == f ":" { sub(/^[^:]*: */, ""); val = $0 }
		END { emit() }
	' "$1" | sort -V -k1,1 | tail -n 1 | cut -f2-
}

# resolve LINE: prints "KVER PKGVERSION SUITE" of the newest kernel.
resolve() {
	local glob suites suite file ver dep kver best="" bestver=""
	read -r glob suites <<<"$(line_suites "$1")"
	for suite in $suites; do
		file=$(packages_file "$suite")
		[ -n "$file" ] || continue
		ver=$(pkg_field "$file" linux-headers-amd64 Version)
		# shellcheck disable=SC2254
		case ${ver%%-*} in $glob) ;; *) continue ;; esac
		dep=$(pkg_field "$file" linux-headers-amd64 Depends |
		      grep -o 'linux-headers-[^ ,]*-amd64' | head -n 1)
		kver=${dep#linux-headers-}
		if [ -z "$bestver" ] || dpkg --compare-versions "$ver" gt "$bestver"; then
			best="$kver $ver $suite"
			bestver=$ver
		fi
	done
	[ -n "$best" ] || die "no kernel of line $1 found in: $suites"
	echo "$best"
}

# fetch PACKAGE VERSION: download the .deb into the cache, print its path.
fetch() {
	local deb
	deb=$(find "$KSMPP_CACHE/debs" -name "${1}_*_*.deb" 2>/dev/null |
	      grep -F "_$(echo "$2" | sed 's/:/%3a/')_" | head -n 1 || true)
	if [ -z "$deb" ]; then
		mkdir -p "$KSMPP_CACHE/debs"
		(cd "$KSMPP_CACHE/debs" && apt-get "${APT_OPTS[@]}" -qq download "$1=$2" >&2) ||
			die "cannot download $1=$2"
		deb=$(find "$KSMPP_CACHE/debs" -name "${1}_*_*.deb" | head -n 1)
	fi
	echo "$deb"
}

# chroot_for SUITE COMPILER PACKAGES...: a build chroot of SUITE's base
# release with the packages installed; prints its path.
chroot_for() {
	local base=${1%%-*} dir
	dir=$KSMPP_CACHE/chroot/$base
	shift
	if [ ! -f "$dir/.ready" ]; then
		log "creating $base build chroot (debootstrap)"
		rm -rf --one-file-system "$dir" && mkdir -p "$KSMPP_CACHE/chroot"
		debootstrap --variant=minbase \
			--include=make,dkms,kmod,libelf-dev,bc,xz-utils,zstd,openssl \
			"$base" "$dir" "$(apt_mirror Debian)" >"$dir.log" 2>&1 ||
			die "debootstrap $base failed, see $dir.log"
		touch "$dir/.ready"
	fi
	local missing=() p
	for p in "$@"; do
		chroot "$dir" dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]} in the $base chroot"
		chroot "$dir" apt-get -qq update >&2
		chroot "$dir" env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
	fi
	echo "$dir"
}

# Plain package names of a Depends field (no versions, first alternative).
dep_names() {
	tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/ //g' | grep -v '^$'
}

prepare() {
	local line=$1 kver pkgver suite file hdr common kbuild compiler deps
	local dir env image root p
	# shellcheck disable=SC2086
	need_packages $KSMPP_HOST_PACKAGES
	apt_lists_update
	read -r kver pkgver suite <<<"$(resolve "$line")"
	env=$KSMPP_CACHE/kernels/$line.env
	if [ -f "$env" ] && grep -qx "KVER=$kver" "$env" && grep -qx "PKGVER=$pkgver" "$env"; then
		echo "$env"
		return 0
	fi
	log "preparing kernel $line: $kver ($pkgver, $suite)"
	file=$(packages_file "$suite")
	deps=$(pkg_field "$file" "linux-headers-$kver" Depends | dep_names)
	common=$(grep -x 'linux-headers-.*-common' <<<"$deps")
	kbuild=$(grep -x 'linux-kbuild-.*' <<<"$deps")
	compiler=$(grep -o 'gcc-[0-9]*' <<<"$deps" | head -n 1)
	[ -n "$common" ] && [ -n "$kbuild" ] && [ -n "$compiler" ] ||
		die "unexpected dependencies of linux-headers-$kver: $deps"

	# The chroot gets the compiler and what the kbuild tools link against.
	dir=$(chroot_for "$suite" "$compiler" \
		$(pkg_field "$file" "$kbuild" Depends | dep_names))
	for p in "linux-headers-$kver" "$common" "$kbuild" "linux-base-$kver"; do
		[ -n "$(pkg_field "$file" "$p" Version)" ] || continue
		# Keep the chroot's /lib -> usr/lib: plain dpkg-deb -x would
		# replace it with a directory.
		dpkg-deb --fsys-tarfile "$(fetch "$p" "$pkgver")" |
			tar -x --keep-directory-symlink -C "$dir"
	done
	[ -e "$dir/lib/modules/$kver/build" ] ||
		{ mkdir -p "$dir/lib/modules/$kver"; ln -sfn "/usr/src/linux-headers-$kver" "$dir/lib/modules/$kver/build"; }

	# The image package: linux-image-*-unsigned up to 6.x, linux-binary-unsigned-* on 7.x.
	for p in "linux-image-$kver-unsigned" "linux-binary-unsigned-$kver"; do
		[ -n "$(pkg_field "$file" "$p" Version)" ] && image=$(fetch "$p" "$pkgver") && break
	done
	[ -n "${image:-}" ] || die "no kernel image package for $kver"
	root=$KSMPP_CACHE/kernels/$line
	rm -rf "$root" && mkdir -p "$root"
	# The compressed kernel: /boot/vmlinuz-* up to 6.x, in /usr/lib/modules on 7.x.
	dpkg-deb --fsys-tarfile "$image" | tar -x -C "$root" --wildcards \
		$(dpkg-deb --fsys-tarfile "$image" | tar -t | grep -E '/(vmlinuz|config-)[^/]*$')
	# Modules: in the image package up to 6.x, in linux-modules-* on 7.x.
	p=linux-modules-$kver
	if [ -n "$(pkg_field "$file" "$p" Version)" ]; then
		ln -sf "$(fetch "$p" "$pkgver")" "$root/modules.deb"
	else
		ln -sf "$image" "$root/modules.deb"
	fi
	"$KSMPP_TOP/scripts/extract-vmlinux.sh" "$(find "$root" -name 'vmlinuz*' -type f)" > "$root/vmlinux"

	cat > "$env.new" <<-EOT
	LINE=$line
	KVER=$kver
	PKGVER=$pkgver
	SUITE=$suite
	COMPILER=$compiler
	CHROOT=$dir
	VMLINUX=$root/vmlinux
	MODULES_DEB=$root/modules.deb
	EOT
	mv "$env.new" "$env"
	echo "$env"
}

# source LINE: Debian's linux-source tarball of LINE's newest kernel.
source_tarball() {
	local kver pkgver suite series deb out
	apt_lists_update
	read -r kver pkgver suite <<<"$(resolve "$1")"
	series=$(echo "$pkgver" | cut -d. -f1-2)
	out=$KSMPP_CACHE/source/linux-source-$pkgver.tar.xz
	if [ ! -f "$out" ]; then
		deb=$(fetch "linux-source-$series" "$pkgver")
		mkdir -p "$KSMPP_CACHE/source"
		dpkg-deb --fsys-tarfile "$deb" |
			tar -xO --wildcards '*/linux-source-*.tar.xz' > "$out.new"
		mv "$out.new" "$out"
	fi
	echo "$out"
}

# The debug line is built, not fetched: scripts/debug-kernel.sh.
case ${1:-}:${2:-} in
resolve:debug|prepare:debug) exec "$KSMPP_TOP/scripts/debug-kernel.sh" "$1" ;;
esac

case ${1:-} in
resolve)	apt_lists_update; resolve "${2:?line}" ;;
# One prepare at a time: two may ask for one line (a test run's line and
# the nested guests' kernel, scripts/qemu-payload.sh), or share a chroot.
prepare)	mkdir -p "$KSMPP_CACHE/kernels"
		exec 9>"$KSMPP_CACHE/kernels/prepare.lock"
		flock 9
		prepare "${2:?line}" ;;
source)		source_tarball "${2:?line}" ;;
*)		die "usage: $0 resolve|prepare|source LINE" ;;
esac
