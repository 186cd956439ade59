/* quiet: a partition that is not console.input's. For ms=N milliseconds
 * (TSC, rate from CPUID 0x40000010) it polls its virtual 16550's LSR.DR and
 * reads and reports any byte it finds there: console input must never reach
 * it. Then it prints how many bytes it received (0 expected) and shuts down. */
#include "guest.h"


int guest_main(uint32_t magic, uint32_t info)
{
    const char *cmd = boot_cmdline(magic, info);
    uint32_t ms = cmdline_u32(cmd, "ms", 10000);
    uint32_t khz, b, c, d;
    __asm__ volatile("cpuid" : "=a"(khz), "=b"(b), "=c"(c), "=d"(d) : "a"(0x40000010), "c"(0));
    gprintf("quiet: polling LSR for %u ms\n", ms);
    uint64_t end = rdtsc() + (uint64_t)khz * ms;
    uint32_t polls = 0, seen = 0;
    while (rdtsc() < end) {
        polls++;
        while (inb(0x3fd) & 1) {
            uint8_t byte = inb(0x3f8);
            if (++seen <= 3)
                gprintf("quiet: FAILED: received byte %x\n", byte);
        }
        spin_delay(1000);
    }
    gprintf("quiet: %u polls, %u bytes received\n", polls, seen);
    return seen ? 1 : 0;
}
