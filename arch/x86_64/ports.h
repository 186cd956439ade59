/* x86 I/O ports that are never granted to a partition (arch/x86_64/ports.c).
 * Freestanding and host code alike: the host checker uses it too. */
#ifndef BULKHEAD_X86_PORTS_H
#define BULKHEAD_X86_PORTS_H

#include "../../hv/boot_info.h"

#define X86_COM1 0x3f8

/* The fixed legacy ports (PCI configuration and reset, PIC, PIT, RTC/CMOS,
 * keyboard controller, ISA DMA) and the console UART at console_port (none
 * when 0). */
void x86_reserve_ports(struct boot_info *bi, u32 console_port);
/* The ports the FADT names (PM1/PM2/timer/GPE blocks, SMI_CMD, reset). */
void x86_reserve_fadt_ports(struct boot_info *bi, const u8 *fadt, u32 len);

#endif
