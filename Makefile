# Bulkhead top-level Makefile.
#   make                 build the hypervisor for ARCH (x86_64 default, or arm64)
#   make ARCH=arm64      cross-build with $(CROSS_COMPILE) (aarch64-linux-gnu-)
#   make CC=clang        build with clang/lld instead of GCC/binutils
#   make run [ARCH=..]   install dependencies, build, boot the demo in an emulator
#   make test            install dependencies, build both arches, run every test
#   make test-long / fuzz / bench   slower runs kept out of `make test`
# Output goes to $(O)/$(ARCH) (default build/x86_64); $(O)/host for host tools.

ARCH ?= x86_64
O ?= build
BUILD := $(O)/$(ARCH)
HOSTBUILD := $(O)/host
SRCROOT := $(CURDIR)

ifeq ($(ARCH),x86_64)
CROSS_COMPILE ?=
CLANG_TARGET := x86_64-unknown-none-elf
else ifeq ($(ARCH),arm64)
CROSS_COMPILE ?= aarch64-linux-gnu-
CLANG_TARGET := aarch64-unknown-none-elf
else
$(error unknown ARCH '$(ARCH)': use x86_64 or arm64)
endif

ifeq ($(origin CC),default)
CC := $(CROSS_COMPILE)gcc
endif
IS_CLANG := $(shell $(CC) --version 2>/dev/null | grep -qi clang && echo 1)
ifeq ($(IS_CLANG),1)
TARGET_FLAGS := --target=$(CLANG_TARGET)
LD := ld.lld
OBJCOPY := llvm-objcopy
ifeq ($(shell command -v $(OBJCOPY) 2>/dev/null),)
OBJCOPY := $(CROSS_COMPILE)objcopy
endif
else
TARGET_FLAGS :=
LD := $(CROSS_COMPILE)ld
OBJCOPY := $(CROSS_COMPILE)objcopy
endif

HOSTCC ?= gcc
FUZZCC ?= clang
PYTHON ?= python3

WARN := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS_COMMON := -std=gnu11 -ffreestanding -fno-builtin -fno-stack-protector -fno-pic -fno-pie \
	-fno-common -fno-strict-aliasing -O2 -g $(WARN) -I. -MMD -MP $(TARGET_FLAGS)
ASFLAGS_COMMON := -D__ASSEMBLY__ -I. -MMD -MP $(TARGET_FLAGS) -g

# Per-architecture settings: ARCH_CFLAGS, ARCH_ASFLAGS, DRIVER_SRCS, IMAGE, image rules.
include arch/$(ARCH)/arch.mk

CORE_SRCS := $(wildcard hv/*.c) $(wildcard mm/*.c)
ARCH_SRCS := $(wildcard arch/$(ARCH)/*.c) $(wildcard arch/$(ARCH)/*.S) \
	$(wildcard boot/$(ARCH)/*.c) $(wildcard boot/$(ARCH)/*.S)
HV_SRCS := $(CORE_SRCS) $(ARCH_SRCS) $(DRIVER_SRCS)
HV_OBJS := $(patsubst %,$(BUILD)/%.o,$(HV_SRCS))

# HV_DEFS: extra -D options for the hypervisor only; the negative check
# x86-memslot-no-shootdown builds a deliberately broken variant with it
# into its own O= directory.
HV_DEFS ?=
CFLAGS := $(CFLAGS_COMMON) $(ARCH_CFLAGS) $(HV_DEFS)
ASFLAGS := $(ASFLAGS_COMMON) $(ARCH_ASFLAGS)

.PHONY: all clean deps run test test-long fuzz bench unit check-config FORCE
.DEFAULT_GOAL := all

all: $(IMAGE) guests

$(BUILD)/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(ASFLAGS) -c $< -o $@

$(BUILD)/bulkhead.elf: $(HV_OBJS) linker/$(ARCH).ld
	$(LD) -nostdlib -static -no-pie -z noexecstack -z max-page-size=4096 \
		-T linker/$(ARCH).ld -o $@ $(HV_OBJS)

# Host side: unit tests (ASan + UBSan), tools, fuzzers. Fragments in mk/ add
# to UNIT_TESTS / HOST_TOOLS / FUZZERS / CHECKS with $(call unit_test,...).
HOST_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter -I. \
	-DBULKHEAD_HOST -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
HOST_TOOL_CFLAGS := -std=gnu11 -g -O2 -Wall -Wextra -Werror -Wno-unused-parameter -I. -DBULKHEAD_HOST
FUZZ_CFLAGS := -std=gnu11 -g -O1 -I. -DBULKHEAD_HOST -fsanitize=fuzzer,address,undefined
HOST_SUPPORT := test/unit/host_arch.c

UNIT_TESTS :=
HOST_TOOLS :=
FUZZERS :=
GUESTS :=

# $(call unit_test,name,sources[,extra flags])
define unit_test
UNIT_TESTS += $(HOSTBUILD)/$(1)
$(HOSTBUILD)/$(1): $(2) $(HOST_SUPPORT) $$(wildcard hv/*.h mm/*.h test/unit/*.h boot/*/*.h)
	@mkdir -p $$(dir $$@)
	$(HOSTCC) $(HOST_CFLAGS) $(3) -o $$@ $(2) $(HOST_SUPPORT)
endef

# $(call fuzzer,name,sources[,extra flags])
define fuzzer
FUZZERS += $(HOSTBUILD)/fuzz/$(1)
$(HOSTBUILD)/fuzz/$(1): $(2) $(HOST_SUPPORT) $$(wildcard hv/*.h mm/*.h boot/*/*.h)
	@mkdir -p $$(dir $$@)
	$(FUZZCC) $(FUZZ_CFLAGS) $(3) -o $$@ $(2) $(HOST_SUPPORT)
endef

include $(sort $(wildcard mk/*.mk))

guests: $(GUESTS)
unit: $(UNIT_TESTS)
fuzz-build: $(FUZZERS)
host-tools: $(HOST_TOOLS)

deps:
	@sh tools/install-deps.sh

# Build everything the tests need, for both architectures.
build-all:
	$(MAKE) ARCH=x86_64 all
	$(MAKE) ARCH=arm64 all
	$(MAKE) unit fuzz-build host-tools

test: deps
	$(MAKE) build-all
	$(PYTHON) test/runner.py --out $(O) all $(if $(T),--only '$(T)')

test-long: deps
	$(MAKE) build-all
	$(PYTHON) test/runner.py --out $(O) all --long $(if $(T),--only '$(T)')

fuzz: deps
	$(MAKE) fuzz-build
	$(PYTHON) test/runner.py --out $(O) fuzz --seconds $(or $(FUZZ_SECONDS),300)

bench: deps
	$(MAKE) build-all
	$(PYTHON) test/runner.py --out $(O) bench

run: deps
	$(MAKE) ARCH=$(ARCH) all
	$(PYTHON) test/runner.py --out $(O) run $(ARCH) $(if $(SCENARIO),--scenario $(SCENARIO))

clean:
	rm -rf $(O)

# Objects record the toolchain and flags that built them: switching CC (gcc <->
# clang) or flags rebuilds everything instead of linking stale objects.
TOOLCHAIN_ID := $(CC) | $(LD) | $(CFLAGS) | $(ASFLAGS)
$(BUILD)/.toolchain: FORCE
	@mkdir -p $(dir $@)
	@echo '$(TOOLCHAIN_ID)' | cmp -s - $@ || echo '$(TOOLCHAIN_ID)' > $@
$(HV_OBJS): $(BUILD)/.toolchain

-include $(HV_OBJS:.o=.d)
