/* arm64 vCPUs: each runs at EL1 on the physical CPU its partition owns for
 * it, under VHE (HCR_EL2.E2H stays set, TGE is clear), with the partition's
 * stage-2 tables and VMID. Exits are handled here: SMCCC calls by HVC or by
 * a trapped SMC (PSCI 1.1 and Bulkhead's hypercalls), WFI (the physical CPU
 * sleeps until the vCPU has an interrupt) and WFE, stage-2 data aborts on
 * the virtual PL011 and the virtual GIC (emulated) or anywhere else outside
 * the partition's memory (fault policy, or an injected external abort),
 * instruction aborts, system-register traps (SGI generation), physical
 * interrupts (the virtual timer's, kicks, maintenance). The virtual GIC's
 * list registers are synced after every exit and loaded before every entry
 * (vgic.c). Partition-wide stops and restarts (fault policy, shutdown, PSCI
 * SYSTEM_OFF/RESET) bring every vCPU of the partition back to the
 * hypervisor by clearing the top of its stage-2 tables, then meet: the
 * boot vCPU carries the request out once all have arrived. */
#include "arm64.h"
#include "vm.h"
#include "../../hv/arch.h"
#include "../../hv/console.h"
#include "../../hv/epoch.h"
#include "../../hv/window.h"
#include "../../hv/format.h"
#include "../../hv/hypercall.h"
#include "../../hv/smp.h"
#include "../../hv/string.h"
#include "../../mm/frame.h"

#define SPSR_EL1H_MASKED 0x3c5ULL /* EL1h, D, A, I, F masked */
#define SCTLR_EL1_RESET 0x30d00800ULL /* RES1 bits only: MMU, caches off, little-endian */

#define ESR_EC(e) (((e) >> 26) & 0x3f)
#define EC_WFX 0x01
#define EC_HVC64 0x16
#define EC_SMC64 0x17
#define EC_SYSREG 0x18
#define EC_IABT_LOW 0x20
#define EC_DABT_LOW 0x24

/* PSCI 1.1 function ids (SMC32 and SMC64 forms where both exist) */
#define PSCI_0_2_VERSION 0x84000000u
#define PSCI_0_2_CPU_OFF 0x84000002u
#define PSCI_0_2_CPU_ON32 0x84000003u
#define PSCI_0_2_CPU_ON64 0xc4000003u
#define PSCI_0_2_AFFINITY32 0x84000004u
#define PSCI_0_2_AFFINITY64 0xc4000004u
#define PSCI_0_2_SYSTEM_OFF 0x84000008u
#define PSCI_0_2_SYSTEM_RESET 0x84000009u
#define PSCI_1_0_FEATURES 0x8400000au
#define SMCCC_VERSION 0x80000000u
#define SMCCC_ARCH_FEATURES 0x80000001u
#define SMCCC_NOT_SUPPORTED (-1LL)

#define P_SUCCESS 0
#define P_NOT_SUPPORTED (-1)
#define P_INVALID_PARAMS (-2)
#define P_ALREADY_ON (-4)
#define P_ON_PENDING (-5)
#define P_INTERNAL_FAILURE (-6)
#define P_INVALID_ADDRESS (-9)

struct vcpu_run {
    struct partition *p;
    struct a64_part *ap;
    u32 index;
    u32 cpu;
    u64 exits, waits;
    bool input;       /* console input goes to this vCPU's partition */
    struct vm_ctx ctx;
};

static struct vcpu_run runs[MAX_CPUS];
static u64 free_at_start[PART_MAX];
static u32 sysreg_reported[PART_MAX];

enum leave { L_RESUME, L_OFF, L_REQ };

/* ------------------------------------------------------------ requests */

static void kick_all(struct a64_part *ap);

static u32 req_of(struct a64_part *ap)
{
    return __atomic_load_n(&ap->req, __ATOMIC_ACQUIRE);
}

/* Ask every vCPU of the partition to come back (ap->lock held). */
static void request_locked(struct a64_part *ap, u32 req, bool counted)
{
    u32 cur = req_of(ap);
    if (cur == REQ_NONE) {
        ap->req_counted = counted;
        __atomic_store_n(&ap->req, req, __ATOMIC_RELEASE);
        stage2_block(ap);
        kick_all(ap);
    } else if (req == REQ_STOP) {
        __atomic_store_n(&ap->req, REQ_STOP, __ATOMIC_RELEASE); /* stopping wins */
    }
}

static void request(struct a64_part *ap, u32 req, bool counted)
{
    spin_lock(&ap->lock);
    request_locked(ap, req, counted);
    spin_unlock(&ap->lock);
}

/* A fault of the guest: one report (not one per vCPU) and the policy. */
static enum leave fault(struct vcpu_run *v, const char *reason, u64 ipa, bool has_ipa)
{
    struct a64_part *ap = v->ap;
    spin_lock(&ap->lock);
    if (req_of(ap) == REQ_NONE) {
        enum part_action a = partition_fault(v->p, reason, v->ctx.pc, ipa, has_ipa);
        request_locked(ap, a == PART_ACT_RESTART ? REQ_RESTART : REQ_STOP, true);
    }
    spin_unlock(&ap->lock);
    return L_REQ;
}

/* ------------------------------------------------------------ vCPU state */

