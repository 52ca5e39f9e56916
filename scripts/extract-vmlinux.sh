#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# extract-vmlinux.sh BZIMAGE > vmlinux
# Cut the uncompressed ELF kernel out of a bzImage: QEMU boots it directly
# through its PVH note, which skips the slow in-guest decompression.
set -euo pipefail
image=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# try MAGIC DECOMPRESSOR...: decompress from every offset where MAGIC occurs.
try() {
	local magic=$1 pos
	shift
	for pos in $(LC_ALL=C grep -abo -P "$magic" "$image" | cut -d: -f1); do
		tail -c +$((pos + 1)) "$image" | "$@" > "$out" 2>/dev/null || true
		if [ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
			cat "$out"
			exit 0
		fi
	done
}

try '\xfd7zXZ\x00' xz -dc
try '\x28\xb5\x2f\xfd' zstd -dcq
try '\x1f\x8b\x08' gzip -dc
echo "extract-vmlinux.sh: no compressed ELF kernel found in $image" >&2
exit 1
