/* Epoch grace periods with threads standing in for CPUs: a stalled reader
 * holds the writer until it passes a quiescent state; guest mode, idle and
 * offline CPUs never hold it; stragglers get IPIs; two writers do not wait on
 * each other; the debug build catches readers held across guest entry.
 * Built with -DBULKHEAD_DEBUG. */
#include <pthread.h>
#include <unistd.h>
#include "check.h"
#include "epoch_host.h"

static struct epoch_domain D;
static int stop;

/* ---------------------------------------------------------------- stalled reader */

static int holding, release_reader;
static int writer_done;
static double writer_done_at, released_at;

static void *stalled_reader(void *arg)
{
    (void)arg;
    host_cpu = 1;
    epoch_cpu_online(&D, 1);
    epoch_read_lock(&D);
    __atomic_store_n(&holding, 1, __ATOMIC_RELEASE);
    /* Stuck in a read-side section: ignores IPIs until released. */
    while (!__atomic_load_n(&release_reader, __ATOMIC_ACQUIRE))
        sleep_ms(1);
    epoch_read_unlock(&D);
    released_at = now_s();
    epoch_quiescent(&D, 1);      /* back at the top of the exit loop */
    epoch_enter_eqs(&D, 1);      /* and into the guest */
    return NULL;
}