static void el1_reset(void)
{
    sysreg_write(sctlr_el12, SCTLR_EL1_RESET);
    sysreg_write(cpacr_el12, 0);
    sysreg_write(vbar_el12, 0);
    sysreg_write(tcr_el12, 0);
    sysreg_write(mair_el12, 0);
    sysreg_write(ttbr0_el12, 0);
    sysreg_write(ttbr1_el12, 0);
    sysreg_write(cntkctl_el12, 0);
    sysreg_write(cntv_ctl_el02, 0);
    sysreg_write(cntp_ctl_el02, 0);
    sysreg_write(sp_el1, 0);
    sysreg_write(tpidr_el1, 0);
    isb();
}

static void enter_state(struct vcpu_run *v, u64 pc, u64 x0)
{
    memset(&v->ctx, 0, sizeof(v->ctx));
    v->ctx.pc = pc;
    v->ctx.pstate = SPSR_EL1H_MASKED;
    v->ctx.x[0] = x0;
    el1_reset();
    /* Every vCPU of the partition sees the same virtual counter, which
     * started near zero when the partition (re)started. */
    sysreg_write(cntvoff_el2, v->ap->cntvoff);
    vgic_hw_reset();
}

/* Console input (hypervisor command line console.input=NAME, hv/console.c):
 * vCPU 0 of that partition moves what the hypervisor's UART received into
 * the partition's virtual PL011 (32-byte FIFO; the rest waits in the UART),
 * after each exit and while it waits in WFI, woken every 10 ms by the EL2
 * physical timer for that. Only this CPU fills the FIFO; the guest empties
 * it under uart_lock, so a FIFO seen with room keeps it. */
static void poll_input(struct vcpu_run *v)
{
    struct a64_part *ap = v->ap;
    if (__atomic_load_n(&ap->uart.rx_count, __ATOMIC_RELAXED) >= VPL011_RX_FIFO)
        return;
    int c = con_getc();
    if (c < 0)
        return;
    spin_lock(&ap->uart_lock);
    vpl011_rx_push(&ap->uart, (u8)c);
    while (ap->uart.rx_count < VPL011_RX_FIFO && (c = con_getc()) >= 0)
        vpl011_rx_push(&ap->uart, (u8)c);
    vgic_set_line(&ap->vgic, VPL011_INTID, vpl011_irq_line(&ap->uart), v->index);
    spin_unlock(&ap->uart_lock);
}

/* Physical interrupts taken at EL2 (after an IRQ exit or a WFI wake-up):
 * the virtual timer's is forwarded to the guest (left active until the
 * guest deactivates it), kicks and maintenance interrupts only make the
 * vCPU look at its interrupt state again, which vgic_sync/vgic_flush do. */
static void drain_irqs(struct vcpu_run *v)
{
    for (u32 n = 0; n < 64; n++) {
        u32 intid = gic_ack();
        if (intid >= 1020)
            return;
        gic_drop(intid);
        if (intid == GIC_VTIMER_PPI) {
            vgic_timer_fired(&v->ap->vgic, v->index);
            continue;
        }
        if (vgic_is_hw_spi(&v->ap->vgic, intid)) {
            vgic_hw_fired(&v->ap->vgic, v->index, intid);
            continue;
        }
        if (intid == gic_hyp_timer_ppi())
            sysreg_write(cnthp_ctl_el2, 0); /* the input poll's wake-up, done */
        if (intid == GIC_EPOCH_SGI)
            hv_epoch_kick_taken(v->cpu); /* the caller goes on to its quiescent state */
        gic_deactivate(intid);
    }
}

/* The partition's pass-through SPIs: each routed to the CPU of vCPU 0 (the
 * virtual IROUTER's reset value) and enabled, or disabled; any left active
 * by an earlier run is deactivated. */
static void passthrough_irqs(struct partition *p, struct a64_part *ap, bool on)
{
    for (u32 i = 0; i < p->cfg->nirqs; i++) {
        u32 intid = p->cfg->irqs[i];
        gic_spi_enable(intid, false);
        gic_spi_deactivate(intid);
        if (on) {
            ap->vgic.hw_spi[intid / 64] |= 1ULL << (intid % 64);
            gic_spi_route(intid, ap->vcpu[0].cpu);
            gic_spi_enable(intid, true);
        }
    }
}

/* Doorbells (hv/window.c): the ringer's CPU only posts the channel in
 * ap->bells and kicks the CPU of the vCPU the doorbell SPI is routed to; a
 * vCPU of this partition raises the SPIs in its own virtual GIC after its
 * next exit or wake-up (take_bells), so no other partition ever takes this
 * one's vGIC lock. The ringer posts and kicks only when the channel's
 * pending mask was empty: at most one interrupt per poll. */
void arch_partition_notify(struct partition *p, u32 channel)
{
    struct a64_part *ap = p->arch;
    if (!ap || channel >= CFG_MAX_CHANNELS || !ap->nvcpus ||
        __atomic_load_n(&ap->finished, __ATOMIC_ACQUIRE))
        return; /* stopped for good: its CPUs are parked */
    if (__atomic_fetch_or(&ap->bells, 1u << channel, __ATOMIC_ACQ_REL) & (1u << channel))
        return; /* posted already, a kick is on its way */
    u32 t = vgic_spi_vcpu(&ap->vgic, DOORBELL_INTID(channel), ap->nvcpus);
    gic_kick(ap->vcpu[t].cpu);
}

static void take_bells_slow(struct vcpu_run *v)
{
    u32 m = __atomic_exchange_n(&v->ap->bells, 0, __ATOMIC_ACQ_REL);
    for (u32 c; m; m &= m - 1) {
        c = (u32)__builtin_ctz(m);
        vgic_raise(&v->ap->vgic, DOORBELL_INTID(c), v->index);
    }
}

