/* memslot (x86): runtime map changes while another partition uses the window
 * (issue 13). One image, two roles (cmdline control=1 iters=N / reader=1).
 *
 * control (control = "on", 1 vCPU): owns a rw mapping of channel 0 ("win")
 * at CTL_WIN and of channel 1 ("sync") at SYNC. For phase p = 2..iters+1 it
 * marks the phase odd in sync, waits until neither reader vCPU is inside an
 * access (an EPT violation stops an x86 partition: no access may race a
 * change), changes the reader's window (move between two addresses, toggle
 * read-only/read-write, every 10th phase a detach and an attach), writes the
 * phase's pattern through its own mapping and marks the phase even with the
 * window's address and permission. Every 5th phase it waits until both
 * reader vCPUs checked it. Each change's unmap shoots down the EPT
 * translations of both reader CPUs, which sit in guest mode spinning on sync.
 * It also takes and gives back its pool and compares the hypervisor's free
 * frames before and after the loop.
 *
 * Last, the stale-translation probe: reader vCPU 1 keeps reading the window
 * (its translation hot in the TLB) while the control partition detaches it;
 * once the detach returned, vCPU 1 reads the old address once more without
 * leaving guest mode in between. That read must be an EPT violation (the
 * scenario expects the fault line); a read that succeeds prints ESCAPED.
 *
 * reader (2 vCPUs, vCPU 1 started by INIT-SIPI-SIPI from vCPU 0): each vCPU
 * announces an access (busy), reads the phase, reads the whole pattern and,
 * in a read-write phase, writes its own word and reads it back. */
#include "guest.h"

#define CTL_WIN 0x50000000u
#define SYNC 0x51000000u
#define ADDR_A 0x60000000u
#define ADDR_B 0x70000000u
#define POOL 0x58000000u
#define APIC 0xfee00000u
#define WORDS 64
#define ACC_R 1
#define ACC_RW 3

#define HC_WIN_ATTACH 5
#define HC_WIN_DETACH 6
#define HC_WIN_MOVE 7
#define HC_WIN_PROTECT 8
#define HC_POOL_GIVE 9
#define HC_POOL_TAKE 10
#define HC_DOORBELL_RING 11
#define HC_DOORBELL_POLL 12
#define HC_FREE_FRAMES 13
#define HC_MAP_STATS 14

struct sync {
    uint32_t seq;        /* 2p: phase p stable; odd: changing; 0: not started */
    uint32_t addr, rw;   /* the reader's window in the current phase (0 = none) */
    uint32_t done;
    uint32_t busy[2];    /* a reader vCPU is between its phase check and its last access */
    uint32_t checks[2], writes[2], errors[2], finished[2], started[2];
    uint32_t seen[2];    /* last phase each reader vCPU checked while stable */
    uint32_t probe_stage, probe_addr, probe_ready;
};

#define S ((volatile struct sync *)SYNC)

static inline void mb(void)
{
    __asm__ volatile("lock; addl $0, (%%esp)" ::: "memory", "cc");
}

static inline void cpu_pause(void)
{
    __asm__ volatile("pause" ::: "memory");
}

static uint32_t pat(uint32_t phase, uint32_t i)
{
    return (phase * 0x9e3779b9u) ^ (i * 0x01000193u) ^ 0x5a5a;
}

/* ------------------------------------------------------------ reader */

static volatile uint32_t reader_msgs;

static void reader_error(uint32_t v, const char *what, uint32_t phase, uint32_t a, uint32_t x)
{
    S->errors[v]++;
    if (reader_msgs++ < 8)
        gprintf("memslot: reader vCPU %u: ERROR %s (phase %u, address %x, value %x)\n", v,
                what, phase, a, x);
}

