/* Ticket spinlock on compiler atomics (arch-neutral). */
#ifndef BULKHEAD_SPINLOCK_H
#define BULKHEAD_SPINLOCK_H

#include "types.h"

typedef struct {
    u32 next;
    u32 owner;
} spinlock_t;

#define SPINLOCK_INIT { 0, 0 }

void arch_cpu_relax(void);

static inline void spin_lock(spinlock_t *l)
{
    u32 me = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != me)
        arch_cpu_relax();
}

static inline void spin_unlock(spinlock_t *l)
{
    __atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_RELEASE);
}

#endif
