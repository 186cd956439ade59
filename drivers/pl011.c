/* Arm PL011 UART: polled output and input. The firmware (or QEMU) has set the baud
 * rate and line format; we only make sure the UART and its transmitter are on. */
#include "pl011.h"

static inline u32 rd(uintptr_t base, u32 off)
{
    return *(volatile u32 *)(base + off);
}

static inline void wr(uintptr_t base, u32 off, u32 v)
{
    *(volatile u32 *)(base + off) = v;
}

void pl011_init(uintptr_t base)
{
    u32 cr = rd(base, PL011_CR);
    if ((cr & (PL011_CR_UARTEN | PL011_CR_TXE)) != (PL011_CR_UARTEN | PL011_CR_TXE))
        wr(base, PL011_CR, cr | PL011_CR_UARTEN | PL011_CR_TXE);
}

void pl011_putc(uintptr_t base, char c)
{
    /* Bounded wait: a wedged UART must not hang the hypervisor forever. */
    for (u32 spins = 0; (rd(base, PL011_FR) & PL011_FR_TXFF) && spins < 1000000; spins++)
        ;
    wr(base, PL011_DR, (u8)c);
}

int pl011_getc(uintptr_t base)
{
    if (rd(base, PL011_FR) & PL011_FR_RXFE)
        return -1;
    return (int)(rd(base, PL011_DR) & 0xff);
}
