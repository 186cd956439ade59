# Test guests for arm64 partitions (issue 7): tiny AArch64 programs with a
# Linux arm64 Image header (loaded like a Linux kernel), no libc; and the
# partition configurations of the arm64 VM scenarios (test/configs/arm64-*.dts).
# Built for ARCH=arm64 only.
ifeq ($(ARCH),arm64)
GUEST_A64_DIR := $(BUILD)/guests
GUEST_A64_CFLAGS := -std=gnu11 -ffreestanding -fno-builtin -fno-pic -fno-pie -fno-stack-protector \
	-mgeneral-regs-only -mstrict-align -fno-tree-loop-distribute-patterns -Os -Wall -Wextra -Werror \
	-fno-asynchronous-unwind-tables $(TARGET_FLAGS)
ifeq ($(IS_CLANG),1)
GUEST_A64_CFLAGS := $(filter-out -fno-tree-loop-distribute-patterns,$(GUEST_A64_CFLAGS))
GUEST_A64_LDFLAGS := -nostdlib -static -z noexecstack
else
GUEST_A64_LDFLAGS := -nostdlib -static -z noexecstack --no-warn-rwx-segments
endif
GUEST_A64 := hello heartbeat psci hypercalls isolation crash bench channel flood irq passthru echo memslot doorbell fuzzgic
GUESTS += $(patsubst %,$(GUEST_A64_DIR)/%.bin,$(GUEST_A64))

$(GUEST_A64_DIR)/%.o: guests/arm64/%.c guests/arm64/guest.h
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_A64_CFLAGS) -c $< -o $@

$(GUEST_A64_DIR)/start.o: guests/arm64/start.S
	@mkdir -p $(dir $@)
	$(CC) $(TARGET_FLAGS) -Wa,--noexecstack -c $< -o $@

$(GUEST_A64_DIR)/%.elf: $(GUEST_A64_DIR)/start.o $(GUEST_A64_DIR)/lib.o $(GUEST_A64_DIR)/%.o guests/arm64/guest.ld
	$(LD) $(GUEST_A64_LDFLAGS) -T guests/arm64/guest.ld -o $@ \
		$(GUEST_A64_DIR)/start.o $(GUEST_A64_DIR)/lib.o $(GUEST_A64_DIR)/$*.o

$(GUEST_A64_DIR)/%.bin: $(GUEST_A64_DIR)/%.elf
	$(OBJCOPY) -O binary $< $@

# hello as a raw image: the same code with the Image magic wiped, so only a
# configured load-address can place it (the raw-image scenario).
GUESTS += $(GUEST_A64_DIR)/hello-raw.bin
$(GUEST_A64_DIR)/hello-raw.bin: $(GUEST_A64_DIR)/hello.bin
	cp $< $@
	printf '\000\000\000\000' | dd of=$@ bs=1 seek=56 conv=notrunc status=none

GUESTS += $(patsubst test/configs/%.dts,$(O)/configs/%.dtb,$(wildcard test/configs/arm64-*.dts))
endif
