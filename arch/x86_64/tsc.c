/* A microsecond clock from the TSC, calibrated once at boot against the PIT
 * (arch_udelay). Only rate limits use it: a few percent of error is fine. */
#include "x86.h"
#include "../../hv/arch.h"

static u64 tsc_per_us = 1000; /* until calibrated: assume 1 GHz */

static inline u64 rdtsc(void)
{
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}

void x86_tsc_calibrate(void)
{
    u64 t0 = rdtsc();
    arch_udelay(10000);
    u64 d = rdtsc() - t0;
    if (d >= 10000)
        tsc_per_us = d / 10000;
}

u64 arch_time_us(void)
{
    return rdtsc() / tsc_per_us;
}
