/* memslot: runtime map changes while another partition uses the window
 * (issue 13). One image, two roles (cmdline role=control / role=reader).
 *
 * control (control = "on"): owns a rw mapping of channel 0 ("win") at
 * CTL_WIN and of channel 1 ("sync") at SYNC. For phase p = 1..iters it marks
 * the phase odd in sync, changes the reader's window (move between two
 * addresses, toggle read-only/read-write, and every 50th phase a detach and
 * an attach), writes the phase's pattern through its own mapping and marks
 * the phase even with the window's address and permission. After each
 * detach (and every 10th move) it asks reader vCPU 0 to touch the old
 * address and waits for the answer: it must fault. (Between those probes the
 * readers still touch old addresses whenever a move overtakes them.) Every
 * 25th phase it waits until both reader vCPUs have checked it. It also
 * takes and gives back its pool, rings a doorbell, and compares the
 * hypervisor's free frames before and after the loop.
 *
 * reader (2 vCPUs, outside-access = "abort"): never waits for the control
 * partition. Each vCPU reads the phase (seqlock), reads the whole pattern and
 * writes its own word, then reads the phase again. A read that did not fault
 * inside a stable phase must hold that phase's values; an access that
 * faulted is fine only if the phase changed meanwhile; a write in a stable
 * read-only phase must fault (a stale writable TLB entry would let it
 * through). */
#include "guest.h"

#define CTL_WIN 0x50000000UL
#define SYNC 0x51000000UL
#define ADDR_A 0x60000000UL
#define ADDR_B 0x70000000UL
#define POOL 0x58000000UL
#define WORDS 64
#define ACC_R 1
#define ACC_RW 3

struct sync {
    uint64_t seq;        /* 2p: phase p stable; odd: changing; 0: not started */
    uint64_t addr, rw;   /* the reader's window in the current phase (0 = none) */
    uint64_t done;
    uint64_t probe_req, probe_addr, probe_ack, probe_result;
    uint64_t checks[2], writes[2], faults_ok[2], errors[2], finished[2];
    uint64_t started[2];
    uint64_t seen[2];     /* last phase each reader vCPU checked while stable */
};

#define S ((volatile struct sync *)SYNC)

static inline void mb(void)
{
    __asm__ volatile("dmb sy" ::: "memory");
}

static uint64_t pat(uint64_t phase, uint64_t i)
{
    return (phase * 0x9e3779b97f4a7c15ULL) ^ (i * 0x100000001b3ULL) ^ 0x5a5a;
}

/* ------------------------------------------------------------ reader */

static volatile uint64_t reader_failed_msgs;

static void reader_error(uint32_t v, const char *what, uint64_t phase, uint64_t a, uint64_t x)
{
    S->errors[v]++;
    if (reader_failed_msgs++ < 8)
        gprintf("memslot: reader vCPU %u: ERROR %s (phase %lu, address %lx, value %lx)\n", v,
                what, phase, a, x);
}

/* Touch the old address of a window that was taken away: must fault. */
static void probe(uint32_t v)
{
    uint64_t req = S->probe_req;
    if (req == S->probe_ack)
        return;
    uint64_t a = S->probe_addr;
    uint64_t e0 = vcpu_exc[v];
    (void)*(volatile uint64_t *)a;
    bool read_faulted = vcpu_exc[v] == e0 + 1 && vcpu_far[v] == a &&
                        (vcpu_esr[v] >> 26) == 0x25 && (vcpu_esr[v] & 0x3f) == 0x10;
    *(volatile uint64_t *)(a + 8) = 0xbad;
    bool write_faulted = vcpu_exc[v] == e0 + 2 && vcpu_far[v] == a + 8 &&
                         (vcpu_esr[v] & (1u << 6));
    S->probe_result = read_faulted && write_faulted ? 1 : 2;
    mb();
    S->probe_ack = req;
    mb();
}

