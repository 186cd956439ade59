/* flood: a hostile guest that tries to make the hypervisor print without
 * limit. Each run switches vCPU 1 on and off cycles=N times (PSCI CPU_ON and
 * CPU_OFF each make the hypervisor print a line), then asks for PSCI SYSTEM_RESET until it has run resets=R + 1
 * times (runs are counted in the first shared-memory channel, which a reset
 * does not clear), and finally exits with code 0. */
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
    const char *args = dt_bootargs(dtb);
    uint64_t cycles = cmdline_u64(args, "cycles", 100);
    uint64_t resets = cmdline_u64(args, "resets", 0);
    dt_each_node(dtb, "bulkhead-channel", find);
    if (!chan) {
        println("flood: needs a channel to count its runs");
        return 1;
    }
    volatile uint32_t *runs = (volatile uint32_t *)(uintptr_t)chan;
    uint32_t run = ++*runs;
    uint64_t done = 0;
    for (uint64_t i = 0; i < cycles; i++) {
        if ((int64_t)hvc_call(PSCI_CPU_ON, 1, (uintptr_t)secondary_entry, 1, 0) != 0)
            break;
        /* AFFINITY_INFO: 0 on, 1 off, 2 on pending. */
        while (hvc_call(PSCI_AFFINITY_INFO, 1, 0, 0, 0) != 1)
            ;
        done++;
    }
    gprintf("flood: run %u: %lu CPU_ON/CPU_OFF cycles done\n", run, done);
    if (done != cycles)
        return 1;
    if (run <= resets)
        hvc_call(PSCI_SYSTEM_RESET, 0, 0, 0, 0);
    gprintf("flood: done after %u runs\n", run);
    return 0;
}
