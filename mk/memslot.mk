# Memslots, epochs and the small heap (issue 4): unit tests, the TSan stress
# build, the differential long run and the benchmark.

MEMSLOT_SRCS := mm/memslot.c hv/epoch.c

$(eval $(call unit_test,test_memslot,test/unit/test_memslot.c $(MEMSLOT_SRCS)))
$(eval $(call unit_test,test_memslot_diff,test/unit/test_memslot_diff.c $(MEMSLOT_SRCS)))
$(eval $(call unit_test,test_epoch,test/unit/test_epoch.c hv/epoch.c,-DBULKHEAD_DEBUG -pthread))
$(eval $(call unit_test,test_memslot_stress,test/unit/test_memslot_stress.c $(MEMSLOT_SRCS),-pthread -DBULKHEAD_DEBUG))

# The same stress test under ThreadSanitizer (the unit_test macro builds with
# ASan, which cannot be combined with TSan).
TSAN_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter -I. -DBULKHEAD_HOST \
	-fsanitize=thread -fno-omit-frame-pointer -pthread -DSTRESS_TSAN
UNIT_TESTS += $(HOSTBUILD)/test_memslot_stress_tsan
$(HOSTBUILD)/test_memslot_stress_tsan: test/unit/test_memslot_stress.c $(MEMSLOT_SRCS) $(HOST_SUPPORT) \
		$(wildcard hv/*.h mm/*.h test/unit/*.h)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(TSAN_CFLAGS) -o $@ test/unit/test_memslot_stress.c $(MEMSLOT_SRCS) $(HOST_SUPPORT)

# Benchmark (optimised, no sanitizers): make bench runs test/bench/memslot.json.
BENCH_CFLAGS := -std=gnu11 -g -O2 -Wall -Wextra -Werror -Wno-unused-parameter -I. -DBULKHEAD_HOST -pthread
BENCH_MEMSLOT_SRCS := test/bench/memslot_bench.c $(MEMSLOT_SRCS) mm/heap.c mm/frame.c hv/format.c
HOST_TOOLS += $(HOSTBUILD)/bench_memslot
$(HOSTBUILD)/bench_memslot: $(BENCH_MEMSLOT_SRCS) $(HOST_SUPPORT) $(wildcard hv/*.h mm/*.h)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(BENCH_CFLAGS) -o $@ $(BENCH_MEMSLOT_SRCS) $(HOST_SUPPORT)
$(eval $(call unit_test,test_heap,test/unit/test_heap.c mm/heap.c mm/frame.c hv/format.c))
