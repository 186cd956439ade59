/* Virtual local APIC: register model and timer (see vlapic.h). Register
 * offsets, bit positions and reset values are from the Intel SDM vol. 3,
 * chapter 11 (xAPIC) and 11.12 (x2APIC). */
#include "vlapic.h"
#include "x86.h"
#include "../../hv/string.h"

#define R_ID 0x20
#define R_VER 0x30
#define R_TPR 0x80
#define R_APR 0x90
#define R_PPR 0xa0
#define R_EOI 0xb0
#define R_RRD 0xc0
#define R_LDR 0xd0
#define R_DFR 0xe0
#define R_SVR 0xf0
#define R_ISR 0x100
#define R_TMR 0x180
#define R_IRR 0x200
#define R_ESR 0x280
#define R_CMCI 0x2f0
#define R_ICR_LO 0x300
#define R_ICR_HI 0x310
#define R_LVT_TIMER 0x320
#define R_LVT_ERROR 0x370
#define R_TIMER_INIT 0x380
#define R_TIMER_CUR 0x390
#define R_TIMER_DCR 0x3e0
#define R_SELF_IPI 0x3f0 /* x2APIC only */

#define LVT_MASKED (1u << 16)
#define TIMER_MODE(lvt) (((lvt) >> 17) & 3)
#define TIMER_ONESHOT 0
#define TIMER_PERIODIC 1
#define TIMER_DEADLINE 2

/* Version 0x14 (integrated APIC), max LVT entry 6 (CMCI included). */
#define APIC_VERSION 0x00060014u

/* Writable bits of each LVT entry. */
static u32 lvt_writable(u32 i)
{
    switch (i) {
    case LVT_TIMER: return 0xff | LVT_MASKED | (3u << 17);
    case LVT_LINT0:
    case LVT_LINT1: return 0xff | (7u << 8) | (1u << 13) | (1u << 15) | LVT_MASKED;
    case LVT_ERROR: return 0xff | LVT_MASKED;
    default: return 0xff | (7u << 8) | LVT_MASKED; /* thermal, perf, CMCI */
    }
}

void vlapic_reset(struct vlapic *l, u32 id, bool bsp)
{
    memset(l, 0, sizeof(*l));
    l->id = id;
    l->base = APIC_DEFAULT_BASE | APIC_BASE_ENABLE | (bsp ? APIC_BASE_BSP : 0);
    l->dfr = 0xffffffffu;
    l->svr = 0xff;
    for (u32 i = 0; i < LVT_N; i++)
        l->lvt[i] = LVT_MASKED;
}

/* Reset of the registers on a software disable or INIT keeps ID and base. */
static void soft_reset(struct vlapic *l)
{
    u64 base = l->base;
    u32 id = l->id;
    vlapic_reset(l, id, false);
    l->base = base;
}

static int highest(const u32 *bits)
{
    for (int w = 7; w >= 0; w--) {
        u32 x = __atomic_load_n(&bits[w], __ATOMIC_ACQUIRE);
        if (x)
            return w * 32 + 31 - __builtin_clz(x);
    }
    return -1;
}

static u32 ppr(const struct vlapic *l)
{
    int isrv = highest(l->isr);
    u32 isr_class = isrv < 0 ? 0 : (u32)isrv & 0xf0;
    return (l->tpr & 0xf0) >= isr_class ? l->tpr & 0xff : isr_class;
}

int vlapic_pending(struct vlapic *l)
{
    if (!(l->base & APIC_BASE_ENABLE))
        return -1;
    int v = highest(l->irr);
    if (v < 0 || ((u32)v & 0xf0) <= (ppr(l) & 0xf0))
        return -1;
    return v;
}

bool vlapic_irr_any(struct vlapic *l)
{
    return highest(l->irr) >= 0;
}

void vlapic_accept(struct vlapic *l, u32 vec)
{
    __atomic_fetch_and(&l->irr[vec / 32], ~(1u << (vec % 32)), __ATOMIC_ACQ_REL);
    l->isr[vec / 32] |= 1u << (vec % 32);
}

void vlapic_post(struct vlapic *l, u32 vec)
{
    vlapic_post_trig(l, vec, false);
}

