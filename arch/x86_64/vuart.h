/* Virtual 16550 UART of an x86 partition (ports 0x3f8-0x3ff, IRQ 4): the
 * register model only, no I/O. Transmit is immediate (THR is always empty
 * again after a write); receive goes through a 16-byte FIFO (one holding
 * register with the FIFOs off) that the hypervisor fills with console input
 * (console.input=NAME, vmx.c). Interrupt sources by 16550 priority:
 * receiver line status (overrun, IER bit 2), received data (IER bit 0; IIR
 * 0x4 at or above the FCR trigger level, else the character timeout 0xc,
 * both raised as soon as data is there), transmitter empty (IER bit 1).
 * The IRQ line is their OR gated by MCR.OUT2, as on a PC. The FIFOs start
 * enabled (as left by firmware; an FCR write with bit 0 clear turns them
 * off). Callers serialise access (the partition's I/O APIC lock). */
#ifndef BULKHEAD_VUART_H
#define BULKHEAD_VUART_H

#include "../../hv/types.h"

#define VUART_FIFO 16

struct vuart {
    u8 ier, lcr, mcr, scr, dll, dlm;
    u8 fcr;          /* bit 0 FIFOs on, bits 7:6 receive trigger level */
    bool thre;       /* transmitter-empty interrupt pending */
    bool oe;         /* overrun since LSR was last read */
    u8 rx_head, rx_count;
    u8 rx[VUART_FIFO];
    u32 overruns;    /* bytes dropped because the receive buffer was full */
};

void vuart_reset(struct vuart *u);
/* One byte access to register reg (0-7). A read returns the register; a
 * write of THR stores the byte in *tx and returns 1 (else 0). */
u32 vuart_io(struct vuart *u, unsigned reg, bool in, u8 val, u8 *tx);
/* A received byte; false (and LSR.OE set, byte dropped) when the receive
 * buffer is full. */
bool vuart_rx_push(struct vuart *u, u8 c);
/* The level of the UART's interrupt output (IRQ 4), OUT2 gating included. */
bool vuart_irq_line(const struct vuart *u);

#endif
