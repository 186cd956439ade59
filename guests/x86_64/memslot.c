/* memslot (x86): runtime map changes while another partition uses the window
 * (issue 13). One image, two roles (cmdline control=1 iters=N / reader=1),
 * the x86 counterpart of guests/arm64/memslot.c.
 *
 * control (control = "on", 1 vCPU, outside-access = "abort"): owns a rw
 * mapping of channel 0 ("win") at CTL_WIN and of channel 1 ("sync") at SYNC.
 * For phase p = 2..iters+1 it marks the phase odd in sync, changes the
 * reader's window (move between two addresses, toggle read-only/read-write,
 * and every 50th phase a detach and an attach), writes the phase's pattern
 * through its own mapping and marks the phase even with the window's address
 * and permission. Around each detach (and every 20th move) it has reader
 * vCPU 0 touch the window and hold its translations before the change, and
 * read and write the old address once the change returned: both must fault
 * (probe(); without the EPT shootdown they do not, even under Bochs: check
 * x86-memslot-no-shootdown). (Between those probes the readers still touch old addresses
 * whenever a move overtakes them.) Every 25th phase it waits until both
 * reader vCPUs have checked it. It also takes and gives back its pool (a
 * pool page must fault before TAKE and after GIVE), rings a doorbell, and
 * compares the hypervisor's free frames before and after the loop.
 *
 * reader (2 vCPUs, vCPU 1 started by INIT-SIPI-SIPI from vCPU 0,
 * outside-access = "abort"): never waits for the control partition and never
 * makes a hypercall while the loop runs. Each vCPU reads the phase
 * (seqlock), reads the whole pattern, writes its own word and reads it back,
 * then reads the phase again. A read that did not fault inside a stable
 * phase must hold that phase's values; an access that faulted is fine only
 * if the phase changed meanwhile; a write in a stable read-only phase must
 * fault (a stale writable translation would let it through).
 *
 * Faults: with outside-access = "abort" the hypervisor injects #GP(0) at the
 * access (docs/config.md). Every window access goes through ms_ld/ms_st; the
 * #GP handler moves the return address of exactly those two instructions to
 * a recovery point that counts the fault, and stops with an ERROR on any
 * other #GP. */
#include "guest.h"

#define CTL_WIN 0x50000000u
/* Not 0x51000000: Bochs' TLB is direct-mapped by linear page number modulo
 * 1024, so a sync page at a multiple of 4 MiB would share its entry with
 * the window's first page (a multiple of 4 MiB too) and every read of the
 * phase would evict the window's translation, hiding a stale one. */
#define SYNC 0x51010000u
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
    uint32_t probe_req, probe_kind, probe_addr, probe_ack, probe_result;
    uint32_t checks[2], writes[2], faults_ok[2], errors[2], finished[2], started[2];
    uint32_t seen[2];    /* last phase each reader vCPU checked while stable */
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

/* ------------------------------------------------------------ faults */

/* One per vCPU (and one for the control partition): faults counted by the
 * recovery points, with the address and kind (1 read, 2 write) of the last. */
struct frec {
    uint32_t count, addr, kind;
};

static volatile struct frec frec[3];

uint32_t ms_ld(uint32_t addr, volatile struct frec *r);
void ms_st(uint32_t addr, uint32_t val, volatile struct frec *r);
void ms_gp(void);
void ms_gp_unexpected(uint32_t eip, uint32_t err);

