/* doorbell: channel doorbells as virtual interrupts (arm64).
 *
 * The waiter finds its channels in its device tree (label, reg, the
 * doorbell's "interrupts" and "bulkhead,channel"), enables both doorbell
 * SPIs in its virtual GIC (group 1, edge, routed to vCPU 0) and sleeps in
 * WFI with IRQs masked, unmasking only to take what woke it. Its handler
 * counts interrupts by the INTID ICC_IAR1_EL1 returns.
 *
 * Round 0: the ringer rings "first" once; the waiter must take exactly one
 * interrupt, INTID = the one its device tree gives "first", then poll
 * "first" and see the ringer's member bit.
 * Rounds 1..rounds: the ringer rings "bell" once; the waiter, woken by the
 * interrupt, says it has taken it (S->taken = round); the ringer rings
 * k = round % 3 more times and says so (S->rung = round). Those later
 * rings find the pending mask set and must raise nothing. The waiter then
 * polls: the hypercall's exit raises anything posted for it, so an extra
 * interrupt would be in its list registers when it returns; the waiter
 * unmasks IRQs for a moment and checks count == round, then acknowledges
 * (S->ack = round), and only then does the ringer start the next round.
 *
 * Last, the ringer rings "first" while the waiter does not poll, and the
 * waiter asks for PSCI SYSTEM_RESET: in its second run (the channel memory
 * survives the reset) it enables the SPIs without polling first and must
 * take the doorbell interrupt that was left unpolled, then see the flag. */
#include "guest.h"

struct shared {
    volatile uint64_t ready, taken, rung, ack, asleep, errors, reset_req, reset_rung;
};

#define FIRST_WIN 0x50000000UL
#define S ((struct shared *)(FIRST_WIN + 0x800))

static volatile uint64_t irqs[96], bad_intid, last_intid;
static uint32_t failures;

static void fail(const char *what, uint64_t got, uint64_t want)
{
    failures++;
    gprintf("doorbell: FAIL %s: %lu, expected %lu\n", what, got, want);
}

void irq_handler(void)
{
    uint32_t intid = gic_ack();
    if (intid >= 1020)
        return;
    if (intid == 27) { /* sleep_for's deadline: not counted */
        __asm__ volatile("msr cntv_ctl_el0, %0; isb" ::"r"((uint64_t)0) : "memory");
        gic_eoi(intid);
        return;
    }
    last_intid = intid;
    if (intid < 96)
        irqs[intid]++;
    else
        bad_intid = intid;
    gic_eoi(intid);
}

/* ------------------------------------------------------------ device tree */

struct chan {
    uint64_t gpa;
    uint32_t index, intid;
    bool have_irq;
    char label[16];
};
static struct chan chans[4];
static uint32_t nchans;

static void find(const void *dtb, const char *name, const uint8_t *reg, uint32_t len)
{
    char path[64];
    uint32_t i = 0, l = 0;
    path[i++] = '/';
    for (const char *s = name; *s && i < 63; s++)
        path[i++] = *s;
    path[i] = 0;
    if (len < 16 || nchans >= 4)
        return;
    struct chan *c = &chans[nchans++];
    c->gpa = be64(reg);
    const uint8_t *irq = dt_getprop(dtb, path, "interrupts", &l);
    if (irq && l == 12 && be32(irq) == 0 && be32(irq + 8) == 1) {
        c->intid = be32(irq + 4) + 32;
        c->have_irq = true;
    }
    const uint8_t *idx = dt_getprop(dtb, path, "bulkhead,channel", &l);
    c->index = idx && l == 4 ? be32(idx) : 99;
    const char *lab = dt_getprop(dtb, path, "label", &l);
    for (i = 0; lab && i < 15 && lab[i]; i++)
        c->label[i] = lab[i];
    c->label[i] = 0;
}

static struct chan *chan_named(const char *label)
{
    for (uint32_t i = 0; i < nchans; i++)
        if (strcmp(chans[i].label, label) == 0)
            return &chans[i];
    return NULL;
}

/* ------------------------------------------------------------ waiter */

static void spi_setup(uint32_t intid)
{
    uint32_t n = intid / 32, b = 1u << (intid % 32);
    mmio_w32(GICD_BASE + 0x80 + 4 * n, mmio_r32(GICD_BASE + 0x80 + 4 * n) | b); /* group 1 */
    volatile uint8_t *prio = (volatile uint8_t *)(GICD_BASE + 0x400 + intid);
    *prio = 0x80;
    uint64_t cfg = GICD_BASE + 0xc00 + 4 * (intid / 16);
    mmio_w32(cfg, mmio_r32(cfg) | 2u << (2 * (intid % 16))); /* edge */
    mmio_w64(GICD_BASE + 0x6000 + 8 * intid, 0);              /* vCPU 0 */
    mmio_w32(GICD_BASE + 0x100 + 4 * n, b);                   /* enable */
}

