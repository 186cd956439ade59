/* arm64 implementation of the arch hooks: console, CPU identity, idle and
 * halt, delays on the generic timer, PSCI power-off, secondary CPU bring-up
 * and the exception report. */
#include "arm64.h"
#include "psci.h"
#include "../../boot/arm64/dt.h"
#include "../../drivers/pl011.h"
#include "../../hv/arch.h"
#include "../../hv/console.h"
#include "../../hv/format.h"
#include "../../hv/hv.h"
#include "../../hv/smp.h"
#include "../../hv/string.h"
#include "../../mm/frame.h"

extern struct dt_platform arm64_plat;
extern uintptr_t arm64_uart;
extern const struct boot_info *arm64_bi;
extern char secondary_entry[];
void arm64_halt_loop(void) __noreturn;

/* Stack tops for the secondary CPUs, read by the entry code. */
u64 arm64_cpu_stack[MAX_CPUS];

void arch_cpu_relax(void)
{
    __asm__ volatile("yield" ::: "memory");
}

unsigned arch_cpu_index(void)
{
    struct percpu *pc = (struct percpu *)sysreg_read(tpidr_el2);
    return pc ? pc->index : 0;
}

void arch_halt_cpu(void)
{
    arm64_halt_loop();
}

void arch_idle_forever(void)
{
    arm64_halt_loop();
}

void arch_console_putc(char c)
{
    if (arm64_uart)
        pl011_putc(arm64_uart, c);
}

int arch_console_getc(void)
{
    return arm64_uart ? pl011_getc(arm64_uart) : -1;
}

static u64 timer_freq(void)
{
    u64 f = sysreg_read(cntfrq_el0) & 0xffffffffULL;
    if (f)
        return f;
    /* Firmware left CNTFRQ_EL0 unset: the timer node may say, else assume
     * QEMU's 62.5 MHz. */
    return arm64_plat.timer_freq ? arm64_plat.timer_freq : 62500000;
}

static u64 timer_now(void)
{
    isb();
    return sysreg_read(cntpct_el0);
}

u64 arch_time_us(void)
{
    u64 f = timer_freq(), t = timer_now();
    return t / f * 1000000 + t % f * 1000000 / f;
}

u64 arch_timestamp(void)
{
    return timer_now();
}

u64 arch_timestamp_hz(void)
{
    return timer_freq();
}

void arch_udelay(u64 us)
{
    u64 f = timer_freq();
    u64 ticks = us / 1000000 * f + (us % 1000000) * f / 1000000;
    u64 start = timer_now();
    while (timer_now() - start < ticks)
        arch_cpu_relax();
}

void arch_poweroff(void)
{
    if (psci_conduit() == PSCI_NONE)
        return;
    s64 r = psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);
    printk("bulkhead: PSCI SYSTEM_OFF returned %lld (%s)\n", (long long)r, psci_strerror(r));
}

static u32 psci_version;

bool arch_platform_init(struct boot_info *bi, char *err, size_t errlen)
{
    extern char boot_stack_guard[];
    if (!arm64_stack_guard(0, (u64)(uintptr_t)boot_stack_guard))
        printk("bulkhead: the boot stack has no guard page (out of page-table pages)\n");
    if (arm64_plat.psci == PSCI_HVC) {
        bh_snprintf(err, errlen,
                    "the device tree's PSCI node uses method \"hvc\", but Bulkhead itself runs "
                    "at EL2: PSCI firmware must be reached with \"smc\"");
        return false;
    }
    if (arm64_plat.psci != PSCI_SMC) {
        bh_snprintf(err, errlen, "no usable PSCI conduit: CPUs cannot be started");
        return false;
    }
    s64 v = psci_call(PSCI_VERSION, 0, 0, 0);
    psci_version = v < 0 ? 0 : (u32)v;
    return true;
}

static bool cpu_uses_psci(u64 mpidr)
{
    for (u32 i = 0; i < arm64_plat.ncpus; i++)
        if (arm64_plat.cpu_mpidr[i] == mpidr)
            return arm64_plat.cpu_psci[i];
    return false;
}

static void clean_dcache(const void *p, size_t n)
{
    u64 line = 4ULL << ((sysreg_read(ctr_el0) >> 16) & 0xf);
    u64 a = ALIGN_DOWN((u64)(uintptr_t)p, line);
    for (; a < (u64)(uintptr_t)p + n; a += line)
        __asm__ volatile("dc cvac, %0" ::"r"(a) : "memory");
    dsb(sy);
}

static u64 option_u64(const char *key, u64 dflt);

