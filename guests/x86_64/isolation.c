/* isolation: tries to leave its memory. First run: reads outside its own
 * memory (read=ADDR). After a restart: writes to the host-physical address of
 * another partition (write=ADDR), as a guest-physical address. Both must be
 * stopped by the hypervisor; reaching the end prints ESCAPED. */
#include "guest.h"

int guest_main(uint32_t magic, uint32_t info)
{
    const char *cmd = boot_cmdline(magic, info);
    struct bh_part_info pi;
    part_info(&pi);
    if (pi.restarts == 0) {
        uint32_t a = cmdline_u32(cmd, "read", 0x3000000);
        gprintf("isolation: run 1: reading %x, outside my memory\n", a);
        volatile uint32_t v = *(volatile uint32_t *)(uintptr_t)a;
        gprintf("isolation: ESCAPED: read %x from %x\n", v, a);
    } else {
        uint32_t a = cmdline_u32(cmd, "write", 0x4000000);
        gprintf("isolation: run %u: writing to %x, another partition's host address\n",
                pi.restarts + 1, a);
        *(volatile uint32_t *)(uintptr_t)a = 0xdeadbeef;
        gprintf("isolation: ESCAPED: wrote to %x\n", a);
    }
    return 99;
}
