# Memslots, epochs and the small heap (issue 4): unit tests, the TSan stress
# build, the differential long run and the benchmark.

MEMSLOT_SRCS := mm/memslot.c hv/epoch.c

$(eval $(call unit_test,test_memslot,test/unit/test_memslot.c $(MEMSLOT_SRCS)))
$(eval $(call unit_test,test_memslot_diff,test/unit/test_memslot_diff.c $(MEMSLOT_SRCS)))
$(eval $(call unit_test,test_epoch,test/unit/test_epoch.c hv/epoch.c,-DBULKHEAD_DEBUG -pthread))
