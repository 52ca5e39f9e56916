#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# proto-check.sh LINE: check what ksmpp assumes about the kernel functions it
# calls or hooks without linking against them, with the kernel's vmlinux BTF
# (pfunct, from dwarves). Prints one "PASS|FAIL" line per function:
# - "proto FN": each function resolved at load time has the prototype the
#   module calls it with (return and parameter types, in order). The module's
#   side is its DWARF for the static call's trampoline, __SCT__ksmpp_FN,
#   declared as typeof(ksmpp_proto_FN) (module/compat.h; ksm_guard.c's is
#   ksmpp_kernel_run_store, for run_store);
# - "hook FN": each function hooked in module/hooks.c (ksmpp_io_hooks) has
#   a struct kiocb * first and a struct iov_iter * at the argument position
#   (iter_arg) the hook reads.
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

line=${1:?line}
line_module "$line"
iov='struct iov_iter *'
kiocb='struct kiocb *'

# protos FORMAT FILE [-f FN]: "RET NAME(TYPE, ...);" lines, no parameter
# names; none if pfunct fails, which the checks then fail. Its stderr is
# dropped: Debian 12's pfunct lists every BTF decl and type tag of 6.12+ as
# an "Unknown kind" (hundreds a call), skipped without shifting type ids.
protos() {
	{ pfunct -F "$1" -P --no_parm_names "${@:3}" "$2" 2>/dev/null || true; } |
		sed 's/  */ /g; s/;$//'
}

# param N: the Nth (from 0) parameter type of the prototype on stdin, split
# at the commas outside parentheses (function pointer types).
param() {
	awk -v n="$1" '{
		s = $0
		sub(/^[^(]*\(/, "", s)
		sub(/\);?$/, "", s)
		i = 0; depth = 0; p = ""
		for (k = 1; k <= length(s); k++) {
			c = substr(s, k, 1)
			if (c == "(") depth++
			if (c == ")") depth--
			if (c == "," && !depth) {
				if (i++ == n) break
				p = ""
				continue
			}
			p = p c
		}
		if (i >= n) { gsub(/^ +| +$/, "", p); print p }
	}'
}

status=0
fail() { echo "FAIL $*"; status=1; }

# Resolved functions. The trampolines of the static calls ksmpp makes are in
# its DWARF (declarations, once per compilation unit using them).
trampolines=$(protos dwarf "$ko" | { grep '__SCT__ksmpp_' || true; } | sort -u)
[ -n "$trampolines" ] || fail "proto: no static call trampoline in $ko's DWARF"
while IFS= read -r ours; do
	[ -n "$ours" ] || continue
	call=${ours#*__SCT__ksmpp_}
	call=${call%%(*}
	fn=${call#kernel_}
	ours=${ours/__SCT__ksmpp_$call(/$fn(}
	kernel=$(protos btf "$VMLINUX" -f "$fn")
	if [ -n "$kernel" ] && [ "$kernel" = "$ours" ]; then
		echo "PASS proto $fn: $ours"
	else
		fail "proto $fn: the module calls $ours, the kernel's BTF has ${kernel:-no such function}"
	fi
done <<<"$trampolines"

# Hooked functions: "FN ARG" from each KSMPP_IO_HOOK(FN, ARG, ...) entry:
# argument ARG must be the iov_iter, and argument 0 the iocb.
# A probe with .clone hooks NAME.part.0 instead where the kernel has it (6.1's
# blkdev_direct_IO): the clone has no BTF, and the stripped vmlinux no symbol
# to find it by, so only NAME is checked here. The fs group proves the clone's
# argument behaviourally: its "block device: O_DIRECT read ... hinted" checks
# need the hint's pid, range and length to be those of the iov_iter the read
# was given, and on 6.1 the clone is the only hook on that path.
hooks=$(sed -n 's/.*KSMPP_IO_HOOK(\([A-Za-z0-9_]*\), \([0-9][0-9]*\),.*/\1 \2/p' \
	"$KSMPP_TOP/module/hooks.c")
[ -n "$hooks" ] || fail "hook: no KSMPP_IO_HOOK entry in module/hooks.c"
while read -r fn arg; do
	[ -n "$fn" ] || continue
	kernel=$(protos btf "$VMLINUX" -f "$fn")
	if [ -z "$kernel" ]; then
		if grep -q "KSMPP_IO_HOOK($fn, .*\.optional = true" "$KSMPP_TOP/module/hooks.c"; then
			echo "hook $fn: not in this kernel's BTF; optional, not checked"
		else
			fail "hook $fn: not in the kernel's BTF"
		fi
	elif [ "$(param "$arg" <<<"$kernel")" = "$iov" ] &&
	     [ "$(param 0 <<<"$kernel")" = "$kiocb" ]; then
		echo "PASS hook $fn: argument 0 is $kiocb, argument $arg is $iov"
	else
		fail "hook $fn: argument 0 is not $kiocb or argument $arg not $iov in the kernel's BTF: $kernel"
	fi
done <<<"$hooks"
exit $status
