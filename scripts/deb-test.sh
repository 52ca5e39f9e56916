#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# deb-test.sh: build the Debian packages (scripts/deb.sh), install them with
# dpkg -i in the bookworm chroot of kernel line 6.1 (which holds Debian's
# kernel headers), check that DKMS built and installed the module for every
# kernel there with headers and that ksmppctl runs, then purge them and
# check that nothing is left. Prints "PASS deb: ..." / "FAIL deb: ..."
# lines; exit status 1 if any failed. Log: build/deb/test.log.
#
# The chroot is seen through an overlay (its changes go to build/deb/test/
# and are dropped at the end) in a private mount namespace: the chroot
# itself is never modified. Its lock, which build-module.sh (same chroot,
# same DKMS module name) holds while it builds, keeps it from changing
# under the overlay meanwhile. Inside, the
# state build-module.sh left (its DKMS registration of ksmpp and
# /usr/src/ksmpp-VERSION) is removed first, so that the packages start from
# a chroot without ksmpp. DKMS is told to build for every kernel with
# headers (autoinstall_all_kernels, as for chroots and image builds): the
# running kernel is the host's, which the chroot has no headers for.
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

# Into a private mount namespace: the overlay and /proc go away with it.
if [ -z "${KSMPP_DEB_TEST_NS:-}" ]; then
	[ "$(id -u)" -eq 0 ] || die "needs root (chroot, mounts)"
	export KSMPP_DEB_TEST_NS=1
	exec unshare --mount --propagation private "$0" "$@"
fi

out=$KSMPP_BUILD/deb
test=$out/test
log=$out/test.log
mkdir -p "$out"
: > "$log"
failed=0
pass() { echo "PASS deb: $*"; }
fail() { echo "FAIL deb: $*"; failed=1; }
# check NAME COMMAND...: one result from COMMAND's status (output to the log).
check() {
	local name=$1
	shift
	if "$@" >>"$log" 2>&1; then pass "$name"; else fail "$name (see $log)"; fi
}
not() { ! "$@"; }

# shellcheck disable=SC1090
. "$("$KSMPP_TOP/scripts/kernel.sh" prepare 6.1)"
exec 9>"$CHROOT.lock"
flock 9
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$KSMPP_TOP/dkms.conf")
exclusive=$(sed -n 's/^BUILD_EXCLUSIVE_KERNEL="\(.*\)"/\1/p' "$KSMPP_TOP/dkms.conf")

if ! debs=$("$KSMPP_TOP/scripts/deb.sh" 2>>"$log"); then
	fail "make deb (scripts/deb.sh), see $log"
	exit 1
fi
pass "make deb builds $(echo "$debs" | xargs -n1 basename | tr '\n' ' ')"

# The chroot, through an overlay, with /proc (DKMS needs it).
root=$test/root
rm -rf "$test"
mkdir -p "$test/upper" "$test/work" "$root"
mount -t overlay overlay \
	-o "lowerdir=$CHROOT,upperdir=$test/upper,workdir=$test/work" "$root"
