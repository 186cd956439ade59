/* The physical GICv3 as the hypervisor drives it at EL2, on the CPUs that
 * run vCPUs: the distributor with affinity routing and group 1 enabled,
 * each CPU's redistributor woken, the system-register CPU interface
 * (ICC_SRE_EL2.SRE, and Enable so EL1 reaches its own ICC_SRE_EL1) with
 * EOImode 1 (priority drop and deactivation split, so an interrupt
 * forwarded to a guest through a hardware list register stays active until
 * the guest deactivates it). The CPU runs with PSTATE.I set at EL2 and
 * polls ICC_IAR1_EL1 after an IRQ exit or a WFI wake-up.
 *
 * Private interrupts the hypervisor uses: SGI GIC_KICK_SGI (wakes a CPU so
 * it looks at its vCPU's interrupt state), SGI GIC_EPOCH_SGI (the epoch
 * kick: brings a CPU back to the top of its exit loop), PPI 25 (virtual CPU interface
 * maintenance), PPI 27 (the EL1 virtual timer, forwarded to the guest). */
#include "arm64.h"
#include "vm.h"
#include "../../boot/arm64/dt.h"
#include "../../hv/arch.h"
#include "../../hv/console.h"
#include "../../hv/format.h"
#include "../../hv/partition.h"
#include "../../hv/smp.h"

extern struct dt_platform arm64_plat;

#define GICD_CTLR 0x0000
#define GICD_CTLR_RWP (1u << 31)
#define GICR_CTLR 0x0000
#define GICR_CTLR_RWP (1u << 3)
#define GICR_TYPER 0x0008
#define GICR_WAKER 0x0014
#define GICR_SGI 0x10000
#define GICR_IGROUPR0 0x0080
#define GICR_ISENABLER0 0x0100
#define GICR_ICENABLER0 0x0180
#define GICR_ICPENDR0 0x0280
#define GICR_ICACTIVER0 0x0380
#define GICR_IPRIORITYR 0x0400
#define GICR_IGRPMODR0 0x0d00

static spinlock_t dist_lock;
static bool dist_done;
static uintptr_t rd_base[MAX_CPUS];
static u32 cpu_on[MAX_CPUS]; /* between gic_cpu_init and gic_cpu_off (atomic) */

static inline u32 rd32(uintptr_t a) { return *(volatile u32 *)a; }
static inline u64 rd64(uintptr_t a) { return *(volatile u64 *)a; }
static inline void wr32(uintptr_t a, u32 v) { *(volatile u32 *)a = v; }

static bool wait_clear(uintptr_t reg, u32 bit)
{
    for (u32 i = 0; i < 1000000; i++) {
        if (!(rd32(reg) & bit))
            return true;
        arch_cpu_relax();
    }
    return false;
}

static uintptr_t find_rd(u64 mpidr)
{
    u64 aff = ((mpidr >> 8) & 0xff000000ULL) | (mpidr & 0xffffffULL);
    for (u32 r = 0; r < arm64_plat.ngicr; r++) {
        uintptr_t a = (uintptr_t)arm64_plat.gicr_base[r];
        uintptr_t end = a + arm64_plat.gicr_size[r];
        while (a + 0x20000 <= end) {
            u64 typer = rd64(a + GICR_TYPER);
            if ((typer >> 32) == aff)
                return a;
            if (typer & (1u << 4)) /* Last */
                break;
            a += (typer & (1u << 1)) ? 0x40000 : 0x20000; /* VLPIS: 4 frames */
        }
    }
    return 0;
}

