/* Virtual local APIC of one x86 vCPU (Intel SDM vol. 3, chapter 11): the
 * IA32_APIC_BASE MSR, the xAPIC register page (trapped through EPT and
 * emulated by vlapic_mmio) and the x2APIC MSRs 0x800-0x8ff; ID, version,
 * TPR/PPR, EOI, ISR/IRR/TMR, ICR, LVT and the timer in one-shot, periodic
 * and TSC-deadline modes. Time is the TSC; the timer counts at the TSC rate
 * divided by the divide configuration (so the APIC "bus" frequency is the
 * TSC frequency, reported in CPUID leaf 0x40000010); a periodic timer's
 * period is at least 100 us.
 *
 * Only the vCPU's own CPU touches its vlapic, except vlapic_post() (IRR
 * and TMR bits, from any CPU of the partition) and the INIT/SIPI/NMI requests,
 * which use atomics; the sender then kicks the target CPU. */
#ifndef BULKHEAD_VLAPIC_H
#define BULKHEAD_VLAPIC_H

#include "../../hv/types.h"
#include "x86.h"

#define APIC_DEFAULT_BASE 0xfee00000ULL
#define APIC_BASE_BSP (1ULL << 8)
#define APIC_BASE_X2APIC (1ULL << 10)
#define APIC_BASE_ENABLE (1ULL << 11)

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_CMCI, LVT_N };

struct vlapic {
    u32 id;
    u64 base;          /* IA32_APIC_BASE */
    u32 tpr, ldr, dfr, svr, icr_hi;
    u32 esr;           /* atomic: an illegal vector is set by the sender */
    u32 icr_lo;
    u32 irr[8];        /* set by any CPU (atomic) */
    u32 isr[8], tmr[8];
    u32 lvt[LVT_N];
    u32 timer_init, timer_dcr;
    u64 timer_deadline; /* TSC at which the timer fires; 0 = not armed */
    u64 timer_period;   /* TSC ticks per period (one-shot/periodic) */
    u64 tsc_deadline;   /* IA32_TSC_DEADLINE as the guest wrote it */
    u32 nmi_pending;    /* atomic */
    u32 init_pending;   /* atomic */
    u32 sipi;           /* atomic: 0x100 | vector when a SIPI arrived */
    u64 timer_fired;    /* statistics */
};


/* Power-on / INIT state (SDM 11.4.7.1 / 10.4.7.3); bsp sets the BSP bit. */
void vlapic_reset(struct vlapic *l, u32 id, bool bsp);
static inline bool vlapic_xapic_mode(const struct vlapic *l)
{
    return (l->base & (APIC_BASE_ENABLE | APIC_BASE_X2APIC)) == APIC_BASE_ENABLE;
}
static inline bool vlapic_x2apic_mode(const struct vlapic *l)
{
    return (l->base & (APIC_BASE_ENABLE | APIC_BASE_X2APIC)) == (APIC_BASE_ENABLE | APIC_BASE_X2APIC);
}
static inline u64 vlapic_mmio_base(const struct vlapic *l) { return l->base & 0xffffff000ULL; }

/* An xAPIC register access at page offset off (32-bit, aligned). false:
 * the access is not allowed (the caller reports it). */
bool vlapic_mmio(struct vlapic *l, u32 off, bool write, u32 *val);
/* IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC MSRs. false = #GP. */
bool vlapic_rdmsr(struct vlapic *l, u32 msr, u64 *val);
bool vlapic_wrmsr(struct vlapic *l, u32 msr, u64 val);
/* Whether the MSR belongs to the local APIC (so the caller routes it here). */
bool vlapic_owns_msr(u32 msr);

/* Fire the timer if its time has come. */
void vlapic_timer_check(struct vlapic *l, u64 now);
/* TSC of the next timer event, 0 when none is armed. */
static inline u64 vlapic_next_event(const struct vlapic *l) { return l->timer_deadline; }

/* Highest vector that may be delivered now (above the PPR), or -1. */
int vlapic_pending(struct vlapic *l);
/* The vector was injected: IRR -> ISR. */
void vlapic_accept(struct vlapic *l, u32 vec);
/* Set a vector in the IRR (any CPU), edge-triggered. */
void vlapic_post(struct vlapic *l, u32 vec);
/* The same with the trigger mode: level sets the vector's TMR bit, and the
 * guest's EOI of it calls x86_vlapic_eoi_level (EOI broadcast). */
void vlapic_post_trig(struct vlapic *l, u32 vec, bool level);
bool vlapic_irr_any(struct vlapic *l);

/* Delivery of an IPI the guest sent through the ICR, implemented by the VMX
 * code (it knows the partition's other vCPUs): dest is the destination
 * field, shorthand bits 19:18, logical bit 11, mode bits 10:8. */
void x86_vlapic_send(struct vlapic *from, u32 dest, u32 icr_lo);
/* The guest EOIed a level-triggered vector (VMX code: to the partition's
 * virtual I/O APIC). */
void x86_vlapic_eoi_level(struct vlapic *l, u32 vec);
/* Match a destination against this local APIC. */
bool vlapic_match(const struct vlapic *l, u32 dest, bool logical, bool x2apic);

#endif
