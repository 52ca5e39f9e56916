# SPDX-License-Identifier: GPL-2.0-only
# The module DKMS built for this kernel loads, reports and unloads.
. /tests/lib.sh

KSMPP_KO=/modules/dkms/ksmpp.ko
check "DKMS-built module present" [ -f $KSMPP_KO ]
check "DKMS-built module loads" insmod $KSMPP_KO
check "DKMS-built module reports its version" [ "$(proc_field version)" = "$(cat /modules/version)" ]
check "DKMS-built module unloads" rmmod ksmpp
