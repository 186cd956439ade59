/* RCU-like epochs (see epoch.h for the rules and the ordering argument). */
#include "epoch.h"
#include "string.h"

/* Full barrier (store-load ordering). ThreadSanitizer does not model
 * standalone fences, so its builds use a sequentially consistent
 * read-modify-write of one shared word instead, which orders both sides the
 * same way and which it understands. */
#if !defined(__SANITIZE_THREAD__) && defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define __SANITIZE_THREAD__ 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define full_fence(d) ((void)__atomic_fetch_add(&(d)->tsan_fence, 0, __ATOMIC_SEQ_CST))
#else
#define full_fence(d) __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif

static void relax(struct epoch_domain *d)
{
    if (d->ops && d->ops->relax)
        d->ops->relax(d->ctx);
    else
        arch_cpu_relax();
}

static unsigned self_cpu(struct epoch_domain *d)
{
    return d->ops && d->ops->cpu_index ? d->ops->cpu_index(d->ctx) : 0;
}

#ifdef BULKHEAD_DEBUG
static void check_no_readers(struct epoch_domain *d, unsigned cpu, const char *what)
{
    if (cpu < d->nr_cpus && d->cpu[cpu].nesting != 0 && d->ops && d->ops->assert_fail)
        d->ops->assert_fail(d->ctx, cpu, what);
}

void epoch_read_lock(struct epoch_domain *d)
{
    unsigned cpu = self_cpu(d);
    if (cpu >= d->nr_cpus)
        return;
    if (__atomic_load_n(&d->cpu[cpu].state, __ATOMIC_RELAXED) != EPOCH_ACTIVE &&
        d->ops && d->ops->assert_fail)
        d->ops->assert_fail(d->ctx, cpu, "read-side section on a CPU that is not active");
    d->cpu[cpu].nesting++;
}

void epoch_assert_reader(struct epoch_domain *d, const char *what)
{
    unsigned cpu = self_cpu(d);
    if (cpu < d->nr_cpus && d->cpu[cpu].nesting == 0 && d->ops && d->ops->assert_fail)
        d->ops->assert_fail(d->ctx, cpu, what);
}

void epoch_read_unlock(struct epoch_domain *d)
{
    unsigned cpu = self_cpu(d);
    if (cpu >= d->nr_cpus)
        return;
    if (d->cpu[cpu].nesting == 0) {
        if (d->ops && d->ops->assert_fail)
            d->ops->assert_fail(d->ctx, cpu, "unbalanced epoch_read_unlock");
        return;
    }
    d->cpu[cpu].nesting--;
}
#else
static inline void check_no_readers(struct epoch_domain *d, unsigned cpu, const char *what)
{
    (void)d, (void)cpu, (void)what;
}
#endif

void epoch_init(struct epoch_domain *d, u32 nr_cpus, const struct epoch_ops *ops, void *ctx)
{
    memset(d, 0, sizeof(*d));
    d->nr_cpus = nr_cpus > MAX_CPUS ? MAX_CPUS : nr_cpus;
    d->kick_after = EPOCH_KICK_AFTER_DEFAULT;
    d->global = 1;
    d->ops = ops;
    d->ctx = ctx;
}

void epoch_cpu_online(struct epoch_domain *d, unsigned cpu)
{
    struct epoch_cpu *c = &d->cpu[cpu];
    c->nesting = 0;
    __atomic_store_n(&c->epoch, __atomic_load_n(&d->global, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
    __atomic_store_n(&c->state, EPOCH_ACTIVE, __ATOMIC_RELAXED);
    full_fence(d);
}

void epoch_cpu_offline(struct epoch_domain *d, unsigned cpu)
{
    check_no_readers(d, cpu, "CPU going offline inside a read-side section");
    __atomic_store_n(&d->cpu[cpu].state, EPOCH_OFFLINE, __ATOMIC_RELEASE);
}

void epoch_quiescent(struct epoch_domain *d, unsigned cpu)
{
    check_no_readers(d, cpu, "quiescent state reported inside a read-side section");
    /* Release: every read of a published pointer made before this point is
     * ordered before the report the writer acquires. */
    __atomic_store_n(&d->cpu[cpu].epoch, __atomic_load_n(&d->global, __ATOMIC_ACQUIRE),
                     __ATOMIC_RELEASE);
}

void epoch_enter_eqs(struct epoch_domain *d, unsigned cpu)
{
    check_no_readers(d, cpu, "guest entry or idle wait inside a read-side section");
    __atomic_store_n(&d->cpu[cpu].state, EPOCH_EQS, __ATOMIC_RELEASE);
}

void epoch_exit_eqs(struct epoch_domain *d, unsigned cpu)
{
    struct epoch_cpu *c = &d->cpu[cpu];
    __atomic_store_n(&c->epoch, __atomic_load_n(&d->global, __ATOMIC_ACQUIRE), __ATOMIC_RELAXED);
    __atomic_store_n(&c->state, EPOCH_ACTIVE, __ATOMIC_RELAXED);
    /* Store-load barrier: the ACTIVE store is visible before this CPU reads
     * any published pointer (pairs with the fence in epoch_synchronize). */
    full_fence(d);
}

static bool try_lock(u32 *flag)
{
    u32 expect = 0;
    return __atomic_compare_exchange_n(flag, &expect, 1, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

void epoch_lock_quiescent(struct epoch_domain *d, u32 *flag)
{
    unsigned self = self_cpu(d);
    while (!try_lock(flag)) {
        if (self < d->nr_cpus)
            epoch_quiescent(d, self);
        relax(d);
    }
}

void epoch_unlock(u32 *flag)
{
    __atomic_store_n(flag, 0, __ATOMIC_RELEASE);
}

static bool cpu_passed(struct epoch_cpu *c, u64 target)
{
    if (__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) != EPOCH_ACTIVE)
        return true;
    return __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE) >= target;
}

void epoch_synchronize(struct epoch_domain *d)
{
    unsigned self = self_cpu(d);
    check_no_readers(d, self, "grace period started inside a read-side section");
    epoch_lock_quiescent(d, &d->gp_lock);

    /* The caller's unpublish (a release store) happens before this seq_cst
     * increment and fence, and both before the state reads below. */
    u64 target = __atomic_add_fetch(&d->global, 1, __ATOMIC_SEQ_CST);
    full_fence(d);
    if (self < d->nr_cpus)
        __atomic_store_n(&d->cpu[self].epoch, target, __ATOMIC_RELEASE);

    for (unsigned i = 0; i < d->nr_cpus; i++) {
        if (i == self)
            continue;
        struct epoch_cpu *c = &d->cpu[i];
        u32 spins = 0, wait = d->kick_after;
        while (!cpu_passed(c, target)) {
            if (++spins >= wait) {
                /* IPI, then back off: a CPU stuck with interrupts off
                 * should not be flooded. */
                spins = 0;
                if (wait < EPOCH_KICK_BACKOFF_MAX)
                    wait *= 2;
                __atomic_fetch_add(&c->kicks, 1, __ATOMIC_RELAXED);
                if (d->ops && d->ops->kick)
                    d->ops->kick(d->ctx, i);
            }
            relax(d);
        }
    }
    /* The acquire loads in cpu_passed() pair with the CPUs' release reports:
     * their reads of the old pointer happen before anything the caller does
     * next (freeing). */
    __atomic_fetch_add(&d->grace_periods, 1, __ATOMIC_RELAXED);
    epoch_unlock(&d->gp_lock);
}
