/* fuzzgic: a hostile guest for the partition's virtual GICv3. A
 * deterministic PRNG (xorshift64, seed= on the command line) drives iters=
 * random operations per vCPU (progress=N prints where each vCPU is every N):
 *   - writes and reads of random widths (8/16/32/64 bit, plain and
 *     sign-extending loads) at random offsets of the distributor, of the
 *     redistributor frame (RD_base and SGI_base, implemented registers or
 *     not), and now and then just past the ends of the windows the device
 *     tree gives (outside-access = "abort" makes those an external abort
 *     here) or at a misaligned address (an alignment fault: the MMU is off,
 *     so every access is to Device memory);
 *   - random values written to ICC_SGI1R/ASGI1R/SGI0R (random target lists,
 *     affinities, IRM), to EOIR1/EOIR0/DIR (random INTIDs, mostly never
 *     activated), PMR, BPR0/1, IGRPEN0/1, CTLR; IAR1 reads (acknowledging
 *     whatever is pending, then an EOI of a random or of that INTID);
 *   - short windows with IRQs unmasked, and the virtual timer re-armed, so
 *     that whatever the random state makes deliverable is taken.
 * Both vCPUs (at most 2) fuzz at once, each with its own PRNG stream.
 * Every synchronous exception is counted by class and skipped (start.S).
 * Afterwards the GIC state is re-initialised and must still work: the
 * timer PPI 27 and an SGI to itself are taken on vCPU 0 and an SGI from
 * vCPU 0 on vCPU 1. Counts are printed.
 *
 * Run 1 (restarts == 0) with check_isv=1 first makes one access that has no
 * instruction syndrome (LDP from the distributor): the hypervisor cannot
 * emulate it and stops the partition with a precise message; the fault
 * policy restarts it, and the later runs skip that form. */
#include "guest.h"

#define GICD_SIZE 0x10000UL
#define GICR_FRAME 0x20000UL

#define MAXV 2

struct vstate {
    uint64_t rng;
    uint64_t irq_count[1024], irqs, spurious;
    uint64_t wr, rd, sys, iar, win, past_end;
    uint64_t exc_seen, align, abort, undef, other;
    uint32_t timer_armed;
    uint64_t pad[8]; /* the two vCPUs' hot counters not on one line */
};
static volatile struct vstate vs[MAXV];
static uint32_t nvcpus;
static uint64_t iters_per_vcpu, seed0, progress;
static volatile uint32_t fuzz_done[MAXV], reinit_done, v1_ready;

static uint32_t me(void)
{
    uint64_t m;
    __asm__ volatile("mrs %0, mpidr_el1" : "=r"(m));
    return (uint32_t)m & (MAXV - 1);
}

static uint64_t rnd(uint32_t v)
{
    uint64_t x = vs[v].rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    vs[v].rng = x;
    return x;
}

#define SYSREG_W(name, enc)                                                                   \
    static inline void name(uint64_t v)                                                       \
    {                                                                                         \
        __asm__ volatile("msr " enc ", %0; isb" ::"r"(v) : "memory");                        \
    }
#define SYSREG_R(name, enc)                                                                   \
    static inline uint64_t name(void)                                                         \
    {                                                                                         \
        uint64_t v;                                                                           \
        __asm__ volatile("mrs %0, " enc : "=r"(v)::"memory");                                 \
        return v;                                                                             \
    }
SYSREG_W(w_sgi1r, "S3_0_C12_C11_5")
SYSREG_W(w_asgi1r, "S3_0_C12_C11_6")
SYSREG_W(w_sgi0r, "S3_0_C12_C11_7")
SYSREG_W(w_eoir1, "S3_0_C12_C12_1")
SYSREG_W(w_eoir0, "S3_0_C12_C8_1")
SYSREG_W(w_dir, "S3_0_C12_C11_1")
SYSREG_W(w_pmr, "S3_0_C4_C6_0")
SYSREG_W(w_bpr1, "S3_0_C12_C12_3")
SYSREG_W(w_bpr0, "S3_0_C12_C8_3")
SYSREG_W(w_ctlr, "S3_0_C12_C12_4")
SYSREG_W(w_igrpen0, "S3_0_C12_C12_6")
SYSREG_W(w_igrpen1, "S3_0_C12_C12_7")
SYSREG_R(r_iar1, "S3_0_C12_C12_0")
SYSREG_R(r_ctlr, "S3_0_C12_C12_4")