void vlapic_post_trig(struct vlapic *l, u32 vec, bool level)
{
    vec &= 0xff;
    if (vec < 16) {
        /* received illegal vector; the sender may be another vCPU */
        __atomic_fetch_or(&l->esr, 1u << 6, __ATOMIC_RELAXED);
        return;
    }
    /* TMR before IRR: the vector is never taken with a stale trigger mode. */
    if (level)
        __atomic_fetch_or(&l->tmr[vec / 32], 1u << (vec % 32), __ATOMIC_ACQ_REL);
    else
        __atomic_fetch_and(&l->tmr[vec / 32], ~(1u << (vec % 32)), __ATOMIC_ACQ_REL);
    __atomic_fetch_or(&l->irr[vec / 32], 1u << (vec % 32), __ATOMIC_ACQ_REL);
}

/* EOI of the highest in-service vector; a level-triggered one (TMR) is
 * broadcast to the partition's I/O APIC (SDM 11.8.5). */
static void eoi(struct vlapic *l)
{
    int v = highest(l->isr);
    if (v < 0)
        return;
    l->isr[v / 32] &= ~(1u << (v % 32));
    if (__atomic_load_n(&l->tmr[v / 32], __ATOMIC_ACQUIRE) & (1u << (v % 32)))
        x86_vlapic_eoi_level(l, (u32)v);
}

static u32 divisor(const struct vlapic *l)
{
    u32 d = ((l->timer_dcr & 8) >> 1) | (l->timer_dcr & 3);
    return d == 7 ? 1 : 2u << d;
}

/* The shortest period of a periodic timer: 100 us. A period shorter than
 * the round trip of an exit made every entry end at once in a
 * preemption-timer exit, and the vCPU never ran another instruction (an
 * initial count of 1 at divide-by-1 did it; found by x86-vmx-fuzz-apic).
 * Linux programs no periodic LAPIC timer faster than 1 kHz. */
#define TIMER_MIN_PERIOD_US 100

static void timer_arm_count(struct vlapic *l)
{
    l->timer_deadline = 0;
    l->timer_period = 0;
    if (TIMER_MODE(l->lvt[LVT_TIMER]) == TIMER_DEADLINE || !l->timer_init)
        return;
    l->timer_period = (u64)l->timer_init * divisor(l);
    u64 min = x86_tsc_khz() * TIMER_MIN_PERIOD_US / 1000;
    if (TIMER_MODE(l->lvt[LVT_TIMER]) == TIMER_PERIODIC && l->timer_period < min)
        l->timer_period = min;
    l->timer_deadline = rdtsc() + l->timer_period;
}

static u32 timer_current(const struct vlapic *l)
{
    if (!l->timer_deadline || TIMER_MODE(l->lvt[LVT_TIMER]) == TIMER_DEADLINE)
        return 0;
    u64 now = rdtsc();
    if (now >= l->timer_deadline)
        return 0;
    u64 left = (l->timer_deadline - now) / divisor(l);
    return left > l->timer_init ? l->timer_init : (u32)left; /* a stretched period */
}

void vlapic_timer_check(struct vlapic *l, u64 now)
{
    if (!l->timer_deadline || now < l->timer_deadline)
        return;
    u32 lvt = l->lvt[LVT_TIMER];
    if (!(lvt & LVT_MASKED) && (l->svr & 0x100))
        vlapic_post(l, lvt & 0xff);
    l->timer_fired++;
    if (TIMER_MODE(lvt) == TIMER_PERIODIC && l->timer_period) {
        u64 late = now - l->timer_deadline;
        l->timer_deadline = now + l->timer_period - late % l->timer_period;
    } else {
        l->timer_deadline = 0;
        if (TIMER_MODE(lvt) == TIMER_DEADLINE)
            l->tsc_deadline = 0;
    }
}

static void lvt_write(struct vlapic *l, u32 i, u32 val)
{
    u32 v = val & lvt_writable(i);
    if (!(l->svr & 0x100))
        v |= LVT_MASKED; /* software-disabled: entries stay masked */
    if (i == LVT_TIMER && TIMER_MODE(v) != TIMER_MODE(l->lvt[i])) {
        /* A mode change stops the timer (SDM 11.5.4.1). */
        l->timer_deadline = 0;
        l->timer_init = 0;
        l->tsc_deadline = 0;
    }
    l->lvt[i] = v;
}

