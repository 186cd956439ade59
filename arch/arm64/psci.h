/* PSCI calls through the conduit the device tree named. */
#ifndef BULKHEAD_ARM64_PSCI_H
#define BULKHEAD_ARM64_PSCI_H

#include "../../hv/types.h"

#define PSCI_VERSION 0x84000000u
#define PSCI_CPU_ON_64 0xc4000003u
#define PSCI_SYSTEM_OFF 0x84000008u

#define PSCI_SUCCESS 0
#define PSCI_E_NOT_SUPPORTED -1
#define PSCI_E_INVALID_PARAMS -2
#define PSCI_E_DENIED -3
#define PSCI_E_ALREADY_ON -4
#define PSCI_E_ON_PENDING -5
#define PSCI_E_INTERNAL_FAILURE -6
#define PSCI_E_NOT_PRESENT -7
#define PSCI_E_DISABLED -8
#define PSCI_E_INVALID_ADDRESS -9

/* 0 = none, 1 = smc, 2 = hvc (enum psci_conduit). */
void psci_set_conduit(int conduit);
int psci_conduit(void);
s64 psci_call(u64 fn, u64 a1, u64 a2, u64 a3);
const char *psci_strerror(s64 err);

#endif
