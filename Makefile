# SPDX-License-Identifier: GPL-2.0-only
# ksmpp: developer entry points. Each target installs what it is missing
# (Debian packages) and fetches kernels into the cache by itself.
#   make                                                  the module for the running kernel, and ksmppctl
#   make test [KERNELS="6.1 7.x"] [TESTS="unit params"]   all tests
#   make demo [KERNELS=6.1]                               the main job in a VM
#   make torture [KERNELS=6.1] [SECONDS=600] [SEED=N]     torture group, SECONDS a line; SEED replays
#   make module KVER=$(uname -r)                          build for a host kernel
#   make bench [KERNELS=6.1]                              benchmark (docs/benchmarks.md)
#   make ksmppctl                                         the tool, in build/ksmppctl/
#   make deb                                              ksmpp-dkms and ksmppctl .debs, in build/deb/
# Kernel lines: 6.1 6.12-deb12 6.12-deb13 7.x debug (6.1 with KASAN, lockdep, kmemleak...).

KERNELS ?=
TESTS ?=
KVER ?= $(shell uname -r)
export KERNELS TESTS

.PHONY: all test torture demo module bench ksmppctl deb clean

# As for any out-of-tree module: build it, here with its tool.
all: module ksmppctl

test:
	scripts/test.sh

torture:
	KSMPP_TORTURE_SECONDS="$(SECONDS)" KSMPP_TORTURE_SEED="$(SEED)" scripts/torture.sh

demo:
	scripts/demo.sh

bench:
	scripts/bench.sh

ksmppctl:
	$(MAKE) -C tools/ksmppctl

deb:
	scripts/deb.sh

module:
	@test -d /lib/modules/$(KVER)/build || { echo "no headers for kernel $(KVER):" \
		"install linux-headers-$(KVER), or give KVER=" >&2; exit 1; }
	$(MAKE) -C /lib/modules/$(KVER)/build M=$(CURDIR) modules

clean:
	rm -rf build
	rm -f module/*.o module/*.ko module/*.mod* module/.*.cmd module/Module.symvers \
		module/modules.order Module.symvers modules.order .*.cmd
