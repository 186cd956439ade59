# Host unit tests for the arch-neutral core written with the x86-64 foundation.
$(eval $(call unit_test,test_format,test/unit/test_format.c hv/format.c hv/string.c))
$(eval $(call unit_test,test_frame,test/unit/test_frame.c mm/frame.c hv/boot_info.c hv/format.c hv/string.c))
$(eval $(call unit_test,test_multiboot2,test/unit/test_multiboot2.c boot/x86_64/multiboot2.c hv/boot_info.c hv/format.c hv/string.c mm/frame.c))
$(eval $(call fuzzer,multiboot2,test/fuzz/fuzz_multiboot2.c boot/x86_64/multiboot2.c hv/boot_info.c hv/format.c hv/string.c mm/frame.c))
$(eval $(call unit_test,test_ept,test/unit/test_ept.c arch/x86_64/ept.c))
$(eval $(call unit_test,test_vacpi,test/unit/test_vacpi.c arch/x86_64/vacpi.c arch/x86_64/vpic.c hv/string.c))
$(eval $(call unit_test,test_guest_load,test/unit/test_guest_load.c arch/x86_64/guest_load.c hv/format.c hv/string.c))
$(eval $(call fuzzer,guest_load,test/fuzz/fuzz_guest_load.c arch/x86_64/guest_load.c hv/format.c hv/string.c))
