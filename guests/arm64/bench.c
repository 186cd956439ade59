/* bench: round trips through the hypervisor measured from inside the guest
 * with the virtual counter (CNTVCT_EL0). Under QEMU -icount shift=0 the
 * virtual clock advances exactly 1 ns per instruction executed, so the
 * counts are the same on every run and every host (docs/performance.md). */
#include "guest.h"

#define N 4096

/* PMU cycle counter (the partition needs pmu = "on"), asked to count at EL1
 * and (NSH) at EL2 too; the hypervisor prohibits EL2 counting, so it counts
 * the guest's own instructions: under -icount shift=0 QEMU's CPU clock is
 * 1 GHz on the 1 ns-per-instruction virtual clock. */
static void pmu_start(void)
{
    __asm__ volatile("msr pmccfiltr_el0, %0" ::"r"(1UL << 27));
    __asm__ volatile("msr pmcntenset_el0, %0" ::"r"(1UL << 31));
    __asm__ volatile("msr pmcr_el0, %0; isb" ::"r"((1UL << 6) | (1UL << 2) | 1UL)); /* LC, C (reset), E */
}

static inline uint64_t cycles(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, pmccntr_el0" : "=r"(v)::"memory");
    return v;
}

int guest_main(const void *dtb)
{
    (void)dtb;
    uint64_t f = counter_freq();
    pmu_start();
    uint64_t c0, c1, cbase, chvc, cuart;
    c0 = cycles();
    for (int i = 0; i < N; i++)
        __asm__ volatile("" ::: "memory");
    c1 = cycles();
    cbase = c1 - c0;
    c0 = cycles();
    for (int i = 0; i < N; i++)
        hvc_call(HC_BASE + HC_NULL, 0, 0, 0, 0);
    c1 = cycles();
    chvc = c1 - c0 - cbase;
    c0 = cycles();
    for (int i = 0; i < N; i++)
        *(volatile uint32_t *)(UART_BASE + 0x44) = 0;
    c1 = cycles();
    cuart = c1 - c0 - cbase;

    uint64_t t0, t1, base, hvc, uart;
    t0 = counter();
    for (int i = 0; i < N; i++)
        __asm__ volatile("" ::: "memory");
    t1 = counter();
    base = t1 - t0;

    t0 = counter();
    for (int i = 0; i < N; i++)
        hvc_call(HC_BASE + HC_NULL, 0, 0, 0, 0);
    t1 = counter();
    hvc = t1 - t0 - base;

    t0 = counter();
    for (int i = 0; i < N; i++)
        *(volatile uint32_t *)(UART_BASE + 0x44) = 0; /* UARTICR: a full trap, no output */
    t1 = counter();
    uart = t1 - t0 - base;

    /* ns per round trip, with 2 decimals: ticks * 1e9 / f / N */
    uint64_t hvc_cns = hvc * 100000000000ULL / f / N, uart_cns = uart * 100000000000ULL / f / N;
    gprintf("bench: counter %lu Hz, %u round trips each, loop overhead %lu ticks subtracted\n", f, N, base);
    gprintf("bench: null HVC round trip: %lu counter ticks per %u calls = %lu.%lu%lu ns each\n", hvc, N,
            hvc_cns / 100, (hvc_cns / 10) % 10, hvc_cns % 10);
    gprintf("bench: trapped PL011 write round trip: %lu counter ticks per %u writes = %lu.%lu%lu ns each\n",
            uart, N, uart_cns / 100, (uart_cns / 10) % 10, uart_cns % 10);
    gprintf("bench: PMU cycle counter (EL1 only: no counting at EL2): loop overhead %lu cycles per %u iterations\n", cbase, N);
    gprintf("bench: null HVC round trip: %lu PMU cycles per %u calls = %lu.%lu%lu cycles each\n", chvc, N,
            chvc / N, (chvc * 10 / N) % 10, (chvc * 100 / N) % 10);
    gprintf("bench: trapped PL011 write round trip: %lu PMU cycles per %u writes = %lu.%lu%lu cycles each\n",
            cuart, N, cuart / N, (cuart * 10 / N) % 10, (cuart * 100 / N) % 10);
    return 0;
}
