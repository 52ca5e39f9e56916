#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# guest-modules.sh LINE DIR MODULE...: the Debian kernel modules MODULE...
# of kernel LINE, with every module they depend on, as plain .ko files in
# DIR, for a guest without modprobe. For each MODULE, DIR/MODULE.load lists
# the files to insmod, in load order (dependencies first). A MODULE written
# NAME? is optional: left out where the package has no module NAME (built
# into that kernel, or gone).
#
# The modules come from the kernel's own package (MODULES_DEB in the
# kernel's env file). That package has no modules.dep (depmod writes it at
# install time), so the dependencies are read from each module's modinfo.
# Extracted modules are kept in build/LINE/guest-modules/ for later runs.
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

line=${1:?line}
dest=${2:?directory}
shift 2
[ $# -gt 0 ] || die "usage: $0 LINE DIR MODULE..."
# shellcheck disable=SC1090
. "$KSMPP_CACHE/kernels/$line.env"
cache=$KSMPP_BUILD/$line/guest-modules
# One run at a time per cache: a line's initramfs and the nested guests'
# (scripts/qemu-payload.sh) may take one line's modules at once.
mkdir -p "$KSMPP_BUILD/$line"
exec 9>"$cache.lock"
flock 9
# A kernel without a modules package (the debug line) has them built in:
# nothing to load.
if [ -z "$MODULES_DEB" ]; then
	mkdir -p "$dest"
	for name in $(echo "$@" | tr - _ | tr -d '?'); do
		: > "$dest/$name.load"
	done
	exit 0
fi

# The module name of a path: kernel/mm/zsmalloc.ko.xz -> zsmalloc. Module
# names treat '-' and '_' alike; they are kept with '_' here.
module_name() { basename "$1" | sed 's/\.ko\(\.xz\|\.zst\)\?$//; s/-/_/g'; }

# Every module the package holds: "name path" lines, in $cache/index.
index() {
	local stamp
	stamp=$(readlink -f "$MODULES_DEB")
	if [ -f "$cache/index" ] && [ "$(cat "$cache/deb" 2>/dev/null)" = "$stamp" ]; then
		return 0
	fi
	rm -rf "$cache" && mkdir -p "$cache/ko"
	dpkg-deb -c "$MODULES_DEB" | awk '{ print $6 }' |
		grep -E '/lib/modules/[^/]+/.*\.ko(\.xz|\.zst)?$' |
		while read -r path; do
			echo "$(module_name "$path") $path"
		done > "$cache/index"
	echo "$stamp" > "$cache/deb"
}

# fetch NAME...: those modules, uncompressed, as $cache/ko/NAME.ko (one
# pass over the package for all of them; a name may repeat).
fetch() {
	local name path paths=() tmp
	for name in $(printf '%s\n' "$@" | sort -u); do
		[ -f "$cache/ko/$name.ko" ] && continue
		path=$(awk -v n="$name" '$1 == n { print $2; exit }' "$cache/index")
		[ -n "$path" ] || die "kernel $line: no module $name in $MODULES_DEB"
		paths+=("$path")
	done
	[ ${#paths[@]} -gt 0 ] || return 0
	tmp=$(mktemp -d)
	dpkg-deb --fsys-tarfile "$MODULES_DEB" | tar -x -C "$tmp" "${paths[@]}"
	for path in "${paths[@]}"; do
		name=$(module_name "$path")
		case $path in
		*.xz)	xz -dc "$tmp/$path" > "$cache/ko/$name.ko" ;;
		*.zst)	zstd -dcq "$tmp/$path" > "$cache/ko/$name.ko" ;;
		*)	cp "$tmp/$path" "$cache/ko/$name.ko" ;;
		esac
	done
	rm -rf "$tmp"
}

# Without modinfo (package kmod) no dependency would be found, and the
# guest could not load what it needs: say so at once.
command -v modinfo >/dev/null || die "modinfo not found (package kmod): cannot read module dependencies"

# depends NAME: the modules NAME needs loaded first (already fetched).
depends() { modinfo -F depends "$cache/ko/$1.ko" | tr ',-' ' _'; }

# fetch_closure NAME...: NAME... and everything they depend on, level by
# level (one pass over the package per level).
fetch_closure() {
	local level=("$@") next name dep
	while [ ${#level[@]} -gt 0 ]; do
		fetch "${level[@]}"
		next=()
		for name in "${level[@]}"; do
			for dep in $(depends "$name"); do
				[ -f "$cache/ko/$dep.ko" ] || next+=("$dep")
			done
		done
		level=("${next[@]}")
	done
}

# load_order NAME: NAME's dependencies, depth first, then NAME itself
# (a name may repeat; the caller keeps the first of each).
load_order() {
	local dep
	for dep in $(depends "$1"); do
		load_order "$dep"
	done
	echo "$1"
}

index
mkdir -p "$dest"
names=
for name in "$@"; do
	name=$(echo "$name" | tr - _)
	case $name in
	*\?)
		name=${name%\?}
		awk -v n="$name" '$1 == n { found = 1 } END { exit !found }' "$cache/index" ||
			continue
		;;
	esac
	names="$names $name"
done
# shellcheck disable=SC2086
fetch_closure $names
for name in $names; do
	load_order "$name" | awk '!seen[$0]++ { print $0 ".ko" }' > "$dest/$name.load"
	while read -r ko; do
		cp "$cache/ko/$ko" "$dest/$ko"
	done < "$dest/$name.load"
done