static inline void take_bells(struct vcpu_run *v)
{
    if (__atomic_load_n(&v->ap->bells, __ATOMIC_RELAXED))
        take_bells_slow(v);
}

/* Wake every vCPU of the partition that may be waiting (WFI, CPU_ON). */
static void kick_all(struct a64_part *ap)
{
    u32 me = arch_cpu_index();
    for (u32 i = 0; i < ap->nvcpus; i++)
        if (ap->vcpu[i].cpu != me)
            gic_kick(ap->vcpu[i].cpu);
}

/* EL2 state for running this partition's vCPU on this CPU. */
static void cpu_setup(struct vcpu_run *v)
{
    sysreg_write(vtcr_el2, stage2_vtcr());
    sysreg_write(vttbr_el2, v->ap->vttbr);
    sysreg_write(vmpidr_el2, (1ULL << 31) | v->index);
    sysreg_write(vpidr_el2, sysreg_read(midr_el1));
    /* E2H layout: EL1PCTEN (10) lets the guest read the physical counter;
     * EL1PCEN (11) clear traps the physical timer, which it is not given. */
    u64 cnthctl = sysreg_read(cnthctl_el2);
    sysreg_write(cnthctl_el2, (cnthctl | (1ULL << 10)) & ~(1ULL << 11));
    /* FP/SIMD and SVE are not trapped: nothing else uses them on this CPU. */
    sysreg_write(cptr_el2, sysreg_read(cptr_el2) | (3ULL << 20) | (3ULL << 16));
    a64_debug_setup(v->p->cfg->pmu);
    sysreg_write(hcr_el2, HCR_RW64 | HCR_E2H | HCR_VM | HCR_SWIO | HCR_FMO | HCR_IMO | HCR_AMO |
                              HCR_FB | HCR_BSU_IS | HCR_TWI | HCR_TWE | HCR_TSC | HCR_APK |
                              HCR_API);
    sysreg_write(vbar_el2, (u64)(uintptr_t)vm_vectors);
    isb();
    __asm__ volatile("tlbi vmalle1; dsb nsh; isb" ::: "memory");
}

static void cpu_restore(void)
{
    extern char el2_vectors[];
    sysreg_write(hcr_el2, HCR_RW64 | HCR_E2H);
    sysreg_write(vbar_el2, (u64)(uintptr_t)el2_vectors);
    isb();
}

/* Take a synchronous exception to the guest's EL1 with this ESR (and FAR
 * when far_valid), as the CPU would: ELR = the instruction, SPSR = its
 * PSTATE, EL1h with D, A, I, F masked, at VBAR_EL1 + the offset for where
 * it came from. */
static void inject_sync(struct vcpu_run *v, u64 esr, bool far_valid, u64 far)
{
    u64 ps = v->ctx.pstate;
    u64 off;
    if ((ps & 0xf) == 0x5)
        off = 0x200;      /* from EL1h */
    else if ((ps & 0xf) == 0x4)
        off = 0x000;      /* from EL1t */
    else
        off = 0x400;      /* from EL0 */
    sysreg_write(esr_el12, esr);
    if (far_valid)
        sysreg_write(far_el12, far);
    sysreg_write(elr_el12, v->ctx.pc);
    sysreg_write(spsr_el12, ps);
    v->ctx.pc = sysreg_read(vbar_el12) + off;
    v->ctx.pstate = SPSR_EL1H_MASKED;
}

/* Inject an undefined-instruction exception into the guest at EL1. */
static void inject_undef(struct vcpu_run *v)
{
    inject_sync(v, 1ULL << 25, false, 0); /* EC 0 (unknown reason), IL */
}

/* ------------------------------------------------------------ SMCCC */

static bool valid_target(struct a64_part *ap, u64 mpidr, u32 *idx)
{
    if (mpidr & ~0xffULL)
        return false;
    if ((u32)mpidr >= ap->nvcpus)
        return false;
    *idx = (u32)mpidr;
    return true;
}

static s64 psci_cpu_on(struct vcpu_run *v, u64 target, u64 entry, u64 ctx_id)
{
    struct a64_part *ap = v->ap;
    u32 t;
    if (!valid_target(ap, target, &t))
        return P_INVALID_PARAMS;
    if ((entry & 3) || !guest_ptr(v->p, entry, 4, false))
        return P_INVALID_ADDRESS;
    s64 r;
    spin_lock(&ap->lock);
    struct a64_vcpu *tv = &ap->vcpu[t];
    u32 st = __atomic_load_n(&tv->state, __ATOMIC_ACQUIRE);
    if (st == VCPU_ON)
        r = P_ALREADY_ON;
    else if (st == VCPU_ON_PENDING)
        r = P_ON_PENDING;
    else if (tv->cpu >= MAX_CPUS || !__atomic_load_n(&percpu[tv->cpu].online, __ATOMIC_ACQUIRE))
        r = P_INTERNAL_FAILURE;
    else {
        tv->entry = entry;
        tv->ctx_id = ctx_id;
        __atomic_store_n(&tv->state, VCPU_ON_PENDING, __ATOMIC_RELEASE);
        r = P_SUCCESS;
    }
    spin_unlock(&ap->lock);
    if (r == P_SUCCESS)
        gic_kick(tv->cpu); /* it waits in WFI for this */
    return r;
}

