/* apic: exercises the partition's virtual local APIC the way a kernel does.
 * Through the xAPIC page: ID and version, the timer in one-shot and periodic
 * mode, TSC-deadline mode through IA32_TSC_DEADLINE; then, with a second
 * vCPU, INIT-SIPI-SIPI (a real-mode trampoline at 0x8000) and IPIs both
 * ways; then x2APIC mode: ID, self IPI and the timer through the MSRs.
 * Every check prints "apic: ok" or "apic: FAIL"; the exit code is the
 * number of failures. */
#include "guest.h"

#define APIC 0xfee00000u
#define V_TIMER 0x40
#define V_TO_AP 0x41
#define V_TO_BSP 0x42
#define V_SELF 0x43
#define V_AP_TIMER 0x44

static volatile uint32_t hits[256];
static volatile uint32_t x2mode;
static volatile uint64_t timer_tsc; /* TSC when the last timer interrupt came */
static volatile uint32_t ap_alive, ap_done, ap_id, ap_timer_ok;
static uint32_t passed, failed;
static uint64_t khz;

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static void check(const char *what, bool ok)
{
    if (ok)
        passed++;
    else
        failed++;
    gprintf("apic: %s %s\n", ok ? "ok  " : "FAIL", what);
}

void irq_handler(uint32_t vec);
void irq_handler(uint32_t vec)
{
    hits[vec]++;
    if (vec == V_TIMER)
        timer_tsc = rdtsc();
    if (x2mode)
        wrmsr(0x80b, 0);
    else
        apic_wr(0xb0, 0);
}

#define STUB(v)                                                                                \
    __asm__(".text\n.globl isr_" #v "\nisr_" #v ":\n  pushal\n  pushl $" #v "\n"              \
            "  call irq_handler\n  addl $4, %esp\n  popal\n  iret\n");                       \
    void isr_##v(void);
STUB(0x40)
STUB(0x41)
STUB(0x42)
STUB(0x43)
STUB(0x44)
STUB(0x45)
__asm__(".text\n.globl isr_spurious\nisr_spurious:\n  iret\n");
void isr_spurious(void);

/* Wait (halted, interrupts on) until *counter reaches n or ms pass. */
static bool wait_for(volatile uint32_t *counter, uint32_t n, uint32_t ms)
{
    uint64_t end = rdtsc() + khz * ms;
    while (*counter < n && rdtsc() < end)
        __asm__ volatile("sti; hlt; cli");
    return *counter >= n;
}

static void delay_ms(uint32_t ms)
{
    uint64_t end = rdtsc() + khz * ms;
    while (rdtsc() < end)
        __asm__ volatile("pause");
}

static uint8_t ap_stack[4096] __attribute__((aligned(16)));

void ap_main(void);
void ap_main(void)
{
    gate_idt_load();
    apic_wr(0xf0, 0x1ff);
    ap_id = apic_rd(0x20) >> 24;
    /* its own timer: periodic, 1 ms, until 3 interrupts came */
    apic_wr(0x3e0, 0xb);
    apic_wr(0x320, V_AP_TIMER | (1u << 17));
    apic_wr(0x380, (uint32_t)khz);
    wait_for(&hits[V_AP_TIMER], 3, 2000);
    apic_wr(0x380, 0);
    ap_timer_ok = hits[V_AP_TIMER] >= 3;
    ap_alive = 1;
    /* IPI to the BSP (physical destination 0) */
    apic_wr(0x310, 0);
    apic_wr(0x300, V_TO_BSP);
    wait_for(&hits[V_TO_AP], 1, 5000);
    ap_done = 1;
}