/* Accesses of each width with plain register addressing (a syndrome). */
static void st8(uint64_t a, uint64_t v) { __asm__ volatile("strb %w0, [%1]" ::"r"(v), "r"(a) : "memory"); }
static void st16(uint64_t a, uint64_t v) { __asm__ volatile("strh %w0, [%1]" ::"r"(v), "r"(a) : "memory"); }
static void st32(uint64_t a, uint64_t v) { __asm__ volatile("str %w0, [%1]" ::"r"(v), "r"(a) : "memory"); }
static void st64(uint64_t a, uint64_t v) { __asm__ volatile("str %0, [%1]" ::"r"(v), "r"(a) : "memory"); }
static uint64_t ld(uint64_t a, uint32_t form)
{
    uint64_t v = 0;
    switch (form) {
    case 0: __asm__ volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(a) : "memory"); break;
    case 1: __asm__ volatile("ldrh %w0, [%1]" : "=r"(v) : "r"(a) : "memory"); break;
    case 2: __asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(a) : "memory"); break;
    case 3: __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(a) : "memory"); break;
    case 4: __asm__ volatile("ldrsb %0, [%1]" : "=r"(v) : "r"(a) : "memory"); break;
    case 5: __asm__ volatile("ldrsh %w0, [%1]" : "=r"(v) : "r"(a) : "memory"); break;
    default: __asm__ volatile("ldrsw %0, [%1]" : "=r"(v) : "r"(a) : "memory"); break;
    }
    return v;
}

static void timer_arm(uint64_t ticks)
{
    __asm__ volatile("msr cntv_cval_el0, %0; msr cntv_ctl_el0, %1; isb" ::"r"(counter() + ticks),
                     "r"((uint64_t)1)
                     : "memory");
    vs[me()].timer_armed = 1;
}

static void timer_off(void)
{
    __asm__ volatile("msr cntv_ctl_el0, %0; isb" ::"r"((uint64_t)0) : "memory");
    vs[me()].timer_armed = 0;
}

void irq_handler(void)
{
    volatile struct vstate *s = &vs[me()];
    uint32_t intid = (uint32_t)r_iar1() & 0xffffff;
    if (intid >= 1020) {
        s->spurious++;
        return;
    }
    s->irq_count[intid]++;
    s->irqs++;
    if (intid == 27)
        timer_off(); /* level-sensitive: silence it before the EOI */
    w_eoir1(intid);
    if (r_ctlr() & 2) /* EOImode set by the fuzzing: deactivation is separate */
        w_dir(intid);
}

/* A random address in or near the GIC windows, aligned to size unless
 * misalign: the distributor, a redistributor frame (half of the time in
 * the implemented registers), or just past the end of either window. */
static uint64_t gic_addr(uint32_t v, uint32_t size, bool misalign)
{
    uint64_t r = rnd(v), a;
    uint32_t k = (uint32_t)(r >> 60);
    if (k < 6) {
        uint64_t off = rnd(v) % GICD_SIZE;
        if (r & 1)
            off = (r & 2) ? off % 0x1000 : 0x6000 + off % 0x300;
        a = GICD_BASE + off;
    } else if (k < 15) {
        uint64_t off = rnd(v) % GICR_FRAME;
        if (r & 1)
            off = (off & 0x10000) | (off & 0xfff);
        a = GICR_BASE(rnd(v) % nvcpus) + off;
    } else {
        vs[v].past_end++;
        a = (r & 1) ? GICD_BASE + GICD_SIZE + (rnd(v) % 0x100)
                    : GICR_BASE(nvcpus) + (rnd(v) % 0x100);
    }
    a &= ~(uint64_t)(size - 1);
    if (misalign && size > 1)
        a += 1 + rnd(v) % (size - 1);
    return a;
}

