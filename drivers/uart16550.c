/* Polled 16550 UART (x86 COM ports): 115200 baud, 8N1, FIFOs on; output and
 * input. */
#include "uart16550.h"
#include "../arch/x86_64/x86.h"

#define UART_THR 0
#define UART_IER 1
#define UART_DLL 0
#define UART_DLM 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THRE 0x20
#define LSR_DR 0x01
#define UART_RBR 0

void uart16550_init(u16 base)
{
    outb(base + UART_IER, 0x00);
    outb(base + UART_LCR, 0x80); /* divisor latch */
    outb(base + UART_DLL, 0x01); /* 115200 */
    outb(base + UART_DLM, 0x00);
    outb(base + UART_LCR, 0x03); /* 8N1 */
    outb(base + UART_FCR, 0xc7); /* FIFO on, cleared, 14-byte threshold */
    outb(base + UART_MCR, 0x03); /* DTR, RTS */
}

void uart16550_putc(u16 base, char c)
{
    /* Bounded wait: a missing UART must not hang the hypervisor. */
    for (u32 i = 0; i < 1000000 && !(inb(base + UART_LSR) & LSR_THRE); i++)
        __asm__ volatile("pause");
    outb(base + UART_THR, (u8)c);
}

int uart16550_getc(u16 base)
{
    /* No UART at base reads all-ones: that is not taken for data. */
    u8 lsr = inb(base + UART_LSR);
    if (lsr == 0xff || !(lsr & LSR_DR))
        return -1;
    return inb(base + UART_RBR);
}
