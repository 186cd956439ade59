/* hypercalls: calls every Bulkhead hypercall (HVC, SMCCC function id
 * 0xc6000000 + number) with good and bad arguments and checks each result
 * against the same error codes as the x86 guest; exits with 7 when all
 * pass, else 100 + the number of failed checks. */
#include "guest.h"

static uint32_t failed, passed;

static void expect(const char *what, int64_t got, int64_t want)
{
    if (got == want) {
        passed++;
        gprintf("hypercalls: ok   %s = %d\n", what, (int32_t)got);
    } else {
        failed++;
        gprintf("hypercalls: FAIL %s = %d, expected %d\n", what, (int32_t)got, (int32_t)want);
    }
}

static char msg[] = "hypercalls: console-write hypercall works\n";
static struct bh_part_info pi;

int guest_main(const void *dtb)
{
    (void)dtb;
    uint64_t len = strlen(msg);
    uint64_t ram_end = 0;
    const uint8_t *reg = dt_getprop(dtb, "/memory@40000000", "reg", NULL);
    if (reg)
        ram_end = be64(reg) + be64(reg + 8);
    expect("null", hypercall(HC_NULL, 0, 0, 0, 0), 0);
    expect("null (trapped smc)", (int64_t)smc_call(HC_BASE + HC_NULL, 0, 0, 0, 0), 0);
    expect("yield", hypercall(HC_YIELD, 0, 0, 0, 0), 0);
    expect("console-write(good)", hypercall(HC_CONSOLE_WRITE, (uintptr_t)msg, len, 0, 0), (int64_t)len);
    expect("console-write(len 0)", hypercall(HC_CONSOLE_WRITE, (uintptr_t)msg, 0, 0, 0), 0);
    expect("console-write(too long)", hypercall(HC_CONSOLE_WRITE, (uintptr_t)msg, 4097, 0, 0), -22);
    expect("console-write(outside memory)", hypercall(HC_CONSOLE_WRITE, 0x1000, 16, 0, 0), -14);
    expect("console-write(runs off the end)", hypercall(HC_CONSOLE_WRITE, ram_end - 16, 64, 0, 0), -14);
    expect("console-write(wraps)", hypercall(HC_CONSOLE_WRITE, 0xfffffffffffffff0ULL, 64, 0, 0), -14);
    expect("console-write(uart page)", hypercall(HC_CONSOLE_WRITE, UART_BASE, 4, 0, 0), -14);
    expect("partition-info(good)", hypercall(HC_PART_INFO, (uintptr_t)&pi, sizeof(pi), 0, 0), (int64_t)sizeof(pi));
    expect("partition-info(small buffer)", hypercall(HC_PART_INFO, (uintptr_t)&pi, sizeof(pi) - 1, 0, 0), -22);
    expect("partition-info(outside memory)", hypercall(HC_PART_INFO, 0x1000, sizeof(pi), 0, 0), -14);
    expect("partition-info(runs off the end)", hypercall(HC_PART_INFO, ram_end - 8, sizeof(pi), 0, 0), -14);
    expect("unknown hypercall 99", hypercall(99, 1, 2, 3, 4), -38);
    expect("unknown hypercall 0xffff", hypercall(0xffff, 0, 0, 0, 0), -38);
    expect("other SMCCC owner 0xc5000000", (int64_t)hvc_call(0xc5000000, 0, 0, 0, 0), -1);
    expect("hvc #1 (not SMCCC)", ({
               register uint64_t x0 __asm__("x0") = HC_BASE;
               __asm__ volatile("hvc #1" : "+r"(x0)::"memory");
               (int64_t)x0;
           }), -1);
    /* A trapped system register (the physical timer, which partitions are
     * not given) comes back as an undefined instruction at EL1. */
    set_vectors();
    uint64_t before = exceptions, val = 0x1234;
    __asm__ volatile("mrs %0, cntp_ctl_el0" : "+r"(val)::"memory");
    expect("CNTP_CTL_EL0 read: exceptions taken", (int64_t)(exceptions - before), 1);
    expect("CNTP_CTL_EL0 read: EC (0 = unknown reason)", (int64_t)(last_esr >> 26), 0);
    /* Debug and PMU registers are the hypervisor's (MDCR_EL2 traps them):
     * reads give 0, writes are ignored, nothing faults. A breakpoint armed on
     * a hypervisor-looking address and a cycle counter told to count at EL2
     * (PMCCFILTR_EL0.NSH) do not reach the hardware. MDSCR_EL1 keeps what
     * the guest wrote (a kernel reads it back) without effect. */
    before = exceptions;
    uint64_t pmcr = 1, filt = 1, bcr = 1, mdscr = 0;
    __asm__ volatile("mrs %0, pmcr_el0" : "=r"(pmcr));
    __asm__ volatile("msr pmccfiltr_el0, %1; isb; mrs %0, pmccfiltr_el0" : "=r"(filt) : "r"(1UL << 27));
    __asm__ volatile("msr dbgbvr0_el1, %1; msr dbgbcr0_el1, %2; isb; mrs %0, dbgbcr0_el1"
                     : "=r"(bcr) : "r"(0x40200000UL), "r"(0x1e7UL));
    __asm__ volatile("msr mdscr_el1, %1; isb; mrs %0, mdscr_el1" : "=r"(mdscr) : "r"(1UL << 15));
    expect("PMCR_EL0 reads 0 (PMU not given)", (int64_t)pmcr, 0);
    expect("PMCCFILTR_EL0 with NSH reads back 0 (no counting at EL2)", (int64_t)filt, 0);
    expect("DBGBCR0_EL1 armed reads back 0 (no breakpoint)", (int64_t)bcr, 0);
    expect("MDSCR_EL1 keeps MDE for the guest", (int64_t)mdscr, 1L << 15);
    expect("debug/PMU accesses: exceptions taken", (int64_t)(exceptions - before), 0);
    __asm__ volatile("msr mdscr_el1, xzr");
    /* WFI waits for an interrupt: the virtual timer, 10 ms ahead, with IRQs
     * masked in PSTATE (WFI still wakes, nothing is taken). WFE traps and
     * returns. */
    gic_dist_on();
    gic_cpu_on(0, 1u << 27);
    uint64_t t0 = counter();
    __asm__ volatile("msr cntv_tval_el0, %0; msr cntv_ctl_el0, %1; isb" ::"r"(counter_freq() / 100),
                     "r"((uint64_t)1)
                     : "memory");
    __asm__ volatile("wfi; wfe" ::: "memory");
    uint64_t waited = counter() - t0;
    __asm__ volatile("msr cntv_ctl_el0, %0; isb" ::"r"((uint64_t)0) : "memory");
    expect("WFI waited for the 10 ms timer", waited >= counter_freq() / 100, 1);
    println("hypercalls: wfi and wfe returned");
    gprintf("hypercalls: partition '%s' index %u, %u vCPU, %u MiB, ABI %u\n", pi.name, pi.partition,
            pi.vcpus, (uint32_t)(pi.ram_bytes >> 20), pi.abi_version);
    gprintf("hypercalls: %u passed, %u failed\n", passed, failed);
    return (int)(failed ? 100 + failed : 7);
}
