#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# layout-check.sh LINE: compare the KSM structures ksmpp lays out itself
# (module/compat.h, from the module's DWARF) with the running kernel's own
# (from its vmlinux BTF), field by field: name, offset and size. Prints one
# "PASS|FAIL layout STRUCT" line per structure.
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

line=${1:?line}
line_module "$line"

# fields FILE STRUCT: "name offset size" per member ("}" closes a union or
# struct), and "size N" for the whole.
fields() {
	pahole -C "$2" "$1" 2>/dev/null | sed 's/ *__attribute__((__aligned__([0-9]*)))//g' | awk '
		match($0, /\/\*[ ]+[0-9]+[ ]+[0-9]+ \*\//) {
			split(substr($0, RSTART + 2, RLENGTH - 4), n, " ")
			name = $0
			sub(/;.*/, "", name)
			sub(/.*[ \t*]/, "", name)
			print name, n[1], n[2]
		}
		/\/\* size: / { sub(/,/, "", $3); print "size", $3 }'
}

# Every field of the kernel's must be in ours at the same offset and size,
# and the sizes must agree; ours may name more union members (fields of
# other kernel versions, unused here).
status=0
for s in ksm_stable_node ksm_rmap_item; do
	kernel=$(fields "$VMLINUX" "$s")
	ours=$(fields "$ko" "$s")
	missing=$(grep -vxF -f <(echo "$ours") <<<"$kernel" || true)
	if [ -n "$kernel" ] && [ -n "$ours" ] && [ -z "$missing" ]; then
		echo "PASS layout $s ($(grep -vc '^[}s]' <<<"$kernel") fields)"
	else
		echo "FAIL layout $s: not as the kernel lays it out:"
		echo "${missing:-no layout found}" | sed 's/^/    /'
		status=1
	fi
done
exit $status
