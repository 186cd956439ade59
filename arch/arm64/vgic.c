/* The partition's virtual GICv3: an emulated distributor and one
 * redistributor per vCPU (guest-physical pages with no stage-2 mapping, so
 * every access traps and is decoded here), and the hardware virtual CPU
 * interface (ICH_*_EL2) through which interrupts reach the guest.
 *
 * Interrupt state. Each vCPU keeps, for INTIDs 0..VGIC_NIRQ-1, a pending and
 * an active bitmap of what is NOT in its list registers; SPIs live in the
 * bitmaps of the vCPU their IROUTER names. The list registers belong to the
 * physical CPU that runs the vCPU and only that CPU touches them: on every
 * exit (vgic_sync) their state is folded back into the bitmaps and they are
 * emptied; before every entry (vgic_flush) the active interrupts and the
 * highest-priority enabled pending ones are moved into them. When more are
 * pending than there are list registers, ICH_HCR_EL2.NPIE asks for a
 * maintenance interrupt once none of the loaded ones is pending any more,
 * and the next exit loads the rest. When none of the loaded ones is pending
 * (the list registers are full of active interrupts), NPIE would fire at
 * once and keep the vCPU from running at all: ICH_HCR_EL2.UIE asks instead
 * for a maintenance interrupt once at most one list register is in use. Another vCPU that changes this state
 * (an SGI, a distributor write) does it under the partition's vgic lock and
 * kicks the owner's physical CPU with a physical SGI; clearing pending or
 * active state of an interrupt that may sit in the owner's list registers
 * is posted (clr_pend/clr_act) and applied by the owner at its next sync.
 *
 * The EL1 virtual timer (PPI 27) is forwarded: the hypervisor acknowledges
 * the physical interrupt, drops its priority but leaves it active, and puts
 * it in a list register with the hardware bit, so the guest's deactivation
 * deactivates the physical interrupt too. Level-sensitive interrupts of
 * virtual devices (the PL011's SPI) are loaded with the EOI bit, so their
 * deactivation raises a maintenance interrupt and the line is sampled again.
 *
 * Unimplemented registers in the architected frames read as zero and ignore
 * writes; the guest is never faulted for touching one. */
#include "arm64.h"
#include "vm.h"
#include "../../hv/console.h"
#include "../../hv/format.h"
#include "../../hv/smp.h"
#include "../../hv/string.h"

/* distributor */
#define GICD_CTLR 0x0000
#define GICD_TYPER 0x0004
#define GICD_IIDR 0x0008
#define GICD_TYPER2 0x000c
#define GICD_IGROUPR 0x0080
#define GICD_ISENABLER 0x0100
#define GICD_ICENABLER 0x0180
#define GICD_ISPENDR 0x0200
#define GICD_ICPENDR 0x0280
#define GICD_ISACTIVER 0x0300
#define GICD_ICACTIVER 0x0380
#define GICD_IPRIORITYR 0x0400
#define GICD_ICFGR 0x0c00
#define GICD_IROUTER 0x6000
#define GICD_PIDR2 0xffe8
/* redistributor, RD_base frame */
#define GICR_CTLR 0x0000
#define GICR_IIDR 0x0004
#define GICR_TYPER 0x0008
#define GICR_WAKER 0x0014
#define GICR_PIDR2 0xffe8
/* redistributor, SGI_base frame (second 64 KiB) */
#define GICR_SGI 0x10000

#define IIDR_VALUE 0x4200043bu /* product 0x42, Arm's JEP106 code 0x43b */
#define PIDR2_GICV3 0x3bu      /* ArchRev 3, JEP106 bits */

#define LR_STATE_SHIFT 62
#define LR_PENDING (1ULL << 62)
#define LR_ACTIVE (1ULL << 63)
#define LR_HW (1ULL << 61)
#define LR_GROUP1 (1ULL << 60)
#define LR_EOI (1ULL << 41)

#define ICH_HCR_EN (1ULL << 0)
#define ICH_HCR_UIE (1ULL << 1)
#define ICH_HCR_NPIE (1ULL << 3)

