/* bench: round trips through the hypervisor measured from inside the guest
 * with the virtual counter (CNTVCT_EL0). Under QEMU -icount shift=0 the
 * virtual clock advances exactly 1 ns per instruction executed, so the
 * counts are the same on every run and every host (docs/performance.md). */
#include "guest.h"

#define N 4096

int guest_main(const void *dtb)
{
    (void)dtb;
    uint64_t f = counter_freq();
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
    return 0;
}
