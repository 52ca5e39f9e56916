# SPDX-License-Identifier: GPL-2.0-only
# vm: not-debug
# Every parameter: descriptions, invalid values refused at load time and at
# run time with a message naming the parameter and range, old value kept.
# Load and run time share each parameter's setter: every invalid value is
# tried at run time, a few of each kind at load time (a load is slow on
# the debug kernel). make test leaves this group out on the debug line,
# to keep the run short: the setters run there in the races, unmerge and
# hooks groups, and their parsing does not depend on the kernel.
. /tests/lib.sh

# name min max power-of-two default (the numbers; the on/off knob,
# use_zero_pages, is checked against KSM's own file in parity.sh)
PARAMS="run 0 2 0 0
pages_to_scan 0 4294967295 0 100
sleep_millisecs 0 4294967295 0 20
max_page_sharing 2 2147483647 0 256
merge_across_nodes 0 1 0 1
stable_node_chains_prune_millisecs 0 4294967295 0 2000
hint_buffer_size 16 1048576 1 1024
hint_scan_percent 0 100 0 75"

# invalid_values MIN MAX POW2: values each parameter must refuse.
invalid_values() {
	[ "$1" -gt 0 ] && echo $(($1 - 1))
	echo $(($2 + 1)) -1 abc 12x 4294967296 ''
	[ "$3" = 1 ] && echo $(($1 + 1)) $(($2 - 1))
}

# load_invalid_values MIN MAX POW2: those tried at load time.
load_invalid_values() {
	echo $(($2 + 1)) 12x
	[ "$3" = 1 ] && echo $(($1 + 1))
}

# The message a refused VALUE must produce.
message() {
	local range="$3 to $4"
	[ "$5" = 1 ] && range="powers of two from $range"
	echo "ksmpp: invalid $1 '$2': allowed are $range"
}

echo "$PARAMS" | while read -r name min max pow2 def; do
	check "$name has a description" \
		sh -c "modinfo -F parm $KSMPP_KO | grep -q '^$name:.\{10,\}'"
	for v in $(load_invalid_values $min $max $pow2); do
		dmesg -c >/dev/null
		check "load refuses $name=$v" not insmod $KSMPP_KO "$name=$v" 2>/dev/null
		check "load refusal of $name=$v logged" logged "$(message $name "$v" $min $max $pow2)"
		check "not loaded after $name=$v" not loaded
	done
	# Empty value at load: a parse error of its own kind, still refused.
	check "load refuses $name=" not insmod $KSMPP_KO "$name=" 2>/dev/null
	for v in $min $max; do
		check "load accepts $name=$v" insmod $KSMPP_KO "$name=$v"
		check "$name=$v in /proc/ksmpp" [ "$(proc_field $name)" = $v ]
		check "$name=$v in sysfs" [ "$(cat /sys/module/ksmpp/parameters/$name)" = $v ]
		unload
	done

	insmod $KSMPP_KO
	file=/sys/module/ksmpp/parameters/$name
	check "$name default" [ "$(cat $file)" = $def ]
	check "$name writable at run time" sh -c "echo $max > $file"
	check "$name run-time value applied" [ "$(proc_field $name)" = $max ]
	for v in $(invalid_values $min $max $pow2); do
		dmesg -c >/dev/null
		check "run time refuses $name=$v" not sh -c "echo '$v' > $file" 2>/dev/null
		check "run-time refusal of $name=$v logged" logged "$(message $name "$v" $min $max $pow2)"
		check "$name kept after $v" \
			[ "$(cat $file)/$(proc_field $name)" = "$max/$max" ]
	done
	unload
done
