/* crash: says which run this is, then leaves its memory: a read outside it
 * on odd runs, a jump outside it (an instruction fetch) on even runs. With
 * fault-policy restart it is restarted until the limit.
 * With reset=N in its bootargs it instead counts its runs in the first
 * shared-memory channel of its device tree (which a reset does not clear)
 * and asks for PSCI SYSTEM_RESET N times, then exits with code 0. */
#include "guest.h"

static uint64_t chan;

static void find(const void *dtb, const char *name, const uint8_t *reg, uint32_t len)
{
    (void)dtb, (void)name;
    if (len >= 16 && !chan)
        chan = be64(reg);
}

int guest_main(const void *dtb)
{
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
