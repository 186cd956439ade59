/* fuzzapic: a hostile guest for the partition's virtual interrupt
 * controllers and their neighbours. A deterministic PRNG (xorshift32,
 * seed= on the command line) drives iters= random operations:
 *   - the xAPIC page: 32-bit MOV loads and stores (register, immediate and
 *     moffs forms; base, base+disp8, base+disp32 with a segment prefix,
 *     base+index*4 addressing) at every register offset with random values;
 *   - from the middle on, x2APIC mode: RDMSR/WRMSR of random MSRs
 *     0x800-0x8ff with random values (refused ones raise #GP, counted);
 *   - the ICR in both modes with random vectors (also < 16), delivery modes,
 *     shorthands and destinations; INIT and SIPI are kept away from this
 *     vCPU (turned into all-excluding-self, where there is no other vCPU)
 *     and are also sent to APIC IDs that do not exist;
 *   - IA32_APIC_BASE with reserved bits or invalid transitions (#GP), and
 *     a valid disable/enable of the xAPIC now and then;
 *   - the I/O APIC (IOREGSEL, IOWIN, EOI and the other offsets; random
 *     redirection entries), then the UART's IRQ 4 raised through it;
 *   - the 8259 ports and the CMOS ports with random index and value;
 *   - short windows with interrupts enabled, so whatever became deliverable
 *     is taken (every vector has a counting handler; NMIs are counted).
 * Then everything is re-initialised and must still work: the LAPIC timer
 * and a self IPI are taken, and the RTC shows the time it showed before
 * plus the time that passed (its time registers ignored the writes).
 *
 * Access forms the hypervisor refuses stop the partition: one of them per
 * run (refuse=1; the partition's fault policy restarts it), in the order of
 * the table below, before the fuzzing run.
 *
 * victim=1 (2 vCPUs): vCPU 1 is started by INIT-SIPI-SIPI and counts with
 * interrupts on; the fuzzing may INIT it and send it IPIs and NMIs (SIPIs
 * always carry the trampoline's vector); at the end it must start again
 * after INIT-SIPI-SIPI, run and take an IPI. */
#include "guest.h"

#define APIC 0xfee00000u
#define IOAPIC 0xfec00000u
#define V_TIMER 0x40
#define V_SELF 0x43

static uint32_t rs;
static uint32_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 17;
    rs ^= rs << 5;
    return rs;
}


/* The #GP/#UD recovery: the handler resumes at recover_eip. */
volatile uint32_t recover_eip;
static volatile uint32_t vec_count[256], exc_count[32], nmis, bad_exc, bad_exc_vec;
static volatile uint32_t x2mode, apic_on = 1;

static bool try_wrmsr(uint32_t msr, uint64_t v)
{
    uint32_t before = exc_count[13];
    __asm__ volatile("movl $1f, recover_eip\n\twrmsr\n1:\n\tmovl $0, recover_eip" ::"c"(msr),
                     "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
                     : "memory");
    return exc_count[13] == before;
}

static bool try_rdmsr(uint32_t msr, uint64_t *v)
{
    uint32_t before = exc_count[13], lo = 0, hi = 0;
    __asm__ volatile("movl $1f, recover_eip\n\trdmsr\n1:\n\tmovl $0, recover_eip"
                     : "+a"(lo), "+d"(hi)
                     : "c"(msr)
                     : "memory");
    *v = ((uint64_t)hi << 32) | lo;
    return exc_count[13] == before;
}

static void eoi(void)
{
    if (!apic_on)
        return;
    if (x2mode)
        try_wrmsr(0x80b, 0);
    else
        *(volatile uint32_t *)(APIC + 0xb0) = 0;
}

/* The victim vCPU (victim=1): started by INIT-SIPI-SIPI at the trampoline,
 * it counts in a loop with interrupts on; the fuzzing may INIT it (SIPIs
 * then always carry the trampoline's vector) and must not lose it. */
