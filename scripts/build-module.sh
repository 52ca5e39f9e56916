#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# build-module.sh LINE: build everything the VM tests load for kernel LINE,
# inside the chroot that holds its headers, into build/LINE/modules/:
#   ksmpp.ko                  the module, with Kbuild
#   ksmpp-test.ko             a test build with delays and faults to inject,
#                             a load that finds no kernel symbol included
#                             (KSMPP_TEST_HOOKS: test_* parameters)
#   ksmpp-slot.ko             a test module holding one function's
#                             direct-call slot, as another tracer would
#                             (tests/slot)
#   dkms/ksmpp.ko             the module as "dkms add" + "dkms build" make it
#   version                   the version the module must report
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

line=${1:?line}
# shellcheck disable=SC1090
. "$("$KSMPP_TOP/scripts/kernel.sh" prepare "$line")"
out=$KSMPP_BUILD/$line/modules
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$KSMPP_TOP/dkms.conf")
rm -rf "$out" && mkdir -p "$out/dkms"
echo "$version" > "$out/version"

# copy_source DIR: the files a module build needs (what DKMS ships), in DIR.
copy_source() {
	rm -rf "$1" && mkdir -p "$1"
	cp -a "$KSMPP_TOP/Kbuild" "$KSMPP_TOP/dkms.conf" "$KSMPP_TOP/module" "$1/"
}

# kbuild NAME [MAKE ARGS]: build the module in the chroot, as build/LINE/NAME.
kbuild() {
	local name=$1 dir=/build/$1
	shift
	copy_source "$CHROOT$dir"
	chroot "$CHROOT" make -s -j"$(nproc)" -C "/lib/modules/$KVER/build" M="$dir" "$@" modules >&2
	cp "$CHROOT$dir/module/ksmpp.ko" "$out/$name.ko"
}

# One build at a time per chroot: builds share its /build and DKMS tree.
exec 9>"$CHROOT.lock"
flock 9

# DKMS and 7.x's objtool read /proc: mount it in the chroot meanwhile.
if ! mountpoint -q "$CHROOT/proc"; then
	mount -t proc proc "$CHROOT/proc"
	trap 'umount "$CHROOT/proc"' EXIT
fi

# Warnings fail the project's own builds (not a user's DKMS build).
kbuild ksmpp KCFLAGS=-Werror
kbuild ksmpp-test KCFLAGS='-Werror -DKSMPP_TEST_HOOKS'

# The test module that holds a function's direct-call slot (tests/slot).
dir=/build/ksmpp-slot
rm -rf "${CHROOT:?}$dir" && mkdir -p "$CHROOT$dir"
cp -a "$KSMPP_TOP"/tests/slot/. "$KSMPP_TOP/module/compat.h" "$CHROOT$dir/"
chroot "$CHROOT" make -s -j"$(nproc)" -C "/lib/modules/$KVER/build" M="$dir" \
	KCFLAGS=-Werror modules >&2
cp "$CHROOT$dir/ksmpp_slot.ko" "$out/ksmpp-slot.ko"

# DKMS, as a user's machine runs it.
src=/usr/src/ksmpp-$version
chroot "$CHROOT" dkms remove "ksmpp/$version" --all >/dev/null 2>&1 || true
copy_source "$CHROOT$src"
chroot "$CHROOT" dkms add "ksmpp/$version" >&2
chroot "$CHROOT" dkms build "ksmpp/$version" -k "$KVER" >&2
ko=$(find "$CHROOT/var/lib/dkms/ksmpp/$version/$KVER" -name 'ksmpp.ko*' | head -n 1)
case $ko in
*.xz)	xz -dc "$ko" > "$out/dkms/ksmpp.ko" ;;
*.zst)	zstd -dcq "$ko" > "$out/dkms/ksmpp.ko" ;;
*.ko)	cp "$ko" "$out/dkms/ksmpp.ko" ;;
*)	die "dkms build left no module for $KVER" ;;
esac
echo "$out"