#define BIT(map, i) (((map)[(i) / 64] >> ((i) % 64)) & 1)
#define SETB(map, i) ((map)[(i) / 64] |= 1ULL << ((i) % 64))
#define CLRB(map, i) ((map)[(i) / 64] &= ~(1ULL << ((i) % 64)))

/* ------------------------------------------------------------ ICH registers */

#define LR_READ(n) case n: return sysreg_read(S3_4_C12_C12_##n);
#define LR_READ8(n, m) case n: return sysreg_read(S3_4_C12_C13_##m);
static u64 lr_read(u32 n)
{
    switch (n) {
    LR_READ(0) LR_READ(1) LR_READ(2) LR_READ(3) LR_READ(4) LR_READ(5) LR_READ(6) LR_READ(7)
    LR_READ8(8, 0) LR_READ8(9, 1) LR_READ8(10, 2) LR_READ8(11, 3) LR_READ8(12, 4)
    LR_READ8(13, 5) LR_READ8(14, 6) LR_READ8(15, 7)
    default: return 0;
    }
}

#define LR_WRITE(n) case n: sysreg_write(S3_4_C12_C12_##n, v); break;
#define LR_WRITE8(n, m) case n: sysreg_write(S3_4_C12_C13_##m, v); break;
static void lr_write(u32 n, u64 v)
{
    switch (n) {
    LR_WRITE(0) LR_WRITE(1) LR_WRITE(2) LR_WRITE(3) LR_WRITE(4) LR_WRITE(5) LR_WRITE(6)
    LR_WRITE(7) LR_WRITE8(8, 0) LR_WRITE8(9, 1) LR_WRITE8(10, 2) LR_WRITE8(11, 3)
    LR_WRITE8(12, 4) LR_WRITE8(13, 5) LR_WRITE8(14, 6) LR_WRITE8(15, 7)
    default: break;
    }
}

static u32 lr_count(void)
{
    static u32 n;
    if (!n) /* ICH_VTR_EL2.ListRegs, the same on every CPU */
        n = (u32)(sysreg_read(S3_4_C12_C11_1) & 0x1f) + 1;
    return n;
}

/* ------------------------------------------------------------ state helpers */

static bool is_private(u32 intid)
{
    return intid < 32;
}

static u8 prio_of(const struct vgic *g, const struct vgic_cpu *c, u32 intid)
{
    return is_private(intid) ? c->prio[intid] : g->prio[intid];
}

static bool enabled(const struct vgic *g, const struct vgic_cpu *c, u32 intid)
{
    return is_private(intid) ? (c->enabled >> intid) & 1 : BIT(g->enabled, intid);
}

static bool group1(const struct vgic *g, const struct vgic_cpu *c, u32 intid)
{
    return is_private(intid) ? (c->group >> intid) & 1 : BIT(g->group, intid);
}

static bool level_sensitive(const struct vgic *g, const struct vgic_cpu *c, u32 intid)
{
    if (intid < 16)
        return false;
    u32 cfg = is_private(intid) ? c->icfgr1 >> (2 * (intid - 16))
                                : g->icfgr[intid / 16] >> (2 * (intid % 16));
    return !(cfg & 2);
}

/* The vCPU an SPI is routed to (IROUTER Aff0; anything invalid: vCPU 0). */
static u32 spi_target(const struct vgic *g, u32 intid)
{
    u64 r = g->route[intid];
    if (r & (1ULL << 31))
        return 0; /* 1-of-N: not offered (GICD_TYPER.No1N), treated as vCPU 0 */
    u32 t = (u32)(r & 0xff);
    return (r & 0xff00ffff00ULL) || t >= g->nvcpus ? 0 : t;
}

/* Set or clear an interrupt's pending state on its vCPU (lock held); another
 * vCPU's CPU is kicked by send_kicks_locked. */
static void set_pending_locked(struct vgic *g, u32 vcpu, u32 intid, u32 me)
{
    struct vgic_cpu *c = &g->cpu[vcpu];
    SETB(c->pend, intid);
    CLRB(c->clr_pend, intid);
    if (vcpu != me)
        c->kick = true;
}