/* Sleep until irqs[intid] reaches want: WFI with IRQs masked (a pending
 * interrupt still wakes it), then unmask to take it. Bounded: 10 s, the
 * virtual timer (PPI 27) wakes it then. */
static bool sleep_for(uint32_t intid, uint64_t want)
{
    uint64_t end = counter() + 10 * counter_freq();
    __asm__ volatile("msr cntv_cval_el0, %0; msr cntv_ctl_el0, %1; isb" ::"r"(end),
                     "r"((uint64_t)1)
                     : "memory");
    irq_disable();
    while (irqs[intid] < want && counter() < end) {
        S->asleep = 1;
        __asm__ volatile("dsb sy; wfi" ::: "memory");
        S->asleep = 0;
        irq_enable();
        irq_disable();
    }
    __asm__ volatile("msr cntv_ctl_el0, %0; isb" ::"r"((uint64_t)0) : "memory");
    return irqs[intid] >= want;
}

static int waiter(uint64_t rounds)
{
    struct chan *first = chan_named("first"), *bell = chan_named("bell");
    if (!first || !bell || !first->have_irq || !bell->have_irq) {
        gprintf("doorbell: FAIL: channels or their interrupts missing from my device tree\n");
        return 1;
    }
    gprintf("doorbell: waiter: channel 'first' %u at %lx INTID %u, 'bell' %u at %lx INTID %u\n",
            first->index, first->gpa, first->intid, bell->index, bell->gpa, bell->intid);
    gic_dist_on();
    gic_cpu_on(0, 1u << 27);
    spi_setup(first->intid);
    spi_setup(bell->intid);
    hypercall(HC_DOORBELL_POLL, first->index, 0, 0, 0);
    hypercall(HC_DOORBELL_POLL, bell->index, 0, 0, 0);
    __asm__ volatile("dmb sy" ::: "memory");
    S->ready = 1;

    /* Round 0: "first". */
    if (!sleep_for(first->intid, 1))
        fail("interrupts on 'first' (timed out)", irqs[first->intid], 1);
    int64_t m = hypercall(HC_DOORBELL_POLL, first->index, 0, 0, 0);
    if (m != 1)
        fail("poll of 'first' after its interrupt", (uint64_t)m, 1);
    S->ack = 0x100;

    uint64_t rings = 0;
    for (uint64_t r = 1; r <= rounds && !failures; r++) {
        if (!sleep_for(bell->intid, r)) {
            fail("interrupts on 'bell' (timed out)", irqs[bell->intid], r);
            break;
        }
        S->taken = r;
        while (S->rung != r)
            ;
        rings += 1 + r % 3;
        m = hypercall(HC_DOORBELL_POLL, bell->index, 0, 0, 0);
        if (m != 1)
            fail("poll of 'bell' after its interrupt", (uint64_t)m, 1);
        irq_enable(); /* an extra interrupt would be taken here */
        irq_disable();
        if (irqs[bell->intid] != r)
            fail("interrupts on 'bell' after the round's rings", irqs[bell->intid], r);
        __asm__ volatile("dmb sy" ::: "memory");
        S->ack = r;
    }
    irq_enable();
    spin_delay(100000); /* nothing else may come */
    irq_disable();
    gprintf("doorbell: waiter: %lu interrupts with INTID %u for %lu rounds (%lu rings), %lu with "
            "INTID %u, last ICC_IAR1_EL1 %lu\n",
            irqs[bell->intid], bell->intid, rounds, rings, irqs[first->intid], first->intid,
            last_intid);
    if (irqs[bell->intid] != rounds)
        fail("interrupts on 'bell' in all", irqs[bell->intid], rounds);
    if (irqs[first->intid] != 1)
        fail("interrupts on 'first' in all", irqs[first->intid], 1);
    uint64_t others = 0;
    for (uint32_t i = 0; i < 96; i++)
        if (i != bell->intid && i != first->intid)
            others += irqs[i];
    if (others || bad_intid)
        fail("other interrupts taken", others, 0);
    if (failures)
        S->errors = failures;
    gprintf("doorbell: waiter: %s\n", failures ? "FAILED" : "PASSED");
    if (failures)
        return 1;
    /* Rung while it does not poll, then reset. */
    S->reset_req = 1;
    while (!S->reset_rung)
        ;
    gprintf("doorbell: waiter: rung before a reset, resetting\n");
    hvc_call(PSCI_SYSTEM_RESET, 0, 0, 0, 0);
    gprintf("doorbell: FAIL: SYSTEM_RESET returned\n");
    return 1;
}

