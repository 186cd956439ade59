/* The partition's virtual PL011 UART: a page of guest-physical space with
 * no stage-2 mapping, so every access traps and is emulated here. Enough of
 * the PL011 for Linux's amba-pl011 driver and earlycon: the transmit FIFO
 * is always empty and never full; the receive FIFO (32 bytes) holds console
 * input when the hypervisor's command line gives it to this partition
 * (console.input=NAME, see vm.c), else it stays empty; the
 * control, baud-rate, line-control, FIFO-level, interrupt-mask and DMA
 * registers hold what is written, the raw interrupt status shows the
 * transmit interrupt (the FIFO is below any level), and the peripheral and
 * PrimeCell identification registers read as a PL011 r1p5. Bytes written to
 * DR go to the partition's console line by line. The combined interrupt
 * (UARTINTR = RIS & IMSC: the transmit interrupt whenever TXIM is set, the
 * receive and receive-timeout interrupts while the receive FIFO holds data)
 * drives SPI 1 (INTID 33) of the partition's virtual GIC. */
#include "vm.h"

#define UARTDR 0x000
#define UARTRSR 0x004
#define UARTFR 0x018
#define UARTILPR 0x020
#define UARTIBRD 0x024
#define UARTFBRD 0x028
#define UARTLCR_H 0x02c
#define UARTCR 0x030
#define UARTIFLS 0x034
#define UARTIMSC 0x038
#define UARTRIS 0x03c
#define UARTMIS 0x040
#define UARTICR 0x044
#define UARTDMACR 0x048

#define FR_BUSY (1u << 3)
#define FR_RXFE (1u << 4)
#define FR_TXFF (1u << 5)
#define FR_RXFF (1u << 6)
#define FR_TXFE (1u << 7)
#define INT_RX (1u << 4)
#define INT_TX (1u << 5)
#define INT_RT (1u << 6)
#define INT_ALL 0x7ffu

void vpl011_reset(struct vpl011 *u)
{
    u->cr = 0x300; /* TXE | RXE, UART disabled: the reset value */
    u->lcr_h = 0;
    u->ibrd = 0;
    u->fbrd = 0;
    u->ifls = 0x12;
    u->imsc = 0;
    u->ris = 0;
    u->dmacr = 0;
    u->ilpr = 0;
    u->rx_head = 0;
    u->rx_count = 0;
}

/* A byte of console input into the receive FIFO; false when it is full. */
bool vpl011_rx_push(struct vpl011 *u, u8 c)
{
    if (u->rx_count >= VPL011_RX_FIFO)
        return false;
    u->rx[(u->rx_head + u->rx_count) % VPL011_RX_FIFO] = c;
    u->rx_count++;
    return true;
}

static u32 raw_status(const struct vpl011 *u)
{
    /* Receive and receive-timeout follow the FIFO: raised while it holds
     * anything (a FIFO level of one), whatever ICR says. */
    return (u->ris | INT_TX | (u->rx_count ? INT_RX | INT_RT : 0)) & INT_ALL;
}

/* The UART's combined interrupt output (UARTINTR): any unmasked raw status. */
bool vpl011_irq_line(const struct vpl011 *u)
{
    return (raw_status(u) & u->imsc) != 0;
}

u32 vpl011_access(struct partition *p, struct vpl011 *u, u64 off, bool write, u32 val)
{
    static const u8 id[8] = { 0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };
    if (off >= 0xfe0 && off < 0x1000) {
        /* identification: read-only, one byte per word */
        return write || (off & 3) ? 0 : id[(off - 0xfe0) / 4];
    }
    if (write) {
        switch (off) {
        case UARTDR: partition_console_putc(p, (char)(val & 0xff)); break;
        case UARTRSR: break; /* ECR: clears errors, there are none */
        case UARTILPR: u->ilpr = val & 0xff; break;
        case UARTIBRD: u->ibrd = val & 0xffff; break;
        case UARTFBRD: u->fbrd = val & 0x3f; break;
        case UARTLCR_H: u->lcr_h = val & 0xff; break;
        case UARTCR: u->cr = val & 0xff87; break;
        case UARTIFLS: u->ifls = val & 0x3f; break;
        case UARTIMSC: u->imsc = val & INT_ALL; break;
        case UARTICR: u->ris &= ~val; break;
        case UARTDMACR: u->dmacr = val & 7; break;
        default: break; /* read-only or reserved: ignored */
        }
        return 0;
    }
    switch (off) {
    case UARTDR: {
        if (!u->rx_count)
            return 0;
        u8 c = u->rx[u->rx_head];
        u->rx_head = (u->rx_head + 1) % VPL011_RX_FIFO;
        u->rx_count--;
        return c;
    }
    case UARTRSR: return 0;
    case UARTFR:
        return FR_TXFE | (u->rx_count ? 0 : FR_RXFE) |
               (u->rx_count >= VPL011_RX_FIFO ? FR_RXFF : 0);
    case UARTILPR: return u->ilpr;
    case UARTIBRD: return u->ibrd;
    case UARTFBRD: return u->fbrd;
    case UARTLCR_H: return u->lcr_h;
    case UARTCR: return u->cr;
    case UARTIFLS: return u->ifls;
    case UARTIMSC: return u->imsc;
    case UARTRIS: return raw_status(u);
    case UARTMIS: return raw_status(u) & u->imsc;
    case UARTDMACR: return u->dmacr;
    default: return 0; /* ICR (write-only) and reserved: read as zero */
    }
}
