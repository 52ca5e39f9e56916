#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# deb.sh: build the Debian packages into build/deb/ ("make deb"):
#   ksmpp-dkms_VERSION-1_all.deb   the module's source in /usr/src/ksmpp-VERSION
#                                  (dkms.conf, Kbuild, module/), registered,
#                                  built and installed by DKMS in its postinst
#   ksmppctl_VERSION-1_amd64.deb   the tool and its man page
# VERSION is dkms.conf's PACKAGE_VERSION; KSMPP_DEB_REVISION (default 1) is
# the Debian revision. The metadata is debian/control (dpkg-gencontrol), the
# libraries ksmppctl depends on come from dpkg-shlibdeps, the build flags
# (hardening) from dpkg-buildflags. Prints the paths of the packages.
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

need_packages make gcc libc6-dev libkmod-dev dpkg-dev groff-base

version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$KSMPP_TOP/dkms.conf")
[ -n "$version" ] || die "no PACKAGE_VERSION in dkms.conf"
debversion=$version-${KSMPP_DEB_REVISION:-1}
out=$KSMPP_BUILD/deb
work=$out/work
rm -rf "$work" "$out"/*.deb
mkdir -p "$work"
umask 022

# The date of the packaged source: its last commit, else now (or
# SOURCE_DATE_EPOCH), so that a rebuild of one commit is the same.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$KSMPP_TOP" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH
described=$(git -C "$KSMPP_TOP" describe --always --dirty 2>/dev/null || echo unknown)
maintainer=$(sed -n 's/^Maintainer: //p' "$KSMPP_TOP/debian/control")
cat > "$work/changelog" <<EOF
ksmpp ($debversion) unstable; urgency=medium

  * Built from the ksmpp source tree (git $described) by scripts/deb.sh.

 -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")
EOF

# docs PKG: copyright and changelog.Debian.gz in PKG's tree.
docs() {
	local doc=$work/$1/usr/share/doc/$1
	install -d "$doc"
	install -m 644 "$KSMPP_TOP/debian/copyright" "$doc/copyright"
	gzip -9nc "$work/changelog" > "$doc/changelog.Debian.gz"
	chmod 644 "$doc/changelog.Debian.gz"
}

# control PKG [SUBSTVARS]: DEBIAN/control and DEBIAN/md5sums of PKG's tree.
control() {
	local pkg=$1 tree=$work/$1 substvars=${2:-$work/$1.substvars}
	[ -f "$substvars" ] || : > "$substvars"
	grep -q '^misc:Depends=' "$substvars" || echo 'misc:Depends=' >> "$substvars"
	install -d "$tree/DEBIAN"
	(cd "$KSMPP_TOP" && dpkg-gencontrol -c"debian/control" -l"$work/changelog" \
		-f"$work/files" -T"$substvars" -v"$debversion" -p"$pkg" -P"$tree")
	(cd "$tree" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' |
		LC_ALL=C sort -z | xargs -0r md5sum) > "$tree/DEBIAN/md5sums"
	chmod 644 "$tree/DEBIAN/control" "$tree/DEBIAN/md5sums"
	[ -s "$tree/DEBIAN/md5sums" ] || rm -f "$tree/DEBIAN/md5sums"
}

# package PKG: the .deb of PKG's tree into build/deb/.
package() {
	local arch
	arch=$(sed -n 's/^Architecture: //p' "$work/$1/DEBIAN/control")
	dpkg-deb --root-owner-group -Zxz --build "$work/$1" \
		"$out/${1}_${debversion}_$arch.deb" >&2
	echo "$out/${1}_${debversion}_$arch.deb"
}

# ksmpp-dkms: what DKMS builds from (what build-module.sh copies).
tree=$work/ksmpp-dkms
src=$tree/usr/src/ksmpp-$version
install -d "$src/module"
install -m 644 "$KSMPP_TOP/dkms.conf" "$KSMPP_TOP/Kbuild" "$src/"
for f in "$KSMPP_TOP"/module/*.[ch] "$KSMPP_TOP/module/Kbuild"; do
	case $f in *.mod.c) continue ;; esac	# Kbuild's leftovers
	install -m 644 "$f" "$src/module/"
done
docs ksmpp-dkms
install -d "$tree/DEBIAN"
for script in postinst prerm; do
	sed "s/#MODULE_VERSION#/$version/g" "$KSMPP_TOP/debian/ksmpp-dkms.$script" \
		> "$tree/DEBIAN/$script"
	chmod 755 "$tree/DEBIAN/$script"
done
control ksmpp-dkms
package ksmpp-dkms

# ksmppctl, built with Debian's flags (hardening), stripped as dh_strip does.
tree=$work/ksmppctl
groff -man -Tutf8 -ww -z "$KSMPP_TOP/tools/ksmppctl/ksmppctl.8" 2>&1 |
	{ ! grep .; } || die "the man page has groff warnings"
make -s -C "$KSMPP_TOP/tools/ksmppctl" OUT="$work/ksmppctl-build" \
	CFLAGS="$(dpkg-buildflags --get CFLAGS)" \
	CPPFLAGS="$(dpkg-buildflags --get CPPFLAGS)" \
	LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" \
	DESTDIR="$tree" install >&2
strip --remove-section=.comment --remove-section=.note --strip-unneeded \
	"$tree/usr/sbin/ksmppctl"
gzip -9n "$tree/usr/share/man/man8/ksmppctl.8"
docs ksmppctl
(cd "$KSMPP_TOP" && dpkg-shlibdeps -T"$work/ksmppctl.substvars" \
	-e"$tree/usr/sbin/ksmppctl" 2>&1 |
	grep -v "binaries to analyze should already be installed" >&2 || true)
grep -q '^shlibs:Depends=.*libkmod' "$work/ksmppctl.substvars" ||
	die "dpkg-shlibdeps found no libkmod dependency"
control ksmppctl
package ksmppctl