static void icr_send(struct vlapic *l, u32 lo, u32 dest)
{
    l->icr_lo = lo & ~(1u << 12); /* delivery status: always idle */
    x86_vlapic_send(l, dest, lo);
}

bool vlapic_match(const struct vlapic *l, u32 dest, bool logical, bool x2apic)
{
    if (x2apic) {
        if (!logical)
            return dest == 0xffffffffu || dest == l->id;
        if (dest == 0xffffffffu)
            return true;
        u32 ldr = ((l->id >> 4) << 16) | (1u << (l->id & 15));
        return (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xffff);
    }
    dest &= 0xff;
    if (!logical)
        return dest == 0xff || dest == (l->id & 0xff);
    if (dest == 0xff)
        return true;
    u32 ldr = l->ldr >> 24;
    if ((l->dfr >> 28) == 0xf) /* flat model */
        return (dest & ldr) != 0;
    /* cluster model: high nibble the cluster, low nibble a bitmap */
    return (dest >> 4) == (ldr >> 4) && (dest & ldr & 15);
}

/* Reads common to both modes (offset in the xAPIC page). */
static bool reg_read(struct vlapic *l, u32 off, u64 *val, bool x2)
{
    switch (off) {
    case R_ID: *val = x2 ? l->id : l->id << 24; return true;
    case R_VER: *val = APIC_VERSION; return true;
    case R_TPR: *val = l->tpr; return true;
    case R_APR: *val = 0; return true;
    case R_PPR: *val = ppr(l); return true;
    case R_LDR: *val = x2 ? ((l->id >> 4) << 16) | (1u << (l->id & 15)) : l->ldr; return true;
    case R_DFR:
        if (x2)
            return false;
        *val = l->dfr;
        return true;
    case R_SVR: *val = l->svr; return true;
    case R_ESR: *val = __atomic_load_n(&l->esr, __ATOMIC_RELAXED); return true;
    case R_CMCI: *val = l->lvt[LVT_CMCI]; return true;
    case R_ICR_LO:
        *val = x2 ? ((u64)l->icr_hi << 32) | l->icr_lo : l->icr_lo;
        return true;
    case R_ICR_HI:
        if (x2)
            return false;
        *val = l->icr_hi;
        return true;
    case R_TIMER_INIT: *val = l->timer_init; return true;
    case R_TIMER_CUR: *val = timer_current(l); return true;
    case R_TIMER_DCR: *val = l->timer_dcr; return true;
    case R_EOI:
    case R_SELF_IPI:
        if (x2)
            return false; /* write-only in x2APIC mode */
        *val = 0;
        return true;
    default:
        break;
    }
    if (off >= R_ISR && off < R_ISR + 0x80) {
        *val = l->isr[(off - R_ISR) >> 4];
        return true;
    }
    if (off >= R_TMR && off < R_TMR + 0x80) {
        *val = l->tmr[(off - R_TMR) >> 4];
        return true;
    }
    if (off >= R_IRR && off < R_IRR + 0x80) {
        *val = __atomic_load_n(&l->irr[(off - R_IRR) >> 4], __ATOMIC_ACQUIRE);
        return true;
    }
    if (off >= R_LVT_TIMER && off <= R_LVT_ERROR) {
        *val = l->lvt[LVT_TIMER + ((off - R_LVT_TIMER) >> 4)];
        return true;
    }
    if (off == R_RRD && !x2) {
        *val = 0;
        return true;
    }
    return !x2 && ((*val = 0), true); /* xAPIC: reserved offsets read 0 */
}