static void reader(uint32_t v)
{
    set_vectors();
    S->started[v] = 1;
    while (!S->done) {
        if (v == 0)
            probe(v);
        mb();
        uint64_t s1 = S->seq;
        mb();
        if (s1 == 0 || (s1 & 1))
            continue;
        uint64_t a = S->addr, rw = S->rw, phase = s1 / 2;
        if (!a)
            continue;
        volatile uint64_t *w = (volatile uint64_t *)a;
        uint64_t e0 = vcpu_exc[v];
        uint64_t bad = 0, bad_i = 0, got = 0;
        for (uint32_t i = 0; i < WORDS; i++) {
            uint64_t x = w[i];
            if (x != pat(phase, i) && !bad++) {
                bad_i = i;
                got = x;
            }
        }
        uint64_t mine = (0xc0deULL << 48) | ((uint64_t)v << 40) | phase;
        w[WORDS + v] = mine;
        uint64_t back = w[WORDS + v];
        mb();
        uint64_t s2 = S->seq;
        uint64_t faults = vcpu_exc[v] - e0;
        if (s1 != s2) {
            /* Changed under us: faults and odd values are expected. */
            S->faults_ok[v] += faults;
            continue;
        }
        /* A stable phase: everything must be exact. */
        if (!rw) {
            if (faults != 1 || !(vcpu_esr[v] & (1u << 6)) || vcpu_far[v] != a + 8 * (WORDS + v))
                reader_error(v, "write to a read-only window did not fault", phase, a, faults);
            else
                S->faults_ok[v]++;
        } else if (faults) {
            reader_error(v, "access to the mapped window faulted", phase, a, vcpu_far[v]);
        } else if (back != mine) {
            reader_error(v, "own write did not read back", phase, a, back);
        } else {
            S->writes[v]++;
        }
        if (bad)
            reader_error(v, "wrong pattern word", phase, a + 8 * bad_i, got);
        S->checks[v]++;
        S->seen[v] = phase;
    }
    mb();
    S->finished[v] = 1;
    mb();
}

void secondary_main(uint64_t index)
{
    reader((uint32_t)index);
    while (1)
        __asm__ volatile("wfi");
}

static int reader_main(void)
{
    int64_t r = (int64_t)hvc_call(PSCI_CPU_ON, 1, (uintptr_t)secondary_entry, 1, 0);
    if (r != 0) {
        gprintf("memslot: reader: CPU_ON = %d\n", (int32_t)r);
        return 1;
    }
    reader(0);
    /* The doorbell the control partition rang at the end. */
    int64_t bells = 0;
    for (uint32_t i = 0; i < 1000000 && !bells; i++)
        bells = hypercall(HC_DOORBELL_POLL, 1, 0, 0, 0);
    gprintf("memslot: reader: doorbell from members %lx\n", (uint64_t)bells);
    while (!S->finished[1])
        ;
    return 0;
}

/* ------------------------------------------------------------ control */

static uint32_t failures;

static void fail(const char *what, int64_t r)
{
    if (failures++ < 8)
        gprintf("memslot: control: FAIL %s = %d\n", what, (int32_t)r);
}

static int64_t call(const char *what, uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
                    uint64_t a3)
{
    int64_t r = hypercall(nr, a0, a1, a2, a3);
    if (r < 0)
        fail(what, r);
    return r;
}

/* After a change took the window away from old: reader vCPU 0 must fault. */
static void probe_old(uint64_t old, uint64_t *probes)
{
    S->probe_addr = old;
    mb();
    uint64_t req = S->probe_req + 1;
    S->probe_req = req;
    mb();
    while (S->probe_ack != req)
        ;
    mb();
    if (S->probe_result != 1)
        fail("old window address still mapped after the change returned", -1);
    (*probes)++;
}