/* The synchronous exceptions start.S counted for this vCPU, by class. */
static void classify_exceptions(uint32_t v)
{
    volatile struct vstate *s = &vs[v];
    while (s->exc_seen < vcpu_exc[v]) {
        s->exc_seen++;
        uint64_t esr = vcpu_esr[v], ec = esr >> 26, fsc = esr & 0x3f;
        if (ec == 0x25 && fsc == 0x21)
            s->align++;
        else if (ec == 0x25 && fsc == 0x10)
            s->abort++;
        else if (ec == 0x00)
            s->undef++;
        else
            s->other++;
    }
}

static void fuzz(uint32_t v, uint64_t iters)
{
    volatile struct vstate *s = &vs[v];
    for (uint64_t it = 0; it < iters; it++) {
        if (progress && it % progress == 0)
            gprintf("fuzzgic: vCPU %u: iteration %lu (rng %lx)\n", v, it, s->rng);
        uint64_t r = rnd(v);
        uint32_t op = (uint32_t)(r % 64);
        uint64_t val = rnd(v);
        /* values: fully random, small, or one bit */
        switch ((r >> 8) & 3) {
        case 0: val &= 0xff; break;
        case 1: val = 1ULL << (val & 63); break;
        default: break;
        }
        if (op < 24) { /* MMIO write */
            uint32_t form = (uint32_t)(r >> 16) & 3;
            uint64_t a = gic_addr(v, 1u << form, ((r >> 20) & 63) == 0);
            switch (form) {
            case 0: st8(a, val); break;
            case 1: st16(a, val); break;
            case 2: st32(a, val); break;
            default: st64(a, val); break;
            }
            s->wr++;
        } else if (op < 38) { /* MMIO read */
            uint32_t form = (uint32_t)((r >> 16) % 7);
            uint32_t size = form < 4 ? 1u << form : form == 4 ? 1 : form == 5 ? 2 : 4;
            (void)ld(gic_addr(v, size, ((r >> 20) & 63) == 0), form);
            s->rd++;
        } else if (op < 56) { /* trapped and virtual ICC_* registers */
            switch ((r >> 16) % 13) {
            case 0: case 1: case 2: w_sgi1r(rnd(v)); break;
            case 3: w_sgi1r((val & 0xf0000ffffULL) | (rnd(v) & (1ULL << 40))); break;
            case 4: w_asgi1r(rnd(v)); break;
            case 5: w_sgi0r(rnd(v)); break;
            case 6: w_eoir1(rnd(v) % 4 ? rnd(v) % 1024 : rnd(v)); break;
            case 7: w_dir(rnd(v) % 4 ? rnd(v) % 1024 : rnd(v)); break;
            case 8: w_pmr(val); break;
            case 9: /* BPR: bits 2:0 only (QEMU 7.2 does not mask the RES0 bits
                     * and then asserts on a VBPR1 of 0, aborting the emulator) */
                if (r & (1ULL << 32))
                    w_bpr1(val & 7);
                else
                    w_bpr0(val & 7);
                break;
            case 10: if (r & (1ULL << 32)) w_igrpen1(val); else w_igrpen0(val); break;
            case 11: w_ctlr(val); break;
            default: w_eoir0(rnd(v) % 1024); break;
            }
            s->sys++;
        } else if (op < 59) { /* acknowledge what is pending */
            uint32_t intid = (uint32_t)r_iar1() & 0xffffff;
            if (intid < 1020) {
                s->irq_count[intid]++;
                w_eoir1(r & (1ULL << 33) ? intid : rnd(v) % 1024);
                if (r & (1ULL << 34))
                    w_dir(intid);
            }
            s->iar++;
        } else if (op < 60) { /* make whatever is pending and enabled deliverable */
            mmio_w32(GICD_BASE, 2);
            w_pmr(0xff);
            w_igrpen1(1);
            w_ctlr(0);
        } else { /* a window with IRQs unmasked; the timer re-armed */
            if (!s->timer_armed)
                timer_arm(counter_freq() / 2000 + (rnd(v) % 64));
            irq_enable();
            for (uint32_t i = 0; i < 16; i++)
                __asm__ volatile("isb" ::: "memory");
            irq_disable();
            s->win++;
        }
        classify_exceptions(v);
    }
    irq_disable();
    classify_exceptions(v);
}

