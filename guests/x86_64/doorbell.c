/* doorbell: channel doorbells as virtual interrupts (x86-64), the x86
 * version of guests/arm64/doorbell.c.
 *
 * The doorbell of channel c is vector 0xd0 + c in vCPU 0's virtual LAPIC
 * (docs/hypercalls.md). The waiter software-enables its LAPIC, gives every
 * vector 0x20-0xff a gate (counting by vector) and sleeps with STI; HLT,
 * interrupts off otherwise. "first" is channel 0 (vector 0xd0), "bell"
 * channel 1 (0xd1); "first" carries the handshake.
 *
 * Round 0: the ringer rings "first" once; the waiter must take exactly one
 * interrupt with vector 0xd0, then poll "first" and see the ringer's member
 * bit. Rounds 1..rounds: the ringer rings "bell" once; the waiter, woken by
 * the interrupt, says so (S->taken = round); the ringer rings round % 3
 * more times (the pending mask is set: they must raise nothing) and says so
 * (S->rung). The waiter polls, opens an interrupt window (an extra doorbell
 * would be taken there), checks count == round and acknowledges (S->ack).
 *
 * Last, the ringer rings "first" while the waiter does not poll, and the
 * waiter triple-faults (fault policy restart): in its second run it must
 * take the doorbell left unpolled, then see the flag. */
#include "guest.h"

#define HC_DOORBELL_RING 11
#define HC_DOORBELL_POLL 12
#define APIC 0xfee00000u
#define V_TIMER 0x40  /* the sleep's deadline: not counted */
#define DOORBELL_VECTOR 0xd0u
#define CH_FIRST 0u
#define CH_BELL 1u

struct shared {
    volatile uint32_t ready, taken, rung, ack, asleep, errors, reset_req, reset_rung;
};
#define S ((struct shared *)(uintptr_t)(0x2000000u + 0x800))

static volatile uint32_t hits[256], last_vec;
static uint32_t failures;
static uint64_t khz;


static void fail(const char *what, uint32_t got, uint32_t want)
{
    failures++;
    gprintf("doorbell: FAIL %s: %u, expected %u\n", what, got, want);
}

/* pool=ADDR (waiter): 8 KiB of the pool are taken and filled before the
 * triple fault; after the restart TAKE must succeed again and hand out
 * zeroed memory (the restart gave the pool back as at boot). */
#ifndef HC_POOL_TAKE
#define HC_POOL_TAKE 10
#endif
#define POOL_BYTES 0x2000u
static uint32_t pool_addr;

static bool pool_take_check(const char *when)
{
    int32_t r = hypercall(HC_POOL_TAKE, 0, POOL_BYTES, 0, 0);
    if (r != 0) {
        fail(when, (uint32_t)r, 0);
        return false;
    }
    volatile uint32_t *pp = (volatile uint32_t *)(uintptr_t)pool_addr;
    uint32_t nonzero = 0;
    for (uint32_t i = 0; i < POOL_BYTES / 4; i++) {
        if (pp[i])
            nonzero++;
        pp[i] = 0xb0b00000u | i;
    }
    if (nonzero)
        fail("non-zero words in a freshly taken pool range", nonzero, 0);
    return !nonzero;
}

void irq_handler(uint32_t vec);
void irq_handler(uint32_t vec)
{
    if (vec != V_TIMER) {
        hits[vec & 0xff]++;
        last_vec = vec;
    }
    apic_wr(0xb0, 0);
}

/* One stub per vector 0x20-0xff: push the vector, call irq_handler. */
__asm__(".text\nisr_common:\n  pushal\n  pushl 32(%esp)\n  call irq_handler\n  addl $4, %esp\n"
        "  popal\n  addl $4, %esp\n  iret\n"
        ".balign 16\n.globl isr_table\nisr_table:\n"
        ".set v, 0x20\n.rept 0xe0\n.balign 16\n  pushl $v\n  jmp isr_common\n.set v, v + 1\n.endr\n");
extern char isr_table[];

static void setup(void)
{
    for (unsigned v = 0x20; v < 256; v++)
        gate_set(v, (void (*)(void))(uintptr_t)(isr_table + 16 * (v - 0x20)));
    gate_tables_load();
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x40000010), "c"(0));
    khz = a ? a : 1000000;
}