static void pool_round(void)
{
    /* Given back at start: touching it must fault (outside-access = abort). */
    uint64_t e0 = vcpu_exc[0];
    (void)*(volatile uint64_t *)POOL;
    if (vcpu_exc[0] != e0 + 1)
        fail("pool page readable before TAKE", -1);
    call("POOL_TAKE", HC_POOL_TAKE, 0, 0x4000, 0, 0);
    volatile uint64_t *pp = (volatile uint64_t *)POOL;
    for (uint32_t i = 0; i < 0x4000 / 8; i += 64)
        if (pp[i])
            fail("taken pool page not zeroed", (int64_t)i);
    for (uint32_t i = 0; i < 0x4000 / 8; i += 64)
        pp[i] = 0xfeed;
    call("POOL_GIVE", HC_POOL_GIVE, 0, 0x4000, 0, 0);
    e0 = vcpu_exc[0];
    (void)*(volatile uint64_t *)POOL;
    if (vcpu_exc[0] != e0 + 1)
        fail("pool page readable after GIVE", -1);
}

/* struct bh_map_stats (docs/hypercalls.md): the kick counters are
 * hypervisor-wide. */
struct map_stats {
    uint64_t changes, change_ticks, grace_periods, gp_ticks, unmap_ticks, tick_hz;
    uint64_t kick_requests, kick_ipis_sent, kick_ipis_taken;
};

static void stats(struct map_stats *st)
{
    if (hypercall(HC_MAP_STATS, 1, (uintptr_t)st, sizeof(*st), 0) != sizeof(*st))
        fail("MAP_STATS", -1);
}

static void kick_report(const char *who, const struct map_stats *a, const struct map_stats *b)
{
    gprintf("%s: epoch kicks: %lu requested, %lu IPIs sent, %lu taken\n", who,
            b->kick_requests - a->kick_requests, b->kick_ipis_sent - a->kick_ipis_sent,
            b->kick_ipis_taken - a->kick_ipis_taken);
}