/* This vCPU's CPU interface back to a sane state: everything it
 * acknowledged and left active dropped, EOImode 0, PMR open, group 1 on. */
static void cpuif_reinit(uint32_t v)
{
    irq_disable();
    timer_off();
    w_ctlr(0);
    w_pmr(0);
    w_igrpen1(0);
    w_igrpen0(0);
    for (uint32_t i = 0; i < 40; i++) /* each EOI drops the highest active priority */
        w_eoir1(1019);
    for (uint32_t i = 0; i < 40; i++)
        w_eoir0(1019);
    gic_cpu_on(v, 1u << 7 | 1u << 8 | 1u << 27);
}

/* The distributor and every redistributor's interrupt state: disabled,
 * nothing pending or active, group 1, priority 0x80, SPIs to vCPU 0. */
static void dist_reinit(void)
{
    mmio_w32(GICD_BASE, 0);
    for (uint32_t v = 0; v < nvcpus; v++) {
        uint64_t sgi = GICR_SGI_BASE(v);
        mmio_w32(sgi + 0x180, ~0u);
        mmio_w32(sgi + 0x280, ~0u);
        mmio_w32(sgi + 0x380, ~0u);
        mmio_w32(sgi + 0xc04, 0);
    }
    for (uint32_t w = 1; w < 32; w++) {
        mmio_w32(GICD_BASE + 0x180 + 4 * w, ~0u);
        mmio_w32(GICD_BASE + 0x280 + 4 * w, ~0u);
        mmio_w32(GICD_BASE + 0x380 + 4 * w, ~0u);
        mmio_w32(GICD_BASE + 0x80 + 4 * w, ~0u);
    }
    for (uint32_t i = 32; i < 1020; i++) {
        mmio_w64(GICD_BASE + 0x6000 + 8 * i, 0);
        if (i % 4 == 0)
            mmio_w32(GICD_BASE + 0x400 + i, 0x80808080u);
    }
    gic_dist_on();
}

static void report(uint32_t v)
{
    volatile struct vstate *s = &vs[v];
    uint64_t distinct = 0;
    for (uint32_t i = 0; i < 1024; i++)
        distinct += s->irq_count[i] != 0;
    gprintf("fuzzgic: vCPU %u: %lu MMIO writes (%lu past the end), %lu MMIO reads, %lu ICC "
            "writes, %lu IAR reads, %lu IRQ windows\n",
            v, s->wr, s->past_end, s->rd, s->sys, s->iar, s->win);
    gprintf("fuzzgic: vCPU %u: exceptions: %lu alignment, %lu external abort, %lu undefined, "
            "%lu other\n",
            v, s->align, s->abort, s->undef, s->other);
    gprintf("fuzzgic: vCPU %u: %lu interrupts taken, %lu distinct INTIDs acknowledged, %lu "
            "spurious\n",
            v, s->irqs, distinct, s->spurious);
}

void secondary_main(uint64_t index)
{
    uint32_t v = (uint32_t)index & (MAXV - 1);
    set_vectors();
    vs[v].rng = seed0 * 2654435761u + v;
    gic_cpu_on(v, 0xffff | 1u << 27);
    fuzz(v, iters_per_vcpu);
    fuzz_done[v] = 1;
    while (!reinit_done)
        ;
    cpuif_reinit(v);
    irq_enable();
    v1_ready = 1;
    for (;;)
        __asm__ volatile("wfi" ::: "memory");
}

