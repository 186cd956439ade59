/* echo: console input through the virtual PL011. The partition is named by
 * the hypervisor's console.input=; the guest enables the UART's receive
 * interrupts (RXIM, RTIM) and SPI 33 in its virtual GIC, waits in WFI, reads
 * what arrives in its interrupt handler until a newline, and prints it. A
 * 20 s virtual-timer guard reports missing input instead of hanging. */
#include "guest.h"

#define UART_FR 0x18
#define UART_IMSC 0x38
#define UART_ICR 0x44
#define FR_RXFE (1u << 4)
#define SPI_UART 33

static volatile char line[64];
static volatile uint32_t len, uart_irqs, newline, guard_fired;

void irq_handler(void)
{
    uint32_t intid = gic_ack();
    if (intid == SPI_UART) {
        uart_irqs++;
        while (!(mmio_r32(UART_BASE + UART_FR) & FR_RXFE)) {
            char c = (char)(mmio_r32(UART_BASE) & 0xff);
            if (c == '\n' || c == '\r')
                newline = 1;
            else if (len < sizeof(line) - 1)
                line[len++] = c;
        }
        mmio_w32(UART_BASE + UART_ICR, 0x50);
    } else if (intid == 27) {
        __asm__ volatile("msr cntv_ctl_el0, %0; isb" ::"r"((uint64_t)0) : "memory");
        guard_fired = 1;
    }
    if (intid < 1020)
        gic_eoi(intid);
}

int guest_main(const void *dtb)
{
    (void)dtb;
    set_vectors();
    gic_dist_on();
    gic_cpu_on(0, 1u << 27);
    mmio_w32(GICD_BASE + 0x84, 1u << (SPI_UART - 32));   /* IGROUPR1 */
    mmio_w64(GICD_BASE + 0x6000 + 8 * SPI_UART, 0);     /* IROUTER: vCPU 0 */
    mmio_w32(GICD_BASE + 0x104, 1u << (SPI_UART - 32));  /* ISENABLER1 */
    mmio_w32(UART_BASE + UART_IMSC, (1u << 4) | (1u << 6));
    println("echo: waiting for a line of console input");
    __asm__ volatile("msr cntv_tval_el0, %0; msr cntv_ctl_el0, %1; isb"
                     ::"r"(20 * counter_freq()), "r"((uint64_t)1)
                     : "memory");
    irq_enable();
    while (!newline && !guard_fired)
        __asm__ volatile("wfi" ::: "memory");
    irq_disable();
    mmio_w32(UART_BASE + UART_IMSC, 0);
    line[len] = 0;
    gprintf("echo: got '%s' (%u bytes) in %u receive interrupt(s)%s\n", (const char *)line, len,
            uart_irqs, guard_fired ? ", FAILED: no newline within 20 s" : "");
    return newline ? 0 : 1;
}
