/* ACPI tables the hypervisor builds in a partition's memory (see
 * docs/hypercalls.md, "x86 platform"): RSDP, XSDT, RSDT, MADT (one local
 * APIC per vCPU, the I/O APIC when there is one, IRQ 0 -> GSI 2), a
 * hardware-reduced FADT whose sleep control/status registers are I/O ports
 * VACPI_SLEEP_CTL/VACPI_SLEEP_STS, and a DSDT holding \_S5 and the 16550 as
 * \_SB.COM1 (PNP0501, I/O 0x3f8, IRQ 4). */
#ifndef BULKHEAD_VACPI_H
#define BULKHEAD_VACPI_H

#include "../../hv/types.h"

#define VACPI_BASE 0xe0000ULL   /* where the tables go (the RSDP first) */
#define VACPI_MAX 2048          /* bytes they take at most (64 vCPUs fit) */
#define VACPI_SLEEP_CTL 0x600   /* FADT SLEEP_CONTROL_REG (8-bit I/O) */
#define VACPI_SLEEP_STS 0x601   /* FADT SLEEP_STATUS_REG (8-bit I/O) */
#define VACPI_S5_TYPE 5         /* SLP_TYP of \_S5 */
#define VACPI_IOAPIC_BASE 0xfec00000ULL

/* Build the tables for a partition with ncpus vCPUs (APIC IDs 0..ncpus-1)
 * into buf as they will sit at guest-physical gpa. Returns the byte count,
 * or 0 when they do not fit in cap. */
u32 vacpi_build(u8 *buf, u32 cap, u64 gpa, u32 ncpus, bool ioapic);

#endif