static void reader(uint32_t v)
{
    S->started[v] = 1;
    while (!S->done) {
        S->busy[v] = 1;
        mb();
        uint32_t s1 = S->seq;
        uint32_t a = S->addr, rw = S->rw, phase = s1 / 2;
        if (s1 == 0 || (s1 & 1) || !a) {
            S->busy[v] = 0;
            mb();
            cpu_pause();
            continue;
        }
        volatile uint32_t *w = (volatile uint32_t *)(uintptr_t)a;
        uint32_t bad = 0, bad_i = 0, got = 0;
        for (uint32_t i = 0; i < WORDS; i++) {
            uint32_t x = w[i];
            if (x != pat(phase, i) && !bad++) {
                bad_i = i;
                got = x;
            }
        }
        uint32_t mine = 0xc0000000u | (v << 24) | (phase & 0xffffff), back = mine;
        if (rw) {
            w[WORDS + v] = mine;
            back = w[WORDS + v];
        }
        mb();
        uint32_t s2 = S->seq;
        S->busy[v] = 0;
        mb();
        /* s2 != s1 is fine: the control partition went odd meanwhile but
         * waits for busy to clear before it changes anything, so the
         * values read belong to phase s1 / 2. */
        (void)s2;
        if (back != mine)
            reader_error(v, "own write did not read back", phase, a, back);
        else if (rw)
            S->writes[v]++;
        if (bad)
            reader_error(v, "wrong pattern word", phase, a + 4 * bad_i, got);
        S->checks[v]++;
        S->seen[v] = phase;
    }
    mb();
    S->finished[v] = 1;
    mb();
}

/* Reader vCPU 1 after the loop: keep the window's translation hot, then
 * read the old address right after the detach returned. */
static void stale_probe(void)
{
    while (S->probe_stage != 1)
        cpu_pause();
    volatile uint32_t *w = (volatile uint32_t *)(uintptr_t)S->probe_addr;
    uint32_t sink = 0;
    S->probe_ready = 1;
    mb();
    while (S->probe_stage != 2)
        sink += w[0];
    sink += w[1]; /* must be an EPT violation: the partition stops here */
    gprintf("memslot: reader vCPU 1: ESCAPED: read the detached window (%x)\n", sink);
}

/* Real-mode trampoline for the second vCPU (as in apic.c): copied to 0x8000,
 * entered by the SIPI with CS = 0x800, IP = 0. */
extern char ms_tramp[], ms_tramp_end[], ms_gdtr[];
__asm__(".text\n.code16\n.globl ms_tramp\nms_tramp:\n"
        "  cli\n  movw %cs, %ax\n  movw %ax, %ds\n"
        "  lgdtl (ms_gdtr - ms_tramp)\n"
        "  movl %cr0, %eax\n  orl $1, %eax\n  movl %eax, %cr0\n"
        "  ljmpl $0x10, $ms_entry32\n"
        ".globl ms_gdtr\nms_gdtr:\n  .word 0\n  .long 0\n"
        ".globl ms_tramp_end\nms_tramp_end:\n"
        ".code32\n"
        "ms_entry32:\n  movw $0x18, %ax\n  movw %ax, %ds\n  movw %ax, %es\n  movw %ax, %ss\n"
        "  movl ms_stack_top, %esp\n  call ms_ap_main\n1: cli\n  hlt\n  jmp 1b\n");

uint32_t ms_stack_top;
static uint8_t ms_stack[4096] __attribute__((aligned(16)));
static uint64_t gdt[4] = { 0, 0, 0x00cf9a000000ffffULL, 0x00cf92000000ffffULL };
static struct {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed)) gdtr;

void ms_ap_main(void);
void ms_ap_main(void)
{
    reader(1);
    stale_probe();
    for (;;)
        cpu_pause();
}

static inline void apic_wr(uint32_t off, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)(APIC + off) = v;
}

static int reader_main(void)
{
    gdtr.limit = sizeof(gdt) - 1;
    gdtr.base = (uint32_t)(uintptr_t)gdt;
    __asm__ volatile("lgdt %0\n\tljmp $0x10, $1f\n1: movw $0x18, %%ax\n\t"
                     "movw %%ax, %%ds\n\tmovw %%ax, %%es\n\tmovw %%ax, %%ss" ::"m"(gdtr)
                     : "eax", "memory");
    memcpy(ms_gdtr, &gdtr, 6);
    memcpy((void *)0x8000, ms_tramp, (size_t)(ms_tramp_end - ms_tramp));
    ms_stack_top = (uint32_t)(uintptr_t)(ms_stack + sizeof(ms_stack));
    apic_wr(0xf0, 0x1ff);
    apic_wr(0x310, 1u << 24);
    apic_wr(0x300, 0x4500); /* INIT, assert */
    spin_delay(10000);
    apic_wr(0x300, 0x0600 | (0x8000 >> 12)); /* STARTUP, vector 8 */
    spin_delay(1000);
    apic_wr(0x300, 0x0600 | (0x8000 >> 12));
    reader(0);
    int32_t bells = 0;
    for (uint32_t i = 0; i < 100000 && !bells; i++)
        bells = hypercall(HC_DOORBELL_POLL, 1, 0, 0, 0);
    gprintf("memslot: reader: doorbell from members %x\n", (uint32_t)bells);
    for (;;) /* the partition ends with vCPU 1's expected EPT violation */
        cpu_pause();
    return 0;
}

