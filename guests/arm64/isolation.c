/* isolation: tries to leave its memory. First run: reads outside its own
 * memory (read=ADDR). After a restart: writes to the host-physical address of
 * another partition (write=ADDR), as a guest-physical address. Both must be
 * stopped by the hypervisor's stage-2 tables; reaching the end prints
 * ESCAPED. With abort=1 (a partition with outside-access = "abort") the
 * read must come back as a synchronous external abort at EL1 instead: the
 * guest counts it, checks ESR and FAR, and shuts down with exit code 0. */
#include "guest.h"

int guest_main(const void *dtb)
{
    const char *args = dt_bootargs(dtb);
    struct bh_part_info pi;
    part_info(&pi);
    if (cmdline_u64(args, "abort", 0)) {
        uint64_t a = cmdline_u64(args, "read", 0x30000000);
        set_vectors();
        gprintf("isolation: reading %lx, outside my memory, expecting an external abort\n", a);
        volatile uint32_t v = *(volatile uint32_t *)(uintptr_t)a;
        (void)v;
        uint64_t far;
        __asm__ volatile("mrs %0, far_el1" : "=r"(far));
        uint32_t ec = (uint32_t)(last_esr >> 26) & 0x3f, fsc = (uint32_t)last_esr & 0x3f;
        gprintf("isolation: %lu exception(s), EC %x, FSC %x, WnR %u, FAR %lx\n", exceptions, ec,
                fsc, (uint32_t)(last_esr >> 6) & 1, far);
        bool ok = exceptions == 1 && ec == 0x25 && fsc == 0x10 && far == a;
        gprintf("isolation: %s\n", ok ? "synchronous external abort taken as expected"
                                       : "FAILED: no synchronous external abort");
        return ok ? 0 : 1;
    }
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