void arch_start_secondaries(struct boot_info *bi)
{
    u64 timeout_ms = option_u64("smp.timeout_ms", 2000);
    u64 entry = hv_virt_to_phys(secondary_entry);
    /* The entry code reads these with the MMU off. */
    clean_dcache(&arm64_mmu, sizeof(arm64_mmu));
    for (u32 i = 1; i < bi->ncpus; i++) {
        struct percpu *pc = &percpu[i];
        if (!cpu_uses_psci(pc->hwid)) {
            printk("cpu %u (hwid %#llx): not started: its enable-method is not \"psci\"\n", i,
                   (unsigned long long)pc->hwid);
            continue;
        }
        /* One more page below the stack: the unmapped guard page. */
        u64 stack = frame_alloc(CPU_STACK_SIZE / PAGE_SIZE + 1);
        if (!stack) {
            printk("cpu %u (hwid %#llx): not started: no memory for its stack\n", i,
                   (unsigned long long)pc->hwid);
            continue;
        }
        if (!arm64_stack_guard(i, stack))
            printk("cpu %u: its stack has no guard page (out of page-table pages)\n", i);
        pc->stack_top = stack + PAGE_SIZE + CPU_STACK_SIZE;
        arm64_cpu_stack[i] = pc->stack_top;
        dsb(ish);
        s64 r = psci_call(PSCI_CPU_ON_64, pc->hwid, entry, i);
        if (r != PSCI_SUCCESS) {
            printk("cpu %u (hwid %#llx): PSCI CPU_ON failed: %lld (%s); going on without it\n",
                   i, (unsigned long long)pc->hwid, (long long)r, psci_strerror(r));
            arm64_map_identity(stack, PAGE_SIZE, PT_RW); /* the guard page goes back too */
            frame_free(stack, CPU_STACK_SIZE / PAGE_SIZE + 1);
            continue;
        }
        u64 f = timer_freq(), start = timer_now();
        u64 limit = f / 1000 * timeout_ms;
        while (!__atomic_load_n(&pc->online, __ATOMIC_ACQUIRE) && timer_now() - start < limit)
            arch_cpu_relax();
        if (!__atomic_load_n(&pc->online, __ATOMIC_ACQUIRE))
            printk("cpu %u (hwid %#llx): started by PSCI but did not come online within %llu "
                   "ms; going on without it\n",
                   i, (unsigned long long)pc->hwid, (unsigned long long)timeout_ms);
    }
}

/* Eats 512 bytes of stack per level, far deeper than any stack allows. */
static volatile u64 recurse_limit = 1ULL << 40;
static __attribute__((noinline)) u64 selftest_recurse(u64 depth)
{
    volatile u8 frame[512];
    frame[0] = (u8)depth;
    if (depth >= recurse_limit)
        return frame[0];
    return selftest_recurse(depth + 1) + frame[0];
}

/* selftest=write-text|write-text-alias|exec-data|unmapped|ud|stack-overflow on the command line makes one
 * CPU break a rule on purpose (CPU 1, or the one named by selftest.cpu=), to
 * show that the EL2 page tables enforce W^X and that the exception vectors
 * report the fault and stop only that CPU. */
void arm64_selftest(unsigned cpu);
void arm64_selftest(unsigned cpu)
{
    char v[24];
    u64 target = 1;
    if (!arm64_bi || !bi_cmdline_get(arm64_bi->cmdline, "selftest", v, sizeof(v)))
        return;
    if (bi_cmdline_get(arm64_bi->cmdline, "selftest.cpu", v, sizeof(v)) &&
        !bh_parse_u64(v, strlen(v), &target))
        target = 1;
    if (target != cpu)
        return;
    bi_cmdline_get(arm64_bi->cmdline, "selftest", v, sizeof(v));
    if (strcmp(v, "write-text") == 0) {
        printk("selftest: cpu %u writes to the hypervisor's text (must fault)\n", cpu);
        uintptr_t a = (uintptr_t)&arch_cpu_relax;
        __asm__("" : "+r"(a));
        *(volatile u32 *)a = 0xd503201f;
    } else if (strcmp(v, "write-text-alias") == 0) {
        /* The image's physical range is not in the identity map, so its
         * text cannot be reached through a writable alias either. */
        uintptr_t a = (uintptr_t)hv_virt_to_phys((const void *)&arch_cpu_relax);
        __asm__("" : "+r"(a));
        printk("selftest: cpu %u writes to the hypervisor's text through its physical address "
               "%#lx (must fault)\n", cpu, (unsigned long)a);
        *(volatile u32 *)a = 0xd503201f;
    } else if (strcmp(v, "exec-data") == 0) {
        static u32 data_code[2] = { 0xd65f03c0 }; /* ret, in a never-executable page */
        printk("selftest: cpu %u executes from a data page (must fault)\n", cpu);
        uintptr_t a = (uintptr_t)data_code;
        __asm__("" : "+r"(a));
        ((void (*)(void))a)();
    } else if (strcmp(v, "unmapped") == 0) {
        uintptr_t a = 0x10;
        __asm__("" : "+r"(a));
        printk("selftest: cpu %u reads unmapped address %#lx (must fault)\n", cpu,
               (unsigned long)a);
        (void)*(volatile u64 *)a;
    } else if (strcmp(v, "ud") == 0) {
        printk("selftest: cpu %u executes an undefined instruction (must fault)\n", cpu);
        __asm__ volatile("udf #0");
    } else if (strcmp(v, "stack-overflow") == 0) {
        printk("selftest: cpu %u recurses until its stack overflows (must be caught)\n", cpu);
        selftest_recurse(0);
    } else {
        printk("selftest: unknown test '%s'\n", v);
        return;
    }
    printk("selftest: cpu %u did not fault: FAILED\n", cpu);
}

