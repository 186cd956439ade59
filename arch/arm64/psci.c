#include "psci.h"

static int conduit;

void psci_set_conduit(int c)
{
    conduit = c;
}

int psci_conduit(void)
{
    return conduit;
}

s64 psci_call(u64 fn, u64 a1, u64 a2, u64 a3)
{
    register u64 x0 __asm__("x0") = fn;
    register u64 x1 __asm__("x1") = a1;
    register u64 x2 __asm__("x2") = a2;
    register u64 x3 __asm__("x3") = a3;
    if (conduit == 1)
        __asm__ volatile("smc #0"
                         : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
                         :
                         : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
                           "x14", "x15", "x16", "x17", "memory");
    else if (conduit == 2)
        __asm__ volatile("hvc #0"
                         : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
                         :
                         : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
                           "x14", "x15", "x16", "x17", "memory");
    else
        return PSCI_E_NOT_SUPPORTED;
    return (s64)x0;
}

const char *psci_strerror(s64 err)
{
    switch (err) {
    case PSCI_SUCCESS: return "success";
    case PSCI_E_NOT_SUPPORTED: return "NOT_SUPPORTED";
    case PSCI_E_INVALID_PARAMS: return "INVALID_PARAMETERS";
    case PSCI_E_DENIED: return "DENIED";
    case PSCI_E_ALREADY_ON: return "ALREADY_ON";
    case PSCI_E_ON_PENDING: return "ON_PENDING";
    case PSCI_E_INTERNAL_FAILURE: return "INTERNAL_FAILURE";
    case PSCI_E_NOT_PRESENT: return "NOT_PRESENT";
    case PSCI_E_DISABLED: return "DISABLED";
    case PSCI_E_INVALID_ADDRESS: return "INVALID_ADDRESS";
    default: return "unknown error";
    }
}
