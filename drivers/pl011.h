/* Arm PL011 UART, polled. */
#ifndef BULKHEAD_PL011_H
#define BULKHEAD_PL011_H

#include "../hv/types.h"

#define PL011_DR 0x00
#define PL011_FR 0x18
#define PL011_CR 0x30
#define PL011_FR_TXFF (1u << 5)
#define PL011_FR_RXFE (1u << 4)
#define PL011_FR_BUSY (1u << 3)
#define PL011_CR_UARTEN (1u << 0)
#define PL011_CR_TXE (1u << 8)

/* base: an address at which the registers are mapped (Device memory, or any
 * address while the MMU is off). Leaves the line settings the firmware chose. */
void pl011_init(uintptr_t base);
void pl011_putc(uintptr_t base, char c);
/* A received byte, or -1 when the receive FIFO is empty. */
int pl011_getc(uintptr_t base);

#endif
