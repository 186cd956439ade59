/* Virtual I/O APIC of a partition (82093AA register model, version 0x20,
 * 24 pins) at 0xfec00000: IOREGSEL/IOWIN/EOI, ID, version, arbitration and
 * the redirection table.
 *
 * Edge-triggered entries deliver on each rising edge of their pin.
 * Level-triggered entries (fixed or lowest priority) deliver while the pin
 * is asserted and remote IRR is clear, and set remote IRR; the vector is
 * marked level in the target's virtual LAPIC (TMR), whose EOI of it comes
 * back here (vioapic_eoi, also through the EOI register at 0x40): remote
 * IRR clears and a pin still asserted delivers again.
 *
 * Pass-through pins (`passthru`, GSI n = pin n, arch/x86_64/passthru.c):
 * their level follows a host I/O APIC input; every change of their entry
 * or state is handed to x86_vioapic_passthru_sync so the host pin follows
 * (mask, trigger, polarity, destination). A pass-through level pin counts
 * as asserted from the host interrupt until the guest's EOI.
 *
 * The partition's device models raise pins with vioapic_set_irq; delivery
 * goes through x86_vioapic_deliver (the VMX code). Callers hold the
 * partition's I/O APIC lock. */
#ifndef BULKHEAD_VIOAPIC_H
#define BULKHEAD_VIOAPIC_H

#include "../../hv/types.h"

#define VIOAPIC_PINS 24

struct vioapic {
    u32 sel;
    u32 id;
    u32 level;                 /* current input level of each pin */
    u32 passthru;              /* pins wired to host I/O APIC inputs */
    u64 delivered;             /* level-triggered deliveries (statistics) */
    u64 redir[VIOAPIC_PINS];
};

void vioapic_reset(struct vioapic *io, u32 id);
/* A 32-bit access at page offset off; false for an unaligned or odd size. */
bool vioapic_mmio(struct vioapic *io, void *owner, u32 off, bool write, u32 *val);
/* Drive pin to level (true = asserted): a rising edge on an unmasked edge
 * pin delivers its vector, an asserted unmasked level pin delivers unless
 * remote IRR is set. */
void vioapic_set_irq(struct vioapic *io, void *owner, u32 pin, bool level);
/* EOI of vector (LAPIC EOI broadcast or the EOI register): clear remote IRR
 * of the level entries with that vector; returns those pins as a mask. */
u32 vioapic_eoi(struct vioapic *io, void *owner, u32 vector);
/* Deliver vector to the destination (physical or logical, fixed/lowest/NMI
 * per mode) of the partition `owner`; level marks it level-triggered in
 * the target LAPIC's TMR (its EOI then calls vioapic_eoi). */
void x86_vioapic_deliver(void *owner, u32 dest, bool logical, u32 mode, u32 vector, bool level);
/* A pass-through pin's entry (rte, with remote IRR) or asserted state
 * changed (arch/x86_64/passthru.c). */
void x86_vioapic_passthru_sync(void *owner, u32 pin, u64 rte, bool asserted);

#endif
