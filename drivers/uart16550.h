#ifndef BULKHEAD_UART16550_H
#define BULKHEAD_UART16550_H
#include "../hv/types.h"
void uart16550_init(u16 base);
void uart16550_putc(u16 base, char c);
#endif
