/* Platform set-up and SMP bring-up on x86-64: ACPI, final page tables, then
 * INIT-SIPI-SIPI to every application processor found in the MADT. Each AP
 * runs on its own stack with its own GDT/TSS and per-CPU data. An AP that
 * does not answer in time is reported and boot goes on without it. */
#include "x86.h"
#include "ports.h"
#include "passthru.h"
#include "../../hv/arch.h"
#include "../../hv/console.h"
#include "../../hv/hv.h"
#include "../../hv/smp.h"
#include "../../hv/string.h"
#include "../../mm/frame.h"

#define LAPIC_ID 0x20
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define MSR_X2APIC_ICR 0x830
#define ICR_INIT 0x00004500u
#define ICR_STARTUP 0x00004600u
#define ICR_BUSY (1u << 12)

extern const char tramp_start[], tramp_end[], tramp_gdtr[], tramp_farptr[], tramp_cr3[],
    tramp_efer[];
extern const u32 tramp_off_gdt, tramp_off_64;
extern u64 boot_pml4[];

u64 x86_final_cr3;
u64 x86_ap_stack_by_apic[256];
static u32 ap_index_by_apic[256];
static struct boot_info *bootinfo;
static void quiesce_interrupts(bool bsp);

bool arch_platform_init(struct boot_info *bi, char *err, size_t errlen)
{
    bootinfo = bi;
    x86_reserve_ports(bi, X86_COM1);
    x86_acpi_find_rsdp(bi); /* may scan BIOS areas in low memory: before page 0 goes */
    x86_paging_init(bi);
    {
        extern char boot_stack_guard[];
        if (!x86_stack_guard(0, (u64)(uintptr_t)boot_stack_guard))
            printk("bulkhead: the boot stack has no guard page\n");
    }
    x86_final_cr3 = x86_paging_cr3();
    x86_tsc_calibrate();
    bool ok = x86_acpi_init(bi, err, errlen);
    quiesce_interrupts(true);
    x86_passthru_init(bi);
    return ok;
}

static bool x2apic(void)
{
    return rdmsr(MSR_APIC_BASE) & (1u << 10);
}

static bool send_ipi(u32 apic_id, u32 icr)
{
    if (x2apic()) {
        wrmsr(MSR_X2APIC_ICR, ((u64)apic_id << 32) | icr);
        return true;
    }
    u64 base = x86_lapic_base();
    mmio_write32(base + LAPIC_ICR_HI, apic_id << 24);
    mmio_write32(base + LAPIC_ICR_LO, icr);
    for (int i = 0; i < 1000; i++) {
        if (!(mmio_read32(base + LAPIC_ICR_LO) & ICR_BUSY))
            return true;
        arch_udelay(10);
    }
    return false;
}

/* Make CPU `cpu` leave guest mode: a fixed IPI that its VM exit acknowledges
 * (external-interrupt exiting); in the hypervisor, with interrupts off, it
 * stays pending and ends the next VM entry at once. No wait for delivery.
 * X86_KICK_VECTOR for everything but the epoch kick, which has its own
 * vector (X86_EPOCH_VECTOR) so the exit can count it (vmx.c). */
void x86_kick_cpu_vec(u32 cpu, u32 vec)
{
    if (!bootinfo || cpu >= bootinfo->ncpus)
        return;
    u32 apic = (u32)bootinfo->cpus[cpu].hwid;
    if (x2apic()) {
        wrmsr(MSR_X2APIC_ICR, ((u64)apic << 32) | 0x4000u | vec);
        return;
    }
    u64 base = x86_lapic_base();
    mmio_write32(base + LAPIC_ICR_HI, apic << 24);
    mmio_write32(base + LAPIC_ICR_LO, 0x4000u | vec);
}

void x86_kick_cpu(u32 cpu)
{
    x86_kick_cpu_vec(cpu, X86_KICK_VECTOR);
}

/* Eats 512 bytes of stack per level until `limit` levels (far more than
 * any stack holds: the guard page stops it first). */
static volatile u64 recurse_limit = 1ULL << 40;
static __attribute__((noinline)) u64 x86_selftest_recurse(u64 depth)
{
    volatile u8 frame[512];
    frame[0] = (u8)depth;
    if (depth >= recurse_limit)
        return frame[0];
    return x86_selftest_recurse(depth + 1) + frame[0];
}

/* selftest=write-text|exec-data|ud|stack-overflow on the command line makes CPU 1 break a
 * rule on purpose, to show that the page tables enforce W^X and that the
 * exception handler reports the fault and stops only that CPU. */
static void x86_selftest_fault(void)
{
    char v[24];
    if (!bootinfo || !bi_cmdline_get(bootinfo->cmdline, "selftest", v, sizeof(v)))
        return;
    if (strcmp(v, "write-text") == 0) {
        printk("selftest: cpu 1 writes to the hypervisor's text (must fault)\n");
        *(volatile u8 *)(uintptr_t)&arch_cpu_relax = 0xc3;
    } else if (strcmp(v, "exec-data") == 0) {
        static u8 data_code[16] = { 0xc3 }; /* ret, in a non-executable page */
        printk("selftest: cpu 1 executes from a data page (must fault)\n");
        void (*fn)(void);
        uintptr_t a = (uintptr_t)data_code;
        __asm__("" : "+r"(a));
        fn = (void (*)(void))a;
        fn();
    } else if (strcmp(v, "ud") == 0) {
        printk("selftest: cpu 1 executes ud2 (must fault)\n");
        __asm__ volatile("ud2");
    } else if (strcmp(v, "stack-overflow") == 0) {
        printk("selftest: cpu 1 recurses until its stack overflows (must be caught)\n");
        x86_selftest_recurse(0);
    } else {
        printk("selftest: unknown test '%s'\n", v);
        return;
    }
    printk("selftest: cpu 1 did not fault: FAILED\n");
}

