# x86-64: one ELF image with a multiboot2 header, loaded by GRUB (BIOS or UEFI).
ARCH_CFLAGS := -m64 -mno-red-zone -mgeneral-regs-only -mno-mmx -mno-sse -mno-sse2 \
	-mcmodel=small -fno-asynchronous-unwind-tables
ARCH_ASFLAGS := -m64
DRIVER_SRCS := drivers/uart16550.c
IMAGE := $(BUILD)/bulkhead.elf