static bool reg_write(struct vlapic *l, u32 off, u64 val, bool x2)
{
    u32 v = (u32)val;
    switch (off) {
    case R_ID:
        if (x2)
            return false;
        return true; /* read-only here: the ID matches the MADT */
    case R_TPR: l->tpr = v & 0xff; return true;
    case R_EOI:
        if (x2 && v)
            return false;
        eoi(l);
        return true;
    case R_LDR:
        if (x2)
            return false;
        l->ldr = v & 0xff000000u;
        return true;
    case R_DFR:
        if (x2)
            return false;
        l->dfr = v | 0x0fffffffu;
        return true;
    case R_SVR:
        l->svr = v & 0x13ff;
        if (!(v & 0x100)) {
            for (u32 i = 0; i < LVT_N; i++)
                l->lvt[i] |= LVT_MASKED;
        }
        return true;
    case R_ESR:
        if (x2 && v)
            return false;
        __atomic_store_n(&l->esr, 0, __ATOMIC_RELAXED);
        return true;
    case R_CMCI: lvt_write(l, LVT_CMCI, v); return true;
    case R_ICR_LO:
        if (x2) {
            l->icr_hi = (u32)(val >> 32);
            icr_send(l, v & 0x000cdfffu, (u32)(val >> 32));
        } else {
            icr_send(l, v & 0x000cdfffu, l->icr_hi >> 24);
        }
        return true;
    case R_ICR_HI:
        if (x2)
            return false;
        l->icr_hi = v & 0xff000000u;
        return true;
    case R_TIMER_INIT:
        if (TIMER_MODE(l->lvt[LVT_TIMER]) == TIMER_DEADLINE)
            return true; /* ignored in TSC-deadline mode */
        l->timer_init = v;
        timer_arm_count(l);
        return true;
    case R_TIMER_DCR: l->timer_dcr = v & 0xb; return true;
    case R_SELF_IPI:
        if (!x2)
            return true;
        vlapic_post(l, v & 0xff);
        return true;
    default:
        break;
    }
    if (off >= R_LVT_TIMER && off <= R_LVT_ERROR) {
        lvt_write(l, LVT_TIMER + ((off - R_LVT_TIMER) >> 4), v);
        return true;
    }
    /* Read-only and reserved registers: xAPIC ignores the write, x2APIC
     * raises #GP (SDM 11.12.1.2). */
    return !x2;
}

bool vlapic_mmio(struct vlapic *l, u32 off, bool write, u32 *val)
{
    if (off & 0xf)
        return false;
    if (!write) {
        u64 v = 0;
        reg_read(l, off, &v, false);
        *val = (u32)v;
        return true;
    }
    return reg_write(l, off, *val, false);
}

bool vlapic_owns_msr(u32 msr)
{
    return msr == MSR_APIC_BASE || msr == 0x6e0 || (msr >= 0x800 && msr <= 0x8ff);
}

bool vlapic_rdmsr(struct vlapic *l, u32 msr, u64 *val)
{
    if (msr == MSR_APIC_BASE) {
        *val = l->base;
        return true;
    }
    if (msr == 0x6e0) {
        *val = l->tsc_deadline;
        return true;
    }
    if (!vlapic_x2apic_mode(l))
        return false;
    return reg_read(l, (msr - 0x800) << 4, val, true);
}

bool vlapic_wrmsr(struct vlapic *l, u32 msr, u64 val)
{
    if (msr == MSR_APIC_BASE) {
        /* Reserved bits: 0-7, 9, and above the 36-bit physical width we
         * report; the BSP bit is read-only. Transitions per SDM 11.12.5:
         * x2APIC -> xAPIC directly and enabling x2APIC while disabled are
         * invalid. */
        if (val & (0xffULL | (1ULL << 9) | 0xfffffff000000000ULL))
            return false;
        u64 en = val & (APIC_BASE_ENABLE | APIC_BASE_X2APIC);
        u64 cur = l->base & (APIC_BASE_ENABLE | APIC_BASE_X2APIC);
        if (en == APIC_BASE_X2APIC)
            return false;
        if (cur == (APIC_BASE_ENABLE | APIC_BASE_X2APIC) && en == APIC_BASE_ENABLE)
            return false;
        val = (val & ~APIC_BASE_BSP) | (l->base & APIC_BASE_BSP);
        if (!(val & APIC_BASE_ENABLE)) {
            soft_reset(l);
            l->svr = 0xff;
        }
        l->base = val;
        return true;
    }
    if (msr == 0x6e0) {
        l->tsc_deadline = val;
        if (TIMER_MODE(l->lvt[LVT_TIMER]) == TIMER_DEADLINE)
            l->timer_deadline = val; /* 0 disarms; a past value fires at once */
        return true;
    }
    if (!vlapic_x2apic_mode(l))
        return false;
    return reg_write(l, (msr - 0x800) << 4, val, true);
}
