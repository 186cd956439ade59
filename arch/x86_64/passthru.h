/* Pass-through interrupts on x86 (arch/x86_64/passthru.c): the host I/O
 * APIC driver and the routing of a partition's GSIs to its virtual I/O
 * APIC. Rules in docs/config.md ("interrupts" on x86_64). */
#ifndef BULKHEAD_X86_PASSTHRU_H
#define BULKHEAD_X86_PASSTHRU_H

#include "../../hv/boot_info.h"

struct partition;
struct vioapic;

/* Host vector of pass-through GSI n (n < VIOAPIC_PINS). */
#define X86_PASSTHRU_VECTOR 0x40u

/* Inputs of the I/O APIC at base (its version register), 0 when none
 * answers there. */
u32 x86_ioapic_pins(u64 base);
/* At boot, after the MADT was read: mask every input of every I/O APIC
 * (the hypervisor takes no device interrupts of its own). */
void x86_passthru_init(const struct boot_info *bi);
/* Claim p's GSIs and program their host pins (masked). */
bool x86_passthru_prepare(struct partition *p, char *err, size_t errlen);
/* (Re)start of p: mark its pass-through pins in its fresh virtual I/O APIC
 * and mask their host pins until the guest unmasks its entries. */
void x86_passthru_reset(struct partition *p, struct vioapic *io);
/* An external-interrupt exit (VM-exit interruption information): a
 * pass-through vector goes to its partition's virtual I/O APIC, a level
 * pin is masked first. Call before the host LAPIC EOI. */
void x86_passthru_irq(u32 intr_info);

/* vmx.c: drive pass-through pin `pin` of p (asserted until the EOI for a
 * level entry, one edge for an edge entry), and the physical CPU running
 * the vCPU an I/O APIC destination names. */
void x86_vioapic_line(struct partition *p, u32 pin);
u32 x86_vioapic_target_cpu(struct partition *p, u32 dest, bool logical);

#endif