static u64 option_u64(const char *key, u64 dflt)
{
    return bi_cmdline_u64(arm64_bi, key, dflt);
}

/* C entry of a secondary CPU: MMU on, on its own stack. */
void arm64_secondary_main(u64 index);
void arm64_secondary_main(u64 index)
{
    if (index >= MAX_CPUS || index >= cpus_known)
        arm64_halt_loop();
    sysreg_write(tpidr_el2, &percpu[index]);
    isb();
    u64 mpidr = sysreg_read(mpidr_el1) & 0xff00ffffffULL;
    if (mpidr != percpu[index].hwid) {
        printk("cpu %llu: started with MPIDR %#llx but the device tree says %#llx; stopping it\n",
               (unsigned long long)index, (unsigned long long)mpidr,
               (unsigned long long)percpu[index].hwid);
        arm64_halt_loop();
    }
    arm64_selftest((unsigned)index);
    hv_secondary_main((u32)index);
}

static const char *implementer_name(u32 imp)
{
    switch (imp) {
    case 0x41: return "Arm";
    case 0x42: return "Broadcom";
    case 0x43: return "Cavium";
    case 0x46: return "Fujitsu";
    case 0x48: return "HiSilicon";
    case 0x4e: return "NVIDIA";
    case 0x51: return "Qualcomm";
    case 0x61: return "Apple";
    case 0xc0: return "Ampere";
    default: return NULL;
    }
}

static const char *arm_part_name(u32 part)
{
    switch (part) {
    case 0xd03: return "Cortex-A53";
    case 0xd04: return "Cortex-A35";
    case 0xd05: return "Cortex-A55";
    case 0xd07: return "Cortex-A57";
    case 0xd08: return "Cortex-A72";
    case 0xd09: return "Cortex-A73";
    case 0xd0a: return "Cortex-A75";
    case 0xd0b: return "Cortex-A76";
    case 0xd0c: return "Neoverse-N1";
    case 0xd40: return "Neoverse-V1";
    case 0xd41: return "Cortex-A78";
    case 0xd49: return "Neoverse-N2";
    default: return NULL;
    }
}

void arch_cpu_model(char *buf, size_t size)
{
    u64 midr = sysreg_read(midr_el1);
    u32 imp = (midr >> 24) & 0xff, var = (midr >> 20) & 0xf, part = (midr >> 4) & 0xfff,
        rev = midr & 0xf;
    const char *in = implementer_name(imp);
    const char *pn = imp == 0x41 ? arm_part_name(part) : NULL;
    char ibuf[24], pbuf[24];
    if (!in && imp == 0)
        in = "implementer 0 (software-defined: QEMU)";
    if (!in) {
        bh_snprintf(ibuf, sizeof(ibuf), "implementer %#x", imp);
        in = ibuf;
    }
    if (!pn) {
        bh_snprintf(pbuf, sizeof(pbuf), "part %#x", part);
        pn = pbuf;
    }
    bh_snprintf(buf, size, "%s %s r%up%u (MIDR_EL1 %#llx)", in, pn, var, rev,
                (unsigned long long)midr);
}

static u32 gic_arch_rev(void)
{
    if (!arm64_plat.have_gic)
        return 0;
    volatile u32 *pidr2 = (volatile u32 *)(uintptr_t)(arm64_plat.gicd_base + 0xffe8);
    return (*pidr2 >> 4) & 0xf;
}

