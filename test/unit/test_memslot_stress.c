/* Concurrent stress: threads stand in for CPUs. Reader CPUs look guest
 * addresses up (and walk whole sets) between quiescent states, drop into
 * "guest mode" and "idle" (extended quiescent states) and take IPIs, while
 * two writer CPUs create, delete, move and re-flag slots of the same
 * partition under real epoch grace periods. Freed sets are poisoned; every
 * slot a reader sees must carry its id's signature, so a set freed too early
 * shows up as a bad slot (or as a use-after-free under ASan, a race under
 * TSan). Built twice: ASan+UBSan with -DBULKHEAD_DEBUG (test_memslot_stress) and TSan
 * (test_memslot_stress_tsan, -DSTRESS_TSAN: freed sets sit poisoned in a
 * quarantine before the real free, so stale reads see poison).
 *
 * STRESS_BROKEN_GRACE=1 in the environment replaces the grace period by
 * nothing: the run is then expected to fail (a check of the checker). */
#include <pthread.h>
#include <unistd.h>
#include "check.h"
#include "epoch_host.h"
#include "mm/memslot.h"

#define PG 4096ULL
#define NREADERS 3
#define NWRITERS 2
#define NCPUS (NREADERS + NWRITERS)
#define IDS 512
#define GFN_SPACE (IDS * 16)
#define POISON 0x5a

static struct epoch_domain D;
static struct memslot_part P;
static int stop;
static long writer_ops = 20000;
static double max_seconds = 20;

static u64 sig_npages(u32 id) { return 1 + id % 7; }
static u64 sig_hfn(u32 id) { return 0x100000 + (u64)id * 8; }

/* ---------------------------------------------------------------- memory hooks */

static long live_sets;
#ifdef STRESS_TSAN
#define QUARANTINE 256
static void *quarantine[QUARANTINE];
static unsigned q_next;
#endif

static void *s_alloc(void *ctx, size_t n)
{
    (void)ctx;
    __atomic_fetch_add(&live_sets, 1, __ATOMIC_RELAXED);
    return malloc(n);
}

static void s_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    __atomic_fetch_sub(&live_sets, 1, __ATOMIC_RELAXED);
    memset(p, POISON, n);
#ifdef STRESS_TSAN
    /* called under the partition writer lock */
    free(quarantine[q_next]);
    quarantine[q_next] = p;
    q_next = (q_next + 1) % QUARANTINE;
#else
    free(p);
#endif
}

static long unmaps;
static void s_unmap(void *ctx, u64 gpa, u64 size)
{
    (void)ctx, (void)gpa, (void)size;
    unmaps++; /* under the writer lock */
}

static void no_grace(void *ctx) { (void)ctx; }

static struct memslot_ops ops = { .alloc = s_alloc, .free = s_free, .unmap = s_unmap };

/* ---------------------------------------------------------------- readers */

struct reader_stats {
    long lookups, hits, set_walks, bad, eqs, idles, ipis;
};
static struct reader_stats rstats[NCPUS];

static u64 rnd_next(u64 *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static bool slot_ok(const struct memslot *m)
{
    return m->id < IDS && m->npages == sig_npages(m->id) && m->hfn == sig_hfn(m->id) &&
           (m->flags & ~MEMSLOT_F_ALL) == 0;
}

static void *reader(void *arg)
{
    unsigned cpu = (unsigned)(uintptr_t)arg;
    struct reader_stats *st = &rstats[cpu];
    host_cpu = cpu;
    u64 rs = 0x1234567ULL * (cpu + 1);
    struct memslot_hint hint = { 0 };
    u64 last_gen = 0;
    epoch_cpu_online(&D, cpu);
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        /* top of the exit loop */
        epoch_quiescent(&D, cpu);
        st->ipis += host_take_ipi(&D, cpu);
        epoch_read_lock(&D);
        u64 gen = memslot_generation(&P);
        if (gen < last_gen)
            st->bad++;
        last_gen = gen;
        for (int k = 0; k < 32; k++) {
            u64 gpa = (rnd_next(&rs) % GFN_SPACE) * PG + rnd_next(&rs) % PG;
            const struct memslot *m = memslot_lookup(&P, &hint, gpa);
            st->lookups++;
            if (!m)
                continue;
            st->hits++;
            if (!slot_ok(m) || (gpa >> 12) < m->gfn || (gpa >> 12) >= m->gfn + m->npages)
                st->bad++;
        }
        if (rnd_next(&rs) % 16 == 0) {
            const struct memslot_set *s = memslot_current(&P);
            st->set_walks++;
            if (s) {
                if (s->nr > IDS || s->generation % 2)
                    st->bad++;
                for (u32 i = 0; i < s->nr && i < IDS; i++) {
                    if (!slot_ok(&s->slot[i]))
                        st->bad++;
                    if (i && s->slot[i - 1].gfn + s->slot[i - 1].npages > s->slot[i].gfn)
                        st->bad++;
                }
            }
        }
        epoch_read_unlock(&D);
        u64 r = rnd_next(&rs) % 64;
        if (r < 8) {               /* enter the guest for a while */
            epoch_enter_eqs(&D, cpu);
            st->eqs++;
            for (int i = 0; i < 3; i++)
                sched_yield();
            epoch_exit_eqs(&D, cpu);
        } else if (r == 8) {       /* idle */
            epoch_enter_eqs(&D, cpu);
            st->idles++;
            usleep(50);
            epoch_exit_eqs(&D, cpu);
        } else if (r < 12) {
            sched_yield();         /* a slow exit handler, outside any section */
        }
    }
    epoch_cpu_offline(&D, cpu);
    return NULL;
}

/* ---------------------------------------------------------------- writers */