void x86_lapic_eoi(void)
{
    if (x2apic())
        wrmsr(0x80b, 0);
    else
        mmio_write32(x86_lapic_base() + 0xb0, 0);
}

/* The hypervisor runs with interrupts off and takes none: mask the legacy
 * PICs and this CPU's local interrupt sources, so nothing left pending by the
 * firmware keeps forcing VM exits. */
static void quiesce_interrupts(bool bsp)
{
    if (bsp) {
        outb(0x21, 0xff);
        outb(0xa1, 0xff);
    }
    static const u32 lvt[] = { 0x320, 0x350, 0x360, 0x370 }; /* timer, LINT0, LINT1, error */
    for (u32 i = 0; i < ARRAY_SIZE(lvt); i++) {
        if (x2apic())
            wrmsr(0x800 + (lvt[i] >> 4), 1u << 16);
        else
            mmio_write32(x86_lapic_base() + lvt[i], 1u << 16);
    }
    /* Software-enable the local APIC (spurious vector 0xff) so that it
     * accepts the fixed IPIs that kick a CPU out of guest mode (an AP comes
     * out of INIT with it disabled). Interrupts stay off in the hypervisor. */
    if (x2apic())
        wrmsr(0x80f, 0x1ff);
    else
        mmio_write32(x86_lapic_base() + 0xf0, 0x1ff);
}

void x86_ap_main(u32 apic_id);
void x86_ap_main(u32 apic_id)
{
    u32 index = ap_index_by_apic[apic_id & 255];
    x86_set_percpu(index);
    x86_gdt_load(index);
    x86_idt_load();
    quiesce_interrupts(false);
    if (index == 1)
        x86_selftest_fault();
    hv_secondary_main(index);
}

static u64 option_u64(const char *key, u64 dflt)
{
    return bi_cmdline_u64(bootinfo, key, dflt);
}

void arch_start_secondaries(struct boot_info *bi)
{
    if (bi->ncpus <= 1)
        return;
    u64 tramp = frame_alloc_below(1, MiB(1));
    if (!tramp) {
        printk("smp: no free page below 1 MiB for the start-up code; running on the boot CPU "
               "only\n");
        return;
    }
    u8 *t = (u8 *)(uintptr_t)tramp;
    size_t len = (size_t)SYM_DIFF(tramp_end, tramp_start);
    memcpy(t, tramp_start, len);
    u32 efer = (1u << 8) | (rdmsr(MSR_EFER) & EFER_NXE);
    *(u32 *)(t + SYM_DIFF(tramp_gdtr, tramp_start) + 2) = (u32)tramp + tramp_off_gdt;
    *(u32 *)(t + SYM_DIFF(tramp_farptr, tramp_start)) = (u32)tramp + tramp_off_64;
    *(u32 *)(t + SYM_DIFF(tramp_cr3, tramp_start)) = (u32)(uintptr_t)boot_pml4;
    *(u32 *)(t + SYM_DIFF(tramp_efer, tramp_start)) = efer;

    u64 skip = option_u64("smp.skip_sipi", 0); /* test knob: never start this CPU index */
    u64 timeout_ms = option_u64("smp.timeout_ms", 1000);
    u8 vector = (u8)(tramp >> 12);

    for (u32 i = 1; i < bi->ncpus; i++) {
        u32 apic = (u32)bi->cpus[i].hwid;
        if (apic > 255) {
            printk("smp: cpu %u has APIC ID %u, above what xAPIC start-up supports; skipped\n",
                   i, apic);
            continue;
        }
        /* One more page below the stack: the unmapped guard page. */
        u64 stack = frame_alloc(CPU_STACK_SIZE / PAGE_SIZE + 1);
        if (!stack) {
            printk("smp: out of memory for cpu %u's stack; skipped\n", i);
            continue;
        }
        if (!x86_stack_guard(i, stack))
            printk("smp: cpu %u's stack has no guard page (out of memory for a page table)\n", i);
        percpu[i].stack_top = stack + PAGE_SIZE + CPU_STACK_SIZE;
        ap_index_by_apic[apic] = i;
        __atomic_store_n(&x86_ap_stack_by_apic[apic], percpu[i].stack_top, __ATOMIC_RELEASE);

        if (skip && skip == i) {
            printk("smp: not sending INIT-SIPI-SIPI to cpu %u (smp.skip_sipi test option)\n", i);
        } else {
            bool ok = send_ipi(apic, ICR_INIT);
            arch_udelay(10000);
            ok = ok && send_ipi(apic, ICR_STARTUP | vector);
            arch_udelay(200);
            if (ok && !__atomic_load_n(&percpu[i].online, __ATOMIC_ACQUIRE))
                ok = send_ipi(apic, ICR_STARTUP | vector);
            if (!ok)
                printk("smp: cpu %u (APIC ID %u): the local APIC did not accept the start-up "
                       "IPI\n",
                       i, apic);
        }
        u64 waited = 0;
        while (!__atomic_load_n(&percpu[i].online, __ATOMIC_ACQUIRE) && waited < timeout_ms) {
            arch_udelay(1000);
            waited++;
        }
        if (!__atomic_load_n(&percpu[i].online, __ATOMIC_ACQUIRE)) {
            /* Withdraw its stack: if it starts late it finds none and halts. */
            __atomic_store_n(&x86_ap_stack_by_apic[apic], 0, __ATOMIC_RELEASE);
            printk("smp: cpu %u (APIC ID %u) did not come online within %llu ms; continuing "
                   "without it\n",
                   i, apic, (unsigned long long)timeout_ms);
        }
    }
}
