/* Virtual I/O APIC of a partition (82093AA register model, 24 pins) at
 * 0xfec00000: IOREGSEL/IOWIN/EOI, ID, version 0x20, arbitration and the
 * redirection table. Pins are edge-triggered towards the local APICs (a
 * level-triggered entry is delivered once per rising edge; remote IRR is
 * never set). The partition's device models raise pins with vioapic_set_irq;
 * delivery goes through x86_vioapic_deliver (the VMX code). Callers hold the
 * partition's I/O APIC lock. */
#ifndef BULKHEAD_VIOAPIC_H
#define BULKHEAD_VIOAPIC_H

#include "../../hv/types.h"

#define VIOAPIC_PINS 24

struct vioapic {
    u32 sel;
    u32 id;
    u32 level;                 /* current input level of each pin */
    u64 redir[VIOAPIC_PINS];
};

void vioapic_reset(struct vioapic *io, u32 id);
/* A 32-bit access at page offset off; false for an unaligned or odd size. */
bool vioapic_mmio(struct vioapic *io, void *owner, u32 off, bool write, u32 *val);
/* Drive pin to level (true = asserted); a rising edge on an unmasked pin
 * delivers its vector. */
void vioapic_set_irq(struct vioapic *io, void *owner, u32 pin, bool level);
/* Deliver vector to the destination (physical or logical, fixed/lowest/NMI
 * per mode) of the partition `owner`. */
void x86_vioapic_deliver(void *owner, u32 dest, bool logical, u32 mode, u32 vector);

#endif
