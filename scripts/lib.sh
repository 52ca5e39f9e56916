# SPDX-License-Identifier: GPL-2.0-only
# Shared helpers for the ksmpp build and test scripts (sourced, not run).

KSMPP_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Downloads, chroots and debug kernels: shared by every checkout on this machine.
KSMPP_CACHE=${KSMPP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksmpp}
# Per-checkout build output (modules, initramfs images, logs).
KSMPP_BUILD=${KSMPP_BUILD:-$KSMPP_TOP/build}
# Every supported kernel line, in test order.
KSMPP_ALL_KERNELS="6.1 6.12-deb12 6.12-deb13 7.x debug"

# What the host needs: QEMU, the guest's busybox, chroots, unit tests.
KSMPP_HOST_PACKAGES="make gcc libc6-dev qemu-system-x86 busybox-static cpio
	debootstrap libcmocka-dev xz-utils zstd binutils util-linux dwarves libkmod-dev dpkg-dev
	e2fsprogs xfsprogs btrfs-progs dosfstools kmod git"

log() { printf '%s\n' "ksmpp: $*" >&2; }
die() { log "error: $*"; exit 1; }

# need_packages PKG...: apt-get install what is missing (Debian host).
need_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "needs root to install: ${missing[*]}"
	log "installing ${missing[*]}"
	if [ ! -f "$KSMPP_CACHE/.apt-updated" ] ||
	   [ -n "$(find "$KSMPP_CACHE/.apt-updated" -mmin +360)" ]; then
		apt-get update -qq >&2
		mkdir -p "$KSMPP_CACHE" && touch "$KSMPP_CACHE/.apt-updated"
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >&2
}

# The Debian mirror (label Debian or Debian-Security) from the system's
# own apt sources; the project never names a mirror host itself.
apt_mirror() {
	apt-get indextargets --format '$(LABEL) $(REPO_URI)' |
		awk -v l="$1" '$1 == l { print $2; exit }'
}

# line_module LINE: the facts of kernel line LINE (its env file: KVER,
# CHROOT, VMLINUX, ...), and ko, the ksmpp.ko built for it.
line_module() {
	# shellcheck disable=SC1090
	. "$KSMPP_CACHE/kernels/$1.env"
	ko=$KSMPP_BUILD/$1/modules/ksmpp.ko
}

# asks GROUPS WORD: one of the groups (tests/vm/GROUP.sh, or the
# benchmark's tests/bench/GROUP.sh) asks for WORD ("# vm: WORD" lines).
asks() {
	local group file
	for group in $(echo "$1" | tr ',' ' '); do
		for file in "$KSMPP_TOP/tests/vm/$group.sh" "$KSMPP_TOP/tests/bench/$group.sh"; do
			if [ -f "$file" ] && head -n 5 "$file" | grep -q "^# vm:.*\\b$2\\b"; then
				return 0
			fi
		done
	done
	return 1
}
