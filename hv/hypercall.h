/* Bulkhead hypercalls: one arch-neutral table. x86 guests use VMCALL with the
 * number in RAX and arguments in RBX, RCX, RDX, RSI (result in RAX); arm64
 * guests use HVC #0 with SMCCC function id HC_SMCCC_BASE + number in w0 and
 * arguments in x1..x4 (result in x0). Every argument is checked; a bad one
 * gets a negative error, never a fault of the hypervisor. */
#ifndef BULKHEAD_HYPERCALL_H
#define BULKHEAD_HYPERCALL_H

#include "types.h"

#define HC_ABI_VERSION 1

enum hc_number {
    HC_NULL = 0,          /* does nothing, returns 0 (round-trip benchmark) */
    HC_CONSOLE_WRITE = 1, /* a0 = guest address, a1 = length (<= HC_CONSOLE_MAX) */
    HC_PART_INFO = 2,     /* a0 = guest address of struct bh_part_info, a1 = its size */
    HC_SHUTDOWN = 3,      /* a0 = exit code; the partition stops */
    HC_YIELD = 4,         /* returns 0 */
    HC_COUNT
};

/* SMCCC: fast call, SMC64, owner 6 (vendor-specific hypervisor service). */
#define HC_SMCCC_BASE 0xc6000000u

#define HC_CONSOLE_MAX 4096

enum hc_error {
    HC_OK = 0,
    HC_E_PERM = -1,    /* not allowed from the guest's current privilege level */
    HC_E_FAULT = -14,  /* a guest address range is outside the partition's memory */
    HC_E_INVAL = -22,  /* a bad length or size */
    HC_E_NOSYS = -38,  /* unknown hypercall number */
};

struct bh_part_info {
    u32 abi_version;   /* HC_ABI_VERSION */
    u32 partition;     /* index of the partition */
    u32 vcpus;         /* vCPUs (= CPUs owned) */
    u32 restarts;      /* times the partition has been restarted */
    u64 ram_bytes;     /* guest RAM */
    char name[32];
};

struct partition;

/* Run hypercall nr for vCPU vcpu of p. *stop is set when the vCPU must not
 * resume (shutdown). Returns the value for the guest's result register. */
s64 hypercall_dispatch(struct partition *p, u32 vcpu, u64 nr, u64 a0, u64 a1, u64 a2, u64 a3,
                       bool *stop);

#endif
