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

# /proc/ksmpp never waits for ksmppd's lock, which run=2 holds while it
# unmerges: reads go on meanwhile (a read used to wait until the unmerge
# was over, so none could complete during it).
if [ "$KSMPP_ENGINE" = ksmpp ]; then
	engine_start
	check_merging "run=2 while /proc/ksmpp is read: contents intact" ksm-unmerge hook \
		"echo 2 > $KSMPP_PARAMS/run & n=0
		 while read -r line < /proc/ksmpp && kill -0 \$! 2>/dev/null; do n=\$((n + 1)); done
		 wait && echo \$n > /tmp/reads-during-unmerge"
	reads=$(cat /tmp/reads-during-unmerge)
	check "/proc/ksmpp read $reads times while run=2 unmerged" [ "$reads" -ge 2 ]
	check "run=2 left nothing merged" [ "$(proc_field pages_shared)" = 0 ]
	unload
fi