static void *writer(void *arg)
{
    host_cpu = (unsigned)(uintptr_t)arg;
    epoch_synchronize(&D);
    writer_done_at = now_s();
    __atomic_store_n(&writer_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_stalled_reader(void)
{
    epoch_init(&D, 4, &host_epoch_ops, NULL);
    memset(ipi_sent, 0, sizeof(ipi_sent));
    holding = release_reader = writer_done = 0;
    host_cpu = 0;
    epoch_cpu_online(&D, 0);      /* the writer's CPU */
    epoch_cpu_online(&D, 2);
    epoch_enter_eqs(&D, 2);       /* CPU 2 runs its guest */
    /* CPU 3 never comes online */
    pthread_t r, w;
    pthread_create(&r, NULL, stalled_reader, NULL);
    while (!__atomic_load_n(&holding, __ATOMIC_ACQUIRE))
        sleep_ms(1);
    u64 gp_before = D.grace_periods;
    pthread_create(&w, NULL, writer, (void *)(uintptr_t)0);
    sleep_ms(300);
    CHECK_EQ(__atomic_load_n(&writer_done, __ATOMIC_ACQUIRE), 0); /* the writer waits */
    CHECK(__atomic_load_n(&ipi_sent[1], __ATOMIC_RELAXED) > 0);   /* and hurries CPU 1 */
    CHECK_EQ(ipi_sent[2], 0);   /* guest mode needs no IPI */
    CHECK_EQ(ipi_sent[3], 0);   /* nor does an offline CPU */
    CHECK_EQ(D.grace_periods, gp_before);
    __atomic_store_n(&release_reader, 1, __ATOMIC_RELEASE);
    double t0 = now_s();
    while (!__atomic_load_n(&writer_done, __ATOMIC_ACQUIRE) && now_s() - t0 < 10)
        sleep_ms(1);
    CHECK_EQ(__atomic_load_n(&writer_done, __ATOMIC_ACQUIRE), 1); /* then completes */
    pthread_join(w, NULL);
    pthread_join(r, NULL);
    CHECK(writer_done_at >= released_at);
    CHECK_EQ(D.grace_periods, gp_before + 1);
    printf("  writer completed %.3f ms after the reader's quiescent state, %lu IPIs sent\n",
           (writer_done_at - released_at) * 1e3, ipi_sent[1]);
}

/* ---------------------------------------------------------------- IPI path */

static int busy_ready;
static unsigned long ipis_taken;

static void *busy_cpu(void *arg)
{
    (void)arg;
    host_cpu = 1;
    epoch_cpu_online(&D, 1);
    __atomic_store_n(&busy_ready, 1, __ATOMIC_RELEASE);
    /* A long exit handler that never gets back to the loop top by itself,
     * but takes interrupts. */
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        ipis_taken += host_take_ipi(&D, 1);
        sched_yield();
    }
    epoch_cpu_offline(&D, 1);
    return NULL;
}

static void test_ipi_hurries_straggler(void)
{
    epoch_init(&D, 2, &host_epoch_ops, NULL);
    memset(ipi_sent, 0, sizeof(ipi_sent));
    memset(ipi_pending, 0, sizeof(ipi_pending));
    stop = busy_ready = 0;
    ipis_taken = 0;
    host_cpu = 0;
    epoch_cpu_online(&D, 0);
    pthread_t b;
    pthread_create(&b, NULL, busy_cpu, NULL);
    while (!__atomic_load_n(&busy_ready, __ATOMIC_ACQUIRE))
        sleep_ms(1);
    for (int i = 0; i < 20; i++)
        epoch_synchronize(&D);   /* each one completes only through an IPI */
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    pthread_join(b, NULL);
    CHECK_EQ(D.grace_periods, 20);
    CHECK(ipis_taken >= 20);
    CHECK(ipi_sent[1] >= 20);
}

/* ---------------------------------------------------------------- EQS / idle */

static void test_guest_and_idle_are_quiescent(void)
{
    epoch_init(&D, 3, &host_epoch_ops, NULL);
    memset(ipi_sent, 0, sizeof(ipi_sent));
    host_cpu = 0;
    epoch_cpu_online(&D, 0);
    epoch_cpu_online(&D, 1);
    epoch_cpu_online(&D, 2);
    epoch_enter_eqs(&D, 1);   /* guest */
    epoch_enter_eqs(&D, 2);   /* idle */
    /* No thread runs CPUs 1 and 2: if the writer waited for them it would
     * never return. */
    for (int i = 0; i < 100; i++)
        epoch_synchronize(&D);
    CHECK_EQ(D.grace_periods, 100);
    CHECK_EQ(ipi_sent[1] + ipi_sent[2], 0);
    /* A CPU that left its EQS before the grace period started and has not
     * reported since does hold it up (checked without blocking). */
    epoch_exit_eqs(&D, 1);
    u64 before = D.global;
    CHECK(D.cpu[1].epoch == before);          /* leaving EQS reports the current epoch */
    CHECK_EQ(D.cpu[1].state, EPOCH_ACTIVE);
    CHECK_EQ(D.cpu[2].state, EPOCH_EQS);
    epoch_quiescent(&D, 1);
    epoch_enter_eqs(&D, 1);
}

/* ---------------------------------------------------------------- two writers */

static pthread_barrier_t both_online;

static void *two_writer(void *arg)
{
    host_cpu = (unsigned)(uintptr_t)arg;
    epoch_cpu_online(&D, host_cpu);
    /* Both CPUs are ACTIVE before either starts, so each one's grace
     * periods have to wait for the other. */
    pthread_barrier_wait(&both_online);
    for (int i = 0; i < 500; i++)
        epoch_synchronize(&D);
    epoch_cpu_offline(&D, host_cpu);
    return NULL;
}

static void test_two_writers(void)
{
    epoch_init(&D, 2, &host_epoch_ops, NULL);
    pthread_barrier_init(&both_online, NULL, 2);
    pthread_t a, b;
    pthread_create(&a, NULL, two_writer, (void *)(uintptr_t)0);
    pthread_create(&b, NULL, two_writer, (void *)(uintptr_t)1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    CHECK_EQ(D.grace_periods, 1000);
    CHECK(D.global >= 1001);
    pthread_barrier_destroy(&both_online);
}

/* ---------------------------------------------------------------- debug checks */

static void test_debug_reader_across_guest_entry(void)
{
#ifdef BULKHEAD_DEBUG
    epoch_init(&D, 2, &host_epoch_ops, NULL);
    host_cpu = 0;
    epoch_cpu_online(&D, 0);
    assert_fails = 0;
    /* balanced use: nothing reported */
    epoch_read_lock(&D);
    epoch_read_lock(&D);
    epoch_read_unlock(&D);
    epoch_read_unlock(&D);
    epoch_quiescent(&D, 0);
    epoch_enter_eqs(&D, 0);
    epoch_exit_eqs(&D, 0);
    epoch_synchronize(&D);
    CHECK_EQ(assert_fails, 0);
    /* a reader held across guest entry / idle */
    epoch_read_lock(&D);
    epoch_enter_eqs(&D, 0);
    CHECK_EQ(assert_fails, 1);
    CHECK_CONTAINS(assert_last, "guest entry or idle");
    epoch_exit_eqs(&D, 0);
    /* a quiescent state reported inside a section */
    epoch_quiescent(&D, 0);
    CHECK_EQ(assert_fails, 2);
    CHECK_CONTAINS(assert_last, "quiescent");
    /* a grace period started inside a section (would wait for itself) */
    epoch_synchronize(&D);
    CHECK_EQ(assert_fails, 3);
    CHECK_CONTAINS(assert_last, "grace period");
    epoch_read_unlock(&D);
    epoch_read_unlock(&D);
    CHECK_EQ(assert_fails, 4);
    CHECK_CONTAINS(assert_last, "unbalanced");
    /* protected data used outside any section */
    epoch_assert_reader(&D, "lookup outside a section");
    CHECK_EQ(assert_fails, 5);
    CHECK_CONTAINS(assert_last, "outside a section");
    epoch_read_lock(&D);
    epoch_assert_reader(&D, "lookup outside a section");
    epoch_read_unlock(&D);
    CHECK_EQ(assert_fails, 5);
    assert_fails = 4;
    /* reading while in guest mode */
    epoch_enter_eqs(&D, 0);
    epoch_read_lock(&D);
    CHECK_EQ(assert_fails, 5);
    epoch_read_unlock(&D);
#else
    CHECK(!"test_epoch must be built with -DBULKHEAD_DEBUG");
#endif
}

int main(void)
{
    alarm(120); /* a grace period that never ends fails the run instead of hanging it */
    RUN(test_stalled_reader);
    RUN(test_ipi_hurries_straggler);
    RUN(test_guest_and_idle_are_quiescent);
    RUN(test_two_writers);
    RUN(test_debug_reader_across_guest_entry);
    return CHECK_DONE();
}
