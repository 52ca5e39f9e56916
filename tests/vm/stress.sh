# SPDX-License-Identifier: GPL-2.0-only
# Randomized integrity stress: processes write, fork, exit and remap mostly
# duplicate MADV_MERGEABLE memory while the engine merges at a high rate;
# every page must match each process's shadow copy
# (tests/vm/bin/ksm-stress.c; KSMPP_STRESS_SEED replays a seed).
. /tests/lib.sh

check "randomized integrity stress" ksm-stress 60 $KSMPP_STRESS_SEED
