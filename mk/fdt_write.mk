# The device-tree writer (issue 7: the arm64 loader writes each partition's
# device tree with it): host unit test reading its trees back with hv/fdt.c
# and libfdt.
$(eval $(call unit_test,test_fdt_write,test/unit/test_fdt_write.c hv/fdt_write.c test/fuzz/libfdt_shim.c $(FDT_CORE),$(FDT_TEST_FLAGS)))
