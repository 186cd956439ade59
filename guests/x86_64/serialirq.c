/* serialirq: drives a real 16550 passed through to the partition (COM2:
 * ports 0x2f8-0x2ff, GSI 3) interrupt-driven through the partition's
 * virtual I/O APIC and local APIC: the transmitter-empty interrupt sends
 * the next byte of a message from the handler, once with pin 3 programmed
 * edge-triggered and once level-triggered. It prints how many interrupts
 * came for how many bytes (one per byte plus the last, which switches the
 * interrupt off) and how many found the UART with no interrupt pending.
 * With smp=1 it starts its second vCPU (INIT-SIPI-SIPI) and sends a third
 * message with pin 3 pointing at that vCPU, then a fourth back at vCPU 0:
 * each handler records which vCPU it ran on.
 * With vga=1 it also reads and writes the VGA text buffer at 0xb8000,
 * passed through as MMIO. The exit code is the number of failures. */
#include "guest.h"

#define APIC 0xfee00000u
#define IOAPIC 0xfec00000u
#define COM2 0x2f8
#define PIN 3
#define VEC 0x53

static volatile uint32_t irqs, thre, spurious, sent, on_cpu[2], ap_alive;
static volatile bool done;
static const char *msg;
static uint32_t msg_len;
static uint32_t failed;
static uint64_t khz;


/* One cause per interrupt: a transmitter-empty interrupt sends one byte
 * (or, after the last, switches the interrupt off). */
void irq_handler(void);
void irq_handler(void)
{
    irqs++;
    on_cpu[(*(volatile uint32_t *)(APIC + 0x20) >> 24) & 1]++;
    uint8_t iir = inb(COM2 + 2);
    if (iir & 1) {
        spurious++;
    } else if ((iir & 0x0e) == 0x02) {
        thre++;
        if (sent < msg_len) {
            outb(COM2, (uint8_t)msg[sent++]);
        } else {
            outb(COM2 + 1, 0); /* IER: no more interrupts */
            done = true;
        }
    } else if ((iir & 0x0e) == 0x04 || (iir & 0x0e) == 0x0c) {
        (void)inb(COM2);
    } else if ((iir & 0x0e) == 0x06) {
        (void)inb(COM2 + 5);
    } else {
        (void)inb(COM2 + 6);
    }
    apic_wr(0xb0, 0); /* EOI (broadcast to the I/O APIC when level-triggered) */
}

/* The LAPIC timer (every 10 ms) only ends a HLT, so a lost interrupt
 * shows as a timeout instead of a hang. */
void tick_handler(void);
void tick_handler(void)
{
    apic_wr(0xb0, 0);
}

__asm__(".text\n.globl isr_com2\nisr_com2:\n  pushal\n  call irq_handler\n  popal\n  iret\n"
        ".globl isr_tick\nisr_tick:\n  pushal\n  call tick_handler\n  popal\n  iret\n"
        ".globl isr_spurious\nisr_spurious:\n  iret\n");
void isr_com2(void);
void isr_tick(void);
void isr_spurious(void);

static void check(const char *what, bool ok)
{
    if (!ok)
        failed++;
    gprintf("serialirq: %s %s\n", ok ? "ok  " : "FAIL", what);
}

/* Send text through COM2 with pin 3 programmed edge- or level-triggered,
 * to the vCPU with APIC ID dest. */
static void send(const char *name, const char *text, bool level, uint32_t dest)
{
    msg = text;
    msg_len = (uint32_t)strlen(text);
    irqs = thre = spurious = sent = on_cpu[0] = on_cpu[1] = 0;
    done = false;
    ioapic_wr(0x11 + 2 * PIN, dest << 24);                       /* physical destination */
    ioapic_wr(0x10 + 2 * PIN, VEC | (level ? 1u << 15 : 0));     /* fixed, active high, unmasked */
    outb(COM2 + 1, 0x02);                                        /* IER: transmitter empty */
    uint64_t end = rdtsc() + khz * 5000;
    while (!done && rdtsc() < end)
        __asm__ volatile("sti; hlt; cli");
    /* let a late extra interrupt show up before counting */
    uint64_t settle = rdtsc() + khz * 20;
    while (rdtsc() < settle)
        __asm__ volatile("sti; pause; cli");
    uint32_t rte = ioapic_rd(0x10 + 2 * PIN);
    ioapic_wr(0x10 + 2 * PIN, VEC | (1u << 16));                  /* masked */
    gprintf("serialirq: %s: %u interrupts for %u bytes, %u with nothing pending, %u on vCPU 0, "
            "%u on vCPU 1\n", name, irqs, sent, spurious, on_cpu[0], on_cpu[1]);
    char what[64] = "";
    size_t n = strlen(name);
    memcpy(what, name, n);
    memcpy(what + n, ": whole message sent", 21);
    check(what, done && sent == msg_len);
    memcpy(what + n, ": remote IRR clear after the EOIs", 34);
    check(what, !(rte & (1u << 14)));
}