static void smp_test(void)
{
    ap_tramp_install(&gate_gdtr, ap_stack + sizeof(ap_stack), ap_main);
    apic_wr(0x310, 1u << 24);
    apic_wr(0x300, 0x4500); /* INIT, assert */
    delay_ms(10);
    apic_wr(0x300, 0x0600 | (0x8000 >> 12)); /* STARTUP, vector 8 */
    delay_ms(1);
    apic_wr(0x300, 0x0600 | (0x8000 >> 12));
    uint64_t end = rdtsc() + khz * 5000;
    while (!ap_alive && rdtsc() < end)
        __asm__ volatile("pause");
    check("second vCPU started by INIT-SIPI-SIPI", ap_alive);
    if (!ap_alive)
        return;
    gprintf("apic: second vCPU has APIC ID %u\n", ap_id);
    check("second vCPU's APIC ID is 1", ap_id == 1);
    check("second vCPU's periodic timer interrupts", ap_timer_ok);
    check("IPI from the second vCPU arrives", wait_for(&hits[V_TO_BSP], 1, 5000));
    apic_wr(0x310, 1u << 24);
    apic_wr(0x300, V_TO_AP);
    end = rdtsc() + khz * 5000;
    while (!ap_done && rdtsc() < end)
        __asm__ volatile("pause");
    check("IPI to the second vCPU arrives", ap_done && hits[V_TO_AP] == 1);
}

static int memcmp_(const void *a, const void *b, uint32_t n)
{
    const uint8_t *x = a, *y = b;
    for (uint32_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] - y[i];
    return 0;
}

static uint8_t cmos(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

static bool bcd_ok(uint8_t v, uint8_t max)
{
    return (v & 15) <= 9 && (v >> 4) <= 9 && ((v >> 4) * 10 + (v & 15)) <= max;
}

/* The virtual CMOS RTC and string I/O (INS/OUTS with REP). */
static void platform_test(void)
{
    check("RTC status D: valid time", cmos(0x0d) == 0x80);
    check("RTC status B: 24-hour BCD", (cmos(0x0b) & 6) == 2);
    uint8_t s0 = cmos(0), mi = cmos(2), h = cmos(4), d = cmos(7), mo = cmos(8), y = cmos(9),
            c = cmos(0x32);
    const uint8_t parts[7] = { c, y, mo, d, h, mi, s0 };
    static const char sep[7] = { 0, 0, '-', '-', ' ', ':', ':' };
    char txt[32];
    uint32_t k = 0;
    for (int i = 0; i < 7; i++) {
        if (i > 0 && sep[i])
            txt[k++] = sep[i];
        txt[k++] = (char)('0' + (parts[i] >> 4));
        txt[k++] = (char)('0' + (parts[i] & 15));
    }
    txt[k] = 0;
    gprintf("apic: RTC %s\n", txt);
    check("RTC: date and time are BCD within range", bcd_ok(s0, 59) && bcd_ok(mi, 59) &&
                                                        bcd_ok(h, 23) && bcd_ok(d, 31) &&
                                                        bcd_ok(mo, 12) && d && mo);
    check("RTC: century 20, year 2024 or later", c == 0x20 && y >= 0x24);
    outb(0x70, 0x0b);
    outb(0x71, 0x06); /* binary, 24 hours */
    uint8_t yb = cmos(9);
    check("RTC: binary mode gives the same year", yb == (y >> 4) * 10 + (y & 15));
    outb(0x70, 0x0b);
    outb(0x71, 0x02);
    delay_ms(1100);
    check("RTC: the time advances", cmos(0) != s0 || cmos(2) != mi);
    outb(0x70, 0x40);
    outb(0x71, 0x5a);
    check("CMOS RAM byte keeps what was written", cmos(0x40) == 0x5a);

    static const char msg[] = "apic: rep outsb reaches the UART\n";
    uint32_t n = sizeof(msg) - 1;
    const char *src = msg;
    __asm__ volatile("cld; rep outsb" : "+S"(src), "+c"(n) : "d"(0x3f8) : "memory");
    check("rep outsb: RCX and RSI advanced", n == 0 && src == msg + sizeof(msg) - 1);
    uint8_t buf[8];
    memset(buf, 0, sizeof(buf));
    uint8_t *dst = buf;
    n = 5;
    outb(0x70, 0x0d);
    __asm__ volatile("cld; rep insb" : "+D"(dst), "+c"(n) : "d"(0x71) : "memory");
    check("rep insb: five reads of RTC status D", n == 0 && dst == buf + 5 && buf[0] == 0x80 &&
                                                      buf[4] == 0x80 && buf[5] == 0);
    uint16_t w[3] = { 0, 0, 0 };
    uint16_t *pw = w + 2;
    n = 2;
    __asm__ volatile("std; rep insw; cld" : "+D"(pw), "+c"(n) : "d"(0x3fd) : "memory");
    check("rep insw backwards (DF=1): line status twice", n == 0 && w[2] == 0x60 &&
                                                               w[1] == 0x60 && w[0] == 0 && pw == w);
}

static uint8_t sum8(const uint8_t *p, uint32_t n)
{
    uint8_t x = 0;
    while (n--)
        x = (uint8_t)(x + *p++);
    return x;
}

static uint32_t rd32(const uint8_t *p) { return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t)p[3] << 24); }

