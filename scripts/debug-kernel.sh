#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The "debug" kernel line: Debian's 6.1 source, built with the kernel's own
# checkers (KASAN, lockdep, DEBUG_VM, kmemleak ...) for the VM tests.
#
#   debug-kernel.sh resolve   print "KVER PKGVERSION SUITE" of the kernel
#   debug-kernel.sh prepare   build it once, install it, print its env file
#
# (scripts/kernel.sh hands "resolve debug" and "prepare debug" over to here.)
#
# The source is the linux-source tarball of the newest 6.1 package (kernel.sh
# source 6.1); the configuration is "make defconfig" + "make
# kvm_guest.config" + scripts/debug-kernel.config, every option of which is
# checked after "make olddefconfig". It builds in the bookworm chroot of the
# 6.1 line, with that line's compiler. The result is cached in
# $KSMPP_CACHE/kernels/debug-SOURCEVERSION-HASH/ (HASH: of the fragment, of
# this script's recipe and of its one source patch, see pvh_patch), so a
# machine builds each version once:
#   vmlinux       the kernel QEMU boots (PVH), DWARF stripped, BTF kept
#   headers.tar.zst  what external modules build against (the kernel's own
#                 builddeb list), unpacked into the chroot as
#                 /usr/src/linux-headers-KVER, /lib/modules/KVER/build
#   config, System.map, build.log
# The env file ($KSMPP_CACHE/kernels/debug.env) has the keys of the other
# lines; MODULES_DEB is empty (what the tests need is built in),
# VM_TIMEOUT is a group's share of the guest timeout for this slower
# kernel, and VM_CMDLINE is added to the guest's kernel command line
# (scripts/vm.sh).
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

FRAGMENT=$KSMPP_TOP/scripts/debug-kernel.config
# Bump when the build steps or the kept files change: a new cache entry.
RECIPE=3
# A group's share (s) of the guest timeout on this line: fork-heavy work
# is 8-10 times slower than on Debian's kernels under TCG.
VM_TIMEOUT=360
# Added to the guest's kernel command line: tells tests/vm/init.sh that
# kmemleak must be there (and groups that the kernel is slow).
VM_CMDLINE=ksmppdebug=1
# What the build needs in the chroot, beyond what kernel.sh installs there
# (pahole and python3: BTF).
CHROOT_PACKAGES="flex bison libssl-dev dwarves python3 patch"
SRC_LINE=6.1

# 6.1's PVH entry (QEMU's -kernel vmlinux) runs C code before KASAN has
# shadow memory: instrumented, the kernel faults before its first message.
# Upstream fixed it after 6.1 ("xen, pvh: fix unbootable VMs (PVH + KASAN -
# AMD_MEM_ENCRYPT)" and two follow-ups, which still leave an out-of-line
# memcmp() with some compilers); here the file is not instrumented and its
# Xen check does without memcmp().
pvh_patch() {
	cat <<'EOT'
--- a/arch/x86/platform/pvh/Makefile
+++ b/arch/x86/platform/pvh/Makefile
@@ -3,3 +3,4 @@
 
 obj-$(CONFIG_PVH) += enlighten.o
 obj-$(CONFIG_PVH) += head.o
+KASAN_SANITIZE := n
--- a/arch/x86/platform/pvh/enlighten.c
+++ b/arch/x86/platform/pvh/enlighten.c
@@ -114,13 +114,31 @@
 }
 
 /*
+ * xen_cpuid_base() without memcmp(): lib/string.c is KASAN-instrumented,
+ * and KASAN has no shadow memory yet this early.
+ */
+static u32 __init pvh_xen_cpuid_base(void)
+{
+	u32 base, eax, sig[3];
+
+	for_each_possible_hypervisor_cpuid_base(base) {
+		cpuid(base, &eax, &sig[0], &sig[1], &sig[2]);
+		/* "XenVMMXenVMM", with at least 2 leaves */
+		if (sig[0] == 0x566e6558 && sig[1] == 0x65584d4d &&
+		    sig[2] == 0x4d4d566e && eax - base >= 2)
+			return base;
+	}
+	return 0;
+}
+
+/*
  * This routine (and those that it might call) should not use
  * anything that lives in .bss since that segment will be cleared later.
  */
 void __init xen_prepare_pvh(void)
 {
 
-	u32 msr = xen_cpuid_base();
+	u32 msr = pvh_xen_cpuid_base();
 	bool xen_guest = !!msr;
 
 	if (pvh_start_info.magic != XEN_HVM_START_MAGIC_VALUE) {
EOT
}

localversion() { sed -n 's/^CONFIG_LOCALVERSION="\(.*\)"$/\1/p' "$FRAGMENT"; }

# resolve: "KVER PKGVER SUITE"; KVER is the upstream version of the source
# package plus the fragment's CONFIG_LOCALVERSION (checked after a build).
resolve() {
	local kver pkgver suite
	read -r kver pkgver suite <<<"$("$KSMPP_TOP/scripts/kernel.sh" resolve "$SRC_LINE")"
	echo "${pkgver%%-*}$(localversion) $pkgver $suite"
}

# chroot_packages DIR PACKAGE...: install what DIR's chroot is missing.
chroot_packages() {
	local dir=$1 missing=() p
	shift
	for p in "$@"; do
		chroot "$dir" dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]} in $dir"
	chroot "$dir" apt-get -qq update >&2
	chroot "$dir" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# check_config CONFIG: every option of the fragment has its value in CONFIG.