static void clear_pending_locked(struct vgic *g, u32 vcpu, u32 intid, u32 me)
{
    struct vgic_cpu *c = &g->cpu[vcpu];
    CLRB(c->pend, intid);
    if (vcpu != me) {
        SETB(c->clr_pend, intid);
        c->kick = true;
    }
}

static void send_kicks_locked(struct vgic *g)
{
    for (u32 i = 0; i < g->nvcpus; i++)
        if (g->cpu[i].kick) {
            g->cpu[i].kick = false;
            gic_kick(g->pcpu[i]);
        }
}

/* ------------------------------------------------------------ reset */

void vgic_reset(struct vgic *g, u32 nvcpus, const u32 *pcpus)
{
    memset(g, 0, sizeof(*g));
    g->nvcpus = nvcpus;
    for (u32 i = 0; i < nvcpus; i++) {
        g->pcpu[i] = pcpus[i];
        vgic_cpu_reset(g, i);
    }
    for (u32 i = 0; i < VGIC_NIRQ / 16; i++)
        g->icfgr[i] = 0; /* SPIs level-sensitive */
}

void vgic_cpu_reset(struct vgic *g, u32 i)
{
    struct vgic_cpu *c = &g->cpu[i];
    memset(c, 0, sizeof(*c));
    c->enabled = 0xffff;     /* SGIs: enabled (implementation choice, as most GICs do) */
    c->icfgr1 = 0;           /* PPIs level-sensitive */
    c->waker = 1u << 1 | 1u << 2; /* ProcessorSleep, ChildrenAsleep */
}

/* This CPU's list registers and virtual CPU interface, for a vCPU (re)start. */
void vgic_hw_reset(void)
{
    u32 n = lr_count();
    for (u32 i = 0; i < n; i++)
        lr_write(i, 0);
    sysreg_write(S3_4_C12_C11_7, 0);      /* ICH_VMCR_EL2 */
    for (u32 i = 0; i < 4; i++) {
        /* ICH_AP0R<n>/ICH_AP1R<n>; only those the CPU implements (n < 2^(PRIbits-5)) */
        u32 pribits = (u32)((sysreg_read(S3_4_C12_C11_1) >> 29) & 7) + 1;
        if (pribits < 6 && i > 0)
            break;
        if (pribits < 7 && i > 1)
            break;
        switch (i) {
        case 0: sysreg_write(S3_4_C12_C8_0, 0); sysreg_write(S3_4_C12_C9_0, 0); break;
        case 1: sysreg_write(S3_4_C12_C8_1, 0); sysreg_write(S3_4_C12_C9_1, 0); break;
        case 2: sysreg_write(S3_4_C12_C8_2, 0); sysreg_write(S3_4_C12_C9_2, 0); break;
        default: sysreg_write(S3_4_C12_C8_3, 0); sysreg_write(S3_4_C12_C9_3, 0); break;
        }
    }
    sysreg_write(S3_4_C12_C11_0, ICH_HCR_EN); /* ICH_HCR_EL2 */
    /* The timer's physical interrupt may have been left active for a list
     * register that is gone now. */
    gic_deactivate(GIC_VTIMER_PPI);
    isb();
}

/* Interface off: nothing of the guest's may signal once the vCPU is gone. */
void vgic_hw_off(void)
{
    u32 n = lr_count();
    for (u32 i = 0; i < n; i++)
        lr_write(i, 0);
    sysreg_write(S3_4_C12_C11_0, 0);
    gic_deactivate(GIC_VTIMER_PPI);
    isb();
}

/* ------------------------------------------------------------ list registers */

#define NW (VGIC_NIRQ / 64 + 1)

/* After an exit: everything in the list registers back into the bitmaps
 * (vgic_sync in vm.h skips this when there is nothing to do). */
