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
    /* Channel windows of other partitions (callers with control = "on"):
     * a0 = channel index, a1 = partition index (a member of the channel). */
    HC_WIN_ATTACH = 5,    /* a2 = guest address, a3 = HC_ACCESS_R / HC_ACCESS_RW */
    HC_WIN_DETACH = 6,
    HC_WIN_MOVE = 7,      /* a2 = new guest address */
    HC_WIN_PROTECT = 8,   /* a2 = HC_ACCESS_R / HC_ACCESS_RW */
    /* The caller's own balloon pool (pool-address/pool-size): a0 = offset
     * into the pool, a1 = size, both 4 KiB multiples. */
    HC_POOL_GIVE = 9,     /* unmap a range taken before (exactly one TAKE) */
    HC_POOL_TAKE = 10,    /* map a range of the pool (zeroed) */
    /* Doorbells of a channel the caller is attached to: a0 = channel index. */
    HC_DOORBELL_RING = 11,  /* returns how many other attached members were notified */
    HC_DOORBELL_POLL = 12,  /* returns and clears the mask of member indexes that rang */
    HC_FREE_FRAMES = 13,    /* control only: free 4 KiB frames of the hypervisor */
    HC_MAP_STATS = 14,      /* control only: a0 = partition index, a1 = guest address of
                               struct bh_map_stats, a2 = its size */
    HC_COUNT
};

/* SMCCC: fast call, SMC64, owner 6 (vendor-specific hypervisor service). */
#define HC_SMCCC_BASE 0xc6000000u

#define HC_CONSOLE_MAX 4096

#define HC_ACCESS_R 1
#define HC_ACCESS_RW 3

enum hc_error {
    HC_OK = 0,
    HC_E_PERM = -1,    /* not allowed: privilege level, no control capability, access
                          beyond what the configuration gives the member */
    HC_E_NOENT = -2,   /* no such channel or partition, not a member, window not
                          attached, no pool or no taken range at that offset */
    HC_E_NOMEM = -12,  /* out of memory (slot array or second-stage tables) */
    HC_E_FAULT = -14,  /* a guest address range is outside the partition's memory */
    HC_E_BUSY = -16,   /* the guest range overlaps memory the partition has */
    HC_E_EXIST = -17,  /* the window is attached already */
    HC_E_INVAL = -22,  /* a bad length, size, alignment or access value */
    HC_E_NOSPC = -28,  /* the partition's slot limit is reached */
    HC_E_RANGE = -34,  /* beyond the guest-physical space, or over a device the
                          hypervisor emulates for the partition */
    HC_E_NOSYS = -38,  /* unknown hypercall number, or not available on this arch */
};

struct bh_part_info {
    u32 abi_version;   /* HC_ABI_VERSION */
    u32 partition;     /* index of the partition */
    u32 vcpus;         /* vCPUs (= CPUs owned) */
    u32 restarts;      /* times the partition has been restarted */
    u64 ram_bytes;     /* guest RAM */
    char name[32];
};

/* Runtime map statistics of one partition, measured in the hypervisor. */
struct bh_map_stats {
    u64 changes;        /* runtime slot changes made (windows, pool) */
    u64 change_ticks;   /* timestamp ticks spent in them, grace periods included */
    u64 grace_periods;  /* grace periods waited for in them */
    u64 gp_ticks;       /* ticks spent waiting for those grace periods */
    u64 unmap_ticks;    /* ticks spent unmapping, TLB flushes included */
    u64 tick_hz;        /* timestamp frequency (0: unknown) */
    /* Hypervisor-wide since boot (not per partition): epoch kicks the grace
     * periods' wait loops requested, IPIs sent for them, IPIs taken. A
     * buffer of 48 bytes gets the fields above only. */
    u64 kick_requests, kick_ipis_sent, kick_ipis_taken;
};
#define BH_MAP_STATS_V1_SIZE 48

struct partition;

/* Run hypercall nr for vCPU vcpu of p. *stop is set when the vCPU must not
 * resume (shutdown). Returns the value for the guest's result register. */
s64 hypercall_dispatch(struct partition *p, u32 vcpu, u64 nr, u64 a0, u64 a1, u64 a2, u64 a3,
                       bool *stop);

#endif