static bool psci_supported(u32 fid)
{
    switch (fid) {
    case PSCI_0_2_VERSION:
    case PSCI_0_2_CPU_OFF:
    case PSCI_0_2_CPU_ON32:
    case PSCI_0_2_CPU_ON64:
    case PSCI_0_2_AFFINITY32:
    case PSCI_0_2_AFFINITY64:
    case PSCI_0_2_SYSTEM_OFF:
    case PSCI_0_2_SYSTEM_RESET:
    case PSCI_1_0_FEATURES:
    case SMCCC_VERSION:
    case SMCCC_ARCH_FEATURES:
        return true;
    default:
        return false;
    }
}

static enum leave smccc(struct vcpu_run *v)
{
    struct partition *p = v->p;
    struct a64_part *ap = v->ap;
    u64 *x = v->ctx.x;
    u32 fid = (u32)x[0];
    bool is32 = !(fid & (1u << 30));
    u64 a1 = is32 ? (u32)x[1] : x[1], a2 = is32 ? (u32)x[2] : x[2], a3 = is32 ? (u32)x[3] : x[3];
    if ((fid & 0xffff0000u) == HC_SMCCC_BASE) {
        bool stop = false;
        s64 r = hypercall_dispatch(p, v->index, fid & 0xffff, x[1], x[2], x[3], x[4], &stop);
        x[0] = (u64)r;
        if (stop) {
            request(ap, REQ_STOP, false);
            return L_REQ;
        }
        return L_RESUME;
    }
    switch (fid) {
    case SMCCC_VERSION:
        x[0] = 0x10001; /* SMCCC 1.1 */
        return L_RESUME;
    case SMCCC_ARCH_FEATURES:
        /* SMCCC 1.1: 0 for the Arm Architecture Service functions that are
         * implemented (SMCCC_VERSION, SMCCC_ARCH_FEATURES), NOT_SUPPORTED
         * for everything else, including the ARCH_WORKAROUND_* calls. */
        x[0] = (u32)a1 == SMCCC_VERSION || (u32)a1 == SMCCC_ARCH_FEATURES
                   ? 0
                   : (u64)SMCCC_NOT_SUPPORTED;
        return L_RESUME;
    case PSCI_0_2_VERSION:
        x[0] = 0x10001; /* PSCI 1.1 */
        return L_RESUME;
    case PSCI_1_0_FEATURES:
        x[0] = psci_supported((u32)a1) ? 0 : (u64)(s64)P_NOT_SUPPORTED;
        return L_RESUME;
    case PSCI_0_2_CPU_ON32:
    case PSCI_0_2_CPU_ON64:
        x[0] = (u64)psci_cpu_on(v, a1, a2, a3);
        return L_RESUME;
    case PSCI_0_2_CPU_OFF: {
        bool any = false;
        spin_lock(&ap->lock);
        __atomic_store_n(&ap->vcpu[v->index].state, VCPU_OFF, __ATOMIC_RELEASE);
        sysreg_write(cntv_ctl_el02, 0);
        for (u32 i = 0; i < ap->nvcpus; i++)
            any |= __atomic_load_n(&ap->vcpu[i].state, __ATOMIC_ACQUIRE) != VCPU_OFF;
        spin_unlock(&ap->lock);
        /* No console flush: another vCPU may be in the middle of a line. */
        part_printk(p, "partition %s: vCPU %u off (PSCI CPU_OFF)\n", p->name, v->index);
        if (any)
            return L_OFF;
        /* Nothing can switch a vCPU on again: the partition has stopped. */
        part_printk(p, "partition %s: every vCPU is off: stopping the partition\n", p->name);
        request(ap, REQ_STOP, false);
        return L_REQ;
    }
    case PSCI_0_2_AFFINITY32:
    case PSCI_0_2_AFFINITY64: {
        u32 t;
        if (a2 != 0 || !valid_target(ap, a1, &t)) {
            x[0] = (u64)(s64)P_INVALID_PARAMS;
        } else {
            u32 st = __atomic_load_n(&ap->vcpu[t].state, __ATOMIC_ACQUIRE);
            x[0] = st == VCPU_ON ? 0 : st == VCPU_OFF ? 1 : 2;
        }
        return L_RESUME;
    }
    case PSCI_0_2_SYSTEM_OFF:
        partition_console_flush(p);
        part_printk(p, "partition %s: PSCI SYSTEM_OFF from vCPU %u\n", p->name, v->index);
        partition_shutdown(p, 0);
        request(ap, REQ_STOP, false);
        return L_REQ;
    case PSCI_0_2_SYSTEM_RESET:
        partition_console_flush(p);
        part_printk(p, "partition %s: PSCI SYSTEM_RESET from vCPU %u: restarting it\n", p->name,
                    v->index);
        request(ap, REQ_RESTART, false);
        return L_REQ;
    default:
        x[0] = (u64)SMCCC_NOT_SUPPORTED;
        return L_RESUME;
    }
}

/* ------------------------------------------------------------ aborts */

static u64 fault_ipa(const struct vm_ctx *c)
{
    u32 fsc = (u32)(c->esr & 0x3f);
    bool fnv = c->esr & (1ULL << 10);
    if (fsc >= 0x0c && fsc <= 0x0f && !fnv) {
        /* HPFAR_EL2 is architecturally valid for stage-2 translation, access
         * flag and address-size faults, not for permission faults: there the
         * IPA comes from the guest's own stage 1 (identity while its MMU is
         * off). The guest's PAR_EL1 is preserved. */
        if (!(sysreg_read(sctlr_el12) & 1))
            return c->far;
        u64 saved = sysreg_read(par_el1);
        __asm__ volatile("at s1e1r, %0\n\tisb" ::"r"(c->far) : "memory");
        u64 par = sysreg_read(par_el1);
        sysreg_write(par_el1, saved);
        if (!(par & 1))
            return (par & 0x000ffffffffff000ULL) | (c->far & 0xfff);
    }
    u64 page = ((c->hpfar >> 4) & 0xffffffffffULL) << 12;
    return page | (fnv ? 0 : (c->far & 0xfff));
}

