# arm64 boot path (issue 3): the device-tree reader and the cpio reader, their
# host unit tests (ASan + UBSan, device-tree results cross-checked against
# libfdt) and fuzzers. hv/fdt.c is built with test/fuzz/fdt_rename.h forced
# in wherever libfdt is linked, so the two readers keep apart.

FDT_TEST_FLAGS := -include test/fuzz/fdt_rename.h -Wl,--no-as-needed -lfdt
FDT_CORE := hv/fdt.c hv/format.c hv/string.c
ARM64_DT_SRCS := boot/arm64/dt.c hv/cpio.c hv/boot_info.c $(FDT_CORE)

$(eval $(call unit_test,test_fdt,test/unit/test_fdt.c test/fuzz/libfdt_shim.c $(FDT_CORE),$(FDT_TEST_FLAGS)))
$(eval $(call unit_test,test_cpio,test/unit/test_cpio.c hv/cpio.c hv/boot_info.c hv/format.c hv/string.c))
$(eval $(call unit_test,test_fdt_platform,test/unit/test_fdt_platform.c $(ARM64_DT_SRCS)))

$(eval $(call fuzzer,fdt,test/fuzz/fdt_fuzz.c test/fuzz/libfdt_shim.c $(FDT_CORE),$(FDT_TEST_FLAGS)))
$(eval $(call fuzzer,cpio,test/fuzz/cpio_fuzz.c hv/cpio.c hv/boot_info.c hv/format.c hv/string.c))
$(eval $(call fuzzer,arm64_dt,test/fuzz/arm64_dt_fuzz.c $(ARM64_DT_SRCS)))