/* The second run, after SYSTEM_RESET: the unpolled ring is an interrupt. */
static int waiter_after_reset(void)
{
    struct chan *first = chan_named("first");
    if (!first || !first->have_irq)
        return 1;
    gic_dist_on();
    gic_cpu_on(0, 1u << 27);
    spi_setup(first->intid);
    if (!sleep_for(first->intid, 1))
        fail("interrupts on 'first' after the reset (timed out)", irqs[first->intid], 1);
    int64_t m = hypercall(HC_DOORBELL_POLL, first->index, 0, 0, 0);
    if (m != 1)
        fail("poll of 'first' after the reset", (uint64_t)m, 1);
    gprintf("doorbell: waiter: after the reset %lu interrupt(s) with INTID %u, poll %ld\n",
            irqs[first->intid], first->intid, m);
    gprintf("doorbell: waiter: after the reset %s\n", failures ? "FAILED" : "PASSED");
    return failures ? 1 : 0;
}

/* ------------------------------------------------------------ ringer */

static bool wait_ack(uint64_t want)
{
    uint64_t end = counter() + 10 * counter_freq();
    while (S->ack != want && counter() < end)
        ;
    return S->ack == want;
}

static int ringer(uint64_t rounds)
{
    struct chan *first = chan_named("first"), *bell = chan_named("bell");
    if (!first || !bell) {
        gprintf("doorbell: FAIL: channels missing from my device tree\n");
        return 1;
    }
    /* Bad arguments: documented errors, nothing rung. */
    int64_t r = hypercall(HC_DOORBELL_RING, 99, 0, 0, 0);
    if (r != -2)
        fail("RING of a channel that does not exist", (uint64_t)r, (uint64_t)-2);
    while (!S->ready)
        ;
    /* Let the waiter reach WFI before the first ring. */
    while (!S->asleep)
        ;
    spin_delay(10000);
    r = hypercall(HC_DOORBELL_RING, first->index, 0, 0, 0);
    if (r != 1)
        fail("RING of 'first'", (uint64_t)r, 1);
    if (!wait_ack(0x100))
        fail("waiter's answer to 'first' (timed out)", S->ack, 0x100);
    uint64_t rings = 0;
    for (uint64_t p = 1; p <= rounds && !failures; p++) {
        for (uint64_t k = 0; k < 1 + p % 3; k++) {
            if (k == 1) {
                uint64_t end = counter() + 10 * counter_freq();
                while (S->taken != p && counter() < end)
                    ;
            }
            r = hypercall(HC_DOORBELL_RING, bell->index, 0, 0, 0);
            if (r != 1)
                fail("RING of 'bell'", (uint64_t)r, 1);
            rings++;
        }
        __asm__ volatile("dmb sy" ::: "memory");
        S->rung = p;
        if (!wait_ack(p)) {
            fail("waiter's answer (timed out)", S->ack, p);
            break;
        }
        if (p % 16 == 0)
            spin_delay(20000); /* now and then the waiter is deep in WFI */
    }
    gprintf("doorbell: ringer: %lu rounds, %lu rings\n", rounds, rings);
    if (!failures) {
        while (!S->reset_req)
            ;
        r = hypercall(HC_DOORBELL_RING, first->index, 0, 0, 0);
        if (r != 1)
            fail("RING of 'first' before the reset", (uint64_t)r, 1);
        __asm__ volatile("dmb sy" ::: "memory");
        S->reset_rung = 1;
    }
    gprintf("doorbell: ringer: %s\n", failures ? "FAILED" : "PASSED");
    return failures ? 1 : 0;
}

int guest_main(const void *dtb)
{
    const char *args = dt_bootargs(dtb);
    set_vectors();
    dt_each_node(dtb, "bulkhead-channel", find);
    uint64_t rounds = cmdline_u64(args, "rounds", 100);
    if (cmdline_u64(args, "wait", 0))
        return S->reset_rung ? waiter_after_reset() : waiter(rounds);
    return ringer(rounds);
}