static const char *fsc_what(u32 fsc)
{
    if (fsc >= 0x04 && fsc <= 0x07)
        return "outside the partition's memory";
    if (fsc >= 0x0c && fsc <= 0x0f)
        return "not permitted by its mapping";
    if (fsc >= 0x08 && fsc <= 0x0b)
        return "access flag fault";
    if (fsc == 0x10 || (fsc >= 0x14 && fsc <= 0x17))
        return "external abort";
    return "abort";
}

enum mmio_dev { DEV_UART, DEV_GIC };

static u64 device_access(struct vcpu_run *v, enum mmio_dev dev, u64 ipa, u32 size, bool write,
                         u64 val)
{
    struct a64_part *ap = v->ap;
    if (dev == DEV_GIC)
        return vgic_mmio(&ap->vgic, v->index, ipa, size, write, val);
    spin_lock(&ap->uart_lock);
    u64 r = vpl011_access(v->p, &ap->uart, ipa - VPL011_GPA, write, (u32)val);
    vgic_set_line(&ap->vgic, VPL011_INTID, vpl011_irq_line(&ap->uart), v->index);
    spin_unlock(&ap->uart_lock);
    return r;
}

/* An emulated device access, decoded from the syndrome. */
static enum leave mmio_access(struct vcpu_run *v, u64 ipa, enum mmio_dev dev)
{
    const struct vm_ctx *c = &v->ctx;
    u64 iss = c->esr & 0x1ffffff;
    char why[128];
    if (!(iss & (1ULL << 24))) {
        bh_snprintf(why, sizeof(why),
                    "stage-2 data abort on the virtual %s without a usable syndrome (ESR 0x%llx, "
                    "FAR 0x%llx)",
                    dev == DEV_UART ? "UART" : "GIC", (unsigned long long)c->esr,
                    (unsigned long long)c->far);
        return fault(v, why, ipa, true);
    }
    u32 size = 1u << ((iss >> 22) & 3);
    bool sse = iss & (1ULL << 21), sf = iss & (1ULL << 15), write = iss & (1ULL << 6);
    u32 srt = (iss >> 16) & 31;
    u64 mask = size == 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
    struct a64_part *ap = v->ap;
    if (write) {
        u64 val = srt == 31 ? 0 : v->ctx.x[srt];
        device_access(v, dev, ipa, size, true, val & mask);
    } else {
        u64 val = device_access(v, dev, ipa, size, false, 0) & mask;
        if (sse && size < 8 && (val & (1ULL << (8 * size - 1))))
            val |= ~mask;
        if (!sf)
            val &= 0xffffffffULL;
        if (srt != 31)
            v->ctx.x[srt] = val;
    }
    (void)ap;
    v->ctx.pc += (v->ctx.esr & (1ULL << 25)) ? 4 : 2;
    return L_RESUME;
}

/* outside-access = "abort": an access or fetch outside the partition's
 * memory (a stage-2 translation fault, not on the guest's own table walk)
 * becomes a synchronous external abort at the guest's EL1: data or
 * instruction abort, from EL0 or the same EL, FSC 0x10, WnR kept, FAR =
 * the guest's address. Reported once per partition. */
static u32 abort_reported[PART_MAX];

static bool inject_outside_abort(struct vcpu_run *v, bool insn, u64 ipa)
{
    const struct vm_ctx *c = &v->ctx;
    u32 fsc = c->esr & 0x3f;
    bool s1ptw = c->esr & (1ULL << 7);
    /* Translation faults (nothing mapped there) and permission faults (a
     * write to a read-only window, a fetch from a never-executable one). */
    bool translation = fsc >= 0x04 && fsc <= 0x07, permission = fsc >= 0x0c && fsc <= 0x0f;
    if (!v->p->cfg->outside_abort || s1ptw || !(translation || permission))
        return false;
    bool from_el0 = (c->pstate & 0xf) == 0;
    u64 ec = insn ? (from_el0 ? 0x20 : 0x21) : (from_el0 ? 0x24 : 0x25);
    u64 esr = ec << 26 | 1ULL << 25 | 0x10;
    if (!insn)
        esr |= c->esr & (1ULL << 6); /* WnR */
    bool fnv = c->esr & (1ULL << 10);
    esr |= fnv ? 1ULL << 10 : 0;
    if (!abort_reported[v->p->index]++)
        printk("partition %s: %s %s (gpa 0x%llx, pc 0x%llx): synchronous "
               "external abort injected (outside-access \"abort\"; reported once)\n",
               v->p->name, insn ? "fetch" : (c->esr & (1ULL << 6)) ? "write" : "read",
               translation ? "outside its memory" : "against its permissions",
               (unsigned long long)ipa, (unsigned long long)c->pc);
    inject_sync(v, esr, !fnv, c->far);
    return true;
}