void vgic_sync_slow(struct vgic *g, u32 me)
{
    struct vgic_cpu *c = &g->cpu[me];
    /* No maintenance interrupt while the list registers are empty. */
    sysreg_write(S3_4_C12_C11_0, ICH_HCR_EN);
    spin_lock(&g->lock);
    for (u32 used = c->lr_used, i; used; used &= ~(1u << i)) {
        i = (u32)__builtin_ctz(used);
        u64 lr = lr_read(i);
        u32 intid = (u32)lr & 0xffffffffu;
        lr_write(i, 0);
        if (intid >= VGIC_NIRQ)
            continue;
        bool pend = lr & LR_PENDING, act = lr & LR_ACTIVE;
        if (BIT(c->clr_pend, intid))
            pend = false;
        if (BIT(c->clr_act, intid))
            act = false;
        if (pend)
            SETB(c->pend, intid);
        if (act)
            SETB(c->act, intid);
    }
    c->lr_used = 0;
    for (u32 w = 0; w < NW; w++) {
        c->pend[w] &= ~c->clr_pend[w];
        c->act[w] &= ~c->clr_act[w];
        c->clr_pend[w] = 0;
        c->clr_act[w] = 0;
        c->lr_pend[w] = 0;
        c->lr_act[w] = 0;
    }
    /* Level-sensitive virtual device lines are sampled again. */
    for (u32 w = 0; w < NW; w++)
        for (u64 m = g->line[w], b; m; m &= ~(1ULL << b)) {
            b = (u64)__builtin_ctzll(m);
            u32 i = w * 64 + (u32)b;
            if (i >= 32 && i < VGIC_NIRQ && spi_target(g, i) == me && !BIT(c->act, i))
                SETB(c->pend, i);
        }
    /* A forwarded interrupt that is neither pending nor active for the guest
     * any more (deactivated through the hardware bit, or cleared by a
     * register write): the physical interrupt must not stay active. */
    for (u32 w = 0; w < NW; w++)
        for (u64 m = c->hw_act[w] & ~(c->pend[w] | c->act[w]), b; m; m &= ~(1ULL << b)) {
            b = (u64)__builtin_ctzll(m);
            u32 i = w * 64 + (u32)b;
            if (i < 32)
                gic_deactivate(i);
            else
                gic_spi_deactivate(i);
            CLRB(c->hw_act, i);
        }
    spin_unlock(&g->lock);
}

/* Can interrupt i be loaded for vCPU me (pass 0: active ones; pass 1:
 * enabled pending ones)? */
static bool loadable(const struct vgic *g, const struct vgic_cpu *c, u32 me, u32 i, u32 pass)
{
    if (!is_private(i) && spi_target(g, i) != me)
        return false;
    if (pass == 0)
        return true;
    return enabled(g, c, i) && (g->ctlr & 2) && group1(g, c, i);
}

/* Before an entry: active interrupts, then the enabled pending ones by
 * priority, into the list registers (vgic_flush in vm.h skips this when
 * nothing is pending or active). */
void vgic_flush_slow(struct vgic *g, u32 me)
{
    struct vgic_cpu *c = &g->cpu[me];
    u32 n = lr_count(), used = 0;
    bool more = false, pend_only = false;
    spin_lock(&g->lock);
    for (u32 pass = 0; pass < 2 && !more; pass++) {
        for (;;) {
            u32 best = VGIC_NIRQ;
            for (u32 w = 0; w < NW; w++) {
                u64 m = pass == 0 ? c->act[w] : c->pend[w] & ~c->act[w];
                for (u64 b; m; m &= ~(1ULL << b)) {
                    b = (u64)__builtin_ctzll(m);
                    u32 i = w * 64 + (u32)b;
                    if (i >= VGIC_NIRQ || !loadable(g, c, me, i, pass))
                        continue;
                    if (best == VGIC_NIRQ || prio_of(g, c, i) < prio_of(g, c, best))
                        best = i;
                }
            }
            if (best == VGIC_NIRQ)
                break;
            if (used == n) {
                more = true;
                break;
            }
            u64 lr = (u64)best | (u64)prio_of(g, c, best) << 48 | LR_GROUP1;
            if (BIT(c->pend, best)) {
                lr |= LR_PENDING;
                SETB(c->lr_pend, best);
            }
            if (BIT(c->act, best)) {
                lr |= LR_ACTIVE;
                SETB(c->lr_act, best);
            } else {
                pend_only = true; /* an LR in the pending state (not pending and active) */
            }
            if (BIT(c->hw_act, best))
                lr |= LR_HW | (u64)best << 32;
            else if (level_sensitive(g, c, best) && !is_private(best))
                lr |= LR_EOI;
            CLRB(c->pend, best);
            CLRB(c->act, best);
            lr_write(used, lr);
            c->lr_used |= 1u << used;
            used++;
        }
    }
    spin_unlock(&g->lock);
    /* More to load: NPIE once the pending ones were taken; if every loaded
     * one is active, UIE once they were deactivated (NPIE would be
     * asserted at once, an endless exit loop: found by arm64-vm-fuzz-gic). */
    u64 mi = !more ? 0 : pend_only ? ICH_HCR_NPIE : n > 1 ? ICH_HCR_UIE : 0;
    sysreg_write(S3_4_C12_C11_0, ICH_HCR_EN | mi);
    c->hcr_more = more;
    isb();
}

