#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# demo.sh: the main job in a QEMU guest, for the first kernel of KERNELS
# (default 6.1): build ksmpp for it, boot, run scripts/demo-guest.sh, and
# show what the guest printed for the viewer.
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

line=$(echo "${KERNELS:-6.1}" | tr ',' ' ' | cut -d' ' -f1)
# shellcheck disable=SC2086
need_packages $KSMPP_HOST_PACKAGES
log "building ksmpp for kernel $line"
"$KSMPP_TOP/scripts/build-module.sh" "$line" >"$KSMPP_BUILD/$line.build.log" 2>&1 ||
	die "build failed, see $KSMPP_BUILD/$line.build.log"
"$KSMPP_TOP/scripts/vm.sh" initramfs "$line"
log "booting kernel $line under QEMU"
log="$KSMPP_BUILD/$line/logs/demo.log"
"$KSMPP_TOP/scripts/vm.sh" run "$line" demo "$log"
sed -n 's/^| //p' "$log"
grep -q KSMPP-END "$log" || die "the guest did not finish, see $log"
