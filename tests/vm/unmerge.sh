# SPDX-License-Identifier: GPL-2.0-only
# Merged memory comes apart intact: run=2, unloading the module while pages
# are merged, and load/unload cycles in the middle of merging
# (tests/vm/bin/ksm-unmerge.c). With KSMPP_ENGINE=ksm, KSM's run=2 stands
# in for unloading.
. /tests/lib.sh

check_merging "run=2 unmerges everything" ksm-unmerge run2
check_merging "unloading while merged unmerges everything" ksm-unmerge unload
check_merging "10 load/unload cycles while merging" ksm-unmerge cycles 10
if [ "$KSMPP_ENGINE" = ksmpp ]; then
	check "not loaded after the cycles" not loaded
fi