/* Something the vCPU would take is pending (for WFI): enabled, group 1 on,
 * and above the virtual priority mask. Called after vgic_sync. */
bool vgic_pending(struct vgic *g, u32 me)
{
    struct vgic_cpu *c = &g->cpu[me];
    u64 vmcr = sysreg_read(S3_4_C12_C11_7);
    u32 pmr = (u32)(vmcr >> 24) & 0xff;
    bool r = false;
    spin_lock(&g->lock);
    for (u32 i = 0; i < VGIC_NIRQ && !r; i++)
        if (BIT(c->pend, i) && !BIT(c->act, i) && (is_private(i) || spi_target(g, i) == me) &&
            enabled(g, c, i) && (g->ctlr & 2) && group1(g, c, i) && prio_of(g, c, i) < pmr)
            r = true;
    spin_unlock(&g->lock);
    return r;
}

/* The physical timer interrupt arrived (acknowledged, priority dropped,
 * still active): make the guest's PPI 27 pending. */
void vgic_timer_fired(struct vgic *g, u32 me)
{
    struct vgic_cpu *c = &g->cpu[me];
    spin_lock(&g->lock);
    SETB(c->pend, GIC_VTIMER_PPI);
    SETB(c->hw_act, GIC_VTIMER_PPI);
    c->timer_irqs++;
    spin_unlock(&g->lock);
}

bool vgic_is_hw_spi(const struct vgic *g, u32 intid)
{
    return intid >= 32 && intid < VGIC_NIRQ && BIT(g->hw_spi, intid);
}

/* A pass-through SPI arrived on this CPU (acknowledged, priority dropped,
 * still active): pending on the vCPU the guest routes it to, forwarded
 * with the hardware bit so the guest's deactivation deactivates it. */
void vgic_hw_fired(struct vgic *g, u32 me, u32 intid)
{
    spin_lock(&g->lock);
    u32 t = spi_target(g, intid);
    set_pending_locked(g, t, intid, me);
    SETB(g->cpu[t].hw_act, intid);
    send_kicks_locked(g);
    spin_unlock(&g->lock);
}

/* An edge of SPI intid (a doorbell), raised by vCPU me of the partition:
 * pending on the vCPU it is routed to, which is kicked when it is not me.
 * Raising a pending interrupt again changes nothing. */
void vgic_raise(struct vgic *g, u32 intid, u32 me)
{
    if (intid < 32 || intid >= VGIC_NIRQ)
        return;
    spin_lock(&g->lock);
    set_pending_locked(g, spi_target(g, intid), intid, me);
    send_kicks_locked(g);
    spin_unlock(&g->lock);
}

/* The vCPU SPI intid is routed to, read without the lock from another
 * partition's CPU (only to choose which CPU to wake): below nvcpus. */
u32 vgic_spi_vcpu(const struct vgic *g, u32 intid, u32 nvcpus)
{
    if (intid < 32 || intid >= VGIC_NIRQ)
        return 0;
    u64 r = __atomic_load_n(&g->route[intid], __ATOMIC_RELAXED);
    u32 t = (u32)(r & 0xff);
    return (r & (1ULL << 31)) || (r & 0xff00ffff00ULL) || t >= nvcpus ? 0 : t;
}

/* A virtual device's level-sensitive SPI line (called under the device's
 * lock). */
