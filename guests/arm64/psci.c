/* psci: exercises the partition's PSCI 1.1: version and features (through
 * HVC and through a trapped SMC), bad calls, then starts every other vCPU
 * with CPU_ON (each prints its MPIDR and switches itself off with CPU_OFF),
 * follows them with AFFINITY_INFO, and ends the partition with SYSTEM_OFF. */
#include "guest.h"

static volatile uint32_t seen[16];
static volatile uint32_t spin_forever;
static uint32_t failed;

static void expect(const char *what, int64_t got, int64_t want)
{
    if (got != want)
        failed++;
    gprintf("psci: %s %s = %d\n", got == want ? "ok  " : "FAIL", what, (int32_t)got);
}

void secondary_main(uint64_t index)
{
    uint64_t mpidr;
    __asm__ volatile("mrs %0, mpidr_el1" : "=r"(mpidr));
    gprintf("psci: vCPU %lu running, MPIDR %lx\n", index, mpidr);
    seen[index & 15] = 1;
    while (spin_forever)
        ;
}

/* spin=1: the other vCPUs keep running while vCPU 0 faults (first run) or
 * powers the partition off (after the restart): the hypervisor must bring
 * them back by itself. */
static int spin_mode(uint32_t n)
{
    struct bh_part_info pi;
    part_info(&pi);
    spin_forever = 1;
    for (uint32_t i = 1; i < n && i < 16; i++) {
        int64_t r = (int64_t)hvc_call(PSCI_CPU_ON, i, (uintptr_t)secondary_entry, i, 0);
        while (r == 0 && !seen[i])
            ;
    }
    gprintf("psci: run %u: %u vCPUs on, AFFINITY_INFO(1) = %d\n", pi.restarts + 1, n,
            (int32_t)hvc_call(PSCI_AFFINITY_INFO, 1, 0, 0, 0));
    if (pi.restarts == 0) {
        println("psci: run 1: reading outside my memory while vCPU 1 spins");
        (void)*(volatile uint32_t *)0x30000000UL;
    } else {
        println("psci: run 2: SYSTEM_OFF while vCPU 1 spins");
        hvc_call(PSCI_SYSTEM_OFF, 0, 0, 0, 0);
    }
    println("psci: still running: FAILED");
    return 1;
}

int guest_main(const void *dtb)
{
    uint32_t n = dt_count_cpus(dtb);
    uint64_t me;
    __asm__ volatile("mrs %0, mpidr_el1" : "=r"(me));
    gprintf("psci: %u vCPUs in the device tree, boot vCPU MPIDR %lx\n", n, me);
    if (cmdline_u64(dt_bootargs(dtb), "spin", 0))
        return spin_mode(n);
    expect("PSCI_VERSION (hvc)", (int64_t)hvc_call(PSCI_VERSION, 0, 0, 0, 0), 0x10001);
    expect("PSCI_VERSION (smc)", (int64_t)smc_call(PSCI_VERSION, 0, 0, 0, 0), 0x10001);
    expect("PSCI_FEATURES(CPU_ON)", (int64_t)hvc_call(PSCI_FEATURES, PSCI_CPU_ON, 0, 0, 0), 0);
    expect("PSCI_FEATURES(SYSTEM_RESET)",
           (int64_t)hvc_call(PSCI_FEATURES, PSCI_SYSTEM_RESET, 0, 0, 0), 0);
    expect("PSCI_FEATURES(CPU_SUSPEND)", (int64_t)hvc_call(PSCI_FEATURES, 0xc4000001, 0, 0, 0), -1);
    expect("unknown function 0x8400001f", (int64_t)hvc_call(0x8400001f, 0, 0, 0, 0), -1);
    expect("SMCCC_ARCH_FEATURES(SMCCC_VERSION)",
           (int64_t)hvc_call(0x80000001, 0x80000000, 0, 0, 0), 0);
    expect("SMCCC_ARCH_FEATURES(ARCH_WORKAROUND_1)",
           (int64_t)hvc_call(0x80000001, 0x80008000, 0, 0, 0), -1);
    expect("CPU_ON(self)", (int64_t)hvc_call(PSCI_CPU_ON, 0, (uintptr_t)secondary_entry, 0, 0), -4);
    expect("CPU_ON(no such vCPU)", (int64_t)hvc_call(PSCI_CPU_ON, 99, (uintptr_t)secondary_entry, 0, 0), -2);
    expect("CPU_ON(Aff1 set)", (int64_t)hvc_call(PSCI_CPU_ON, 0x100, (uintptr_t)secondary_entry, 0, 0), -2);
    if (n > 1)
        expect("CPU_ON(entry outside memory)", (int64_t)hvc_call(PSCI_CPU_ON, 1, 0x1000, 0, 0), -9);
    expect("AFFINITY_INFO(self)", (int64_t)hvc_call(PSCI_AFFINITY_INFO, 0, 0, 0, 0), 0);
    expect("AFFINITY_INFO(level 1)", (int64_t)hvc_call(PSCI_AFFINITY_INFO, 0, 1, 0, 0), -2);
    for (uint32_t i = 1; i < n && i < 16; i++) {
        expect("AFFINITY_INFO(before CPU_ON)", (int64_t)hvc_call(PSCI_AFFINITY_INFO, i, 0, 0, 0), 1);
        int64_t r = (int64_t)hvc_call(PSCI_CPU_ON, i, (uintptr_t)secondary_entry, i, 0);
        while (r == 0 && !seen[i])
            ;
        gprintf("psci: CPU_ON vCPU %u: %d, it ran\n", i, (int32_t)r);
        if (r != 0)
            failed++;
        /* it switches itself off after printing */
        uint64_t spins = 0;
        while ((int64_t)hvc_call(PSCI_AFFINITY_INFO, i, 0, 0, 0) != 1 && spins < 1000000)
            spins++;
        expect("AFFINITY_INFO(after its CPU_OFF)", (int64_t)hvc_call(PSCI_AFFINITY_INFO, i, 0, 0, 0), 1);
    }
    gprintf("psci: %u failed; SYSTEM_OFF\n", failed);
    hvc_call(PSCI_SYSTEM_OFF, 0, 0, 0, 0);
    println("psci: still running after SYSTEM_OFF: FAILED");
    return 1;
}