/* ------------------------------------------------------------ control */

static uint32_t failures;

static void fail(const char *what, int32_t r)
{
    if (failures++ < 8)
        gprintf("memslot: control: FAIL %s = %d\n", what, r);
}

static int32_t call(const char *what, uint32_t nr, uint32_t a0, uint32_t a1, uint32_t a2,
                    uint32_t a3)
{
    int32_t r = hypercall(nr, a0, a1, a2, a3);
    if (r < 0)
        fail(what, r);
    return r;
}

static void expect(const char *what, int32_t want, uint32_t nr, uint32_t a0, uint32_t a1,
                   uint32_t a2, uint32_t a3)
{
    int32_t r = hypercall(nr, a0, a1, a2, a3);
    if (r != want)
        fail(what, r);
}

static void pool_round(void)
{
    call("POOL_TAKE", HC_POOL_TAKE, 0, 0x4000, 0, 0);
    volatile uint32_t *pp = (volatile uint32_t *)POOL;
    for (uint32_t i = 0; i < 0x4000 / 4; i += 64)
        if (pp[i])
            fail("taken pool page not zeroed", (int32_t)i);
    for (uint32_t i = 0; i < 0x4000 / 4; i += 64)
        pp[i] = 0xfeed;
    call("POOL_GIVE", HC_POOL_GIVE, 0, 0x4000, 0, 0);
}

/* Wait until no reader vCPU is inside an access announced before the phase
 * went odd (Dekker: seq store, full barrier, busy loads). */
static void quiesce_readers(void)
{
    mb();
    while (S->busy[0] || S->busy[1])
        cpu_pause();
    mb();
}

/* The stale-translation probe (reader vCPU 1, see the top). */
static void probe_detach(uint32_t addr)
{
    S->probe_addr = addr;
    mb();
    S->probe_stage = 1;
    while (!S->probe_ready)
        cpu_pause();
    spin_delay(20000);
    call("DETACH (probe)", HC_WIN_DETACH, 0, 1, 0, 0);
    mb();
    S->probe_stage = 2;
    mb();
    gprintf("memslot: control: window detached from %x while reader vCPU 1 read it\n", addr);
}

/* struct bh_map_stats (docs/hypercalls.md): the kick counters are
 * hypervisor-wide. */
struct map_stats {
    uint64_t changes, change_ticks, grace_periods, gp_ticks, unmap_ticks, tick_hz;
    uint64_t kick_requests, kick_ipis_sent, kick_ipis_taken;
};

static void stats(struct map_stats *st)
{
    if (hypercall(HC_MAP_STATS, 1, (uint32_t)(uintptr_t)st, sizeof(*st), 0) != sizeof(*st))
        fail("MAP_STATS", -1);
}

/* Epoch kicks between two snapshots: an IPI is taken at most once after it
 * was sent (at most one in flight per CPU, and 4 CPUs). */
static bool kick_report(const char *who, const struct map_stats *a, const struct map_stats *b)
{
    uint32_t req = (uint32_t)(b->kick_requests - a->kick_requests);
    uint32_t sent = (uint32_t)(b->kick_ipis_sent - a->kick_ipis_sent);
    uint32_t taken = (uint32_t)(b->kick_ipis_taken - a->kick_ipis_taken);
    gprintf("%s: epoch kicks: %u requested, %u IPIs sent, %u taken\n", who, req, sent, taken);
    return b->kick_ipis_taken <= b->kick_ipis_sent && b->kick_ipis_sent - b->kick_ipis_taken <= 4;
}

