#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# tramp-check.sh LINE: check the code a hooked function's direct call runs
# (module/hooks.c), in ksmpp.ko as built for LINE, against the kernel's
# config. Prints one "PASS|FAIL" line per check:
# - the trampoline, ksmpp_io_direct_tramp, starts with ENDBR on IBT kernels;
# - neither it nor ksmpp_io_direct_wanted makes an indirect call or jump,
#   and with return thunks neither returns by a bare ret;
# - ksmpp_io_direct_wanted writes no register but rax that it does not
#   save first: the trampoline relies on it for a process that did not
#   opt in;
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
wanted=$(body ksmpp_io_direct_wanted)
both_found() { [ -n "$tramp" ] && [ -n "$wanted" ]; }
check "trampoline and its question: found in ksmpp.ko" both_found
if grep -q '^CONFIG_X86_KERNEL_IBT=y' "$config"; then
	check "trampoline: starts with ENDBR (IBT kernel)" \
		[ "$(echo "$tramp" | head -n 1 | awk '{ print $1 }')" = endbr64 ]
fi
check "trampoline and its question: no indirect call or jump" \
	not grep -Eq '^(call|jmp)[a-z]* +\*' <<<"$tramp$wanted"
if grep -Eq '^CONFIG_(MITIGATION_)?RETHUNK=y' "$config"; then
	check "trampoline and its question: no bare ret (return thunk kernel)" \
		not grep -Eq '^ret' <<<"$tramp$wanted"
fi
# The 64-bit register each destination operand names (AT&T: the last).
check "ksmpp_io_direct_wanted: writes no register but rax it did not save" \
	awk '
	function base(r) {
		sub(/^%/, "", r)
		if (r ~ /^r[0-9]+[bwd]?$/) { sub(/[bwd]$/, "", r); return r }
		if (r ~ /^[re]?(ax|bx|cx|dx|si|di|bp|sp)$/) { sub(/^[re]/, "", r); return "r" r }
		if (r ~ /^(sil|dil|bpl|spl)$/) return "r" substr(r, 1, 2)
		if (r ~ /^[abcd][lh]$/) return "r" substr(r, 1, 1) "x"
		return r
	}
	$1 == "push" { saved[base($2)] = 1; next }
	$1 ~ /^(pop|test|cmp|bt|jmp|j[a-z]+|call|ret|nop|endbr64)/ { next }
	NF >= 2 { n = split($2, ops, ","); d = ops[n]
		if (d ~ /^%[a-z0-9]+$/ && base(d) != "rax" && !saved[base(d)]) { print "writes " d; bad = 1 } }
	END { exit bad }' <<<"$wanted"
check "objtool: no warning in the module's build" \
	not grep -q 'objtool' "$KSMPP_BUILD/$line.build.log"
