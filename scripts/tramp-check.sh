#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# tramp-check.sh LINE: check the code a hooked function's direct call runs
# (module/hooks.c), in ksmpp.ko as built for LINE, against the kernel's
# config. Prints one "PASS|FAIL" line per check:
# - the trampoline, ksmpp_io_direct_tramp, starts with ENDBR on IBT kernels;
# - it makes no indirect call or jump, and with return thunks it does not
#   return by a bare ret;
# - its question, the part before its first push (all that a process that
#   did not opt in runs), calls nothing and writes no register but rax:
#   the hooked function's arguments must reach it unchanged;
# - objtool found nothing to say of the module (the line's build log).
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

line=${1:?line}
line_module "$line"
config=$CHROOT/usr/src/linux-headers-$KVER/.config

not() { ! "$@"; }
check() {
	local what=$1
	shift
	if "$@"; then echo "PASS $what"; else echo "FAIL $what"; fi
}

# body FN: FN's instructions, one per line, without addresses.
body() {
	objdump -d --no-show-raw-insn "$ko" |
		awk -v fn="<$1>:" '$2 == fn { on = 1; next } /^$/ { on = 0 }
			on { sub(/^ *[0-9a-f]+:\t/, ""); print }'
}

tramp=$(body ksmpp_io_direct_tramp)
found() { [ -n "$tramp" ]; }
check "trampoline: found in ksmpp.ko" found
if grep -q '^CONFIG_X86_KERNEL_IBT=y' "$config"; then
	check "trampoline: starts with ENDBR (IBT kernel)" \
		[ "$(echo "$tramp" | head -n 1 | awk '{ print $1 }')" = endbr64 ]
fi
check "trampoline: no indirect call or jump" \
	not grep -Eq '^(call|jmp)[a-z]* +\*' <<<"$tramp"
if grep -Eq '^CONFIG_(MITIGATION_)?RETHUNK=y' "$config"; then
	check "trampoline: no bare ret (return thunk kernel)" \
		not grep -Eq '^ret' <<<"$tramp"
fi
# The 64-bit register each destination operand names (AT&T: the last).
check "trampoline: its question calls nothing and writes no register but rax" \
	awk '
	function base(r) {
		sub(/^%/, "", r)
		if (r ~ /^r[0-9]+[bwd]?$/) { sub(/[bwd]$/, "", r); return r }
		if (r ~ /^[re]?(ax|bx|cx|dx|si|di|bp|sp)$/) { sub(/^[re]/, "", r); return "r" r }
		if (r ~ /^(sil|dil|bpl|spl)$/) return "r" substr(r, 1, 2)
		if (r ~ /^[abcd][lh]$/) return "r" substr(r, 1, 1) "x"
		return r
	}
	$1 == "push" { pushed = 1; exit }
	$1 == "call" { print "calls " $2; bad = 1; next }
	$1 ~ /^(test|cmp|bt|jmp|j[a-z]+|ret|nop|endbr64)/ { next }
	NF >= 2 { n = split($2, ops, ","); d = ops[n]
		if (d ~ /^%[a-z0-9]+$/ && base(d) != "rax") { print "writes " d; bad = 1 } }
	END { exit bad || !pushed }' <<<"$tramp"
# The build log must exist: a missing one would pass the grep's negation.
no_objtool_warning() {
	local log=$KSMPP_BUILD/$line.build.log
	[ -s "$log" ] && ! grep -q 'objtool' "$log"
}
check "objtool: no warning in the module's build" no_objtool_warning
