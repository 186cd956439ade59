/* triplefault: says which run this is, then loads an empty IDT and raises an
 * exception, which the CPU cannot deliver: a triple fault. */
#include "guest.h"

int guest_main(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    struct bh_part_info pi;
    part_info(&pi);
    gprintf("triplefault: run %u (restarts so far %u), faulting now\n", pi.restarts + 1, pi.restarts);
    struct {
        uint16_t limit;
        uint32_t base;
    } __attribute__((packed)) idtr = { 0, 0 };
    __asm__ volatile("lidt %0; int3" ::"m"(idtr));
    println("triplefault: still running after the fault: FAILED");
    return 1;
}
