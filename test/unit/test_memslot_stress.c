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
 * The second stage is simulated too (issue 13): the map hook fills a
 * per-page table before a slot is published; the unmap hook clears it and
 * then shoots down every reader CPU's TLB (a flush request each reader takes
 * between guest accesses, like an INVEPT by IPI; the writer waits for all
 * acknowledgements) before the slot's frames count as reused. Reader CPUs in
 * "guest mode" access random pages through a small TLB filled from the
 * table; every access checks that the frame it reaches still backs that
 * guest page. Epoch kicks are IPIs the readers take at the top of their
 * exit loop and in guest mode (which forces an exit).
 *
 * STRESS_BROKEN_GRACE=1 in the environment replaces the grace period by
 * nothing, STRESS_NO_FLUSH=1 leaves the TLB shootdown out: either run is
 * then expected to fail (a check of the checker). */
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

/* ---------------------------------------------------------------- second stage */

#define TLB_ENTRIES 64
static u64 s2[GFN_SPACE + 16];          /* hfn + 1, 0 = not mapped (atomic) */
static s64 frame_gfn[IDS];              /* where id's frames are mapped, -1 = reused */
static u64 flush_req[NCPUS], flush_ack[NCPUS];
static bool no_flush;
static long maps, unmaps, flushes_waited;

static int s_map(void *ctx, const struct memslot *m)
{
    (void)ctx;
    maps++; /* under the writer lock */
    __atomic_store_n(&frame_gfn[m->id], (s64)m->gfn, __ATOMIC_RELEASE);
    for (u64 i = 0; i < m->npages && m->gfn + i < GFN_SPACE + 16; i++)
        __atomic_store_n(&s2[m->gfn + i], m->hfn + i + 1, __ATOMIC_RELEASE);
    return MEMSLOT_OK;
}

static void s_unmap(void *ctx, u64 gpa, u64 size)
{
    (void)ctx;
    unmaps++; /* under the writer lock */
    u64 gfn = gpa / PG, n = size / PG;
    u64 hfn = 0;
    for (u64 i = 0; i < n && gfn + i < GFN_SPACE + 16; i++) {
        u64 e = __atomic_exchange_n(&s2[gfn + i], 0, __ATOMIC_ACQ_REL);
        if (i == 0 && e)
            hfn = e - 1;
    }
    if (!no_flush) {
        /* Shoot down every reader CPU's TLB and wait until all have. */
        u64 want[NCPUS];
        for (unsigned c = NWRITERS; c < NCPUS; c++)
            want[c] = __atomic_add_fetch(&flush_req[c], 1, __ATOMIC_ACQ_REL);
        for (unsigned c = NWRITERS; c < NCPUS; c++)
            while (__atomic_load_n(&flush_ack[c], __ATOMIC_ACQUIRE) < want[c]) {
                flushes_waited++;
                sched_yield();
            }
    }
    /* Now the frames may be reused. */
    if (hfn >= 0x100000 && (hfn - 0x100000) / 8 < IDS)
        __atomic_store_n(&frame_gfn[(hfn - 0x100000) / 8], -1, __ATOMIC_RELEASE);
}

static void no_grace(void *ctx) { (void)ctx; }

static struct memslot_ops ops = { .alloc = s_alloc, .free = s_free, .unmap = s_unmap,
                                  .map = s_map };

struct tlb {
    u64 gfn[TLB_ENTRIES], hfn[TLB_ENTRIES];
    bool valid[TLB_ENTRIES];
};
static struct tlb tlbs[NCPUS];

static void take_flush(unsigned cpu)
{
    u64 r = __atomic_load_n(&flush_req[cpu], __ATOMIC_ACQUIRE);
    if (__atomic_load_n(&flush_ack[cpu], __ATOMIC_RELAXED) == r)
        return;
    memset(&tlbs[cpu], 0, sizeof(tlbs[cpu]));
    __atomic_store_n(&flush_ack[cpu], r, __ATOMIC_RELEASE);
}

/* One guest access to gfn: TLB hit or a walk of the table. Returns false
 * when the frame reached no longer backs that page (a stale mapping). */
static bool guest_access(unsigned cpu, u64 gfn, long *hits)
{
    struct tlb *t = &tlbs[cpu];
    unsigned k = (unsigned)(gfn % TLB_ENTRIES);
    u64 hfn;
    if (t->valid[k] && t->gfn[k] == gfn) {
        hfn = t->hfn[k];
        (*hits)++;
    } else {
        u64 e = __atomic_load_n(&s2[gfn], __ATOMIC_ACQUIRE);
        if (!e)
            return true; /* a stage-2 fault: fine */
        hfn = e - 1;
        t->gfn[k] = gfn, t->hfn[k] = hfn, t->valid[k] = true;
    }
    u64 id = (hfn - 0x100000) / 8, off = (hfn - 0x100000) % 8;
    if (hfn < 0x100000 || id >= IDS)
        return false;
    s64 base = __atomic_load_n(&frame_gfn[id], __ATOMIC_ACQUIRE);
    return base >= 0 && (u64)base + off == gfn && off < sig_npages((u32)id);
}

/* ---------------------------------------------------------------- readers */

struct reader_stats {
    long lookups, hits, set_walks, bad, eqs, idles, ipis, gaccess, tlb_hits, stale;
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
        take_flush(cpu);
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
            for (int i = 0; i < 200; i++) {
                take_flush(cpu);   /* a shootdown IPI forces an exit and an INVEPT */
                if (__atomic_load_n(&ipi_pending[cpu], __ATOMIC_ACQUIRE))
                    break;         /* an epoch kick forces an exit */
                u64 gfn = rnd_next(&rs) % 64 < 48 ? rnd_next(&rs) % 256 : rnd_next(&rs) % GFN_SPACE;
                st->gaccess++;
                if (!guest_access(cpu, gfn, &st->tlb_hits))
                    st->stale++;
                if (i % 50 == 49)
                    sched_yield();
            }
            epoch_exit_eqs(&D, cpu);
        } else if (r == 8) {       /* idle */
            epoch_enter_eqs(&D, cpu);
            st->idles++;
            usleep(50);
            take_flush(cpu);
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
    no_flush = getenv("STRESS_NO_FLUSH") != NULL;
    for (u32 i = 0; i < IDS; i++)
        frame_gfn[i] = -1;
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
        r.gaccess += rstats[c].gaccess, r.tlb_hits += rstats[c].tlb_hits;
        r.stale += rstats[c].stale;
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
    printf("  guest: %ld accesses (%ld TLB hits), %ld maps, %ld unmaps%s; stale: %ld\n",
           r.gaccess, r.tlb_hits, maps, unmaps, no_flush ? " [TLB shootdown disabled]" : " (each with a TLB shootdown)", r.stale);
    CHECK_EQ(r.bad, 0);
    CHECK_EQ(r.stale, 0);
    CHECK(r.gaccess > 1000 && r.tlb_hits > 100);
    CHECK(maps > 50 && unmaps > 50);
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