void vgic_set_line(struct vgic *g, u32 intid, bool high, u32 me)
{
    if (intid < 32 || intid >= VGIC_NIRQ)
        return;
    /* The device's own lock serializes its line changes: unchanged is the
     * common case and needs no vGIC lock. */
    if ((bool)BIT(g->line, intid) == high)
        return;
    spin_lock(&g->lock);
    bool was = BIT(g->line, intid);
    u32 t = spi_target(g, intid);
    if (high && !was) {
        SETB(g->line, intid);
        set_pending_locked(g, t, intid, me);
    } else if (!high && was) {
        CLRB(g->line, intid);
        clear_pending_locked(g, t, intid, me);
    }
    send_kicks_locked(g);
    spin_unlock(&g->lock);
}

/* ------------------------------------------------------------ SGIs */

/* A trapped write of ICC_SGI1R_EL1 / ICC_ASGI1R_EL1 / ICC_SGI0R_EL1 from
 * vCPU me: the guest's MPIDRs have Aff0 = vCPU index and nothing above, so
 * only targets with Aff3..Aff1 = 0 and RS = 0 exist; others are ignored as
 * the architecture says for absent PEs. */
void vgic_sgi(struct vgic *g, u32 me, u64 val, bool group0)
{
    u32 intid = (u32)(val >> 24) & 0xf;
    bool irm = val & (1ULL << 40);
    u16 list = (u16)(val & 0xffff);
    bool aff_zero = !(val & 0x00ff00ff00ff0000ULL) && !((val >> 44) & 0xf);
    spin_lock(&g->lock);
    for (u32 t = 0; t < g->nvcpus; t++) {
        bool hit = irm ? t != me : aff_zero && t < 16 && ((list >> t) & 1);
        if (!hit)
            continue;
        /* Only an SGI configured in the group the register generates. */
        if (group1(g, &g->cpu[t], intid) == group0)
            continue;
        set_pending_locked(g, t, intid, me);
        g->cpu[t].sgis_received++;
    }
    send_kicks_locked(g);
    spin_unlock(&g->lock);
}

/* ------------------------------------------------------------ MMIO */

/* One bit per interrupt registers (IGROUPR, IS/ICENABLER, IS/ICPENDR,
 * IS/ICACTIVER) for interrupts base..base+31 as vCPU me sees them on the
 * frame of vCPU rd (private interrupts) or the distributor (SPIs). */
static u32 bits_read(struct vgic *g, u32 reg, u32 base, u32 rd)
{
    struct vgic_cpu *c = &g->cpu[rd];
    u32 v = 0;
    for (u32 b = 0; b < 32; b++) {
        u32 i = base + b;
        if (i >= VGIC_NIRQ)
            break;
        bool on = false;
        switch (reg) {
        case GICD_IGROUPR: on = group1(g, c, i); break;
        case GICD_ISENABLER:
        case GICD_ICENABLER: on = enabled(g, c, i); break;
        case GICD_ISPENDR:
        case GICD_ICPENDR: {
            struct vgic_cpu *o = is_private(i) ? c : &g->cpu[spi_target(g, i)];
            on = (BIT(o->pend, i) || BIT(o->lr_pend, i)) && !BIT(o->clr_pend, i);
            break;
        }
        case GICD_ISACTIVER:
        case GICD_ICACTIVER: {
            struct vgic_cpu *o = is_private(i) ? c : &g->cpu[spi_target(g, i)];
            on = (BIT(o->act, i) || BIT(o->lr_act, i)) && !BIT(o->clr_act, i);
            break;
        }
        }
        v |= (u32)on << b;
    }
    return v;
}

