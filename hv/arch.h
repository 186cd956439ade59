/* The narrow set of hooks each architecture implements for the core. */
#ifndef BULKHEAD_ARCH_H
#define BULKHEAD_ARCH_H

#include "boot_info.h"

/* CPU */
void arch_cpu_relax(void);
unsigned arch_cpu_index(void);             /* logical index of the running CPU */
__noreturn void arch_halt_cpu(void);       /* interrupts off, stop forever */
__noreturn void arch_idle_forever(void);   /* park a CPU with nothing to run */

/* Console hardware (polled). */
void arch_console_putc(char c);
/* A byte received by the console UART, or -1 when none is waiting. */
int arch_console_getc(void);

/* Platform: fill bi->cpus and anything else from ACPI / the device tree.
 * Returns false with a message in err when the platform cannot be used. */
bool arch_platform_init(struct boot_info *bi, char *err, size_t errlen);

/* Start every secondary CPU listed in bi->cpus. Each one calls
 * hv_secondary_main() once it runs C code on its own stack. */
void arch_start_secondaries(struct boot_info *bi);

/* Banner details. */
void arch_cpu_model(char *buf, size_t size);       /* vendor and model */
void arch_virt_features(char *buf, size_t size);   /* e.g. "VMX EPT unrestricted-guest VPID" */

/* Epoch kick (hv/partition.c, the epoch ops' kick): send the physical IPI
 * that makes CPU cpu leave guest mode or an idle wait and come back to the
 * top of its exit loop, where it reports a quiescent state. Returns false
 * when cpu cannot take it (it does not run a vCPU): the grace period then
 * just waits, as it always ends (docs/memslots.md). The arch calls hv_epoch_kick_taken(cpu)
 * (hv/partition.h) when CPU cpu takes one. */
bool arch_kick_cpu(unsigned cpu);

/* Power the machine off (ACPI S5 / PSCI SYSTEM_OFF). Returns only on failure. */
void arch_poweroff(void);
/* Short busy delay. */
void arch_udelay(u64 us);
/* Monotonic microseconds (since some point at boot), comparable across CPUs
 * to a few microseconds; used for message rate limits. Each arch derives it
 * from the counter behind arch_timestamp. */
u64 arch_time_us(void);
/* A free-running timestamp for statistics (arm64: CNTPCT_EL0; x86: the TSC)
 * and its frequency in Hz (x86: calibrated against the PIT at boot; 0 would
 * mean unknown). */
u64 arch_timestamp(void);
u64 arch_timestamp_hz(void);

#endif
