# Test guests for x86 partitions (issue 6): tiny 32-bit ELF images with a
# multiboot v1 header and a PVH note, no libc. Built for ARCH=x86_64 only.
ifeq ($(ARCH),x86_64)
GUEST_X86_DIR := $(BUILD)/guests
ifeq ($(IS_CLANG),1)
GUEST_X86_CC := $(CC) --target=i386-unknown-none-elf
else
GUEST_X86_CC := $(CC) -m32
endif
ifeq ($(IS_CLANG),1)
GUEST_X86_LDFLAGS := -m elf_i386 -nostdlib -static -z noexecstack
else
GUEST_X86_LDFLAGS := -m elf_i386 -nostdlib -static -z noexecstack --no-warn-rwx-segments
endif
GUEST_X86_CFLAGS := -std=gnu11 -ffreestanding -fno-builtin -fno-pic -fno-pie -fno-stack-protector \
	-mgeneral-regs-only -march=i686 -Os -Wall -Wextra -Werror -fno-asynchronous-unwind-tables
GUEST_X86_C := hello heartbeat hypercalls isolation triplefault cpuid bench channel flood apic memslot doorbell serialirq echo quiet abort fuzzapic
GUEST_X86_ASM := modes
GUESTS += $(patsubst %,$(GUEST_X86_DIR)/%.elf,$(GUEST_X86_C) $(GUEST_X86_ASM))

$(GUEST_X86_DIR)/%.o: guests/x86_64/%.c guests/x86_64/guest.h
	@mkdir -p $(dir $@)
	$(GUEST_X86_CC) $(GUEST_X86_CFLAGS) -c $< -o $@

$(GUEST_X86_DIR)/%.o: guests/x86_64/%.S
	@mkdir -p $(dir $@)
	$(GUEST_X86_CC) -Wa,--noexecstack -c $< -o $@

$(GUEST_X86_DIR)/%.elf: $(GUEST_X86_DIR)/start.o $(GUEST_X86_DIR)/lib.o $(GUEST_X86_DIR)/%.o guests/x86_64/guest.ld
	$(LD) $(GUEST_X86_LDFLAGS) -T guests/x86_64/guest.ld -o $@ \
		$(GUEST_X86_DIR)/start.o $(GUEST_X86_DIR)/lib.o $(GUEST_X86_DIR)/$*.o

$(GUEST_X86_DIR)/modes.elf: $(GUEST_X86_DIR)/modes.o guests/x86_64/guest.ld
	$(LD) $(GUEST_X86_LDFLAGS) -T guests/x86_64/guest.ld -o $@ $<

# Partition configurations used by the x86 partition scenarios.
X86_TEST_CONFIGS := $(patsubst test/configs/%.dts,$(O)/configs/%.dtb,$(wildcard test/configs/*.dts))
GUESTS += $(X86_TEST_CONFIGS)
endif

$(O)/configs/%.dtb: test/configs/%.dts
	@mkdir -p $(dir $@)
	$(DTC) -q -I dts -O dtb -o $@ $<

# Keep intermediate guest objects between runs.
.SECONDARY:
