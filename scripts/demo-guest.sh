# SPDX-License-Identifier: GPL-2.0-only
# The demo, inside the guest: load ksmpp, show /proc/ksmpp, unload.
# Lines for the viewer start with "| ".
say() { echo "| $*"; }

say "kernel $(uname -r), loading ksmpp"
if insmod /modules/ksmpp.ko; then
	say "/proc/ksmpp:"
	sed 's/^/|   /' /proc/ksmpp
	rmmod ksmpp && say "unloaded"
else
	say "loading failed:"
	dmesg | grep 'ksmpp:' | sed 's/^/|   /'
fi