static int control_main(uint64_t iters)
{
    set_vectors();
    volatile uint64_t *w = (volatile uint64_t *)CTL_WIN;
    uint64_t addr = ADDR_A, rw = 1, probes = 0, detaches = 0, moves = 0, protects = 0;
    uint64_t lingered = 0;
    /* Bad calls first: nothing may change. */
    int64_t r = hypercall(HC_WIN_MOVE, 0, 1, ADDR_B + 1, 0);
    if (r != -22)
        fail("MOVE to a misaligned address", r);
    r = hypercall(HC_WIN_MOVE, 0, 1, 0x40000000, 0);
    if (r != -16)
        fail("MOVE over the reader's RAM", r);
    r = hypercall(HC_WIN_PROTECT, 2, 1, ACC_RW, 0);
    if (r != -1)
        fail("PROTECT rw on a window the reader may only read", r);
    r = hypercall(HC_WIN_DETACH, 5, 1, 0, 0);
    if (r != -2)
        fail("DETACH of a channel that does not exist", r);
    r = hypercall(HC_WIN_ATTACH, 0, 1, ADDR_B, ACC_RW);
    if (r != -17)
        fail("ATTACH of an attached window", r);
    /* Warm-up before the readers look (seq 0): the stage-2 table pages
     * for both addresses and the pool exist from here on. */
    call("MOVE warm-up", HC_WIN_MOVE, 0, 1, ADDR_B, 0);
    call("MOVE warm-up", HC_WIN_MOVE, 0, 1, ADDR_A, 0);
    pool_round();
    int64_t free0 = call("FREE_FRAMES", HC_FREE_FRAMES, 0, 0, 0, 0);
    /* Phase 1: the configured mapping. */
    for (uint32_t i = 0; i < WORDS; i++)
        w[i] = pat(1, i);
    S->addr = addr;
    S->rw = rw;
    mb();
    S->seq = 2;
    mb();
    while (!S->started[0] || !S->started[1])
        ;
    gprintf("memslot: control: %lu phases, readers running\n", iters);
    struct map_stats ks0, ks1;
    stats(&ks0);
    uint64_t t0 = counter();
    for (uint64_t p = 2; p <= iters + 1; p++) {
        S->seq = 2 * p - 1;
        mb();
        uint64_t old = addr;
        if (p % 50 == 0) {
            call("DETACH", HC_WIN_DETACH, 0, 1, 0, 0);
            S->addr = 0;
            probe_old(old, &probes);
            addr = addr == ADDR_A ? ADDR_B : ADDR_A;
            rw = !rw;
            call("ATTACH", HC_WIN_ATTACH, 0, 1, addr, rw ? ACC_RW : ACC_R);
            detaches++;
        } else if (p % 2 == 0) {
            addr = addr == ADDR_A ? ADDR_B : ADDR_A;
            call("MOVE", HC_WIN_MOVE, 0, 1, addr, 0);
            S->addr = 0;
            if (p % 20 == 0)
                probe_old(old, &probes);
            moves++;
        } else {
            rw = !rw;
            call("PROTECT", HC_WIN_PROTECT, 0, 1, rw ? ACC_RW : ACC_R, 0);
            protects++;
        }
        for (uint32_t i = 0; i < WORDS; i++)
            w[i] = pat(p, i);
        S->addr = addr;
        S->rw = rw;
        mb();
        S->seq = 2 * p;
        mb();
        if (p % 25 == 0) {
            /* Stay in this phase until both reader vCPUs have checked it. */
            while (S->seen[0] != p || S->seen[1] != p)
                ;
            lingered++;
        }
        if (p % 1000 == 0)
            pool_round();
    }
    uint64_t t1 = counter();
    S->done = 1;
    mb();
    while (!S->finished[0] || !S->finished[1])
        ;
    /* The readers have stopped making exits: a kick still in flight (at
     * most one per other CPU) is being taken. */
    stats(&ks1);
    uint64_t sent = ks1.kick_ipis_sent - ks0.kick_ipis_sent;
    uint64_t taken = ks1.kick_ipis_taken - ks0.kick_ipis_taken;
    bool kicks_ok = sent && taken && taken <= sent && sent - taken <= 3;
    int64_t free1 = call("FREE_FRAMES", HC_FREE_FRAMES, 0, 0, 0, 0);
    int64_t rung = call("DOORBELL_RING", HC_DOORBELL_RING, 1, 0, 0, 0);
    for (uint32_t v = 0; v < 2; v++)
        gprintf("memslot: reader vCPU %u: %lu stable checks, %lu writes, %lu expected faults, "
                "%lu errors\n",
                v, S->checks[v], S->writes[v], S->faults_ok[v], S->errors[v]);
    uint64_t us = (t1 - t0) * 1000000 / counter_freq();
    gprintf("memslot: control: %lu moves, %lu permission changes, %lu detach+attach, %lu old "
            "addresses probed, %lu us\n",
            moves, protects, detaches, probes, us);
    gprintf("memslot: control: %lu phases checked by both reader vCPUs before the next change\n",
            lingered);
    gprintf("memslot: control: free frames %ld before, %ld after: %s\n", free0, free1,
            free0 == free1 ? "unchanged" : "CHANGED");
    gprintf("memslot: control: doorbell rang %ld member(s)\n", rung);
    kick_report("memslot: control", &ks0, &ks1);
    if (!kicks_ok)
        gprintf("memslot: control: epoch kick IPIs not sent or not taken\n");
    bool ok = !failures && !S->errors[0] && !S->errors[1] && S->checks[0] && S->checks[1] &&
              free0 == free1 && probes && kicks_ok;
    gprintf("memslot: control: %s\n", ok ? "PASSED" : "FAILED");
    return ok ? 0 : 1;
}

/* ------------------------------------------------------------ bench */

/* PMU cycle counter at EL1 and EL2 (NSH): under -icount shift=0 it counts
 * instructions (see guests/arm64/bench.c). */
