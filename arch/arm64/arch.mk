# arm64: an image with the Linux arm64 Image header (QEMU -kernel, U-Boot booti, GRUB).
ARCH_CFLAGS := -mgeneral-regs-only -mstrict-align -fno-asynchronous-unwind-tables \
	-march=armv8.1-a
ARCH_ASFLAGS :=
DRIVER_SRCS := drivers/pl011.c
IMAGE := $(BUILD)/bulkhead.bin

ifneq ($(IS_CLANG),1)
# No calls into libgcc for atomics: there is no libgcc here.
ARCH_CFLAGS += -mno-outline-atomics
endif

# Code that runs before the MMU is on must not build tables of absolute
# addresses (switch lookup tables, jump tables): they hold link addresses.
EARLY_FLAGS := -fno-jump-tables
ifneq ($(IS_CLANG),1)
EARLY_FLAGS += -fno-tree-switch-conversion
endif
$(BUILD)/boot/arm64/early.c.o $(BUILD)/arch/arm64/mmu.c.o $(BUILD)/hv/fdt.c.o \
	$(BUILD)/drivers/pl011.c.o: CFLAGS += $(EARLY_FLAGS)

# bulkhead-offset.bin is the same image with text_offset = 0x3200000 in its
# header, so the loader puts it 50 MiB higher: the arm64-load-offset scenario
# boots it to show the image runs wherever it is loaded.
$(BUILD)/bulkhead.bin: $(BUILD)/bulkhead.elf
	$(OBJCOPY) -O binary $< $@
	cp $@ $(BUILD)/bulkhead-offset.bin
	printf '\000\000\040\003' | dd of=$(BUILD)/bulkhead-offset.bin bs=1 seek=8 conv=notrunc status=none