static uint8_t ap_stack[4096] __attribute__((aligned(16)));
static volatile uint32_t ap_starts, ap_loops, ap_irqs;
static bool on_ap(void)
{
    uint32_t sp;
    __asm__ volatile("movl %%esp, %0" : "=r"(sp));
    return sp >= (uint32_t)(uintptr_t)ap_stack && sp < (uint32_t)(uintptr_t)ap_stack + sizeof(ap_stack);
}

static void on_vector(struct irq_frame *f)
{
    uint32_t v = f->vector & 0xff;
    if (on_ap()) {
        __atomic_fetch_add(&ap_irqs, 1, __ATOMIC_RELAXED);
        if (v >= 16)
            *(volatile uint32_t *)(APIC + 0xb0) = 0; /* the victim stays in xAPIC mode */
        else if (v != 2) {
            gprintf("fuzzapic: FAIL exception %u on the victim vCPU at %x\n", v, f->eip);
            for (;;)
                __asm__ volatile("cli; hlt");
        }
        return;
    }
    vec_count[v]++;
    if (v == 2) {
        nmis++;
        return;
    }
    if (v < 16) {
        /* an exception (16-31 can only be fixed interrupts here: no x87,
         * alignment checks or machine checks) */
        exc_count[v]++;
        if ((v == 13 || v == 6) && recover_eip) {
            f->eip = recover_eip;
            recover_eip = 0;
            return;
        }
        bad_exc++;
        bad_exc_vec = v;
        gprintf("fuzzapic: FAIL exception %u (error %x) at %x\n", v, f->error, f->eip);
        for (;;)
            __asm__ volatile("cli; hlt");
    }
    eoi();
}

/* ------------------------------------------------------------ xAPIC page */

static uint32_t apic_read(uint32_t off, uint32_t form)
{
    uint32_t v = 0;
    uint32_t p = APIC + off;
    switch (form % 5) {
    case 0: __asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(p) : "memory"); break;
    case 1: __asm__ volatile("movl 0x10(%1), %0" : "=r"(v) : "r"(p - 0x10) : "memory"); break;
    case 2: __asm__ volatile("movl %%ds:0x1000(%1), %0" : "=r"(v) : "r"(p - 0x1000) : "memory"); break;
    case 3: {
        uint32_t k = off >> 4;
        __asm__ volatile("movl (%1,%2,4), %0" : "=r"(v) : "r"(p - 4 * k), "r"(k) : "memory");
        break;
    }
    default:
        if (off == 0x20)
            __asm__ volatile("movl 0xfee00020, %%eax" : "=a"(v)::"memory"); /* moffs */
        else
            __asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(p) : "memory");
        break;
    }
    return v;
}

static void apic_write(uint32_t off, uint32_t v, uint32_t form)
{
    uint32_t p = APIC + off;
    switch (form % 6) {
    case 0: __asm__ volatile("movl %0, (%1)" ::"r"(v), "r"(p) : "memory"); break;
    case 1: __asm__ volatile("movl %0, 0x10(%1)" ::"r"(v), "r"(p - 0x10) : "memory"); break;
    case 2: __asm__ volatile("movl %0, %%ds:0x1000(%1)" ::"r"(v), "r"(p - 0x1000) : "memory"); break;
    case 3: {
        uint32_t k = off >> 4;
        __asm__ volatile("movl %0, (%1,%2,4)" ::"r"(v), "r"(p - 4 * k), "r"(k) : "memory");
        break;
    }
    case 4:
        if (off == 0x80)
            __asm__ volatile("movl %%eax, 0xfee00080" ::"a"(v) : "memory"); /* moffs */
        else
            __asm__ volatile("movl %0, (%1)" ::"r"(v), "r"(p) : "memory");
        break;
    default: /* immediate forms */
        if (v & 1)
            __asm__ volatile("movl $0, (%0)" ::"r"(p) : "memory");
        else
            __asm__ volatile("movl $0x000000fe, 4(%0)" ::"r"(p - 4) : "memory");
        break;
    }
}

/* INIT and SIPI must not reach this vCPU (it would wait for a SIPI that
 * nobody sends): those that would go to all-excluding-self instead. */