/* Find the RSDP in the BIOS area as a kernel does, follow the XSDT, read
 * the MADT (CPUs) and the FADT (flags, DSDT). */
static void acpi_test(uint32_t vcpus)
{
    const uint8_t *rsdp = NULL;
    for (uint32_t a = 0xe0000; a < 0x100000; a += 16)
        if (!memcmp_((const void *)(uintptr_t)a, "RSD PTR ", 8)) {
            rsdp = (const uint8_t *)(uintptr_t)a;
            break;
        }
    check("ACPI: RSDP found in 0xe0000-0xfffff", rsdp != NULL);
    if (!rsdp)
        return;
    check("ACPI: RSDP checksums (20 and 36 bytes)", sum8(rsdp, 20) == 0 && rsdp[15] >= 2 &&
                                                         sum8(rsdp, 36) == 0);
    const uint8_t *xsdt = (const uint8_t *)(uintptr_t)rd32(rsdp + 24);
    check("ACPI: XSDT signature and checksum", !memcmp_(xsdt, "XSDT", 4) &&
                                                   sum8(xsdt, rd32(xsdt + 4)) == 0);
    uint32_t n = (rd32(xsdt + 4) - 36) / 8, cpus = 0, flags = 0;
    char names[64];
    uint32_t k = 0;
    const uint8_t *dsdt = NULL;
    for (uint32_t i = 0; i < n && k + 5 < sizeof(names); i++) {
        const uint8_t *t = (const uint8_t *)(uintptr_t)rd32(xsdt + 36 + 8 * i);
        memcpy(names + k, t, 4);
        names[k + 4] = ' ';
        k += 5;
        check("ACPI: table checksum", sum8(t, rd32(t + 4)) == 0);
        if (!memcmp_(t, "APIC", 4)) {
            for (uint32_t off = 44; off + 2 <= rd32(t + 4); off += t[off + 1]) {
                if (t[off] == 0 && (rd32(t + off + 4) & 1))
                    cpus++;
                if (t[off + 1] == 0)
                    break;
            }
        } else if (!memcmp_(t, "FACP", 4)) {
            flags = rd32(t + 112);
            dsdt = (const uint8_t *)(uintptr_t)rd32(t + 140);
        }
    }
    names[k ? k - 1 : 0] = 0;
    gprintf("apic: ACPI: RSDP at %x, XSDT lists %s; MADT has %u enabled CPUs\n",
            (uint32_t)(uintptr_t)rsdp, names, cpus);
    check("ACPI: MADT lists every vCPU", cpus == vcpus);
    check("ACPI: FADT is hardware-reduced", flags & (1u << 20));
    check("ACPI: DSDT signature and checksum", dsdt && !memcmp_(dsdt, "DSDT", 4) &&
                                                   sum8(dsdt, rd32(dsdt + 4)) == 0);
}


/* The I/O APIC with the UART's IRQ 4 (transmitter empty) routed to us. */
static void ioapic_test(void)
{
    uint32_t ver = ioapic_rd(1);
    check("I/O APIC version 0x20 with 24 pins", (ver & 0xff) == 0x20 && ((ver >> 16) & 0xff) == 23);
    check("I/O APIC pin 4 starts masked", ioapic_rd(0x10 + 8) & (1u << 16));
    ioapic_wr(0x11 + 8, 0);        /* destination APIC 0 */
    ioapic_wr(0x10 + 8, 0x45);     /* vector 0x45, fixed, edge, unmasked */
    check("I/O APIC redirection entry reads back", ioapic_rd(0x10 + 8) == 0x45);
    outb(0x3fc, 0x08);             /* MCR.OUT2: the UART's interrupt reaches the pin */
    outb(0x3f9, 0x02);             /* IER.ETBEI: transmitter empty interrupt */
    check("UART IRQ 4 through the I/O APIC", wait_for(&hits[0x45], 1, 1000));
    uint8_t iir1 = inb(0x3fa), iir2 = inb(0x3fa); /* before printing refills the THR */
    check("UART IIR says transmitter empty", iir1 == 0xc2);
    check("UART IIR: no interrupt after it was read", iir2 == 0xc1);
    outb(0x3f9, 0);
    outb(0x3fc, 0);
    ioapic_wr(0x10 + 8, 0x10045);  /* masked again */
}