bool gic_cpu_init(u32 cpu, char *err, size_t len)
{
    if (!arm64_plat.have_gic || cpu >= MAX_CPUS) {
        bh_snprintf(err, len, "no GICv3 distributor known");
        return false;
    }
    spin_lock(&dist_lock);
    if (!dist_done) {
        uintptr_t d = (uintptr_t)arm64_plat.gicd_base;
        /* ARE_NS (4), EnableGrp1A/EnableGrp1 (1, 0) in the non-secure view;
         * ARE, EnableGrp1, EnableGrp0 with a single security state. */
        wr32(d + GICD_CTLR, rd32(d + GICD_CTLR) | 0x13);
        wait_clear(d + GICD_CTLR, GICD_CTLR_RWP);
        dist_done = true;
    }
    spin_unlock(&dist_lock);
    if (!rd_base[cpu]) {
        uintptr_t rd = find_rd(percpu[cpu].hwid);
        if (!rd) {
            bh_snprintf(err, len, "no GICv3 redistributor for MPIDR %#llx",
                        (unsigned long long)percpu[cpu].hwid);
            return false;
        }
        wr32(rd + GICR_WAKER, rd32(rd + GICR_WAKER) & ~(1u << 1)); /* ProcessorSleep */
        if (!wait_clear(rd + GICR_WAKER, 1u << 2)) {                /* ChildrenAsleep */
            bh_snprintf(err, len, "the GICv3 redistributor at %#lx does not wake up",
                        (unsigned long)rd);
            return false;
        }
        uintptr_t sgi = rd + GICR_SGI;
        wr32(sgi + GICR_ICENABLER0, 0xffffffffu);
        wait_clear(rd + GICR_CTLR, GICR_CTLR_RWP);
        wr32(sgi + GICR_ICPENDR0, 0xffffffffu);
        wr32(sgi + GICR_ICACTIVER0, 0xffffffffu);
        wr32(sgi + GICR_IGROUPR0, 0xffffffffu);
        wr32(sgi + GICR_IGRPMODR0, 0);
        for (u32 i = 0; i < 8; i++)
            wr32(sgi + GICR_IPRIORITYR + 4 * i, 0xa0a0a0a0u);
        u32 en = (1u << GIC_KICK_SGI) | (1u << GIC_EPOCH_SGI) | (1u << GIC_MAINT_PPI) | (1u << GIC_VTIMER_PPI);
        if (arm64_plat.have_timer && arm64_plat.timer_hyp_ppi < 32)
            en |= 1u << arm64_plat.timer_hyp_ppi; /* EL2 timer: console-input polling */
        wr32(sgi + GICR_ISENABLER0, en);
        wait_clear(rd + GICR_CTLR, GICR_CTLR_RWP);
        rd_base[cpu] = rd;
    }
    /* ICC_SRE_EL2: SRE, DFB, DIB, Enable (EL1 may use its system registers). */
    sysreg_write(S3_4_C12_C9_5, sysreg_read(S3_4_C12_C9_5) | 0xf);
    isb();
    sysreg_write(S3_0_C4_C6_0, 0xff);   /* ICC_PMR_EL1: everything */
    sysreg_write(S3_0_C12_C12_3, 0);    /* ICC_BPR1_EL1 */
    sysreg_write(S3_0_C12_C12_4, 1u << 1); /* ICC_CTLR_EL1: EOImode 1 */
    sysreg_write(S3_0_C12_C12_7, 1);    /* ICC_IGRPEN1_EL1 */
    isb();
    __atomic_store_n(&cpu_on[cpu], 1, __ATOMIC_RELEASE);
    return true;
}

/* The calling CPU stops running vCPUs (it parks in WFI for good): group 1
 * off at its CPU interface, so a kick or doorbell SGI that still arrives
 * (sent before the sender saw this) never wakes its WFI again, and no
 * epoch kick is sent to it any more. */
void gic_cpu_off(u32 cpu)
{
    if (cpu >= MAX_CPUS)
        return;
    __atomic_store_n(&cpu_on[cpu], 0, __ATOMIC_RELEASE);
    sysreg_write(S3_0_C12_C12_7, 0); /* ICC_IGRPEN1_EL1 */
    isb();
}

u32 gic_hyp_timer_ppi(void)
{
    return arm64_plat.have_timer ? arm64_plat.timer_hyp_ppi : GIC_SPURIOUS;
}

u32 gic_ack(void)
{
    u64 v = sysreg_read(S3_0_C12_C12_0); /* ICC_IAR1_EL1 */
    dsb(sy);
    return (u32)v & 0xffffff;
}

/* Priority drop (EOImode 1). */
void gic_drop(u32 intid)
{
    sysreg_write(S3_0_C12_C12_1, intid); /* ICC_EOIR1_EL1 */
    isb();
}

void gic_deactivate(u32 intid)
{
    sysreg_write(S3_0_C12_C11_1, intid); /* ICC_DIR_EL1 */
    isb();
}

/* SPIs the distributor implements (GICD_TYPER.ITLinesNumber). */
u32 gic_spi_lines(void)
{
    u32 typer = rd32((uintptr_t)arm64_plat.gicd_base + 0x0004);
    u32 n = 32 * ((typer & 0x1f) + 1);
    return n > 1020 ? 1020 : n;
}