static uint32_t inits_elsewhere;
static bool victim;
static uint32_t safe_icr(uint32_t lo, uint32_t dest, bool x2)
{
    uint32_t mode = (lo >> 8) & 7, sh = (lo >> 18) & 3;
    if (mode != 5 && mode != 6)
        return lo;
    if (mode == 6 && victim)
        lo = (lo & ~0xffu) | 0x08; /* the trampoline at 0x8000, nothing random */
    bool self = sh == 1 || sh == 2 ||
                (sh == 0 && ((lo & (1u << 11)) || (x2 ? dest == 0 || dest == 0xffffffffu
                                                       : (dest & 0xff) == 0 || (dest & 0xff) == 0xff)));
    inits_elsewhere++;
    return self ? lo | 3u << 18 : lo;
}

/* ------------------------------------------------------------ I/O APIC */

static void ioapic_write(uint32_t off, uint32_t v) { *(volatile uint32_t *)(IOAPIC + off) = v; }
static uint32_t ioapic_read(uint32_t off) { return *(volatile uint32_t *)(IOAPIC + off); }

/* ------------------------------------------------------------ the refused forms */

struct refused {
    const char *what;
    void (*fn)(void);
};
static void r_byte_read(void)
{
    uint8_t v;
    __asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(APIC + 0x20) : "memory"); /* 0x8a */
    (void)v;
}
static void r_word_write(void) { *(volatile uint16_t *)(APIC + 0x80) = 0x10; }
static void r_unaligned(void) { (void)*(volatile uint32_t *)(APIC + 0x22); }
static void r_offset(void) { (void)*(volatile uint32_t *)(APIC + 0x24); }
static void r_lock(void) { __asm__ volatile("lock orl $0, (%0)" ::"r"(APIC + 0x80) : "memory"); }
static void r_rep(void)
{
    uint32_t d = APIC + 0x80, n = 2;
    __asm__ volatile("cld; rep stosl" : "+D"(d), "+c"(n) : "a"(0) : "memory");
}
static void r_x2_page(void)
{
    uint64_t base;
    try_rdmsr(0x1b, &base);
    try_wrmsr(0x1b, base | (1u << 10));
    *(volatile uint32_t *)(APIC + 0x80) = 0;
}
static void r_ioapic_byte(void) { (void)*(volatile uint8_t *)(IOAPIC + 0x10); }
static const struct refused refused[] = {
    { "8-bit read of the APIC ID", r_byte_read },
    { "16-bit write of the TPR", r_word_write },
    { "32-bit read at offset 0x22", r_unaligned },
    { "32-bit read at offset 0x24", r_offset },
    { "lock or to the TPR", r_lock },
    { "rep stosl to the TPR", r_rep },
    { "xAPIC page write in x2APIC mode", r_x2_page },
    { "8-bit read of the I/O APIC window", r_ioapic_byte },
};
#define NREFUSED (sizeof(refused) / sizeof(refused[0]))

/* ------------------------------------------------------------ RTC */

static uint8_t cmos(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}
static uint32_t bcd(uint8_t v) { return (v & 15) + (v >> 4) * 10; }
/* Seconds since the start of the month (BCD, 24 h, as after a reset). */
static uint32_t rtc_secs(void)
{
    return ((bcd(cmos(7)) * 24 + bcd(cmos(4))) * 60 + bcd(cmos(2))) * 60 + bcd(cmos(0));
}

/* ------------------------------------------------------------ main */

static uint32_t n_mmio, n_msr, n_msr_gp, n_icr, n_base, n_ioapic, n_uart_irq, n_pic, n_cmos, n_win;

static void window(void)
{
    __asm__ volatile("sti; nop; nop; nop; cli" ::: "memory");
    n_win++;
}

static uint32_t rand_val(void)
{
    uint32_t r = rnd();
    switch (r & 3) {
    case 0: return rnd() & 0xff;
    case 1: return 1u << (rnd() & 31);
    default: return rnd();
    }
}

