/* flood: a hostile guest that tries to make the hypervisor print without
 * limit. Each run reads and writes ports=N ports that are not granted (from
 * first + (run - 1) * N, skipping its virtual UART; the hypervisor reports
 * each such port once), then triple-faults until it has been restarted
 * faults=F times (fault-policy restart: every fault and restart prints
 * lines), and finally exits with code 0. */
#include "guest.h"

int guest_main(uint32_t magic, uint32_t info)
{
    const char *cmd = boot_cmdline(magic, info);
    uint32_t first = cmdline_u32(cmd, "first", 0x1000);
    uint32_t ports = cmdline_u32(cmd, "ports", 1024);
    uint32_t faults = cmdline_u32(cmd, "faults", 0);
    struct bh_part_info pi;
    part_info(&pi);
    uint32_t run = pi.restarts + 1, n = 0, odd = 0;
    for (uint32_t p = first + (run - 1) * ports; p < first + run * ports && p <= 0xffff; p++) {
        if (p >= 0x3f8 && p <= 0x3ff)
            continue;
        odd |= inb((uint16_t)p) != 0xff;
        outb((uint16_t)p, 0);
        n++;
    }
    gprintf("flood: run %u: %u ungranted ports probed%s\n", run, n,
            odd ? ", some did not read all-ones: FAILED" : "");
    if (pi.restarts < faults) {
        struct {
            uint16_t limit;
            uint32_t base;
        } __attribute__((packed)) idtr = { 0, 0 };
        __asm__ volatile("lidt %0; int3" ::"m"(idtr));
        println("flood: still running after the fault: FAILED");
        return 1;
    }
    gprintf("flood: done after %u runs\n", run);
    return 0;
}