static enum leave data_abort(struct vcpu_run *v)
{
    const struct vm_ctx *c = &v->ctx;
    u64 ipa = fault_ipa(c);
    u32 fsc = c->esr & 0x3f;
    bool write = c->esr & (1ULL << 6), s1ptw = c->esr & (1ULL << 7);
    if (!s1ptw && fsc >= 0x04 && fsc <= 0x07 && v->p->cfg->console && ipa >= VPL011_GPA &&
        ipa < VPL011_GPA + VPL011_SIZE)
        return mmio_access(v, ipa, DEV_UART);
    if (!s1ptw && fsc >= 0x04 && fsc <= 0x07 && vgic_owns(&v->ap->vgic, ipa))
        return mmio_access(v, ipa, DEV_GIC);
    if (inject_outside_abort(v, false, ipa))
        return L_RESUME;
    char why[160];
    bh_snprintf(why, sizeof(why), "stage-2 data abort: %s %s%s (ESR 0x%llx, FAR 0x%llx)",
                s1ptw ? "page-table walk" : write ? "write" : "read", fsc_what(fsc),
                s1ptw ? " (the guest's own page tables)" : "", (unsigned long long)c->esr,
                (unsigned long long)c->far);
    return fault(v, why, ipa, true);
}

static enum leave insn_abort(struct vcpu_run *v)
{
    const struct vm_ctx *c = &v->ctx;
    u32 fsc = c->esr & 0x3f;
    char why[160];
    if (inject_outside_abort(v, true, fault_ipa(c)))
        return L_RESUME;
    bh_snprintf(why, sizeof(why),
                "stage-2 instruction abort: fetch %s (ESR 0x%llx, FAR 0x%llx)",
                fsc >= 0x0c && fsc <= 0x0f ? "from memory that is not executable" : fsc_what(fsc),
                (unsigned long long)c->esr, (unsigned long long)c->far);
    return fault(v, why, fault_ipa(c), true);
}

/* WFI: the physical CPU waits (WFI at EL2) until something the vCPU would
 * take is pending, or the partition is asked to stop or restart. Kicks from
 * other CPUs and the timer's physical interrupt wake it. */
static enum leave wait_for_interrupt(struct vcpu_run *v)
{
    struct epoch_domain *ep = hv_epoch();
    for (;;) {
        take_bells(v);
        if (vgic_pending(&v->ap->vgic, v->index))
            return L_RESUME;
        if (req_of(v->ap) != REQ_NONE)
            return L_REQ;
        if (v->input) {
            sysreg_write(cnthp_tval_el2, sysreg_read(cntfrq_el0) / 100);
            sysreg_write(cnthp_ctl_el2, 1);
            isb();
        }
        epoch_enter_eqs(ep, v->cpu);
        __asm__ volatile("dsb sy; wfi" ::: "memory");
        epoch_exit_eqs(ep, v->cpu);
        drain_irqs(v);
        if (v->input)
            poll_input(v);
        v->waits++;
    }
}

static enum leave handle_sync(struct vcpu_run *v)
{
    u64 esr = v->ctx.esr;
    switch (ESR_EC(esr)) {
    case EC_WFX:
        v->ctx.pc += (esr & (1ULL << 25)) ? 4 : 2;
        if (esr & 1) {
            /* WFE: the vCPU may be waiting for another one; go on. */
            arch_cpu_relax();
            return L_RESUME;
        }
        return wait_for_interrupt(v);
    case EC_HVC64:
        if (esr & 0xffff) {
            v->ctx.x[0] = (u64)SMCCC_NOT_SUPPORTED; /* not an SMCCC call (imm16 != 0) */
            return L_RESUME;
        }
        return smccc(v);
    case EC_SMC64:
        v->ctx.pc += 4; /* a trapped SMC returns to the SMC itself */
        if (esr & 0xffff) {
            v->ctx.x[0] = (u64)SMCCC_NOT_SUPPORTED;
            return L_RESUME;
        }
        return smccc(v);
    case EC_SYSREG: {
        /* ISS: Op0 [21:20], Op2 [19:17], Op1 [16:14], CRn [13:10], Rt [9:5],
         * CRm [4:1], direction [0] (1 = read). ICC_SGI1R_EL1 is
         * S3_0_C12_C11_5, ICC_ASGI1R_EL1 S3_0_C12_C11_6, ICC_SGI0R_EL1
         * S3_0_C12_C11_7: writes trap while HCR_EL2.IMO (SGI0R: FMO) is set.
         * With one Security state (GICD_CTLR.DS = 1) there is no other
         * state's Group 1 for ASGI1R: it acts as SGI0R (as KVM does). */
        u32 iss = (u32)esr & 0x3fffff;
        u32 sysreg = iss & 0x3ffc1e; /* everything but Rt and direction */
        u32 rt = (iss >> 5) & 31;
        u64 val = rt == 31 ? 0 : v->ctx.x[rt];
#define SYSREG_ISS(op0, op1, crn, crm, op2) \
    ((op0) << 20 | (op2) << 17 | (op1) << 14 | (crn) << 10 | (crm) << 1)
        if (!(iss & 1) && (sysreg == SYSREG_ISS(3, 0, 12, 11, 5) ||
                           sysreg == SYSREG_ISS(3, 0, 12, 11, 6) ||
                           sysreg == SYSREG_ISS(3, 0, 12, 11, 7))) {
            vgic_sgi(&v->ap->vgic, v->index, val, sysreg != SYSREG_ISS(3, 0, 12, 11, 5));
            v->ctx.pc += 4;
            return L_RESUME;
        }
        u32 pi = v->p->index;
        if (a64_debug_sysreg(&v->ctx, esr))
            return L_RESUME;
        if (!sysreg_reported[pi]++)
            printk("partition %s: system register access trapped (ESR 0x%llx, pc 0x%llx): "
                   "undefined instruction injected (reported once)\n",
                   v->p->name, (unsigned long long)esr, (unsigned long long)v->ctx.pc);
        inject_undef(v);
        return L_RESUME;
    }
    case 0x03: case 0x04: case 0x05: case 0x06: case 0x08: case 0x0c:
        /* AArch32 coprocessor / FP traps from a 32-bit EL0 task: the guest's own
         * kernel handles an undefined instruction; the partition keeps running. */
        inject_undef(v);
        return L_RESUME;
    case EC_DABT_LOW:
        return data_abort(v);
    case EC_IABT_LOW:
        return insn_abort(v);
    default: {
        char why[96];
        bh_snprintf(why, sizeof(why), "unhandled exception from the guest (EC %#llx, ESR 0x%llx)",
                    (unsigned long long)ESR_EC(esr), (unsigned long long)esr);
        return fault(v, why, 0, false);
    }
    }
}