static void bits_write(struct vgic *g, u32 reg, u32 base, u32 rd, u32 me, u32 val)
{
    struct vgic_cpu *c = &g->cpu[rd];
    for (u32 b = 0; b < 32; b++) {
        u32 i = base + b;
        if (i >= VGIC_NIRQ)
            break;
        bool bit = (val >> b) & 1;
        if (reg == GICD_IGROUPR) {
            if (is_private(i))
                c->group = (c->group & ~(1u << i)) | (u32)bit << i;
            else if (bit)
                SETB(g->group, i);
            else
                CLRB(g->group, i);
            continue;
        }
        if (!bit)
            continue;
        u32 o = is_private(i) ? rd : spi_target(g, i);
        struct vgic_cpu *oc = &g->cpu[o];
        switch (reg) {
        case GICD_ISENABLER:
            if (is_private(i))
                c->enabled |= 1u << i;
            else
                SETB(g->enabled, i);
            if (o != me)
                oc->kick = true;
            break;
        case GICD_ICENABLER:
            if (is_private(i))
                c->enabled &= ~(1u << i);
            else
                CLRB(g->enabled, i);
            break;
        case GICD_ISPENDR:
            set_pending_locked(g, o, i, me);
            break;
        case GICD_ICPENDR:
            clear_pending_locked(g, o, i, me);
            break;
        case GICD_ISACTIVER:
            SETB(oc->act, i);
            CLRB(oc->clr_act, i);
            if (o != me)
                oc->kick = true;
            break;
        case GICD_ICACTIVER:
            CLRB(oc->act, i);
            if (o != me) {
                SETB(oc->clr_act, i);
                oc->kick = true;
            }
            break;
        }
    }
}

/* Registers shared by the distributor (SPIs) and the SGI frame (private
 * interrupts): offsets of the distributor layout, base = first INTID of the
 * word. Returns false for offsets outside these arrays. */
static bool irq_regs(struct vgic *g, u32 off, u32 size, bool write, u64 *val, u32 rd, u32 me,
                     bool dist)
{
    u32 limit = dist ? VGIC_NIRQ : 32;
    if (off >= GICD_IGROUPR && off < GICD_IPRIORITYR) {
        u32 reg = off & ~0x7fu, base = (off & 0x7f) * 8;
        if (size != 4)
            return true;
        if (base >= limit || (dist && base < 32)) {
            if (!write)
                *val = 0;
            return true;
        }
        if (write)
            bits_write(g, reg, base, rd, me, (u32)*val);
        else
            *val = bits_read(g, reg, base, rd);
        return true;
    }
    if (off >= GICD_IPRIORITYR && off < GICD_IPRIORITYR + 1024) {
        u32 first = off - GICD_IPRIORITYR;
        u64 v = write ? *val : 0;
        for (u32 b = 0; b < size && b < 8; b++) {
            u32 i = first + b;
            bool ok = i < limit && !(dist && i < 32);
            u8 *slot = is_private(i) ? &g->cpu[rd].prio[i] : ok ? &g->prio[i] : NULL;
            if (!ok || !slot)
                continue;
            if (write)
                *slot = (u8)(v >> (8 * b)) & 0xf8; /* 5 priority bits, as the CPU interface */
            else
                v |= (u64)*slot << (8 * b);
        }
        if (!write)
            *val = v;
        return true;
    }
    if (off >= GICD_ICFGR && off < GICD_ICFGR + 0x100) {
        u32 n = (off - GICD_ICFGR) / 4;
        if (size != 4) {
            if (!write)
                *val = 0;
            return true;
        }
        if (!dist) {
            if (n == 0) {
                if (!write)
                    *val = 0xaaaaaaaau; /* SGIs: edge, fixed */
            } else if (n == 1) {
                if (write)
                    g->cpu[rd].icfgr1 = (u32)*val & 0xaaaaaaaau;
                else
                    *val = g->cpu[rd].icfgr1;
            } else if (!write) {
                *val = 0;
            }
            return true;
        }
        if (n < 2 || n >= VGIC_NIRQ / 16) {
            if (!write)
                *val = 0;
            return true;
        }
        if (write)
            g->icfgr[n] = (u32)*val & 0xaaaaaaaau;
        else
            *val = g->icfgr[n];
        return true;
    }
    return false;
}