static int control_main(uint32_t iters)
{
    volatile uint32_t *w = (volatile uint32_t *)CTL_WIN;
    uint32_t addr = ADDR_A, rw = 1, detaches = 0, moves = 0, protects = 0, lingered = 0;
    /* Bad calls first: nothing may change. */
    expect("MOVE to a misaligned address", -22, HC_WIN_MOVE, 0, 1, ADDR_B + 1, 0);
    expect("MOVE over the reader's RAM", -16, HC_WIN_MOVE, 0, 1, 0x100000, 0);
    expect("MOVE over the virtual LAPIC page", -34, HC_WIN_MOVE, 0, 1, 0xfee00000u - 0x2000, 0);
    expect("MOVE over the virtual I/O APIC page", -34, HC_WIN_MOVE, 0, 1, 0xfec00000u, 0);
    expect("MOVE over the ACPI tables", -34, HC_WIN_MOVE, 0, 1, 0xe0000, 0);
    expect("PROTECT rw on a window the reader may only read", -1, HC_WIN_PROTECT, 2, 1, ACC_RW,
           0);
    expect("DETACH of a channel that does not exist", -2, HC_WIN_DETACH, 5, 1, 0, 0);
    expect("ATTACH of an attached window", -17, HC_WIN_ATTACH, 0, 1, ADDR_B, ACC_RW);
    expect("PROTECT with a bad access value", -22, HC_WIN_PROTECT, 0, 1, 2, 0);
    /* Warm-up before the readers look (seq 0): the EPT table pages for both
     * addresses and the pool exist from here on. */
    call("MOVE warm-up", HC_WIN_MOVE, 0, 1, ADDR_B, 0);
    call("MOVE warm-up", HC_WIN_MOVE, 0, 1, ADDR_A, 0);
    pool_round();
    int32_t free0 = call("FREE_FRAMES", HC_FREE_FRAMES, 0, 0, 0, 0);
    struct map_stats ks0, ks1;
    stats(&ks0);
    for (uint32_t i = 0; i < WORDS; i++)
        w[i] = pat(1, i);
    S->addr = addr;
    S->rw = rw;
    mb();
    S->seq = 2;
    mb();
    while (!S->started[0] || !S->started[1])
        cpu_pause();
    gprintf("memslot: control: %u phases, readers running\n", iters);
    for (uint32_t p = 2; p <= iters + 1; p++) {
        S->seq = 2 * p - 1;
        quiesce_readers();
        if (p % 10 == 0) {
            call("DETACH", HC_WIN_DETACH, 0, 1, 0, 0);
            addr = addr == ADDR_A ? ADDR_B : ADDR_A;
            rw = !rw;
            call("ATTACH", HC_WIN_ATTACH, 0, 1, addr, rw ? ACC_RW : ACC_R);
            detaches++;
        } else if (p % 2 == 0) {
            addr = addr == ADDR_A ? ADDR_B : ADDR_A;
            call("MOVE", HC_WIN_MOVE, 0, 1, addr, 0);
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
        if (p % 5 == 0) {
            while (S->seen[0] != p || S->seen[1] != p)
                cpu_pause();
            lingered++;
        }
    }
    S->done = 1;
    mb();
    while (!S->finished[0] || !S->finished[1])
        cpu_pause();
    pool_round();
    int32_t free1 = call("FREE_FRAMES", HC_FREE_FRAMES, 0, 0, 0, 0);
    int32_t rung = call("DOORBELL_RING", HC_DOORBELL_RING, 1, 0, 0, 0);
    for (uint32_t v = 0; v < 2; v++)
        gprintf("memslot: reader vCPU %u: %u stable checks, %u writes, %u errors\n", v,
                S->checks[v], S->writes[v], S->errors[v]);
    gprintf("memslot: control: %u moves, %u permission changes, %u detach+attach\n", moves,
            protects, detaches);
    gprintf("memslot: control: %u phases checked by both reader vCPUs before the next change\n",
            lingered);
    gprintf("memslot: control: free frames %d before, %d after: %s\n", free0, free1,
            free0 == free1 ? "unchanged" : "CHANGED");
    gprintf("memslot: control: doorbell rang %d member(s)\n", rung);
    stats(&ks1);
    bool kicks_ok = kick_report("memslot: control", &ks0, &ks1);
    if (!kicks_ok)
        gprintf("memslot: control: epoch kick IPIs: more taken than sent, or more than one per CPU lost\n");
    probe_detach(addr);
    bool ok = !failures && !S->errors[0] && !S->errors[1] && S->checks[0] && S->checks[1] &&
              free0 == free1 && kicks_ok;
    gprintf("memslot: control: %s\n", ok ? "PASSED" : "FAILED");
    return ok ? 0 : 1;
}

/* ------------------------------------------------------------ bench */

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}

