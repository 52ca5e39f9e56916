#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# guest-tools.sh STAGE: put ksmppctl into the test guest's initramfs stage
# directory STAGE, as /bin/ksmppctl with every shared library it needs.
#
# The guest is busybox only, with no libc of its own: the dynamic loader and
# each library ldd lists are copied to the same path under STAGE (for
# example STAGE/lib/x86_64-linux-gnu/libkmod.so.2 and
# STAGE/lib64/ld-linux-x86-64.so.2), where the loader finds them with no
# ld.so.cache. The host's libraries are used, so the host and the guest run
# the very same binary.
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

stage=${1:?usage: $0 STAGE}
[ -d "$stage" ] || die "no stage directory $stage"
out=$KSMPP_BUILD/ksmppctl
make -s -C "$KSMPP_TOP/tools/ksmppctl" OUT="$out" >&2
install -D -m 755 "$out/ksmppctl" "$stage/bin/ksmppctl"

# copy_lib PATH: PATH (symlinks resolved) at the same place in the stage.
copy_lib() {
	local dest=$stage$1
	[ -e "$dest" ] && return 0
	mkdir -p "$(dirname "$dest")"
	cp -L "$1" "$dest"
}

# ldd's lines: "libkmod.so.2 => /lib/.../libkmod.so.2 (0x...)", the loader
# as "/lib64/ld-linux-x86-64.so.2 (0x...)", and "linux-vdso.so.1 (0x...)"
# (in the kernel, nothing to copy).
libs=$(ldd "$out/ksmppctl" | awk '
	$2 == "=>" && $3 ~ /^\// { print $3; next }
	$2 == "=>" { print "missing:" $1; next }
	$1 ~ /^\// { print $1 }')
[ -n "$libs" ] || die "ldd lists no library for ksmppctl"
for lib in $libs; do
	case $lib in
	missing:*) die "ksmppctl needs ${lib#missing:}, which is not found on this host" ;;
	esac
	copy_lib "$lib"
done
# The loader must also be where the binary's PT_INTERP names it.
interp=$(readelf -l "$out/ksmppctl" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
[ -z "$interp" ] || copy_lib "$interp"
