/* bench: round trips through the hypervisor, measured from inside the guest
 * with RDTSC. Under Bochs with "clock: sync=none" the TSC advances with the
 * emulated instruction count, so the figures are the same on every run and
 * every machine (see docs/performance.md). */
#include "guest.h"


#define N 1000

static uint32_t per_op(uint64_t t, uint64_t base)
{
    return (uint32_t)(t > base ? t - base : 0) / N;
}

int guest_main(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    uint64_t t0, t1;
    /* loop overhead */
    t0 = rdtsc();
    for (int i = 0; i < N; i++)
        __asm__ volatile("" ::: "memory");
    t1 = rdtsc();
    uint64_t base = t1 - t0;

    t0 = rdtsc();
    for (int i = 0; i < N; i++)
        hypercall(HC_NULL, 0, 0, 0, 0);
    t1 = rdtsc();
    uint32_t vmcall = per_op(t1 - t0, base);

    t0 = rdtsc();
    for (int i = 0; i < N; i++)
        outb(0x3f8, '\r'); /* transmit register: the whole output path; '\r' prints nothing */
    t1 = rdtsc();
    uint32_t uart = per_op(t1 - t0, base);

    t0 = rdtsc();
    for (int i = 0; i < N; i++) {
        uint32_t a = 0, b, c = 0, d;
        __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    }
    t1 = rdtsc();
    uint32_t cpuid = per_op(t1 - t0, base);

    gprintf("bench: null VMCALL round trip: %u TSC ticks\n", vmcall);
    gprintf("bench: virtual UART transmit write round trip: %u TSC ticks\n", uart);
    gprintf("bench: CPUID round trip: %u TSC ticks\n", cpuid);
    gprintf("bench: loop overhead subtracted: %u ticks per %u iterations\n", (uint32_t)base, N);
    return 0;
}