/* Half of the accesses go to the registers that do something. */
static const uint16_t hot[] = { 0x080, 0x0b0, 0x0d0, 0x0e0, 0x0f0, 0x280, 0x2f0, 0x300, 0x300,
                                0x300, 0x310, 0x320, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370,
                                0x380, 0x380, 0x390, 0x3e0, 0x3f0 };
#define NHOT (sizeof(hot) / sizeof(hot[0]))
static uint32_t rand_off(void)
{
    return rnd() & 1 ? hot[rnd() % NHOT] : rnd() & 0xff0;
}

static void fuzz_xapic(uint32_t r)
{
    uint32_t off = rand_off(), form = rnd();
    if (r & 1) {
        (void)apic_read(off, form);
    } else {
        uint32_t v = rand_val();
        if (off == 0x300) {
            v = safe_icr(v, apic_read(0x310, 0) >> 24, false);
            n_icr++;
            if (form % 6 == 5)
                form = 0; /* no immediate ICR forms: they are not filtered */
        }
        apic_write(off, v, form);
    }
    n_mmio++;
}

static void fuzz_x2apic(uint32_t r)
{
    uint32_t msr = rnd() % 16 ? 0x800 + (rand_off() >> 4) : 0x6e0; /* or IA32_TSC_DEADLINE */
    if (r & 1) {
        uint64_t v;
        n_msr_gp += !try_rdmsr(msr, &v);
    } else {
        uint64_t v = rand_val() | (rnd() & 3 ? 0 : (uint64_t)rnd() << 32);
        if (msr == 0x830) {
            v = safe_icr((uint32_t)v, (uint32_t)(v >> 32), true) | (v & 0xffffffff00000000ULL);
            n_icr++;
        }
        n_msr_gp += !try_wrmsr(msr, v);
    }
    n_msr++;
}

static void fuzz_base(uint64_t base)
{
    uint32_t k = rnd() % 4;
    n_base++;
    if (k == 0) { /* reserved bits */
        n_msr_gp += !try_wrmsr(0x1b, base | (1ULL << (rnd() % 8)) | (rnd() & 1 ? 1ULL << 9 : 0));
    } else if (k == 1) {
        n_msr_gp += !try_wrmsr(0x1b, base | (1ULL << (36 + rnd() % 28)));
    } else if (k == 2) { /* x2APIC without enable; x2APIC -> xAPIC */
        n_msr_gp += !try_wrmsr(0x1b, x2mode ? base : (base & ~0x800ULL) | 0x400);
    } else if (!x2mode) { /* disable and enable again: a reset of the xAPIC */
        apic_on = 0;
        try_wrmsr(0x1b, base & ~0x800ULL);
        try_wrmsr(0x1b, base);
        apic_on = 1;
    }
}

static void fuzz_ioapic(uint32_t r)
{
    uint32_t k = rnd() % 8;
    if (k < 3) {
        ioapic_write(0x00, rnd() & 1 ? rnd() & 0x3f : rnd());
    } else if (k < 6) {
        if (r & 1)
            (void)ioapic_read(0x10);
        else
            ioapic_write(0x10, rand_val());
    } else if (k == 6) {
        uint32_t off = rnd() & 0xffc;
        if (r & 1)
            (void)ioapic_read(off);
        else
            ioapic_write(off, rand_val());
    } else {
        /* pin 4 (the UART) with random fields, then its line raised */
        uint32_t lo = rnd() & 0x1ffff;
        if (((lo >> 8) & 7) == 5 || ((lo >> 8) & 7) == 6)
            lo &= ~0x700u; /* INIT/SIPI are not I/O APIC modes anyway */
        ioapic_write(0x00, 0x19);
        ioapic_write(0x10, rnd());
        ioapic_write(0x00, 0x18);
        ioapic_write(0x10, lo);
        outb(0x3f9, 0);
        outb(0x3fc, 0x08);
        outb(0x3f9, 0x02);
        window();
        outb(0x3f9, 0);
        outb(0x3fc, 0);
        n_uart_irq++;
    }
    n_ioapic++;
}

