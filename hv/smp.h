/* Per-CPU data and CPU bring-up bookkeeping (arch-neutral). */
#ifndef BULKHEAD_SMP_H
#define BULKHEAD_SMP_H

#include "boot_info.h"

#define MAX_CPUS BI_MAX_CPUS
#define CPU_STACK_SIZE (16 * 1024)

struct percpu {
    struct percpu *self;   /* must stay first: arch code loads it via gs/tpidr */
    u32 index;
    u64 hwid;
    u64 stack_top;
    volatile u32 online;
    void *arch;            /* arch-private per-CPU state */
};

extern struct percpu percpu[MAX_CPUS];
extern u32 cpus_known;

/* Called by each secondary CPU on its own stack. Never returns. */
__noreturn void hv_secondary_main(u32 index);
u32 smp_online_count(void);

#endif