int guest_main(const void *dtb)
{
    const char *args = dt_bootargs(dtb);
    seed0 = cmdline_u64(args, "seed", 1);
    iters_per_vcpu = cmdline_u64(args, "iters", 10000);
    progress = cmdline_u64(args, "progress", 0);
    struct bh_part_info pi;
    part_info(&pi);
    nvcpus = dt_count_cpus(dtb);
    if (nvcpus > MAXV)
        nvcpus = MAXV;
    vs[0].rng = seed0 ? seed0 : 0x9e3779b97f4a7c15ULL;
    set_vectors();
    gprintf("fuzzgic: run %u, %u vCPU(s), seed %lu, %lu iterations each\n", pi.restarts + 1,
            nvcpus, seed0, iters_per_vcpu);
    if (cmdline_u64(args, "check_isv", 0) && pi.restarts == 0) {
        /* LDP has no instruction syndrome (ISV = 0): not emulated. */
        uint64_t a, b;
        println("fuzzgic: LDP from GICD_CTLR (no syndrome)");
        __asm__ volatile("ldp %0, %1, [%2]" : "=r"(a), "=r"(b) : "r"(GICD_BASE) : "memory");
        gprintf("fuzzgic: FAIL still running after LDP (%lx %lx)\n", a, b);
        return 1;
    }
    gic_dist_on();
    gic_cpu_on(0, 0xffff | 1u << 27);
    if (nvcpus > 1)
        hvc_call(PSCI_CPU_ON, 1, (uintptr_t)secondary_entry, 1, 0);
    fuzz(0, iters_per_vcpu);
    for (uint32_t v = 1; v < nvcpus; v++)
        while (!fuzz_done[v])
            ;
    for (uint32_t v = 0; v < nvcpus; v++)
        report(v);

    /* Re-initialise and prove it still works. */
    uint64_t exc0 = vcpu_exc[0] + vcpu_exc[1];
    dist_reinit();
    reinit_done = 1;
    cpuif_reinit(0);
    while (nvcpus > 1 && !v1_ready)
        ;
    volatile struct vstate *s = &vs[0];
    uint64_t t0 = s->irq_count[27], s0 = s->irq_count[7];
    uint32_t timer_ok = 0;
    irq_enable();
    for (uint32_t k = 0; k < 5; k++) {
        timer_arm(counter_freq() / 1000);
        uint64_t end = counter() + counter_freq();
        while (s->irq_count[27] == t0 + k && counter() < end)
            __asm__ volatile("wfi" ::: "memory");
        timer_ok += s->irq_count[27] == t0 + k + 1;
    }
    gic_send_sgi(7, 1u << 0);
    for (uint64_t end = counter() + counter_freq(); s->irq_count[7] == s0 && counter() < end;)
        __asm__ volatile("wfi" ::: "memory");
    uint64_t sgi_ok = s->irq_count[7] - s0, sgi1_ok = 1;
    if (nvcpus > 1) {
        uint64_t b0 = vs[1].irq_count[8];
        gic_send_sgi(8, 1u << 1);
        for (uint64_t end = counter() + counter_freq(); vs[1].irq_count[8] == b0 &&
                                                       counter() < end;)
            ;
        sgi1_ok = vs[1].irq_count[8] - b0;
    }
    irq_disable();
    uint64_t new_exc = vcpu_exc[0] + vcpu_exc[1] - exc0;
    gprintf("fuzzgic: after re-init: %u of 5 timer interrupts, SGI 7 to itself taken %lu "
            "time(s), SGI 8 to vCPU 1 taken %lu time(s), %lu new exceptions\n",
            timer_ok, sgi_ok, sgi1_ok, new_exc);
    bool ok = timer_ok == 5 && sgi_ok == 1 && sgi1_ok == 1 && new_exc == 0 && !vs[0].other &&
              !vs[1].other;
    gprintf("fuzzgic: %s the GIC works after the fuzzing\n", ok ? "ok  " : "FAIL");
    return ok ? 0 : 1;
}
