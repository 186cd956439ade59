/* isolation: tries to leave its memory, one way per run (the partition is
 * restarted after each fault): 1 reads outside its memory (read=ADDR), 2
 * writes at another partition's host-physical address used as a guest address
 * (host=ADDR), 3 reads that address, 4 writes outside its memory (write=ADDR).
 * Each must be stopped by the hypervisor; reaching the end prints ESCAPED. */
#include "guest.h"

int guest_main(uint32_t magic, uint32_t info)
{
    const char *cmd = boot_cmdline(magic, info);
    struct bh_part_info pi;
    part_info(&pi);
    uint32_t run = pi.restarts + 1;
    uint32_t outside_r = cmdline_u32(cmd, "read", 0x3000000);
    uint32_t host = cmdline_u32(cmd, "host", 0x4000000);
    uint32_t outside_w = cmdline_u32(cmd, "write", 0x5000000);
    switch (run) {
    case 1: {
        gprintf("isolation: run 1: reading %x, outside my memory\n", outside_r);
        uint32_t v = *(volatile uint32_t *)(uintptr_t)outside_r;
        gprintf("isolation: ESCAPED: read %x from %x\n", v, outside_r);
        break;
    }
    case 2:
        gprintf("isolation: run 2: writing to %x, another partition's host address\n", host);
        *(volatile uint32_t *)(uintptr_t)host = 0xdeadbeef;
        gprintf("isolation: ESCAPED: wrote to %x\n", host);
        break;
    case 3: {
        gprintf("isolation: run 3: reading %x, another partition's host address\n", host);
        uint32_t v = *(volatile uint32_t *)(uintptr_t)host;
        gprintf("isolation: ESCAPED: read %x from %x\n", v, host);
        break;
    }
    default:
        gprintf("isolation: run %u: writing to %x, outside my memory\n", run, outside_w);
        *(volatile uint32_t *)(uintptr_t)outside_w = 0xdeadbeef;
        gprintf("isolation: ESCAPED: wrote to %x\n", outside_w);
        break;
    }
    return 99;
}