static enum leave handle_exit(struct vcpu_run *v, u64 kind)
{
    v->exits++;
    switch (kind) {
    case VM_EXIT_SYNC:
        return handle_sync(v);
    case VM_EXIT_IRQ:
        drain_irqs(v);
        return L_RESUME;
    case VM_EXIT_FIQ:
        return L_RESUME; /* group 0 is not used: nothing to do */
    case VM_EXIT_SERROR: {
        char why[80];
        bh_snprintf(why, sizeof(why), "SError from the guest (ESR 0x%llx)",
                    (unsigned long long)v->ctx.esr);
        return fault(v, why, 0, false);
    }
    default:
        return fault(v, "exception from AArch32 state (not supported)", 0, false);
    }
}

/* ------------------------------------------------------------ run loop */

/* Run the vCPU until it is switched off or the partition is asked to stop
 * or restart. */
static enum leave run_guest(struct vcpu_run *v)
{
    struct epoch_domain *ep = hv_epoch();
    for (;;) {
        if (req_of(v->ap) != REQ_NONE)
            return L_REQ;
        vgic_flush(&v->ap->vgic, v->index);
        epoch_enter_eqs(ep, v->cpu);
        u64 kind = vm_enter(&v->ctx);
        epoch_exit_eqs(ep, v->cpu);
        vgic_sync(&v->ap->vgic, v->index);
        take_bells(v);
        if (v->input)
            poll_input(v);
        if (req_of(v->ap) != REQ_NONE)
            return L_REQ; /* brought back by a partition-wide request */
        enum leave l = handle_exit(v, kind);
        if (l != L_RESUME)
            return l;
        epoch_quiescent(ep, v->cpu);
    }
}

/* Load (or reload after a restart) the guest and make vCPU 0 its boot vCPU. */
static bool start_guest(struct vcpu_run *v, bool restart)
{
    char err[200];
    struct partition *p = v->p;
    struct a64_part *ap = v->ap;
    if (restart) {
        /* Same frames, fresh contents: nothing is allocated for a restart;
         * the pool is given back first, so the count is as at the first start. */
        partition_reset_memory(p);
        pool_reset(p);
        char what[32];
        if (ap->req_counted)
            bh_snprintf(what, sizeof(what), "restart %u", p->restarts);
        else
            bh_snprintf(what, sizeof(what), "system reset");
        part_printk(p, "partition %s: %s: hypervisor free memory %llu KiB, as at the first "
                    "start (%llu KiB)\n",
                    p->name, what, (unsigned long long)(frames_global()->free_bytes >> 10),
               (unsigned long long)(free_at_start[p->index] >> 10));
    }
    if (!arch_partition_load(p, err, sizeof(err))) {
        printk("partition %s: cannot load its kernel '%s': %s\n", p->name, p->cfg->kernel, err);
        return false;
    }
    for (u32 i = 0; i < ap->nvcpus; i++)
        __atomic_store_n(&ap->vcpu[i].state, VCPU_OFF, __ATOMIC_RELEASE);
    u32 pcpus[CFG_MAX_CPUS];
    for (u32 i = 0; i < ap->nvcpus; i++)
        pcpus[i] = ap->vcpu[i].cpu;
    vgic_reset(&ap->vgic, ap->nvcpus, pcpus);
    /* A doorbell still unpolled from before a restart: its SPI is pending
     * again in the fresh virtual GIC (taken once the guest enables it). */
    for (u32 c = 0; c < CFG_MAX_CHANNELS; c++)
        if (__atomic_load_n(&p->doorbell[c], __ATOMIC_ACQUIRE))
            __atomic_fetch_or(&ap->bells, 1u << c, __ATOMIC_ACQ_REL);
    passthrough_irqs(p, ap, true);
    isb();
    ap->cntvoff = sysreg_read(cntpct_el0);
    ap->vcpu[0].entry = ap->entry;
    ap->vcpu[0].ctx_id = ap->dtb;
    __atomic_store_n(&ap->vcpu[0].state, VCPU_ON_PENDING, __ATOMIC_RELEASE);
    if (!restart)
        free_at_start[p->index] = frames_global()->free_bytes;
    return true;
}

static u32 vcpus_online(struct a64_part *ap)
{
    u32 n = 0;
    for (u32 i = 0; i < ap->nvcpus; i++)
        if (ap->vcpu[i].cpu < MAX_CPUS &&
            __atomic_load_n(&percpu[ap->vcpu[i].cpu].online, __ATOMIC_ACQUIRE))
            n++;
    return n;
}