static void fuzz_ports(uint32_t r)
{
    static const uint16_t pic[4] = { 0x20, 0x21, 0xa0, 0xa1 };
    if (r & 2) {
        uint16_t port = pic[rnd() & 3];
        if (r & 4)
            (void)inb(port);
        else
            outb(port, (uint8_t)rnd());
        n_pic++;
    } else {
        outb(0x70, (uint8_t)rnd());
        if (r & 4)
            (void)inb(0x71);
        else
            outb(0x71, (uint8_t)rnd());
        n_cmos++;
    }
}

static struct {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed)) bsp_idtr;

void ap_main(void);
void ap_main(void)
{
    __asm__ volatile("lidt %0" ::"m"(bsp_idtr));
    *(volatile uint32_t *)(APIC + 0xf0) = 0x1ff;
    __atomic_fetch_add(&ap_starts, 1, __ATOMIC_RELAXED);
    __asm__ volatile("sti");
    for (;;) {
        __atomic_fetch_add(&ap_loops, 1, __ATOMIC_RELAXED);
        __asm__ volatile("pause");
    }
}

static bool wait_change(volatile uint32_t *c, uint32_t from, uint32_t khz, uint32_t ms)
{
    uint64_t end = rdtsc() + (uint64_t)khz * ms;
    while (*c == from && rdtsc() < end)
        __asm__ volatile("pause");
    return *c != from;
}

/* INIT, then SIPI twice, to APIC ID 1 (xAPIC mode). */
static void start_victim(void)
{
    *(volatile uint32_t *)(APIC + 0x310) = 1u << 24;
    *(volatile uint32_t *)(APIC + 0x300) = 0x4500;
    for (uint32_t i = 0; i < 2; i++) {
        *(volatile uint32_t *)(APIC + 0x310) = 1u << 24;
        *(volatile uint32_t *)(APIC + 0x300) = 0x0608;
    }
}

