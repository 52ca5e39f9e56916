# SPDX-License-Identifier: GPL-2.0-only
# A kernel symbol ksmpp needs is missing: the load is refused with one line
# naming the symbol and the kernel, and nothing is left behind. The test
# build, with test_fault=4, finds no symbol.
. /tests/lib.sh

dmesg -c >/dev/null
check "load refused" not insmod /modules/ksmpp-test.ko test_fault=4 2>/dev/null
check "refusal names symbol and kernel" \
	logged "ksmpp: kernel $(uname -r): symbol try_to_merge_one_page not found"
# busybox's insmod tries finit_module, then init_module: one line per try.
check "refusal is that line alone" \
	[ "$(ksmpp_log | sed 's/^\[[ 0-9.]*\] //' | sort -u | wc -l)" -eq 1 ]
check "nothing left loaded" not loaded
check "no /proc/ksmpp" [ ! -e /proc/ksmpp ]
check "the real module still loads" insmod $KSMPP_KO
unload
