/* Host stand-ins for the epoch hooks: threads play CPUs (a thread-local CPU
 * index), an IPI is a per-CPU flag the "CPU" polls, and failed debug checks
 * are recorded. */
#ifndef TEST_EPOCH_HOST_H
#define TEST_EPOCH_HOST_H

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "hv/epoch.h"

static __thread unsigned host_cpu;
static unsigned ipi_pending[MAX_CPUS];
static unsigned long ipi_sent[MAX_CPUS];
static unsigned long assert_fails;
static char assert_last[160];

static unsigned h_cpu_index(void *ctx) { (void)ctx; return host_cpu; }
static void h_kick(void *ctx, unsigned cpu)
{
    (void)ctx;
    __atomic_fetch_add(&ipi_sent[cpu], 1, __ATOMIC_RELAXED);
    __atomic_store_n(&ipi_pending[cpu], 1, __ATOMIC_RELEASE);
}
static void h_relax(void *ctx) { (void)ctx; sched_yield(); }
static void h_assert_fail(void *ctx, unsigned cpu, const char *what)
{
    (void)ctx;
    __atomic_fetch_add(&assert_fails, 1, __ATOMIC_RELAXED);
    snprintf(assert_last, sizeof(assert_last), "cpu %u: %s", cpu, what);
}

static const struct epoch_ops host_epoch_ops = {
    .cpu_index = h_cpu_index, .kick = h_kick, .relax = h_relax, .assert_fail = h_assert_fail,
};

/* The "IPI handler": a CPU that finds an IPI pending takes it, which brings it
 * back to the top of its exit loop (a quiescent state). Returns 1 if taken. */
static inline int host_take_ipi(struct epoch_domain *d, unsigned cpu)
{
    if (!__atomic_exchange_n(&ipi_pending[cpu], 0, __ATOMIC_ACQUIRE))
        return 0;
    epoch_quiescent(d, cpu);
    return 1;
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

#endif
