# SPDX-License-Identifier: GPL-2.0-only
# The I/O workload (vmsim, workload "io") under each engine configuration of
# IO_CONFIGS, at guest RAM of VM_MIB per VM (bench-io) or BIG_FACTOR times
# that (bench-big, configurations BIG_CONFIGS), or at VM_MIB under
# SHARE_CONFIGS (bench-share: hint_scan_percent values), ADVISOR_CONFIGS
# (bench-advisor: fixed rates against the advisor) or ZERO_CONFIGS
# (bench-zero: ZERO_PERCENT of the guests' own pages free and zeroed,
# use_zero_pages 0 and 1) or SMART_CONFIGS (bench-smart: smart_scan 1 and
# 0, then the same on the compute workload) or SCOPE_CONFIGS (bench-scope:
# merge_scope global, cgroup and process, the VMs in two cgroups, as two
# tenants' guests under libvirt); bench-io then runs
# DIRECT_CONFIGS with O_DIRECT reads (QEMU's cache=none), which need the
# image on ext4 (BENCH_FS=ext4: tmpfs has no O_DIRECT on 6.1).
. /tests/bench-lib.sh

case $GROUP in
bench-big)	run=big mib=$((VM_MIB * BIG_FACTOR)) configs=$BIG_CONFIGS ;;
bench-share)	run=share mib=$VM_MIB configs=$SHARE_CONFIGS ;;
bench-advisor)	run=advisor mib=$VM_MIB configs=$ADVISOR_CONFIGS ;;
bench-zero)	run=zero mib=$VM_MIB configs=$ZERO_CONFIGS
		VMSIM_EXTRA="$VMSIM_EXTRA -Z $ZERO_PERCENT" ;;
bench-smart)	run=smart mib=$VM_MIB configs=$SMART_CONFIGS ;;
bench-scope)	run=scope mib=$VM_MIB configs=$SCOPE_CONFIGS
		grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts ||
			mount -t cgroup2 none /sys/fs/cgroup
		VMSIM_EXTRA="$VMSIM_EXTRA -C /sys/fs/cgroup" ;;
*)		run=io mib=$VM_MIB configs=$IO_CONFIGS ;;
esac
image_setup
say "$run image $IMAGE_PATH"
for name in $configs; do
	# shellcheck disable=SC2046,SC2086
	config "$run" "$name" $(engine_for "$name") -- -w io -i "$IMAGE_PATH" -n "$VMS" \
		-m "$mib" -t "$SECONDS_PER_CONFIG" -S "$SEED" -r "$READ_RATE" -c "$CHURN_RATE" \
		-f "$CACHE_PERCENT" -b "$READ_BLOCKS" $VMSIM_EXTRA
done
if [ -n "${DIRECT_CONFIGS:-}" ] && [ "$run" = io ] && [ "$IMAGE_PATH" = "$IMAGE" ]; then
	say "error O_DIRECT configurations skipped: the image is not on ext4"
elif [ -n "${DIRECT_CONFIGS:-}" ] && [ "$run" = io ]; then
	for name in $DIRECT_CONFIGS; do
		# shellcheck disable=SC2046,SC2086
		config io-direct "$name" $(engine_for "$name") -- -w io -D -i "$IMAGE_PATH" \
			-n "$VMS" -m "$mib" -t "$SECONDS_PER_CONFIG" -S "$SEED" -r "$READ_RATE" \
			-c "$CHURN_RATE" -f "$CACHE_PERCENT" -b "$READ_BLOCKS" $VMSIM_EXTRA
	done
fi
if [ "$run" = smart ]; then
	for name in $configs; do
		# shellcheck disable=SC2046
		config smart-compute "$name" $(engine_for "$name") -- -w compute -n "$VMS" \
			-m "$VM_MIB" -t "$COMPUTE_SECONDS" -S "$SEED" -K "$COMPUTE_BLOCKS" \
			-r "$COMPUTE_RATE" -c "$CHURN_RATE" -f "$CACHE_PERCENT"
	done
fi
kernel_check
