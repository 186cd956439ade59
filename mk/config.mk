# Partition configuration (issue 5): parser/validator unit tests, the host
# checker tool, the fuzzer, and the example / scenario configuration DTBs.

CONFIG_SRCS := hv/config.c hv/config_check.c hv/fdt.c hv/format.c hv/string.c hv/boot_info.c \
	arch/x86_64/ports.c

$(eval $(call unit_test,test_config,test/unit/test_config.c $(CONFIG_SRCS)))
$(eval $(call fuzzer,config,test/fuzz/config_fuzz.c $(CONFIG_SRCS)))

HOST_TOOLS += $(HOSTBUILD)/bulkhead-config
$(HOSTBUILD)/bulkhead-config: tools/bulkhead-config.c $(CONFIG_SRCS) $(wildcard hv/*.h arch/x86_64/ports.h)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOST_TOOL_CFLAGS) -o $@ tools/bulkhead-config.c $(CONFIG_SRCS)

# Configuration DTBs are arch-independent: they go to $(O)/configs/ whatever
# ARCH is. The examples, plus the deliberately broken ones the bad-config
# boot scenarios load.
DTC ?= dtc
CONFIG_DTBS := $(patsubst guests/configs/%.dts,$(O)/configs/%.dtb,$(wildcard guests/configs/*.dts)) \
	$(patsubst test/unit/configs/boot/%.dts,$(O)/configs/%.dtb,$(wildcard test/unit/configs/boot/*.dts))

$(O)/configs/%.dtb: guests/configs/%.dts
	@mkdir -p $(dir $@)
	$(DTC) -q -I dts -O dtb -o $@ $<

$(O)/configs/%.dtb: test/unit/configs/boot/%.dts
	@mkdir -p $(dir $@)
	$(DTC) -q -I dts -O dtb -o $@ $<

GUESTS += $(CONFIG_DTBS)
configs: $(CONFIG_DTBS)
.PHONY: configs
