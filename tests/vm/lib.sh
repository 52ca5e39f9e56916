# SPDX-License-Identifier: GPL-2.0-only
# Helpers for the in-guest test groups (sourced by each /tests/GROUP.sh).

KSMPP_KO=/modules/ksmpp.ko

pass() { echo "KSMPP-RESULT PASS $GROUP: $*"; }
fail() { echo "KSMPP-RESULT FAIL $GROUP: $*"; }

# check NAME COMMAND...: one result, from COMMAND's exit status.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

not() { ! "$@"; }
loaded() { grep -q '^ksmpp ' /proc/modules; }
unload() { ! loaded || rmmod ksmpp; }

# proc_field KEY: the value of KEY in /proc/ksmpp.
proc_field() { sed -n "s/^$1: *//p" /proc/ksmpp; }

# ksmpp_log: the module's own kernel log lines since the last dmesg -c
# (the kernel's notes about loading an unsigned out-of-tree module left out).
ksmpp_log() {
	dmesg | grep 'ksmpp: ' | grep -v 'taints kernel\|module verification failed'
}

# logged TEXT: TEXT appears in the kernel log since the last dmesg -c.
logged() { dmesg | grep -qF -- "$1"; }