/* Every vCPU of the partition meets here for a request; vCPU 0 carries it
 * out once all have arrived. Returns false when the partition has stopped. */
static bool rendezvous(struct vcpu_run *v)
{
    struct a64_part *ap = v->ap;
    struct epoch_domain *ep = hv_epoch();
    u32 gen = __atomic_load_n(&ap->gen, __ATOMIC_ACQUIRE);
    __atomic_fetch_add(&ap->arrived, 1, __ATOMIC_ACQ_REL);
    if (v->index != 0) {
        epoch_enter_eqs(ep, v->cpu);
        while (__atomic_load_n(&ap->gen, __ATOMIC_ACQUIRE) == gen)
            arch_cpu_relax();
        epoch_exit_eqs(ep, v->cpu);
        return !__atomic_load_n(&ap->finished, __ATOMIC_ACQUIRE);
    }
    u32 want = vcpus_online(ap);
    epoch_enter_eqs(ep, v->cpu);
    while (__atomic_load_n(&ap->arrived, __ATOMIC_ACQUIRE) < want)
        arch_cpu_relax();
    epoch_exit_eqs(ep, v->cpu);
    spin_lock(&ap->lock);
    u32 req = req_of(ap);
    spin_unlock(&ap->lock);
    bool go_on = req == REQ_RESTART && start_guest(v, true);
    for (u32 i = 0; !go_on && i < ap->nvcpus; i++)
        __atomic_store_n(&ap->vcpu[i].state, VCPU_OFF, __ATOMIC_RELEASE);
    if (go_on)
        stage2_unblock(ap);
    __atomic_store_n(&ap->arrived, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&ap->req, REQ_NONE, __ATOMIC_RELEASE);
    __atomic_store_n(&ap->finished, !go_on, __ATOMIC_RELEASE);
    __atomic_fetch_add(&ap->gen, 1, __ATOMIC_ACQ_REL);
    if (!go_on) {
        passthrough_irqs(v->p, ap, false);
        partition_stopped(v->p);
    }
    return go_on;
}

void arch_vcpu_run(struct partition *p, u32 index)
{
    u32 cpu = arch_cpu_index();
    struct a64_part *ap = p->arch;
    if (!ap || index >= ap->nvcpus || cpu >= MAX_CPUS)
        return;
    u32 boot_cpu = ap->vcpu[0].cpu;
    if (boot_cpu >= MAX_CPUS || !__atomic_load_n(&percpu[boot_cpu].online, __ATOMIC_ACQUIRE))
        return; /* the partition was not started (main.c said so) */
    struct vcpu_run *v = &runs[cpu];
    memset(v, 0, sizeof(*v));
    v->p = p;
    v->ap = ap;
    v->index = index;
    v->cpu = cpu;
    v->input = index == 0 && con_input_is(p);
    char gerr[96];
    if (!gic_cpu_init(cpu, gerr, sizeof(gerr))) {
        printk("partition %s: vCPU %u cannot run on cpu %u: %s\n", p->name, index, cpu, gerr);
        return;
    }
    cpu_setup(v);
    if (index == 0) {
        if (!start_guest(v, false)) {
            /* Park the partition's other vCPUs too: they wait for CPU_ON. */
            __atomic_store_n(&ap->finished, 1, __ATOMIC_RELEASE);
            kick_all(ap);
            cpu_restore();
            gic_cpu_off(cpu);
            partition_stopped(p);
            return;
        }
        part_printk(p, "partition %s: started on cpu %u (%s entry at %#llx, device tree at %#llx)\n",
               p->name, cpu, cfg_boot_protocol_name(p->cfg->boot),
               (unsigned long long)ap->entry, (unsigned long long)ap->dtb);
    }
    struct epoch_domain *ep = hv_epoch();
    struct a64_vcpu *me = &ap->vcpu[index];
    for (;;) {
        /* Wait to be switched on (PSCI CPU_ON), or for a request. */
        /* The CPU sleeps in WFI; CPU_ON and requests kick it. */
        sysreg_write(cntv_ctl_el02, 0);
        vgic_hw_off();
        while (__atomic_load_n(&me->state, __ATOMIC_ACQUIRE) != VCPU_ON_PENDING &&
               req_of(ap) == REQ_NONE && !__atomic_load_n(&ap->finished, __ATOMIC_ACQUIRE)) {
            epoch_enter_eqs(ep, cpu);
            __asm__ volatile("dsb sy; wfi" ::: "memory");
            epoch_exit_eqs(ep, cpu);
            drain_irqs(v);
            take_bells(v); /* pending for when the vCPU runs */
        }
        if (__atomic_load_n(&ap->finished, __ATOMIC_ACQUIRE))
            break;
        enum leave l = L_REQ;
        if (req_of(ap) == REQ_NONE) {
            spin_lock(&ap->lock);
            u64 entry = me->entry, ctx_id = me->ctx_id;
            __atomic_store_n(&me->state, VCPU_ON, __ATOMIC_RELEASE);
            spin_unlock(&ap->lock);
            enter_state(v, entry, ctx_id);
            if (index != 0)
                part_printk(p, "partition %s: vCPU %u started on cpu %u at %#llx (PSCI CPU_ON)\n",
                       p->name, index, cpu, (unsigned long long)entry);
            l = run_guest(v);
        }
        if (l == L_OFF)
            continue;
        if (!rendezvous(v))
            break;
    }
    sysreg_write(cntv_ctl_el02, 0);
    vgic_hw_off();
    cpu_restore();
    gic_cpu_off(cpu);
}