void arch_virt_features(char *buf, size_t size)
{
    u64 hcr = sysreg_read(hcr_el2);
    u64 mmfr0 = sysreg_read(id_aa64mmfr0_el1), mmfr1 = sysreg_read(id_aa64mmfr1_el1);
    u64 el = (sysreg_read(CurrentEL) >> 2) & 3;
    static const u32 pa_bits[] = { 32, 36, 40, 42, 44, 48, 52 };
    u32 pr = mmfr0 & 0xf;
    u32 rev = gic_arch_rev();
    char gic[16];
    if (rev >= 3)
        bh_snprintf(gic, sizeof(gic), "GICv%u", rev);
    else
        bh_snprintf(gic, sizeof(gic), "GIC(rev %u?)", rev);
    bh_snprintf(buf, size, "EL%llu %s (HCR_EL2.E2H=%llu) %s PSCI-%s v%u.%u VMID%u PA%u timer %llu Hz",
                (unsigned long long)el, (hcr >> HCR_E2H_SHIFT) & 1 ? "VHE" : "no-VHE",
                (unsigned long long)((hcr >> HCR_E2H_SHIFT) & 1), gic,
                dt_conduit_name(arm64_plat.psci), psci_version >> 16, psci_version & 0xffff,
                ((mmfr1 >> 4) & 0xf) == 2 ? 16 : 8, pr < ARRAY_SIZE(pa_bits) ? pa_bits[pr] : 0,
                (unsigned long long)timer_freq());
}

/* ------------------------------------------------------------ exceptions */

struct exc_regs {
    u64 x[31];
    u64 sp;
};

static const char *ec_name(u32 ec)
{
    switch (ec) {
    case 0x00: return "unknown reason";
    case 0x01: return "WFI/WFE";
    case 0x0e: return "illegal execution state";
    case 0x15: return "SVC";
    case 0x16: return "HVC";
    case 0x17: return "SMC";
    case 0x18: return "system register access";
    case 0x20: return "instruction abort from a lower EL";
    case 0x21: return "instruction abort";
    case 0x22: return "PC alignment fault";
    case 0x24: return "data abort from a lower EL";
    case 0x25: return "data abort";
    case 0x26: return "SP alignment fault";
    case 0x2f: return "SError";
    case 0x3c: return "BRK";
    default: return "other";
    }
}

bool arm64_poweroff_on_error(void);

void arm64_exception(struct exc_regs *r, u64 vec);
void arm64_exception(struct exc_regs *r, u64 vec)
{
    static const char *const kinds[] = { "synchronous", "IRQ", "FIQ", "SError" };
    static const char *const origins[] = { "current EL with SP_EL0", "current EL with SP_ELx",
                                           "lower EL (AArch64)", "lower EL (AArch32)" };
    static volatile u8 in_exception[MAX_CPUS];
    u64 esr = sysreg_read(esr_el2), far = sysreg_read(far_el2), elr = sysreg_read(elr_el2),
        spsr = sysreg_read(spsr_el2);
    unsigned me = arch_cpu_index();
    /* A fault while reporting a fault: stop quietly rather than loop. */
    if (me < MAX_CPUS && in_exception[me]++)
        arm64_halt_loop();
    u32 ec = (u32)(esr >> 26) & 0x3f;
    unsigned cpu = me;
    /* Before the device tree has named the UART: use the same fallback as a
     * malformed device tree does (QEMU virt's PL011). */
    if (!arm64_uart && arm64_map_identity(0x09000000, PAGE_SIZE, PT_DEVICE))
        arm64_uart = 0x09000000;
    printk("EXCEPTION on cpu %u: %s from %s: %s (EC %#x)\n"
           "  ESR_EL2 0x%016llx  FAR_EL2 0x%016llx\n"
           "  ELR_EL2 0x%016llx  SPSR_EL2 0x%016llx\n",
           cpu, kinds[vec & 3], origins[(vec >> 2) & 3], ec_name(ec), ec,
           (unsigned long long)esr, (unsigned long long)far, (unsigned long long)elr,
           (unsigned long long)spsr);
    char line[160];
    for (int i = 0; i < 31; i += 4) {
        int n = 0;
        for (int j = i; j < i + 4 && j < 31; j++)
            n += bh_snprintf(line + n, sizeof(line) - (size_t)n, "%sx%-2d %016llx",
                             j == i ? "  " : "  ", j, (unsigned long long)r->x[j]);
        if (i + 4 > 31)
            bh_snprintf(line + n, sizeof(line) - (size_t)n, "  sp  %016llx",
                        (unsigned long long)r->sp);
        printk("%s\n", line);
    }
    if (cpu == 0) {
        printk("bulkhead: the boot cpu stopped on an exception\n");
        if (arm64_poweroff_on_error()) {
            printk("bulkhead: powering off\n");
            arch_poweroff();
        }
        printk("bulkhead: halted\n");
    } else {
        printk("cpu %u: stopped\n", cpu);
    }
    arm64_halt_loop();
}
