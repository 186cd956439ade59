/* crash: says which run this is, then leaves its memory: a read outside it
 * on odd runs, a jump outside it (an instruction fetch) on even runs. With
 * fault-policy restart it is restarted until the limit.
 * With reset=N in its bootargs it instead counts its runs in the first
 * shared-memory channel of its device tree (which a reset does not clear)
 * and asks for PSCI SYSTEM_RESET N times, then exits with code 0.
 * With pool=ADDR runs=N it takes the first 8 KiB of its pool (at ADDR) on
 * every run, checks that they come zeroed, fills them, and faults, until
 * run N gives them back and exits with code 0: a restart must hand the
 * pool back as at boot (taken again, zeroed). */
#include "guest.h"

static uint64_t chan;

static void find(const void *dtb, const char *name, const uint8_t *reg, uint32_t len)
{
    (void)dtb, (void)name;
    if (len >= 16 && !chan)
        chan = be64(reg);
}

#define POOL_TEST_BYTES 0x2000UL

static int pool_run(uint64_t pool, uint64_t runs)
{
    struct bh_part_info pi;
    part_info(&pi);
    uint32_t run = pi.restarts + 1;
    int64_t r = hypercall(HC_POOL_TAKE, 0, POOL_TEST_BYTES, 0, 0);
    if (r != 0) {
        gprintf("crash: run %u: POOL_TAKE returned %ld: FAILED\n", run, (long)r);
        return 1;
    }
    volatile uint64_t *pp = (volatile uint64_t *)(uintptr_t)pool;
    for (uint64_t i = 0; i < POOL_TEST_BYTES / 8; i++) {
        if (pp[i] != 0) {
            gprintf("crash: run %u: taken pool word %lu is 0x%lx, not zero: FAILED\n", run,
                    (unsigned long)i, (unsigned long)pp[i]);
            return 1;
        }
        pp[i] = 0xb0b0000000000000UL | ((uint64_t)run << 32) | i;
    }
    gprintf("crash: run %u of %lu: pool taken, zeroed, filled\n", run, (unsigned long)runs);
    if (run < runs) {
        (void)*(volatile uint64_t *)0x10000000UL; /* fault: the policy restarts us */
        println("crash: still running after the fault: FAILED");
        return 1;
    }
    r = hypercall(HC_POOL_GIVE, 0, POOL_TEST_BYTES, 0, 0);
    if (r != 0) {
        gprintf("crash: POOL_GIVE returned %ld: FAILED\n", (long)r);
        return 1;
    }
    println("crash: pool given back on every restart: PASSED");
    return 0;
}

int guest_main(const void *dtb)
{
    uint64_t pool = cmdline_u64(dt_bootargs(dtb), "pool", 0);
    if (pool)
        return pool_run(pool, cmdline_u64(dt_bootargs(dtb), "runs", 3));
    uint64_t resets = cmdline_u64(dt_bootargs(dtb), "reset", 0);
    if (resets) {
        dt_each_node(dtb, "bulkhead-channel", find);
        if (!chan) {
            println("crash: reset=N needs a channel");
            return 1;
        }
        volatile uint32_t *runs = (volatile uint32_t *)(uintptr_t)chan;
        uint32_t run = ++*runs;
        gprintf("crash: run %u of %lu\n", run, resets + 1);
        if (run <= resets) {
            println("crash: PSCI SYSTEM_RESET");
            hvc_call(PSCI_SYSTEM_RESET, 0, 0, 0, 0);
            println("crash: still running after SYSTEM_RESET: FAILED");
            return 1;
        }
        return 0;
    }
    struct bh_part_info pi;
    part_info(&pi);
    uint32_t run = pi.restarts + 1;
    if (run % 2) {
        gprintf("crash: run %u (restarts so far %u), reading outside my memory\n", run, pi.restarts);
        volatile uint64_t *bad = (volatile uint64_t *)0x10000000UL;
        (void)*bad;
    } else {
        gprintf("crash: run %u (restarts so far %u), jumping outside my memory\n", run, pi.restarts);
        void (*fn)(void) = (void (*)(void))0x20000000UL;
        fn();
    }
    println("crash: still running after the fault: FAILED");
    return 1;
}
