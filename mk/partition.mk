# Partitions and the hypercall table (issues 6 and 7): host unit tests over a
# frame allocator on a host buffer, with read-side epoch checks on
# (-DBULKHEAD_DEBUG).

PARTITION_TEST_SRCS := hv/partition.c hv/hypercall.c hv/window.c mm/memslot.c mm/heap.c mm/frame.c \
	hv/epoch.c hv/boot_info.c hv/format.c hv/string.c hv/ratelimit.c

$(eval $(call unit_test,test_partition,test/unit/test_partition.c $(PARTITION_TEST_SRCS),-DBULKHEAD_DEBUG))
$(eval $(call unit_test,test_hypercall,test/unit/test_hypercall.c $(PARTITION_TEST_SRCS),-DBULKHEAD_DEBUG))
$(eval $(call unit_test,test_window,test/unit/test_window.c $(PARTITION_TEST_SRCS),-DBULKHEAD_DEBUG))
$(eval $(call unit_test,test_insn,test/unit/test_insn.c arch/x86_64/insn.c $(PARTITION_TEST_SRCS),-DBULKHEAD_DEBUG))
