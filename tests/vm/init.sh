#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only
# /init of the ksmpp test guest: runs the test groups named on the kernel
# command line (ksmpptests=a,b), reports through the serial console and
# powers off. The host decides success from the markers printed here.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tmpfs tmp /tmp
# An empty module index, so that busybox's modinfo works.
mkdir -p /lib/modules/$(uname -r) && touch /lib/modules/$(uname -r)/modules.dep
echo 'KSMPP-BOOTED'

for group in $(echo "$ksmpptests" | tr ',' ' '); do
	echo "KSMPP-GROUP $group"
	# A group whose script stops early (a shell error) fails.
	rm -f /tmp/.group-done
	GROUP=$group sh -c ". /tests/$group.sh; : > /tmp/.group-done"
	[ -e /tmp/.group-done ] ||
		echo "KSMPP-RESULT FAIL $group: its script stopped before the end"
done

# Out-of-tree (O) and unsigned (E) are the only taints a clean run may have.
taint=$(cat /proc/sys/kernel/tainted)
if [ $((taint & ~(4096 | 8192))) -ne 0 ]; then
	echo "KSMPP-RESULT FAIL kernel taint: unexpected flags $taint"
fi
echo 'KSMPP-END'
poweroff -f
