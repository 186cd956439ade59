# arm64: an image with the Linux arm64 Image header (QEMU -kernel, U-Boot booti, GRUB).
ARCH_CFLAGS := -mgeneral-regs-only -mstrict-align -fno-asynchronous-unwind-tables
ARCH_ASFLAGS :=
DRIVER_SRCS := drivers/pl011.c
IMAGE := $(BUILD)/bulkhead.bin

$(BUILD)/bulkhead.bin: $(BUILD)/bulkhead.elf
	$(OBJCOPY) -O binary $< $@