static uint8_t ap_stack[4096] __attribute__((aligned(16)));

/* The second vCPU takes interrupts, halted, for as long as the guest runs. */
void ap_main(void);
void ap_main(void)
{
    gate_idt_load();
    apic_wr(0xf0, 0x1ff);
    ap_alive = 1;
    for (;;)
        __asm__ volatile("sti; hlt");
}

static void delay_ms(uint32_t ms)
{
    uint64_t end = rdtsc() + khz * ms;
    while (rdtsc() < end)
        __asm__ volatile("pause");
}

static bool start_ap(void)
{
    ap_tramp_install(&gate_gdtr, ap_stack + sizeof(ap_stack), ap_main);
    apic_wr(0x310, 1u << 24);
    apic_wr(0x300, 0x4500); /* INIT */
    delay_ms(10);
    apic_wr(0x300, 0x0600 | (0x8000 >> 12)); /* STARTUP, vector 8 */
    delay_ms(1);
    apic_wr(0x300, 0x0600 | (0x8000 >> 12));
    uint64_t end = rdtsc() + khz * 5000;
    while (!ap_alive && rdtsc() < end)
        __asm__ volatile("pause");
    return ap_alive;
}

static void vga_test(void)
{
    volatile uint16_t *vga = (volatile uint16_t *)0xb8000;
    char line[81];
    uint32_t text = 0;
    for (int i = 0; i < 80; i++) {
        uint8_t c = (uint8_t)vga[i];
        line[i] = c >= 0x20 && c < 0x7f ? (char)c : '.';
        text += c > 0x20 && c < 0x7f;
    }
    line[80] = 0;
    for (int i = 79; i >= 0 && (line[i] == ' ' || line[i] == 0); i--)
        line[i] = 0;
    gprintf("serialirq: vga: screen line 1 before: \"%s\"\n", line);
    check("vga: the text buffer holds what the firmware left on the screen", text > 0);
    static const char mark[] = "bulkhead partition";
    for (uint32_t i = 0; i < sizeof(mark) - 1; i++)
        vga[24 * 80 + i] = (uint16_t)(0x1f00 | (uint8_t)mark[i]);
    bool same = true;
    for (uint32_t i = 0; i < sizeof(mark) - 1; i++)
        same &= vga[24 * 80 + i] == (uint16_t)(0x1f00 | (uint8_t)mark[i]);
    check("vga: a line written to the text buffer reads back", same);
}

int guest_main(uint32_t magic, uint32_t info)
{
    const char *cmd = boot_cmdline(magic, info);
    gate_set(VEC, isr_com2);
    gate_set(0x30, isr_tick);
    gate_set(0xff, isr_spurious);
    gate_tables_load();
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x40000010), "c"(0));
    khz = a ? a : 1000000;
    apic_wr(0xf0, 0x1ff); /* software enable, spurious vector 0xff */
    apic_wr(0x3e0, 0xb);  /* timer divide by 1 */
    apic_wr(0x320, 0x20030); /* periodic, vector 0x30 */
    apic_wr(0x380, (uint32_t)(khz * 10));
    check("I/O APIC pin 3 starts masked", ioapic_rd(0x10 + 2 * PIN) & (1u << 16));

    /* COM2: 115200 8N1, FIFOs off, OUT2 on (it gates the IRQ line on a PC). */
    outb(COM2 + 1, 0);
    outb(COM2 + 3, 0x80);
    outb(COM2 + 0, 1);
    outb(COM2 + 1, 0);
    outb(COM2 + 3, 0x03);
    outb(COM2 + 2, 0);
    outb(COM2 + 4, 0x0b);
    (void)inb(COM2 + 5);
    (void)inb(COM2 + 2);

    send("edge", "edge: interrupt-driven hello from a partition\n", false, 0);
    send("level", "level: interrupt-driven hello from a partition\n", true, 0);
    if (cmdline_u32(cmd, "smp", 0)) {
        bool up = start_ap();
        check("second vCPU started", up);
        if (up) {
            send("level to vCPU 1", "to vCPU 1: level\n", true, 1);
            check("level to vCPU 1: handled there", on_cpu[1] == irqs && irqs > 0);
            send("edge to vCPU 0", "back to vCPU 0: edge\n", false, 0);
            check("edge to vCPU 0: handled there", on_cpu[0] == irqs && irqs > 0);
        }
    }
    if (cmdline_u32(cmd, "vga", 0))
        vga_test();
    gprintf("serialirq: %u failed\n", failed);
    return (int)failed;
}
