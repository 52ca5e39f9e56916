# SPDX-License-Identifier: GPL-2.0-only
# misc: sharing without I/O: identical anonymous data produced by
# computation (vmsim, workload "compute", static mode), under each of
# COMPUTE_CONFIGS.
. /tests/bench-lib.sh

for name in $COMPUTE_CONFIGS; do
	# shellcheck disable=SC2046
	config compute "$name" $(engine_for "$name") -- -w compute -n "$VMS" -m "$VM_MIB" \
		-t "$COMPUTE_SECONDS" -S "$SEED" -K "$COMPUTE_BLOCKS" -r "$COMPUTE_RATE" \
		-c "$CHURN_RATE" -f "$CACHE_PERCENT"
done

kernel_check