/* u64 / u32 without libgcc (a 32-bit guest). */
static uint32_t div_u64(uint64_t a, uint32_t b)
{
    uint64_t q = 0, r = 0;
    for (int i = 63; i >= 0; i--) {
        r = (r << 1) | ((a >> i) & 1);
        if (r >= b) {
            r -= b;
            q |= 1ULL << i;
        }
    }
    return q > 0xffffffffu ? 0xffffffffu : (uint32_t)q;
}


static void report(const char *what, uint32_t n, uint64_t ticks, const struct map_stats *a,
                   const struct map_stats *b)
{
    uint64_t gps = b->grace_periods - a->grace_periods;
    uint64_t gpt = b->gp_ticks - a->gp_ticks, cht = b->change_ticks - a->change_ticks;
    uint64_t unt = b->unmap_ticks - a->unmap_ticks;
    gprintf("bench: %s: %u changes, %u TSC ticks each (guest view); in the hypervisor %u, of "
            "which unmap+INVEPT shootdown %u; %u grace periods, %u ticks each\n",
            what, n, div_u64(ticks, n), div_u64(cht, n), div_u64(unt, n), (uint32_t)gps,
            gps ? div_u64(gpt, (uint32_t)gps) : 0);
}

/* Both reader vCPUs spin in guest mode without touching the window, so each
 * unmap kicks two CPUs in guest mode. */
static int bench_main(uint32_t n)
{
    S->addr = 0;
    mb();
    S->seq = 2;
    mb();
    while (!S->started[0] || !S->started[1])
        cpu_pause();
    uint64_t t0 = rdtsc();
    for (uint32_t i = 0; i < n; i++)
        hypercall(0, 0, 0, 0, 0);
    gprintf("bench: null hypercall: %u TSC ticks each\n", div_u64(rdtsc() - t0, n));
    struct map_stats a, b;
    stats(&a);
    t0 = rdtsc();
    for (uint32_t i = 0; i < n; i++)
        call("PROTECT", HC_WIN_PROTECT, 0, 1, i & 1 ? ACC_RW : ACC_R, 0);
    uint64_t t = rdtsc() - t0;
    stats(&b);
    report("permission change (PROTECT)", n, t, &a, &b);
    stats(&a);
    t0 = rdtsc();
    for (uint32_t i = 0; i < n; i++)
        call("MOVE", HC_WIN_MOVE, 0, 1, i & 1 ? ADDR_A : ADDR_B, 0);
    t = rdtsc() - t0;
    stats(&b);
    report("move (MOVE)", n, t, &a, &b);
    stats(&a);
    t0 = rdtsc();
    for (uint32_t i = 0; i < n; i++) {
        call("DETACH", HC_WIN_DETACH, 0, 1, 0, 0);
        call("ATTACH", HC_WIN_ATTACH, 0, 1, ADDR_A, ACC_RW);
    }
    t = rdtsc() - t0;
    stats(&b);
    report("detach or attach", 2 * n, t, &a, &b);
    S->done = 1;
    mb();
    while (!S->finished[0] || !S->finished[1])
        cpu_pause();
    probe_detach(ADDR_A);
    gprintf("bench: %s\n", failures ? "FAILED" : "done");
    return failures ? 1 : 0;
}

int guest_main(uint32_t magic, uint32_t info)
{
    const char *cmd = boot_cmdline(magic, info);
    if (cmdline_u32(cmd, "bench", 0))
        return bench_main(cmdline_u32(cmd, "bench", 0));
    if (cmdline_u32(cmd, "control", 0))
        return control_main(cmdline_u32(cmd, "iters", 100));
    return reader_main();
}