/* A pass-through SPI: group 1, priority 0xa0, routed to CPU cpu. */
void gic_spi_route(u32 intid, u32 cpu)
{
    if (intid < 32 || intid >= 1020 || cpu >= MAX_CPUS)
        return;
    uintptr_t d = (uintptr_t)arm64_plat.gicd_base;
    u64 m = percpu[cpu].hwid;
    u64 aff = ((m >> 32) & 0xff) << 32 | (m & 0xffffff);
    wr32(d + 0x6000 + 8 * intid, (u32)aff);
    wr32(d + 0x6000 + 8 * intid + 4, (u32)(aff >> 32));
    /* IGROUPR is shared by 32 SPIs that may belong to different partitions,
     * whose guests reach this through IROUTER writes: the read-modify-write
     * must not lose another CPU's bit. */
    spin_lock(&dist_lock);
    wr32(d + 0x0080 + 4 * (intid / 32), rd32(d + 0x0080 + 4 * (intid / 32)) | 1u << (intid % 32));
    spin_unlock(&dist_lock);
    volatile u8 *prio = (volatile u8 *)(d + 0x0400 + intid);
    *prio = 0xa0;
    dsb(sy);
}

void gic_spi_enable(u32 intid, bool on)
{
    if (intid < 32 || intid >= 1020)
        return;
    uintptr_t d = (uintptr_t)arm64_plat.gicd_base;
    wr32(d + (on ? 0x0100 : 0x0180) + 4 * (intid / 32), 1u << (intid % 32));
    if (!on)
        wait_clear(d, GICD_CTLR_RWP);
}

/* Deactivation through the distributor: works whichever CPU acknowledged. */
void gic_spi_deactivate(u32 intid)
{
    if (intid < 32 || intid >= 1020)
        return;
    uintptr_t d = (uintptr_t)arm64_plat.gicd_base;
    wr32(d + 0x0380 + 4 * (intid / 32), 1u << (intid % 32));
    dsb(sy);
}

/* Send SGI sgi (group 1) to the physical CPU cpu through ICC_SGI1R_EL1:
 * Aff3 [55:48], RS [47:44] (which 16-CPU range of Aff0), INTID [27:24],
 * Aff2 [39:32], Aff1 [23:16], TargetList [15:0] (bit Aff0 % 16), IRM 0. */
static void sgi_write(u32 cpu, u32 sgi)
{
    u64 m = percpu[cpu].hwid;
    u64 aff0 = m & 0xff;
    u64 v = ((m >> 32) & 0xff) << 48 | ((m >> 16) & 0xff) << 32 | ((m >> 8) & 0xff) << 16 |
            (u64)(sgi & 15) << 24 | (aff0 >> 4) << 44 | (1ULL << (aff0 & 15));
    dsb(ish);
    sysreg_write(S3_0_C12_C11_5, v); /* ICC_SGI1R_EL1 */
    isb();
}

/* As sgi_write, but false (nothing sent) when cpu does not run a vCPU
 * (before gic_cpu_init, after gic_cpu_off): it would never take the SGI. */
bool gic_send_sgi(u32 cpu, u32 sgi)
{
    if (cpu >= MAX_CPUS || sgi > 15 || !__atomic_load_n(&cpu_on[cpu], __ATOMIC_ACQUIRE))
        return false;
    sgi_write(cpu, sgi);
    return true;
}

/* Make the physical CPU cpu look at its vCPU's interrupts (it may be in WFI
 * or running the guest). */
void gic_kick(u32 cpu)
{
    if (cpu < MAX_CPUS)
        sgi_write(cpu, GIC_KICK_SGI);
}

/* The epoch kick (hv/arch.h). A CPU running a guest takes the SGI at once
 * (HCR_EL2.IMO: an IRQ exit); one in WFI wakes; one in hypervisor code
 * (PSTATE.I set at EL2) takes it at its next guest entry or WFI. Each is
 * acknowledged in vm.c (drain_irqs), counted with hv_epoch_kick_taken, and
 * the CPU comes back to the top of its exit loop. */
bool arch_kick_cpu(unsigned cpu)
{
    return gic_send_sgi(cpu, GIC_EPOCH_SGI);
}