int guest_main(uint32_t magic, uint32_t info)
{
    const char *cmd = boot_cmdline(magic, info);
    uint32_t seed = cmdline_u32(cmd, "seed", 1), iters = cmdline_u32(cmd, "iters", 2000);
    struct bh_part_info pi;
    part_info(&pi);
    idt_install(on_vector);
    rs = seed ? seed : 0x9e3779b9u;
    gprintf("fuzzapic: run %u, seed %u, %u iterations\n", pi.restarts + 1, seed, iters);
    if (cmdline_u32(cmd, "refuse", 0) && pi.restarts < NREFUSED) {
        gprintf("fuzzapic: refused form %u: %s\n", pi.restarts + 1, refused[pi.restarts].what);
        refused[pi.restarts].fn();
        gprintf("fuzzapic: FAIL still running after the %s\n", refused[pi.restarts].what);
        return 1;
    }
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x40000010), "c"(0));
    uint32_t khz = a;
    uint64_t base;
    try_rdmsr(0x1b, &base);
    *(volatile uint32_t *)(APIC + 0xf0) = 0x1ff;

    /* the RTC before: 24 hours, BCD; not across a midnight */
    outb(0x70, 0x0b);
    outb(0x71, 0x02);
    uint32_t t_before = rtc_secs();
    uint64_t tsc_before = rdtsc();

    /* The shortest periodic timer there is (initial count 1, divide by 1),
     * masked and then unmasked with interrupts off: this vCPU must still
     * run (each period is shorter than an exit). */
    *(volatile uint32_t *)(APIC + 0x3e0) = 0xb;
    *(volatile uint32_t *)(APIC + 0x320) = 0x30 | 1u << 17 | 1u << 16;
    *(volatile uint32_t *)(APIC + 0x380) = 1;
    uint64_t t_storm = rdtsc();
    for (uint32_t i = 0; i < 200; i++)
        (void)*(volatile uint32_t *)(APIC + 0x20);
    *(volatile uint32_t *)(APIC + 0x320) = 0x30 | 1u << 17;
    for (uint32_t i = 0; i < 200; i++)
        (void)*(volatile uint32_t *)(APIC + 0x20);
    window();
    *(volatile uint32_t *)(APIC + 0x380) = 0;
    t_storm = rdtsc() - t_storm;
    uint32_t storm_ms = 0;
    for (; t_storm >= khz; t_storm -= khz)
        storm_ms++;
    gprintf("fuzzapic: 400 APIC reads with a periodic timer of 1 tick: %u ms, vector 0x30 taken "
            "%u time(s)\n", storm_ms, vec_count[0x30]);
    vec_count[0x30] = 0;

    victim = cmdline_u32(cmd, "victim", 0) && pi.vcpus >= 2;
    if (victim) {
        __asm__ volatile("sidt %0" : "=m"(bsp_idtr));
        struct {
            uint16_t limit;
            uint32_t base;
        } __attribute__((packed)) g;
        __asm__ volatile("sgdt %0" : "=m"(g));
        ap_tramp_install(&g, ap_stack + sizeof(ap_stack), ap_main);
        start_victim();
        bool up = wait_change(&ap_starts, 0, khz, 5000);
        gprintf("fuzzapic: victim vCPU 1 %s by INIT-SIPI-SIPI\n", up ? "started" : "FAIL not started");
    }

    /* INIT and SIPI to APIC IDs that do not exist, and to all-excluding-self */
    *(volatile uint32_t *)(APIC + 0x310) = 0x37u << 24;
    *(volatile uint32_t *)(APIC + 0x300) = 0x4500;
    *(volatile uint32_t *)(APIC + 0x300) = 0x0608;
    *(volatile uint32_t *)(APIC + 0x300) = 0xc4500;
    *(volatile uint32_t *)(APIC + 0x300) = 0xc0608;

    for (uint32_t it = 0; it < iters; it++) {
        if (it == iters / 2) {
            /* x2APIC from here on */
            apic_on = 0;
            try_wrmsr(0x1b, base | 0xc00);
            x2mode = 1;
            apic_on = 1;
            try_wrmsr(0x830, (uint64_t)0xfe << 32 | 0x4500); /* INIT to APIC ID 0xfe */
            try_wrmsr(0x830, (uint64_t)0x12345 << 32 | 0x0608); /* SIPI to 0x12345 */
            try_wrmsr(0x830, 0xc4500);                          /* INIT, all but self */
        }
        uint32_t r = rnd(), op = (r >> 8) % 32;
        if (op < 14) {
            if (x2mode)
                fuzz_x2apic(r);
            else
                fuzz_xapic(r);
        } else if (op < 16) {
            /* the other mode's registers: xAPIC mode refuses the MSRs (#GP) */
            if (!x2mode)
                fuzz_x2apic(r);
            else
                fuzz_x2apic(r >> 1);
        } else if (op < 17) {
            fuzz_base(base);
        } else if (op < 24) {
            fuzz_ioapic(r);
        } else if (op < 29) {
            fuzz_ports(r);
        } else {
            window();
        }
    }
    uint32_t taken = 0, distinct = 0;
    for (uint32_t v = 32; v < 256; v++) {
        taken += vec_count[v];
        distinct += vec_count[v] != 0;
    }
    gprintf("fuzzapic: %u xAPIC accesses, %u x2APIC MSR accesses, %u #GP, %u ICR writes "
            "(%u INIT/SIPI kept off this vCPU), %u IA32_APIC_BASE writes\n",
            n_mmio, n_msr, n_msr_gp, n_icr, inits_elsewhere, n_base);
    gprintf("fuzzapic: %u I/O APIC accesses (%u UART IRQ raises), %u 8259 and %u CMOS "
            "accesses, %u interrupt windows\n",
            n_ioapic, n_uart_irq, n_pic, n_cmos, n_win);
    gprintf("fuzzapic: %u interrupts taken on %u vectors, %u NMIs, %u #GP\n", taken, distinct,
            nmis, exc_count[13]);

    /* Re-initialise: the I/O APIC masked, the UART quiet, the 8259 masked,
     * the local APIC reset through a disable, back to xAPIC mode. */
    for (uint32_t pin = 0; pin < 24; pin++) {
        ioapic_write(0x00, 0x10 + 2 * pin);
        ioapic_write(0x10, 1u << 16);
    }
    outb(0x3f9, 0);
    outb(0x3fc, 0);
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    apic_on = 0;
    try_wrmsr(0x1b, base & ~0xc00ULL);
    try_wrmsr(0x1b, base);
    x2mode = 0;
    apic_on = 1;
    window(); /* anything still queued from before is gone with the reset */
    uint32_t gp0 = exc_count[13], nmi0 = nmis;
    *(volatile uint32_t *)(APIC + 0xf0) = 0x1ff;
    *(volatile uint32_t *)(APIC + 0x80) = 0;
    *(volatile uint32_t *)(APIC + 0x3e0) = 0xb;
    *(volatile uint32_t *)(APIC + 0x320) = V_TIMER;
    uint32_t t0 = vec_count[V_TIMER], s0 = vec_count[V_SELF];
    *(volatile uint32_t *)(APIC + 0x380) = khz; /* 1 ms */
    uint64_t end = rdtsc() + (uint64_t)khz * 2000;
    while (vec_count[V_TIMER] == t0 && rdtsc() < end)
        __asm__ volatile("sti; pause; cli");
    *(volatile uint32_t *)(APIC + 0x300) = (1u << 18) | V_SELF;
    end = rdtsc() + (uint64_t)khz * 2000;
    while (vec_count[V_SELF] == s0 && rdtsc() < end)
        __asm__ volatile("sti; pause; cli");
    uint32_t timer_n = vec_count[V_TIMER] - t0, self_n = vec_count[V_SELF] - s0;

    /* the RTC after: the same clock, advanced by the time that passed */
    outb(0x70, 0x0b);
    outb(0x71, 0x02);
    uint32_t t_after = rtc_secs();
    uint32_t passed = 0;
    for (uint64_t t = rdtsc() - tsc_before; t >= (uint64_t)khz * 1000; t -= (uint64_t)khz * 1000)
        passed++;
    bool rtc_ok = t_after >= t_before && t_after - t_before <= passed + 2 &&
                  t_after - t_before + 2 >= passed;
    gprintf("fuzzapic: after re-init: %u LAPIC timer interrupt(s), %u self IPI(s), "
            "%u new #GP, %u new NMIs; RTC advanced %u s in %u s\n",
            timer_n, self_n, exc_count[13] - gp0, nmis - nmi0, t_after - t_before, passed);
    bool victim_ok = true;
    if (victim) {
        /* whatever the fuzzing left it in (running, or waiting for a SIPI
         * after an INIT): started again, it runs and takes an IPI */
        uint32_t starts = ap_starts;
        start_victim();
        bool back = wait_change(&ap_starts, starts, khz, 5000);
        bool runs = wait_change(&ap_loops, ap_loops, khz, 1000);
        uint32_t irqs = ap_irqs;
        *(volatile uint32_t *)(APIC + 0x310) = 1u << 24;
        *(volatile uint32_t *)(APIC + 0x300) = 0x44;
        bool ipi = wait_change(&ap_irqs, irqs, khz, 1000);
        gprintf("fuzzapic: victim vCPU 1: %u starts, %u interrupts; after INIT-SIPI-SIPI it "
                "%s, %s and %s\n", ap_starts, ap_irqs, back ? "started again" : "FAIL did not start",
                runs ? "runs" : "FAIL does not run", ipi ? "takes an IPI" : "FAIL takes no IPI");
        victim_ok = back && runs && ipi;
    }
    bool ok = timer_n == 1 && self_n == 1 && exc_count[13] == gp0 && !bad_exc && rtc_ok && victim_ok;
    gprintf("fuzzapic: %s the interrupt controllers work after the fuzzing\n",
            ok ? "ok  " : "FAIL");
    return ok ? 0 : 1;
}
