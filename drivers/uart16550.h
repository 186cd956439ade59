#ifndef BULKHEAD_UART16550_H
#define BULKHEAD_UART16550_H
#include "../hv/types.h"
void uart16550_init(u16 base);
void uart16550_putc(u16 base, char c);
/* A received byte, or -1 when none is waiting (LSR.DR clear). */
int uart16550_getc(u16 base);
#endif
