/* echo: console input through the virtual 16550. The partition is named by
 * the hypervisor's console.input=; the guest routes the UART's IRQ 4 through
 * the virtual I/O APIC to its local APIC (vector 0x50), enables the receive
 * interrupt (IER bit 0) with OUT2, waits in HLT, reads what arrives in its
 * interrupt handler (RBR while LSR.DR) until a newline, and prints the line
 * upper-cased with the byte and interrupt counts. A LAPIC-timer guard
 * (guard_s=N on its command line, default 20 s) reports missing input
 * instead of hanging. With overrun_ms=N it then stops reading for N ms
 * (interrupts off, busy wait) and afterwards reports LSR and what the
 * receive FIFO kept: more than 16 bytes typed meanwhile must overrun. */
#include "guest.h"

#define APIC 0xfee00000u
#define V_UART 0x50
#define V_GUARD 0x51
#define COM 0x3f8

static volatile char line[64];
static volatile uint32_t len, uart_irqs, newline, guard_fired, other_iir, overruns;


static void print_upper(const volatile char *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        char ch = s[i];
        putc_(ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch);
    }
}


void irq_handler(uint32_t vec);
void irq_handler(uint32_t vec)
{
    if (vec == V_UART) {
        uart_irqs++;
        uint8_t iir = inb(COM + 2);
        if ((iir & 0x0f) != 0x04 && (iir & 0x0f) != 0x0c)
            other_iir = iir; /* the only source enabled is received data */
        uint8_t lsr;
        while ((lsr = inb(COM + 5)) & 1) {
            if (lsr & 2)
                overruns++;
            char c = (char)inb(COM);
            if (c == '\n' || c == '\r')
                newline = 1;
            else if (len < sizeof(line) - 1)
                line[len++] = c;
        }
    } else if (vec == V_GUARD) {
        guard_fired = 1;
    }
    apic_wr(0xb0, 0); /* EOI */
}

#define STUB(v)                                                                                \
    __asm__(".text\n.globl isr_" #v "\nisr_" #v ":\n  pushal\n  pushl $" #v "\n"              \
            "  call irq_handler\n  addl $4, %esp\n  popal\n  iret\n");                       \
    void isr_##v(void);
STUB(0x50)
STUB(0x51)
__asm__(".text\n.globl isr_spurious\nisr_spurious:\n  iret\n");
void isr_spurious(void);

int guest_main(uint32_t magic, uint32_t info)
{
    const char *cmd = boot_cmdline(magic, info);
    uint32_t guard_s = cmdline_u32(cmd, "guard_s", 20);
    uint32_t overrun_ms = cmdline_u32(cmd, "overrun_ms", 0);
    gate_set(V_UART, isr_0x50);
    gate_set(V_GUARD, isr_0x51);
    gate_set(0xff, isr_spurious);
    gate_tables_load();
    uint32_t khz, b, c, d;
    __asm__ volatile("cpuid" : "=a"(khz), "=b"(b), "=c"(c), "=d"(d) : "a"(0x40000010), "c"(0));

    apic_wr(0xf0, 0x1ff);                 /* LAPIC on, spurious vector 0xff */
    ioapic_wr(0x11 + 8, 0);               /* pin 4: destination APIC 0 */
    ioapic_wr(0x10 + 8, V_UART);          /* fixed, edge, unmasked */
    outb(COM + 2, 0x07);                  /* FCR: FIFOs on and cleared, trigger 1 */
    while (inb(COM + 5) & 1)              /* nothing left over */
        (void)inb(COM);
    outb(COM + 4, 0x08);                  /* MCR.OUT2: the interrupt reaches the pin */
    outb(COM + 1, 0x01);                  /* IER.ERBFI: received data available */
    println("echo: waiting for a line of console input");
    /* Guard: one-shot LAPIC timer (it counts at the TSC rate), divide by 128. */
    apic_wr(0x3e0, 0xa);
    apic_wr(0x320, V_GUARD);
    apic_wr(0x380, khz * 125 / 16 * guard_s); /* khz * 1000 / 128 per second */
    while (!newline && !guard_fired)
        __asm__ volatile("sti; hlt; cli" ::: "memory");
    outb(COM + 1, 0);
    apic_wr(0x380, 0);
    uint8_t iir = inb(COM + 2), lsr = inb(COM + 5);
    puts_("echo: got '");
    print_upper(line, len);
    gprintf("' (%u bytes) in %u receive interrupt(s), %u overrun(s)", len, uart_irqs, overruns);
    if (guard_fired)
        gprintf(", FAILED: no newline within %u s", guard_s);
    putc_('\n');
    if (other_iir)
        gprintf("echo: FAILED: IIR %x in the receive interrupt\n", other_iir);
    gprintf("echo: afterwards IIR %x LSR %x\n", iir, lsr);
    if (overrun_ms && newline) {
        gprintf("echo: not reading for %u ms\n", overrun_ms);
        uint64_t end = rdtsc() + (uint64_t)khz * overrun_ms;
        while (rdtsc() < end)
            __asm__ volatile("pause");
        uint8_t lsr1 = inb(COM + 5), lsr2 = inb(COM + 5); /* OE clears on the first read */
        char kept[32];
        uint32_t n = 0;
        while ((inb(COM + 5) & 1) && n < sizeof(kept))
            kept[n++] = (char)inb(COM);
        gprintf("echo: after the pause: LSR %x, then LSR %x; the FIFO kept %u bytes '", lsr1, lsr2,
                n);
        print_upper(kept, n);
        puts_("'\n");
    }
    return newline && !other_iir ? 0 : 1;
}
