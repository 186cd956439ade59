/* The TSC rate, measured once at boot against the PIT (arch_udelay): the
 * virtual LAPIC timer, CPUID's frequency leaves, the RTC, the microsecond
 * clock of the rate limits and the statistics timestamps (arch_timestamp,
 * arch_timestamp_hz) all use this one counter and this one figure. */
#include "x86.h"
#include "../../hv/arch.h"

static u64 tsc_khz = 1000000;  /* until calibrated: assume 1 GHz */
static u64 tsc_per_us = 1000;

/* TSC ticks over 20 ms of the PIT. */
void x86_tsc_calibrate(void)
{
    u64 t0 = rdtsc();
    arch_udelay(20000);
    u64 khz = (rdtsc() - t0) / 20;
    tsc_khz = khz ? khz : 1;
    tsc_per_us = khz >= 1000 ? khz / 1000 : 1;
}

u64 x86_tsc_khz(void)
{
    return tsc_khz;
}

u64 arch_time_us(void)
{
    return rdtsc() / tsc_per_us;
}

/* Statistics timestamps (hv/arch.h): the TSC, ordered after earlier loads. */
u64 arch_timestamp(void)
{
    u32 lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((u64)hi << 32) | lo;
}

u64 arch_timestamp_hz(void)
{
    return tsc_khz * 1000;
}