static u64 dist_access(struct vgic *g, u32 me, u32 off, u32 size, bool write, u64 val)
{
    u64 r = 0;
    if (irq_regs(g, off, size, write, write ? &val : &r, me, me, true))
        return r;
    if (off >= GICD_IROUTER + 8 * 32 && off < GICD_IROUTER + 8 * VGIC_NIRQ) {
        u32 i = (off - GICD_IROUTER) / 8;
        u64 mask = 0xff00ffffffULL | (1ULL << 31);
        bool hi = off & 4;
        if (size == 8 && !hi) {
            if (write)
                g->route[i] = val & mask;
            else
                r = g->route[i];
        } else if (size == 4) {
            u32 sh = hi ? 32 : 0;
            if (write)
                g->route[i] = ((g->route[i] & ~(0xffffffffULL << sh)) | (val & 0xffffffffULL) << sh) &
                              mask;
            else
                r = (g->route[i] >> sh) & 0xffffffffULL;
        }
        /* A pass-through SPI follows: the physical one goes to the CPU of
         * the vCPU the guest names. */
        if (write && vgic_is_hw_spi(g, i))
            gic_spi_route(i, g->pcpu[spi_target(g, i)]);
        return r;
    }
    if (size != 4)
        return 0;
    switch (off) {
    case GICD_CTLR:
        /* DS (6) and ARE (4) read as one: one security state, affinity
         * routing only. EnableGrp0 (0), EnableGrp1 (1) hold what is written. */
        if (write)
            g->ctlr = (u32)val & 3;
        return write ? 0 : (g->ctlr | 1u << 4 | 1u << 6);
    case GICD_TYPER:
        /* ITLinesNumber, IDbits = 9 (10 bits), No1N (25); no LPIs, no MBIs. */
        return (VGIC_NIRQ / 32 - 1) | 9u << 19 | 1u << 25 |
               (u32)((g->nvcpus - 1) & 7) << 5;
    case GICD_IIDR:
        return IIDR_VALUE;
    case GICD_PIDR2:
        return PIDR2_GICV3;
    default:
        return 0;
    }
}

static u64 redist_access(struct vgic *g, u32 me, u32 rd, u32 off, u32 size, bool write,
                         u64 val)
{
    struct vgic_cpu *c = &g->cpu[rd];
    u64 r = 0;
    if (off >= GICR_SGI) {
        irq_regs(g, off - GICR_SGI, size, write, write ? &val : &r, rd, me, false);
        return r;
    }
    if (off == GICR_TYPER || off == GICR_TYPER + 4) {
        /* Processor_Number = vCPU index, Affinity_Value = its MPIDR (Aff0 =
         * index), Last on the last frame; no LPIs. */
        u64 typer = (u64)rd << 32 | (u64)rd << 8 | (rd == g->nvcpus - 1 ? 1u << 4 : 0);
        if (write)
            return 0;
        if (size == 8 && off == GICR_TYPER)
            return typer;
        return size == 4 ? (typer >> (off == GICR_TYPER ? 0 : 32)) & 0xffffffffULL : 0;
    }
    if (size != 4)
        return 0;
    switch (off) {
    case GICR_CTLR:
        return 0; /* no LPIs; writes ignored */
    case GICR_IIDR:
        return IIDR_VALUE;
    case GICR_WAKER:
        if (write) {
            /* ChildrenAsleep follows ProcessorSleep at once. */
            c->waker = (val & 2) ? 6 : 0;
            return 0;
        }
        return c->waker;
    case GICR_PIDR2:
        return PIDR2_GICV3;
    default:
        return 0;
    }
}

bool vgic_owns(const struct vgic *g, u64 ipa)
{
    return (ipa >= VGICD_GPA && ipa < VGICD_GPA + VGICD_SIZE) ||
           (ipa >= VGICR_GPA && ipa < VGICR_GPA + (u64)g->nvcpus * VGICR_STRIDE);
}

u64 vgic_mmio(struct vgic *g, u32 me, u64 ipa, u32 size, bool write, u64 val)
{
    u64 r;
    /* Unaligned accesses: read as zero, ignored. */
    if (ipa & (size - 1))
        return 0;
    spin_lock(&g->lock);
    if (ipa >= VGICD_GPA && ipa < VGICD_GPA + VGICD_SIZE) {
        r = dist_access(g, me, (u32)(ipa - VGICD_GPA), size, write, val);
    } else {
        u64 off = ipa - VGICR_GPA;
        u32 rd = (u32)(off / VGICR_STRIDE);
        r = redist_access(g, me, rd, (u32)(off % VGICR_STRIDE), size, write, val);
    }
    send_kicks_locked(g);
    spin_unlock(&g->lock);
    return write ? 0 : r;
}