check_config() {
	local key want got bad=
	while read -r key want; do
		got=$(sed -n "s/^$key=//p" "$1")
		[ "${got:-n}" = "$want" ] || bad+=" $key=${got:-n}(want $want)"
	done < <(sed -n 's/^\(CONFIG_[A-Z0-9_]*\)=\(.*\)$/\1 \2/p
			 s/^# \(CONFIG_[A-Z0-9_]*\) is not set$/\1 n/p' "$FRAGMENT")
	[ -z "$bad" ] || die "the debug kernel's configuration drops:$bad"
}

# build DIR CHROOT TARBALL KVER: build the kernel in CHROOT, fill DIR.
build() {
	local dir=$1 root=$2 tarball=$3 kver=$4 tree=/usr/src/ksmpp-debug-build
	local start=$SECONDS blog=$1/build.log mounted=
	rm -rf "$dir" && mkdir -p "$dir"
	# shellcheck disable=SC2086
	chroot_packages "$root" $CHROOT_PACKAGES
	log "building the debug kernel $kver in $root$tree (about 30 minutes on 2 cores, log: $blog)"
	rm -rf "$root$tree" "$root$tree.out" && mkdir -p "$root$tree" "$root$tree.out"
	tar -xf "$tarball" -C "$root$tree" --strip-components=1
	cp "$FRAGMENT" "$root$tree/debug-kernel.config"
	pvh_patch | chroot "$root" patch -s -d "$tree" -p1 ||
		die "the PVH patch does not apply to $tarball"
	# As in build-module.sh: /proc in the chroot meanwhile.
	if ! mountpoint -q "$root/proc"; then
		mount -t proc proc "$root/proc"
		mounted=1
		# shellcheck disable=SC2064
		trap "umount '$root/proc'" EXIT
	fi
	if ! chroot "$root" sh -euc '
		cd "$1"
		make defconfig
		make kvm_guest.config
		scripts/kconfig/merge_config.sh -m .config debug-kernel.config
		make olddefconfig
		make -j"$2" vmlinux modules
	' sh "$tree" "$(nproc)" >"$blog" 2>&1; then
		tail -n 30 "$blog" >&2
		die "debug kernel build failed, see $blog (tree kept in $root$tree)"
	fi
	check_config "$root$tree/.config"
	# No KASAN check and no call into instrumented code at PVH entry.
	if chroot "$root" objdump -r "$tree/arch/x86/platform/pvh/enlighten.o" |
		grep -Ew '(memcmp|memset|memcpy|__asan_[a-z0-9_]+)(-0x[0-9a-f]+)?$' >&2; then
		die "PVH entry (arch/x86/platform/pvh/enlighten.o) still calls instrumented code"
	fi
	[ "$(cat "$root$tree/include/config/kernel.release")" = "$kver" ] ||
		die "debug kernel is $(cat "$root$tree/include/config/kernel.release"), expected $kver"
	[ -s "$root$tree/Module.symvers" ] || die "debug kernel build left no Module.symvers"

	# The files external modules build against: the list of the kernel's
	# own scripts/package/builddeb (deploy_kernel_headers), less objects.
	chroot "$root" sh -euc '
		cd "$1"
		dest=/usr/src/linux-headers-$2
		rm -rf "$dest" && mkdir -p "$dest"
		{
			find . arch/x86 -maxdepth 1 -name "Makefile*"
			find include scripts -type f -o -type l
			find arch/x86 -name Kbuild.platforms -o -name Platform
			find $(find arch/x86 -name include -o -name scripts -type d) -type f
			echo tools/objtool/objtool
			echo Module.symvers
		} | sort -u | tar -c -T - -f - | tar -x -C "$dest"
		cp .config "$dest/.config"
		find "$dest" \( -name "*.o" -o -name ".*.cmd" \) -delete
		# Stripped of DWARF; .BTF (for pahole and BPF) stays.
		objcopy --strip-debug vmlinux "$3/vmlinux"
	' sh "$tree" "$kver" "$tree.out"
	if [ -n "$mounted" ]; then
		umount "$root/proc"
		trap - EXIT
	fi
	mv "$root$tree.out/vmlinux" "$dir/vmlinux"
	rmdir "$root$tree.out"
	cp "$root$tree/.config" "$dir/config"
	cp "$root$tree/System.map" "$dir/System.map"
	tar -C "$root/usr/src" --zstd -cf "$dir/headers.tar.zst" "linux-headers-$kver"
	rm -rf "$root$tree"
	echo "$((SECONDS - start))" > "$dir/build-seconds"
	touch "$dir/.done"
	log "debug kernel $kver built in $((SECONDS - start)) s: $dir ($(du -sh "$dir" | cut -f1))"
}

# install_headers DIR CHROOT KVER KEY: DIR's headers in CHROOT, once per KEY.
install_headers() {
	local dir=$1 root=$2 kver=$3 key=$4 dest=$2/usr/src/linux-headers-$3
	if [ "$(cat "$dest/.ksmpp-debug" 2>/dev/null)" != "$key" ]; then
		rm -rf "$dest"
		tar -C "$root/usr/src" --zstd -xf "$dir/headers.tar.zst"
		echo "$key" > "$dest/.ksmpp-debug"
	fi
	mkdir -p "$root/lib/modules/$kver"
	ln -sfn "/usr/src/linux-headers-$kver" "$root/lib/modules/$kver/build"
}

prepare() {
	local kver pkgver suite env6 root compiler tarball hash key dir env old
	read -r kver pkgver suite <<<"$(resolve)"
	# The 6.1 line's chroot (and compiler), and its source.
	env6=$("$KSMPP_TOP/scripts/kernel.sh" prepare "$SRC_LINE")
	root=$(sed -n 's/^CHROOT=//p' "$env6")
	compiler=$(sed -n 's/^COMPILER=//p' "$env6")
	tarball=$("$KSMPP_TOP/scripts/kernel.sh" source "$SRC_LINE")
	case $tarball in
	*/linux-source-"$pkgver".tar.xz) ;;
	*) die "source $tarball is not of $pkgver" ;;
	esac
	hash=$({ cat "$FRAGMENT"; echo "recipe $RECIPE"; pvh_patch; } | sha256sum | cut -c1-12)
	key=debug-$pkgver-$hash
	dir=$KSMPP_CACHE/kernels/$key
	env=$KSMPP_CACHE/kernels/debug.env

	mkdir -p "$KSMPP_CACHE/kernels"
	exec 9>"$KSMPP_CACHE/kernels/debug.lock"
	flock 9
	[ -f "$dir/.done" ] || build "$dir" "$root" "$tarball" "$kver"
	install_headers "$dir" "$root" "$kver" "$key"
	# Builds of older source versions are of no further use.
	for old in "$KSMPP_CACHE"/kernels/debug-*/; do
		case $old in "$KSMPP_CACHE/kernels/debug-$pkgver-"*) continue ;; esac
		[ -d "$old" ] && rm -rf "$old"
	done

	cat > "$env.new" <<-EOT
	LINE=debug
	KVER=$kver
	PKGVER=$pkgver
	SUITE=$suite
	COMPILER=$compiler
	CHROOT=$root
	VMLINUX=$dir/vmlinux
	MODULES_DEB=
	VM_TIMEOUT=$VM_TIMEOUT
	VM_CMDLINE=$VM_CMDLINE
	EOT
	if cmp -s "$env.new" "$env"; then rm "$env.new"; else mv "$env.new" "$env"; fi
	echo "$env"
}

case ${1:-} in
resolve)	resolve ;;
prepare)	prepare ;;
*)		die "usage: $0 resolve|prepare" ;;
esac