struct writer_stats {
    long ops, ok, creates, deletes, moves, flags, other, unexpected;
};
static struct writer_stats wstats[NCPUS];

static void *writer(void *arg)
{
    unsigned cpu = (unsigned)(uintptr_t)arg;
    struct writer_stats *st = &wstats[cpu];
    host_cpu = cpu;
    u64 rs = 0xabcdefULL * (cpu + 7);
    epoch_cpu_online(&D, cpu);
    double t0 = now_s();
    for (long i = 0; i < writer_ops && now_s() - t0 < max_seconds; i++) {
        epoch_quiescent(&D, cpu);
        u32 id = (u32)(rnd_next(&rs) % IDS);
        u64 gpa = (rnd_next(&rs) % (GFN_SPACE - 8)) * PG;
        int r, op = (int)(rnd_next(&rs) % 4);
        switch (op) {
        case 0:
            r = memslot_create(&P, id, gpa, sig_npages(id) * PG, sig_hfn(id) * PG,
                               (u32)(rnd_next(&rs) % 16));
            st->creates += r == MEMSLOT_OK;
            if (r != MEMSLOT_OK && r != MEMSLOT_E_OVERLAP && r != MEMSLOT_E_EXIST)
                st->unexpected++;
            break;
        case 1:
            r = memslot_delete(&P, id);
            st->deletes += r == MEMSLOT_OK;
            if (r != MEMSLOT_OK && r != MEMSLOT_E_NOENT)
                st->unexpected++;
            break;
        case 2:
            r = memslot_move(&P, id, gpa);
            st->moves += r == MEMSLOT_OK;
            if (r != MEMSLOT_OK && r != MEMSLOT_E_NOENT && r != MEMSLOT_E_OVERLAP)
                st->unexpected++;
            break;
        default:
            r = memslot_set_flags(&P, id, (u32)(rnd_next(&rs) % 16));
            st->flags += r == MEMSLOT_OK;
            if (r != MEMSLOT_OK && r != MEMSLOT_E_NOENT)
                st->unexpected++;
            break;
        }
        st->ops++;
        st->ok += r == MEMSLOT_OK;
    }
    epoch_cpu_offline(&D, cpu);
    return NULL;
}

static void test_concurrent_readers_and_writers(void)
{
    bool broken = getenv("STRESS_BROKEN_GRACE") != NULL;
    if (broken)
        ops.synchronize = no_grace;
    epoch_init(&D, NCPUS, &host_epoch_ops, NULL);
    memslot_part_init(&P, &D, &ops, NULL, 0);
    /* a starting population */
    host_cpu = 0;
    for (u32 id = 0; id < IDS; id += 2)
        memslot_create(&P, id, (u64)id * 16 * PG, sig_npages(id) * PG, sig_hfn(id) * PG, 0);
    pthread_t t[NCPUS];
    for (unsigned c = 0; c < NCPUS; c++)
        pthread_create(&t[c], NULL, c < NWRITERS ? writer : reader, (void *)(uintptr_t)c);
    for (unsigned c = 0; c < NWRITERS; c++)
        pthread_join(t[c], NULL);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (unsigned c = NWRITERS; c < NCPUS; c++)
        pthread_join(t[c], NULL);

    struct reader_stats r = { 0 };
    for (unsigned c = NWRITERS; c < NCPUS; c++) {
        r.lookups += rstats[c].lookups, r.hits += rstats[c].hits, r.bad += rstats[c].bad;
        r.set_walks += rstats[c].set_walks, r.eqs += rstats[c].eqs;
        r.idles += rstats[c].idles, r.ipis += rstats[c].ipis;
    }
    struct writer_stats w = { 0 };
    for (unsigned c = 0; c < NWRITERS; c++) {
        w.ops += wstats[c].ops, w.ok += wstats[c].ok, w.creates += wstats[c].creates;
        w.deletes += wstats[c].deletes, w.moves += wstats[c].moves;
        w.flags += wstats[c].flags, w.unexpected += wstats[c].unexpected;
    }
    printf("  readers: %ld lookups, %ld hits, %ld set walks, %ld guest entries, %ld idles, "
           "%ld IPIs taken; bad: %ld\n", r.lookups, r.hits, r.set_walks, r.eqs, r.idles, r.ipis, r.bad);
    printf("  writers: %ld ops (%ld ok: %ld creates, %ld deletes, %ld moves, %ld flag changes), "
           "%ld unmaps, %llu grace periods, %ld unexpected errors%s\n", w.ops, w.ok, w.creates,
           w.deletes, w.moves, w.flags, unmaps, (unsigned long long)D.grace_periods, w.unexpected,
           broken ? " [grace period disabled]" : "");
    CHECK_EQ(r.bad, 0);
    CHECK_EQ(w.unexpected, 0);
    CHECK_EQ(assert_fails, 0);   /* debug build: sections balanced, none across guest entry */
    if (assert_fails)
        printf("  last debug report: %s\n", assert_last);
    CHECK(r.hits > 1000);
    CHECK(w.creates > 50 && w.deletes > 50 && w.moves > 50 && w.flags > 50);
    CHECK(r.eqs > 0);
    if (!broken)
        CHECK(D.grace_periods > 0);
    memslot_part_destroy(&P);
#ifdef STRESS_TSAN
    for (unsigned i = 0; i < QUARANTINE; i++)
        free(quarantine[i]);
#endif
    CHECK_EQ(live_sets, 0);
}

int main(int argc, char **argv)
{
    if (argc >= 2)
        writer_ops = strtol(argv[1], NULL, 0);
    if (argc >= 3)
        max_seconds = strtod(argv[2], NULL);
    alarm(300);
    RUN(test_concurrent_readers_and_writers);
    return CHECK_DONE();
}