mount -t proc proc "$root/proc"
cleanup() {
	umount "$root/proc" 2>/dev/null || true
	umount "$root" 2>/dev/null || true
	rm -rf "$test"
}
trap cleanup EXIT
in_chroot() { chroot "$root" "$@"; }
installed() {
	[ "$(in_chroot dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# Start without ksmpp: what build-module.sh registered goes (in the overlay).
{
	in_chroot dkms remove "ksmpp/$version" --all || true
	rm -rf "$root/usr/src/ksmpp-$version" "$root/var/lib/dkms/ksmpp"
	rm -f "$root"/lib/modules/*/updates/dkms/ksmpp.ko*
} >>"$log" 2>&1
check "chroot without ksmpp packages before the test" \
	not installed ksmpp-dkms
check "... nor ksmpp in DKMS" sh -c "! chroot '$root' dkms status -m ksmpp | grep -q ."

# What changed in the chroot, from the overlay's upper layer: files and
# links written, whiteouts of files removed, directories made. Directories
# the chroot already had are only copied up; dpkg's own records and logs
# change, depmod leaves its index files, and DKMS's first build makes the
# machine's module signing key (/var/lib/dkms/mok.*), kept after a purge
# as on any system: those are left out.
changes() {
	local path type
	(cd "$test/upper" && find . -mindepth 1 \( -path ./var/lib/dpkg -o \
		-path ./var/log -o -path ./var/cache -o -path ./tmp -o \
		-path './usr/lib/modules/*/modules.*' -o -path './var/lib/dkms/mok.*' \) -prune -o -printf '%P %y\n') |
	while read -r path type; do
		[ "$type" = d ] && [ -d "$CHROOT/$path" ] && continue
		echo "$path $type"
	done | LC_ALL=C sort
}
changes > "$test/before"

# Which kernels DKMS must build for: those with headers that dkms.conf's
# BUILD_EXCLUSIVE_KERNEL accepts.
kernels=""
for dir in "$root"/lib/modules/*/; do
	k=$(basename "$dir")
	in_chroot test -e "/lib/modules/$k/build/include" || continue
	[[ $k =~ $exclusive ]] || continue
	kernels="$kernels $k"
done
kernels=${kernels# }
echo "kernels with headers: $kernels" >>"$log"
check "kernel $KVER has headers in the chroot" grep -qw -- "$KVER" <<<"$kernels"

mkdir -p "$root/tmp/ksmpp-deb"
# shellcheck disable=SC2086
cp $debs "$root/tmp/ksmpp-deb/"
if in_chroot env autoinstall_all_kernels=1 dpkg -i \
	$(for deb in $debs; do echo "/tmp/ksmpp-deb/$(basename "$deb")"; done) >>"$log" 2>&1; then
	pass "dpkg -i installs ksmpp-dkms and ksmppctl"
else
	fail "dpkg -i installs ksmpp-dkms and ksmppctl (see $log)"
fi
rm -rf "$root/tmp/ksmpp-deb"

check "ksmpp-dkms installed" installed ksmpp-dkms
check "ksmppctl installed" installed ksmppctl
check "source in /usr/src/ksmpp-$version, owned by ksmpp-dkms" \
	sh -c "chroot '$root' dpkg -S /usr/src/ksmpp-$version/dkms.conf | grep -q '^ksmpp-dkms:'"
in_chroot dkms status >>"$log" 2>&1 || true
for k in $kernels; do
	check "DKMS status: ksmpp/$version installed for $k" sh -c \
		"chroot '$root' dkms status -m ksmpp -v '$version' -k '$k' | grep -q ': installed'"
	ko=$(find "$root/lib/modules/$k/updates/dkms" -name 'ksmpp.ko*' 2>/dev/null | head -n 1)
	check "ksmpp.ko installed for $k" [ -n "$ko" ]
	[ -n "$ko" ] || continue
	ko=${ko#"$root"}
	check "ksmpp.ko for $k is built for $k" sh -c \
		"chroot '$root' modinfo -F vermagic '$ko' | grep -q '^$k '"
	check "ksmpp.ko for $k has version $version" \
		[ "$(in_chroot modinfo -F version "$ko" 2>>"$log")" = "$version" ]
done
check "ksmppctl runs in the chroot (its libraries installed)" \
	[ "$(in_chroot ksmppctl --version 2>>"$log")" = "ksmppctl $version" ]
check "ksmppctl's man page installed" [ -f "$root/usr/share/man/man8/ksmppctl.8.gz" ]

if in_chroot dpkg --purge ksmppctl ksmpp-dkms >>"$log" 2>&1; then
	pass "dpkg --purge removes both"
else
	fail "dpkg --purge removes both (see $log)"
fi
check "ksmpp-dkms gone" not installed ksmpp-dkms
check "ksmppctl gone" not installed ksmppctl
check "DKMS knows no ksmpp after the purge" sh -c \
	"! chroot '$root' dkms status -m ksmpp | grep -q ."
check "no ksmpp.ko left" \
	[ -z "$(find "$root/lib/modules" "$root/var/lib/dkms" -name 'ksmpp.ko*' 2>/dev/null)" ]
check "no /usr/src/ksmpp-$version left" [ ! -e "$root/usr/src/ksmpp-$version" ]
check "no /var/lib/dkms/ksmpp left" [ ! -e "$root/var/lib/dkms/ksmpp" ]
changes > "$test/after"
if diff "$test/before" "$test/after" >>"$log"; then
	pass "chroot as before the install (every file, dpkg's records aside)"
else
	fail "chroot not as before the install: see the diff in $log"
fi
exit $failed
