#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# checkpatch.sh [FILE...]: the kernel's checkpatch.pl (from Debian's
# linux-source of the 6.1 line, cached) on the module's sources and the
# test module's (tests/slot). Prints one
# "PASS|FAIL checkpatch FILE" line per file; exit status 1 if any fails.
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

dir=$KSMPP_CACHE/checkpatch
if [ ! -x "$dir/scripts/checkpatch.pl" ]; then
	tarball=$("$KSMPP_TOP/scripts/kernel.sh" source 6.1)
	rm -rf "$dir" && mkdir -p "$dir"
	tar -xJf "$tarball" -C "$dir" --strip-components=1 --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
fi

status=0
cd "$KSMPP_TOP"
for f in "${@:-module/*.[ch] tests/slot/*.[ch]}"; do
	for f in $f; do
		ignore=FILE_PATH_CHANGES
		# The compat unit exists to test kernel versions.
		[ "$(basename "$f")" = compat.h ] &&
			ignore=$ignore,LINUX_VERSION_CODE,CONSTANT_COMPARISON
		if out=$(perl "$dir/scripts/checkpatch.pl" --no-tree --terse --show-types \
			--ignore "$ignore" -f "$f" 2>&1); then
			echo "PASS checkpatch $f"
		else
			echo "FAIL checkpatch $f"
			echo "$out" | grep -v '^total:' | sed 's/^/    /'
			status=1
		fi
	done
done
exit $status