/* cdecl, 32-bit. The #GP frame (same privilege): error code, EIP, CS, EFLAGS. */
__asm__(".text\n"
        ".globl ms_ld\nms_ld:\n"
        "  movl 4(%esp), %edx\n"
        "ms_ld_insn:\n  movl (%edx), %eax\n  ret\n"
        "ms_ld_fix:\n  movl 8(%esp), %ecx\n  incl (%ecx)\n  movl %edx, 4(%ecx)\n"
        "  movl $1, 8(%ecx)\n  xorl %eax, %eax\n  ret\n"
        ".globl ms_st\nms_st:\n"
        "  movl 4(%esp), %edx\n  movl 8(%esp), %eax\n"
        "ms_st_insn:\n  movl %eax, (%edx)\n  ret\n"
        "ms_st_fix:\n  movl 12(%esp), %ecx\n  incl (%ecx)\n  movl %edx, 4(%ecx)\n"
        "  movl $2, 8(%ecx)\n  ret\n"
        ".globl ms_gp\nms_gp:\n"
        "  cmpl $ms_ld_insn, 4(%esp)\n  jne 1f\n  movl $ms_ld_fix, 4(%esp)\n  jmp 3f\n"
        "1: cmpl $ms_st_insn, 4(%esp)\n  jne 2f\n  movl $ms_st_fix, 4(%esp)\n  jmp 3f\n"
        "2: pushl 0(%esp)\n  pushl 8(%esp)\n  call ms_gp_unexpected\n"
        "3: addl $4, %esp\n  iret\n");

void ms_gp_unexpected(uint32_t eip, uint32_t err)
{
    gprintf("memslot: ERROR: #GP at eip %x (error code %x) outside a window access\n", eip, err);
    for (;;)
        __asm__ volatile("cli; hlt");
}

static uint64_t idt[32];
static struct {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed)) idtr;

/* #GP through an interrupt gate in the current code segment; every vCPU
 * loads the same IDT. */
