/* crash: says which run this is, then leaves its memory: a read outside it
 * on odd runs, a jump outside it (an instruction fetch) on even runs. With
 * fault-policy restart it is restarted until the limit. */
#include "guest.h"

int guest_main(const void *dtb)
{
    (void)dtb;
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
