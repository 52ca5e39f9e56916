#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# torture.sh: the torture group (tests/vm/torture.sh) for as long as asked,
# on each kernel line of KERNELS (default: every line), through test.sh:
# the line's build, one guest, the judging of its log. In the guest,
# ksm-torture runs KSMPP_TORTURE_SECONDS (default 600) with seed
# KSMPP_TORTURE_SEED (default: a random one, printed first to replay the
# run). The output ends with "N passed, N failed".
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

seconds=${KSMPP_TORTURE_SECONDS:-600}
seed=${KSMPP_TORTURE_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "SECONDS=$seconds: a number of seconds"
[[ $seed =~ ^[0-9]+$ ]] || die "SEED=$seed: a number"
echo "torture: $seconds s a kernel line, seed $seed" \
	"(replay: make torture KERNELS=\"${KERNELS:-$KSMPP_ALL_KERNELS}\" SECONDS=$seconds SEED=$seed)"
export TESTS=torture
export KSMPP_GUEST_ENV="${KSMPP_GUEST_ENV:+$KSMPP_GUEST_ENV }KSMPP_TORTURE_SECONDS=$seconds KSMPP_TORTURE_SEED=$seed"
# Boot, setup, a slow end or a hang (the group bounds ksm-torture to 540 s
# past its run, 900 s on the debug line), unloading, and the debug line's
# leak check after the group.
export KSMPP_VM_TIMEOUT=$((seconds + 1200))
exec "$KSMPP_TOP/scripts/test.sh"