static void load_idt(void)
{
    uint16_t cs;
    __asm__ volatile("movw %%cs, %0" : "=r"(cs));
    uint32_t a = (uint32_t)(uintptr_t)ms_gp;
    idt[13] = (a & 0xffff) | ((uint64_t)cs << 16) | (0x8eULL << 40) | ((uint64_t)(a >> 16) << 48);
    idtr.limit = sizeof(idt) - 1;
    idtr.base = (uint32_t)(uintptr_t)idt;
    __asm__ volatile("lidt %0" ::"m"(idtr) : "memory");
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

#define PROBE_WARM 1   /* touch the window at probe_addr, then hold */
#define PROBE_OLD 2    /* read and write the old address: both must fault */

/* Reader vCPU 0, asked by the control partition around a change that takes
 * the window from an address. WARM: write (if allowed) and read the own
 * word there, so that this CPU holds the translations, then touch nothing
 * of the window until the next request (no VM exit either, unless the
 * hypervisor's shootdown kicks this CPU). OLD: after the change returned,
 * read and write the old address; both must fault. Without the shootdown
 * the held translations would let them through (Bochs keeps them in its
 * TLB until the CPU's next VM exit or entry). */
static void probe(uint32_t v)
{
    uint32_t req = S->probe_req;
    if (req == S->probe_ack)
        return;
    uint32_t a = S->probe_addr, own = a + 4 * (WORDS + v);
    volatile struct frec *r = &frec[v];
    if (S->probe_kind == PROBE_WARM) {
        ms_st(own, 0xc0000000u | (v << 24), r); /* faults while read-only */
        (void)ms_ld(own, r);
        mb();
        S->probe_ack = req;
        mb();
        while (S->probe_req == req)
            ;
        return probe(v);
    }
    uint32_t e0 = r->count;
    uint32_t x = ms_ld(own, r);
    bool read_faulted = r->count == e0 + 1 && r->kind == 1 && r->addr == own;
    ms_st(own, 0xbad, r);
    bool write_faulted = r->count == e0 + 2 && r->kind == 2 && r->addr == own;
    if ((!read_faulted || !write_faulted) && reader_msgs++ < 8)
        gprintf("memslot: reader vCPU %u: ERROR old address %x still %s (%x)\n", v, own,
                read_faulted ? "writable" : "readable", x);
    S->probe_result = read_faulted && write_faulted ? 1 : 2;
    mb();
    S->probe_ack = req;
    mb();
}

static void reader(uint32_t v)
{
    volatile struct frec *r = &frec[v];
    /* Interrupts on while the loop runs: no interrupt is expected (one would
     * be a #GP past the IDT's limit, an ERROR), but the hypervisor's kick
     * IPIs must end guest mode, and Bochs 2.7 forces no external-interrupt
     * exit from a guest with RFLAGS.IF clear (docs/memslots.md). */
    __asm__ volatile("sti" ::: "memory");
    S->started[v] = 1;
    while (!S->done) {
        if (v == 0)
            probe(v);
        mb();
        uint32_t s1 = S->seq;
        mb();
        if (s1 == 0 || (s1 & 1))
            continue;
        uint32_t a = S->addr, rw = S->rw, phase = s1 / 2;
        if (!a)
            continue;
        uint32_t e0 = r->count;
        uint32_t bad = 0, bad_i = 0, got = 0;
        for (uint32_t i = 0; i < WORDS; i++) {
            uint32_t x = ms_ld(a + 4 * i, r);
            if (x != pat(phase, i) && !bad++) {
                bad_i = i;
                got = x;
            }
        }
        uint32_t mine = 0xc0000000u | (v << 24) | (phase & 0xffffff);
        uint32_t own = a + 4 * (WORDS + v);
        ms_st(own, mine, r);
        uint32_t back = ms_ld(own, r);
        mb();
        uint32_t s2 = S->seq;
        uint32_t faults = r->count - e0;
        if (s1 != s2) {
            /* Changed under us: faults and odd values are expected. */
            S->faults_ok[v] += faults;
            continue;
        }
        /* A stable phase: everything must be exact. */
        if (!rw) {
            if (faults != 1 || r->kind != 2 || r->addr != own)
                reader_error(v, "write to a read-only window did not fault", phase, a, faults);
            else
                S->faults_ok[v]++;
        } else if (faults) {
            reader_error(v, "access to the mapped window faulted", phase, a, r->addr);
        } else if (back != mine) {
            reader_error(v, "own write did not read back", phase, a, back);
        } else {
            S->writes[v]++;
        }
        if (bad)
            reader_error(v, "wrong pattern word", phase, a + 4 * bad_i, got);
        S->checks[v]++;
        S->seen[v] = phase;
    }
    __asm__ volatile("cli" ::: "memory");
    mb();
    S->finished[v] = 1;
    mb();
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
    load_idt();
    reader(1);
    for (;;)
        cpu_pause();
}


/* The boot protocol leaves no GDT the guest may rely on (and exception
 * delivery reloads CS from it): flat code 0x10 and data 0x18, then the IDT. */
static void load_tables(void)
{
    gdtr.limit = sizeof(gdt) - 1;
    gdtr.base = (uint32_t)(uintptr_t)gdt;
    __asm__ volatile("lgdt %0\n\tljmp $0x10, $1f\n1: movw $0x18, %%ax\n\t"
                     "movw %%ax, %%ds\n\tmovw %%ax, %%es\n\tmovw %%ax, %%ss" ::"m"(gdtr)
                     : "eax", "memory");
    load_idt();
}

static int reader_main(void)
{
    load_tables();
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
    while (!S->finished[1])
        cpu_pause();
    int32_t bells = 0;
    for (uint32_t i = 0; i < 100000 && !bells; i++)
        bells = hypercall(HC_DOORBELL_POLL, 1, 0, 0, 0);
    gprintf("memslot: reader: doorbell from members %x\n", (uint32_t)bells);
    return (S->errors[0] || S->errors[1]) ? 1 : 0;
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

static void probe_request(uint32_t kind, uint32_t addr)
{
    S->probe_kind = kind;
    S->probe_addr = addr;
    mb();
    uint32_t req = S->probe_req + 1;
    S->probe_req = req;
    mb();
    while (S->probe_ack != req)
        cpu_pause();
    mb();
}

/* Before a change that takes the window from addr: reader vCPU 0 holds its
 * translations of addr (see probe()). */
static void probe_warm(uint32_t addr)
{
    probe_request(PROBE_WARM, addr);
}

/* After that change returned: reader vCPU 0 must fault at the old address. */
static void probe_old(uint32_t old, uint32_t *probes)
{
    probe_request(PROBE_OLD, old);
    if (S->probe_result != 1)
        fail("old window address still mapped after the change returned", -1);
    (*probes)++;
}

/* A pool page faults (outside-access = "abort") unless it is taken. */
static bool pool_faults(void)
{
    volatile struct frec *r = &frec[2];
    uint32_t e0 = r->count;
    (void)ms_ld(POOL, r);
    return r->count == e0 + 1 && r->kind == 1 && r->addr == POOL;
}

static void pool_round(void)
{
    if (!pool_faults())
        fail("pool page readable before TAKE", -1);
    call("POOL_TAKE", HC_POOL_TAKE, 0, 0x4000, 0, 0);
    volatile uint32_t *pp = (volatile uint32_t *)POOL;
    for (uint32_t i = 0; i < 0x4000 / 4; i += 64)
        if (pp[i])
            fail("taken pool page not zeroed", (int32_t)i);
    for (uint32_t i = 0; i < 0x4000 / 4; i += 64)
        pp[i] = 0xfeed;
    call("POOL_GIVE", HC_POOL_GIVE, 0, 0x4000, 0, 0);
    if (!pool_faults())
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
    if (hypercall(HC_MAP_STATS, 1, (uint32_t)(uintptr_t)st, sizeof(*st), 0) != sizeof(*st))
        fail("MAP_STATS", -1);
}

static int control_main(uint32_t iters)
{
    load_tables();
    volatile uint32_t *w = (volatile uint32_t *)CTL_WIN;
    uint32_t addr = ADDR_A, rw = 1, probes = 0, detaches = 0, moves = 0, protects = 0;
    uint32_t lingered = 0;
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
    /* Phase 1: the configured mapping. */
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
    struct map_stats ks0, ks1;
    stats(&ks0);
    for (uint32_t p = 2; p <= iters + 1; p++) {
        S->seq = 2 * p - 1;
        mb();
        uint32_t old = addr;
        if (p % 50 == 0 || p % 20 == 0)
            probe_warm(old);
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
                cpu_pause();
            lingered++;
        }
        if (p % 1000 == 0)
            pool_round();
    }
    S->done = 1;
    mb();
    while (!S->finished[0] || !S->finished[1])
        cpu_pause();
    /* The readers make no more exits in their loop: a kick still in flight
     * (at most one per other CPU) may not have been taken. */
    stats(&ks1);
    uint32_t req = (uint32_t)(ks1.kick_requests - ks0.kick_requests);
    uint32_t sent = (uint32_t)(ks1.kick_ipis_sent - ks0.kick_ipis_sent);
    uint32_t taken = (uint32_t)(ks1.kick_ipis_taken - ks0.kick_ipis_taken);
    bool kicks_ok = req && sent && taken && taken <= sent && sent - taken <= 3;
    int32_t free1 = call("FREE_FRAMES", HC_FREE_FRAMES, 0, 0, 0, 0);
    int32_t rung = call("DOORBELL_RING", HC_DOORBELL_RING, 1, 0, 0, 0);
    for (uint32_t v = 0; v < 2; v++)
        gprintf("memslot: reader vCPU %u: %u stable checks, %u writes, %u expected faults, "
                "%u errors\n",
                v, S->checks[v], S->writes[v], S->faults_ok[v], S->errors[v]);
    gprintf("memslot: control: %u moves, %u permission changes, %u detach+attach, %u old "
            "addresses probed\n",
            moves, protects, detaches, probes);
    gprintf("memslot: control: %u phases checked by both reader vCPUs before the next change\n",
            lingered);
    gprintf("memslot: control: free frames %d before, %d after: %s\n", free0, free1,
            free0 == free1 ? "unchanged" : "CHANGED");
    gprintf("memslot: control: doorbell rang %d member(s)\n", rung);
    gprintf("memslot: control: epoch kicks: %u requested, %u IPIs sent, %u taken\n", req, sent,
            taken);
    if (!kicks_ok)
        gprintf("memslot: control: epoch kick IPIs not requested, not sent or not taken\n");
    bool ok = !failures && !S->errors[0] && !S->errors[1] && S->checks[0] && S->checks[1] &&
              free0 == free1 && probes && kicks_ok;
    gprintf("memslot: control: %s\n", ok ? "PASSED" : "FAILED");
    return ok ? 0 : 1;
}

/* ------------------------------------------------------------ bench */


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