static bool before(uint64_t end) { return rdtsc() < end; }
static uint64_t deadline_s(uint32_t s) { return rdtsc() + khz * 1000 * s; }

/* Sleep until hits[vec] reaches want: STI; HLT with interrupts off
 * otherwise. Bounded: 10 s, the LAPIC timer (one-shot) wakes it then. */
static bool sleep_for(uint32_t vec, uint32_t want)
{
    uint64_t end = deadline_s(10), ticks = khz * 10000 / 128;
    apic_wr(0x3e0, 0xa);   /* divide by 128 */
    apic_wr(0x320, V_TIMER); /* one-shot */
    apic_wr(0x380, ticks > 0xffffffffu ? 0xffffffffu : (uint32_t)ticks);
    while (hits[vec] < want && before(end)) {
        S->asleep = 1;
        __asm__ volatile("sti; hlt; cli" ::: "memory");
        S->asleep = 0;
    }
    apic_wr(0x380, 0);
    return hits[vec] >= want;
}

static uint32_t others(void)
{
    uint32_t n = 0;
    for (uint32_t v = 0; v < 256; v++)
        if (v != DOORBELL_VECTOR + CH_FIRST && v != DOORBELL_VECTOR + CH_BELL)
            n += hits[v];
    return n;
}

static int waiter(uint32_t rounds)
{
    const uint32_t vf = DOORBELL_VECTOR + CH_FIRST, vb = DOORBELL_VECTOR + CH_BELL;
    apic_wr(0xf0, 0x1ff); /* software enable, spurious vector 0xff */
    hypercall(HC_DOORBELL_POLL, CH_FIRST, 0, 0, 0);
    hypercall(HC_DOORBELL_POLL, CH_BELL, 0, 0, 0);
    gprintf("doorbell: waiter: channel 'first' %u vector %x, 'bell' %u vector %x\n", CH_FIRST, vf,
            CH_BELL, vb);
    __asm__ volatile("mfence" ::: "memory");
    S->ready = 1;

    if (!sleep_for(vf, 1))
        fail("interrupts on 'first' (timed out)", hits[vf], 1);
    int32_t m = hypercall(HC_DOORBELL_POLL, CH_FIRST, 0, 0, 0);
    if (m != 1)
        fail("poll of 'first' after its interrupt", (uint32_t)m, 1);
    S->ack = 0x100;

    uint32_t rings = 0;
    for (uint32_t r = 1; r <= rounds && !failures; r++) {
        if (!sleep_for(vb, r)) {
            fail("interrupts on 'bell' (timed out)", hits[vb], r);
            break;
        }
        S->taken = r;
        while (S->rung != r)
            ;
        rings += 1 + r % 3;
        m = hypercall(HC_DOORBELL_POLL, CH_BELL, 0, 0, 0);
        if (m != 1)
            fail("poll of 'bell' after its interrupt", (uint32_t)m, 1);
        __asm__ volatile("sti; nop; nop; cli" ::: "memory"); /* an extra one comes here */
        if (hits[vb] != r)
            fail("interrupts on 'bell' after the round's rings", hits[vb], r);
        __asm__ volatile("mfence" ::: "memory");
        S->ack = r;
    }
    __asm__ volatile("sti" ::: "memory");
    spin_delay(100000); /* nothing else may come */
    __asm__ volatile("cli" ::: "memory");
    gprintf("doorbell: waiter: %u interrupts with vector %x for %u rounds (%u rings), %u with vector "
            "%x, last vector %x\n",
            hits[vb], vb, rounds, rings, hits[vf], vf, last_vec);
    if (hits[vb] != rounds)
        fail("interrupts on 'bell' in all", hits[vb], rounds);
    if (hits[vf] != 1)
        fail("interrupts on 'first' in all", hits[vf], 1);
    if (others())
        fail("other interrupts taken", others(), 0);
    if (failures)
        S->errors = failures;
    gprintf("doorbell: waiter: %s\n", failures ? "FAILED" : "PASSED");
    if (failures)
        return 1;
    if (pool_addr && !pool_take_check("POOL_TAKE before the restart"))
        return 1;
    S->reset_req = 1;
    while (!S->reset_rung)
        ;
    gprintf("doorbell: waiter: rung before a restart, triple fault now\n");
    static const struct {
        uint16_t limit;
        uint32_t base;
    } __attribute__((packed)) none = { 0, 0 };
    __asm__ volatile("lidt %0; int3" ::"m"(none));
    gprintf("doorbell: FAIL: survived the triple fault\n");
    return 1;
}