static void pmu_start(void)
{
    __asm__ volatile("msr pmccfiltr_el0, %0" ::"r"(1UL << 27));
    __asm__ volatile("msr pmcntenset_el0, %0" ::"r"(1UL << 31));
    __asm__ volatile("msr pmcr_el0, %0; isb" ::"r"((1UL << 6) | (1UL << 2) | 1UL));
}

static inline uint64_t cycles(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, pmccntr_el0" : "=r"(v)::"memory");
    return v;
}

static void report(const char *what, uint64_t n, uint64_t cyc, const struct map_stats *a,
                   const struct map_stats *b)
{
    uint64_t gps = b->grace_periods - a->grace_periods;
    uint64_t gpt = b->gp_ticks - a->gp_ticks, cht = b->change_ticks - a->change_ticks;
    uint64_t unt = b->unmap_ticks - a->unmap_ticks;
    uint64_t hz = b->tick_hz ? b->tick_hz : 1;
    gprintf("bench: %s: %lu changes, %lu PMU cycles each (guest view)\n", what, n, cyc / n);
    gprintf("bench: %s: in the hypervisor %lu ns each, of which unmap+TLB flush %lu ns; "
            "without it %lu ns; %lu grace periods, %lu ns each\n",
            what, cht * 1000000000ULL / hz / n, unt * 1000000000ULL / hz / n,
            (cht - unt) * 1000000000ULL / hz / n, gps, gps ? gpt * 1000000000ULL / hz / gps : 0);
    gprintf("bench: %s: epoch kicks: %lu requested, %lu IPIs sent, %lu taken\n", what,
            b->kick_requests - a->kick_requests, b->kick_ipis_sent - a->kick_ipis_sent,
            b->kick_ipis_taken - a->kick_ipis_taken);
}

static int bench_main(uint64_t n)
{
    S->addr = 0; /* the readers spin in guest mode without touching the window */
    mb();
    S->seq = 2;
    mb();
    while (!S->started[0] || !S->started[1])
        ;
    pmu_start();
    uint64_t c0 = cycles();
    for (uint64_t i = 0; i < n; i++)
        hypercall(HC_NULL, 0, 0, 0, 0);
    uint64_t cnull = (cycles() - c0) / n;
    gprintf("bench: null hypercall: %lu PMU cycles each\n", cnull);
    struct map_stats a, b;
    stats(&a);
    c0 = cycles();
    for (uint64_t i = 0; i < n; i++)
        call("PROTECT", HC_WIN_PROTECT, 0, 1, i & 1 ? ACC_RW : ACC_R, 0);
    uint64_t c = cycles() - c0;
    stats(&b);
    report("permission change (PROTECT)", n, c, &a, &b);
    stats(&a);
    c0 = cycles();
    for (uint64_t i = 0; i < n; i++)
        call("MOVE", HC_WIN_MOVE, 0, 1, i & 1 ? ADDR_A : ADDR_B, 0);
    c = cycles() - c0;
    stats(&b);
    report("move (MOVE)", n, c, &a, &b);
    stats(&a);
    c0 = cycles();
    for (uint64_t i = 0; i < n; i++) {
        call("DETACH", HC_WIN_DETACH, 0, 1, 0, 0);
        call("ATTACH", HC_WIN_ATTACH, 0, 1, ADDR_A, ACC_RW);
    }
    c = cycles() - c0;
    stats(&b);
    report("detach or attach", 2 * n, c, &a, &b);
    S->done = 1;
    mb();
    while (!S->finished[0] || !S->finished[1])
        ;
    gprintf("bench: %s\n", failures ? "FAILED" : "done");
    return failures ? 1 : 0;
}

int guest_main(const void *dtb)
{
    const char *args = dt_bootargs(dtb);
    if (cmdline_u64(args, "bench", 0))
        return bench_main(cmdline_u64(args, "bench", 0));
    if (cmdline_u64(args, "control", 0))
        return control_main(cmdline_u64(args, "iters", 10000));
    set_vectors();
    return reader_main();
}