/* The 8259 pair: present, masked, programmable. */
static void pic_test(void)
{
    check("PIC: both masks read 0xff at start", inb(0x21) == 0xff && inb(0xa1) == 0xff);
    outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01);
    outb(0xa0, 0x11); outb(0xa1, 0x28); outb(0xa1, 0x02); outb(0xa1, 0x01);
    outb(0x21, 0xfb);
    outb(0xa1, 0xff);
    check("PIC: initialised and masked again", inb(0x21) == 0xfb && inb(0xa1) == 0xff);
}

int guest_main(uint32_t magic, uint32_t info)
{
    const char *cmd = boot_cmdline(magic, info);
    gate_set(0x40, isr_0x40);
    gate_set(0x41, isr_0x41);
    gate_set(0x42, isr_0x42);
    gate_set(0x43, isr_0x43);
    gate_set(0x44, isr_0x44);
    gate_set(0x45, isr_0x45);
    gate_set(0xff, isr_spurious);
    gate_tables_load();

    struct bh_part_info pi;
    part_info(&pi);
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x40000010), "c"(0));
    khz = a;
    gprintf("apic: TSC and APIC timer at %u kHz, %u vCPUs\n", a, pi.vcpus);
    check("CPUID 0x40000010 gives the timer frequency", khz > 0);
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    bool has_deadline = c & (1u << 24), has_x2 = c & (1u << 21);
    check("CPUID.1: local APIC present", d & (1u << 9));
    check("CPUID.1: initial APIC ID 0", (b >> 24) == 0);

    uint64_t base = rdmsr(0x1b);
    gprintf("apic: IA32_APIC_BASE %x\n", (uint32_t)base);
    check("IA32_APIC_BASE: 0xfee00000, enabled, BSP", (uint32_t)base == 0xfee00900u);
    check("APIC ID register reads 0", apic_rd(0x20) == 0);
    check("APIC version 0x14", (apic_rd(0x30) & 0xff) == 0x14);
    apic_wr(0xf0, 0x1ff); /* software enable, spurious vector 0xff */
    check("SVR reads back", apic_rd(0xf0) == 0x1ff);
    apic_wr(0x80, 0x20);
    check("TPR reads back", apic_rd(0x80) == 0x20);
    apic_wr(0x80, 0);

    /* one-shot: 5 ms at divide-by-1 */
    apic_wr(0x3e0, 0xb);
    apic_wr(0x320, V_TIMER);
    uint32_t init = (uint32_t)(khz * 5);
    apic_wr(0x380, init);
    uint32_t c1 = apic_rd(0x390), c2 = apic_rd(0x390);
    check("one-shot: current count counts down from the initial count",
          c1 <= init && c2 <= c1 && c1 > 0);
    check("one-shot: interrupt taken", wait_for(&hits[V_TIMER], 1, 2000));
    check("one-shot: current count is 0 after it fired", apic_rd(0x390) == 0);
    delay_ms(20);
    __asm__ volatile("sti; nop; cli");
    check("one-shot: fired once only", hits[V_TIMER] == 1);

    /* periodic: 2 ms at divide-by-16 */
    hits[V_TIMER] = 0;
    apic_wr(0x3e0, 0x3);
    apic_wr(0x320, V_TIMER | (1u << 17));
    apic_wr(0x380, (uint32_t)(khz * 2 / 16));
    uint64_t t0 = rdtsc();
    bool ok = wait_for(&hits[V_TIMER], 5, 2000);
    uint64_t took = rdtsc() - t0;
    apic_wr(0x380, 0);
    uint32_t ms = 0;
    for (uint64_t t = took; t >= khz; t -= khz)
        ms++;
    gprintf("apic: periodic: %u interrupts in %u ms\n", hits[V_TIMER], ms);
    check("periodic: 5 interrupts", ok);
    check("periodic: not faster than programmed (>= 8 ms for 5 periods of 2 ms)", took >= khz * 8);
    uint32_t h = hits[V_TIMER];
    delay_ms(10);
    __asm__ volatile("sti; nop; nop; cli");
    check("periodic: stops when the initial count is 0", hits[V_TIMER] == h);
    apic_wr(0x320, V_TIMER | (1u << 16));

    /* TSC-deadline */
    if (has_deadline) {
        hits[V_TIMER] = 0;
        apic_wr(0x320, V_TIMER | (2u << 17));
        uint64_t dl = rdtsc() + khz * 3;
        wrmsr(0x6e0, dl);
        check("TSC-deadline: IA32_TSC_DEADLINE reads back", rdmsr(0x6e0) == dl);
        check("TSC-deadline: interrupt taken", wait_for(&hits[V_TIMER], 1, 2000));
        check("TSC-deadline: not before the deadline", timer_tsc >= dl);
        check("TSC-deadline: the MSR is 0 after it fired", rdmsr(0x6e0) == 0);
        apic_wr(0x320, V_TIMER | (1u << 16));
    } else {
        check("CPUID advertises TSC-deadline mode", false);
    }

    /* self IPI through the ICR (shorthand self) */
    apic_wr(0x300, (1u << 18) | V_SELF);
    check("xAPIC self IPI", wait_for(&hits[V_SELF], 1, 1000));

    if (pi.vcpus >= 2)
        smp_test();
    if (cmdline_u32(cmd, "crash", 0) && pi.restarts == 0) {
        /* crash=1: fault once with both vCPUs running (a triple fault: no
         * IDT), so that the restart has to reset and restart the second vCPU */
        gprintf("apic: run 1 of a partition with %u vCPUs: triple fault now\n", pi.vcpus);
        static const struct {
            uint16_t limit;
            uint32_t base;
        } __attribute__((packed)) none = { 0, 0 };
        __asm__ volatile("lidt %0; int3" ::"m"(none));
    }
    if (pi.restarts)
        gprintf("apic: run %u after a restart\n", pi.restarts + 1);

    /* x2APIC */
    if (has_x2) {
        wrmsr(0x1b, base | (1u << 10));
        x2mode = 1;
        check("x2APIC: enabled in IA32_APIC_BASE", (rdmsr(0x1b) & 0xc00) == 0xc00);
        check("x2APIC: ID MSR reads 0", rdmsr(0x802) == 0);
        check("x2APIC: version MSR", (rdmsr(0x803) & 0xff) == 0x14);
        wrmsr(0x83f, V_SELF); /* SELF IPI */
        check("x2APIC: self IPI", wait_for(&hits[V_SELF], 2, 1000));
        hits[V_TIMER] = 0;
        wrmsr(0x83e, 0xb);
        wrmsr(0x832, V_TIMER);
        wrmsr(0x838, khz * 2);
        check("x2APIC: one-shot timer", wait_for(&hits[V_TIMER], 1, 2000));
        /* back to xAPIC: disable, then enable without x2APIC (SDM 11.12.5) */
        wrmsr(0x1b, base & ~(1ULL << 11));
        wrmsr(0x1b, base);
        x2mode = 0;
        check("xAPIC again after disable/enable", (rdmsr(0x1b) & 0xc00) == 0x800 &&
                                                      apic_rd(0x20) == 0);
    } else {
        check("CPUID advertises x2APIC", false);
    }
    platform_test();
    pic_test();
    ioapic_test();
    acpi_test(pi.vcpus);
    gprintf("apic: %u passed, %u failed\n", passed, failed);
    if (!failed) {
        /* power off as a kernel does: SLP_TYP of \\_S5 with SLP_EN into the
         * FADT's sleep control register (port 0x600 here) */
        println("apic: ACPI S5");
        outb(0x600, (5 << 2) | 0x20);
        println("apic: FAIL still running after S5");
    }
    return (int)failed;
}