/* The second run, after the restart: the unpolled ring is an interrupt. */
static int waiter_after_restart(void)
{
    const uint32_t vf = DOORBELL_VECTOR + CH_FIRST;
    apic_wr(0xf0, 0x1ff);
    if (!sleep_for(vf, 1))
        fail("interrupts on 'first' after the restart (timed out)", hits[vf], 1);
    int32_t m = hypercall(HC_DOORBELL_POLL, CH_FIRST, 0, 0, 0);
    if (m != 1)
        fail("poll of 'first' after the restart", (uint32_t)m, 1);
    if (others())
        fail("other interrupts after the restart", others(), 0);
    gprintf("doorbell: waiter: after the restart %u interrupt(s) with vector %x, poll %d\n", hits[vf],
            vf, m);
    if (pool_addr && pool_take_check("POOL_TAKE after the restart"))
        gprintf("doorbell: waiter: after the restart the pool is taken again, zeroed\n");
    gprintf("doorbell: waiter: after the restart %s\n", failures ? "FAILED" : "PASSED");
    return failures ? 1 : 0;
}

static bool wait_ack(uint32_t want)
{
    uint64_t end = deadline_s(10);
    while (S->ack != want && before(end))
        ;
    return S->ack == want;
}

static int ringer(uint32_t rounds)
{
    int32_t r = hypercall(HC_DOORBELL_RING, 99, 0, 0, 0);
    if (r != -2)
        fail("RING of a channel that does not exist", (uint32_t)r, (uint32_t)-2);
    while (!S->ready)
        ;
    while (!S->asleep) /* let the waiter reach HLT before the first ring */
        ;
    spin_delay(10000);
    r = hypercall(HC_DOORBELL_RING, CH_FIRST, 0, 0, 0);
    if (r != 1)
        fail("RING of 'first'", (uint32_t)r, 1);
    if (!wait_ack(0x100))
        fail("waiter's answer to 'first' (timed out)", S->ack, 0x100);
    uint32_t rings = 0;
    for (uint32_t p = 1; p <= rounds && !failures; p++) {
        for (uint32_t k = 0; k < 1 + p % 3; k++) {
            if (k == 1) {
                uint64_t end = deadline_s(10);
                while (S->taken != p && before(end))
                    ;
            }
            r = hypercall(HC_DOORBELL_RING, CH_BELL, 0, 0, 0);
            if (r != 1)
                fail("RING of 'bell'", (uint32_t)r, 1);
            rings++;
        }
        __asm__ volatile("mfence" ::: "memory");
        S->rung = p;
        if (!wait_ack(p)) {
            fail("waiter's answer (timed out)", S->ack, p);
            break;
        }
        if (p % 16 == 0)
            spin_delay(20000); /* now and then the waiter is deep in HLT */
    }
    gprintf("doorbell: ringer: %u rounds, %u rings\n", rounds, rings);
    if (!failures) {
        while (!S->reset_req)
            ;
        r = hypercall(HC_DOORBELL_RING, CH_FIRST, 0, 0, 0);
        if (r != 1)
            fail("RING of 'first' before the restart", (uint32_t)r, 1);
        __asm__ volatile("mfence" ::: "memory");
        S->reset_rung = 1;
    }
    gprintf("doorbell: ringer: %s\n", failures ? "FAILED" : "PASSED");
    return failures ? 1 : 0;
}

int guest_main(uint32_t magic, uint32_t info)
{
    const char *cmd = boot_cmdline(magic, info);
    struct bh_part_info pi;
    part_info(&pi);
    setup();
    uint32_t rounds = cmdline_u32(cmd, "rounds", 100);
    pool_addr = cmdline_u32(cmd, "pool", 0);
    if (cmdline_u32(cmd, "wait", 0))
        return pi.restarts ? waiter_after_restart() : waiter(rounds);
    return ringer(rounds);
}
