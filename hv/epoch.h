/* RCU-like epochs: grace periods for data that readers use without locks.
 *
 * Every physical CPU has an epoch slot. A CPU is in one of three states:
 *   OFFLINE  not running hypervisor code at all (never started, or parked);
 *   EQS      extended quiescent state: in guest mode or idle, holding no
 *            hypervisor references;
 *   ACTIVE   running hypervisor code; it may hold references obtained since
 *            its last quiescent state.
 * An ACTIVE CPU reports a quiescent state (epoch_quiescent) at the top of its
 * exit loop, where it holds no references. A writer that has unpublished
 * something calls epoch_synchronize(): it advances the global epoch and waits
 * until every other CPU is OFFLINE or EQS, or has reported the new epoch,
 * asking the arch (ops->kick, an IPI) to hurry the ones that are slow. Once it
 * returns, no CPU can still hold a reference to what was unpublished before
 * the call, and the writer may free it.
 *
 * Readers pay nothing in release builds. With -DBULKHEAD_DEBUG each CPU keeps
 * a reader nesting count (epoch_read_lock/unlock); entering guest mode or idle,
 * reporting a quiescent state or starting a grace period while the count is
 * non-zero is reported through ops->assert_fail.
 *
 * Memory ordering: a CPU leaving EQS stores ACTIVE and then issues a full
 * fence before it reads any published pointer; the writer publishes, issues a
 * full fence, and then reads the CPU states. So either the writer sees the CPU
 * ACTIVE (and waits for its report), or the CPU sees the new pointer. */
#ifndef BULKHEAD_EPOCH_H
#define BULKHEAD_EPOCH_H

#include "types.h"
#include "smp.h"
#include "spinlock.h"

enum epoch_cpu_state {
    EPOCH_OFFLINE = 0,
    EPOCH_EQS = 1,
    EPOCH_ACTIVE = 2,
};

/* Hooks into the architecture (or, in host tests, into the test harness). */
struct epoch_ops {
    unsigned (*cpu_index)(void *ctx);          /* index of the calling CPU */
    void (*kick)(void *ctx, unsigned cpu);     /* IPI: make cpu pass a quiescent state soon */
    void (*relax)(void *ctx);                  /* pause in a wait loop (may be NULL) */
    void (*assert_fail)(void *ctx, unsigned cpu, const char *what); /* debug checks */
};

struct epoch_cpu {
    u64 epoch;      /* last global epoch this CPU reported as quiescent */
    u32 state;      /* enum epoch_cpu_state */
    u32 nesting;    /* reader nesting (debug builds) */
    u64 kicks;      /* IPIs requested for this CPU (statistics) */
    u8 pad[40];     /* one cache line per CPU */
} __attribute__((aligned(64)));

struct epoch_domain {
    u64 global;                 /* current epoch, only increases */
    u32 nr_cpus;                /* CPU indices in use: 0 .. nr_cpus-1 */
    u32 kick_after;             /* wait-loop spins before an IPI is requested */
    u32 gp_lock;                /* serialises grace periods (0 free, 1 held) */
    u32 tsan_fence;             /* stands in for fences in ThreadSanitizer builds */
    u64 grace_periods;          /* completed grace periods (statistics) */
    const struct epoch_ops *ops;
    void *ctx;
    struct epoch_cpu cpu[MAX_CPUS];
};

/* Spins of the wait loop before a straggler gets an IPI (and between IPIs). */
#define EPOCH_KICK_AFTER_DEFAULT 64
/* The wait doubles after each IPI up to this many spins. */
#define EPOCH_KICK_BACKOFF_MAX 65536

void epoch_init(struct epoch_domain *d, u32 nr_cpus, const struct epoch_ops *ops, void *ctx);

/* CPU life cycle. A CPU comes online ACTIVE with a fresh report. */
void epoch_cpu_online(struct epoch_domain *d, unsigned cpu);
void epoch_cpu_offline(struct epoch_domain *d, unsigned cpu);

/* Top of the exit loop: this CPU holds no references. */
void epoch_quiescent(struct epoch_domain *d, unsigned cpu);
/* Just before guest entry or an idle wait / just after the exit or wake-up. */
void epoch_enter_eqs(struct epoch_domain *d, unsigned cpu);
void epoch_exit_eqs(struct epoch_domain *d, unsigned cpu);

/* Wait for a grace period: every reference taken before the call is gone
 * when it returns. Must not be called inside a read-side section; the calling
 * CPU counts as quiescent for the whole call (and reports so while it waits
 * for another writer's grace period, so two writers never wait on each
 * other). */
void epoch_synchronize(struct epoch_domain *d);

/* Take a lock flag (0 free, 1 held) from hypervisor context that holds no
 * references: the CPU reports quiescent states while it spins, so a writer
 * that holds the flag and waits for a grace period never waits for it. */
void epoch_lock_quiescent(struct epoch_domain *d, u32 *flag);
void epoch_unlock(u32 *flag);

/* Read-side sections: free in release builds, checked in debug builds. */
#ifdef BULKHEAD_DEBUG
void epoch_read_lock(struct epoch_domain *d);
void epoch_read_unlock(struct epoch_domain *d);
/* Report (ops->assert_fail) a use of protected data outside a section. */
void epoch_assert_reader(struct epoch_domain *d, const char *what);
#else
static inline void epoch_read_lock(struct epoch_domain *d) { (void)d; }
static inline void epoch_read_unlock(struct epoch_domain *d) { (void)d; }
static inline void epoch_assert_reader(struct epoch_domain *d, const char *what)
{
    (void)d, (void)what;
}
#endif

#endif
