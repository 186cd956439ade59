/* isolation: tries to leave its memory. First run: reads outside its own
 * memory (read=ADDR). After a restart: writes to the host-physical address of
 * another partition (write=ADDR), as a guest-physical address. Both must be
 * stopped by the hypervisor's stage-2 tables; reaching the end prints
 * ESCAPED. */
#include "guest.h"

int guest_main(const void *dtb)
{
    const char *args = dt_bootargs(dtb);
    struct bh_part_info pi;
    part_info(&pi);
    if (pi.restarts == 0) {
        uint64_t a = cmdline_u64(args, "read", 0x30000000);
        gprintf("isolation: run 1: reading %lx, outside my memory\n", a);
        volatile uint32_t v = *(volatile uint32_t *)(uintptr_t)a;
        gprintf("isolation: ESCAPED: read %x from %lx\n", v, a);
    } else {
        uint64_t a = cmdline_u64(args, "write", 0x5c000000);
        gprintf("isolation: run %u: writing to %lx, another partition's host address\n",
                pi.restarts + 1, a);
        *(volatile uint32_t *)(uintptr_t)a = 0xdeadbeef;
        gprintf("isolation: ESCAPED: wrote to %lx\n", a);
    }
    return 99;
}
