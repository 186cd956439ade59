/* Memslot benchmark: the new map (exact-size sorted array, binary search,
 * generation-tagged hint, sets from the hypervisor's size-class heap) beside
 * a baseline built the old way (a fixed 512-entry array of 88-byte slots,
 * searched linearly, replaced whole on every update), in the same run.
 *
 *   bench_memslot [--quick]
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "mm/memslot.h"
#include "mm/heap.h"
#include "hv/epoch.h"

#define PG 4096ULL

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static u64 rs = 0x9E3779B97F4A7C15ULL;
static u64 rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static volatile u64 sink;

/* ================================================================ baseline */

#define OLD_MAX 512
struct old_slot {                /* 88 bytes, as the old design spent */
    u64 base_gfn, npages, host_addr, flags;
    u32 id, as_id;
    u64 dirty_bitmap;
    u64 arch[4];
    u64 generation;
};
struct old_set {
    u32 used;
    u32 pad;
    u64 generation;
    struct old_slot slot[OLD_MAX];   /* sorted by base_gfn, first `used` valid */
};
struct old_part {
    struct old_set *set;
    u64 peak, bytes;
};

static struct old_set *old_alloc(struct old_part *p)
{
    struct old_set *s = malloc(sizeof(*s));
    p->bytes += sizeof(*s);
    if (p->bytes > p->peak)
        p->peak = p->bytes;
    return s;
}
static void old_free(struct old_part *p, struct old_set *s)
{
    p->bytes -= sizeof(*s);
    free(s);
}

static const struct old_slot *old_lookup(struct old_part *p, u64 gpa)
{
    const struct old_set *s = __atomic_load_n(&p->set, __ATOMIC_ACQUIRE);
    u64 gfn = gpa >> 12;
    for (u32 i = 0; i < s->used; i++) {
        const struct old_slot *m = &s->slot[i];
        if (gfn >= m->base_gfn && gfn < m->base_gfn + m->npages)
            return m;
    }
    return NULL;
}

/* Old-way update: copy the whole fixed array, edit it, publish, (grace
 * period), free the old one. */
static int old_create(struct old_part *p, u32 id, u64 gfn, u64 n, u64 hfn)
{
    struct old_set *o = p->set;
    if (o->used >= OLD_MAX)
        return -1;
    for (u32 i = 0; i < o->used; i++)
        if (gfn < o->slot[i].base_gfn + o->slot[i].npages && o->slot[i].base_gfn < gfn + n)
            return -2;
    struct old_set *s = old_alloc(p);
    memcpy(s, o, sizeof(*s));
    u32 pos = 0;
    while (pos < s->used && s->slot[pos].base_gfn < gfn)
        pos++;
    memmove(&s->slot[pos + 1], &s->slot[pos], (s->used - pos) * sizeof(s->slot[0]));
    s->slot[pos] = (struct old_slot){ .base_gfn = gfn, .npages = n, .host_addr = hfn << 12, .id = id };
    s->used++;
    s->generation++;
    __atomic_store_n(&p->set, s, __ATOMIC_RELEASE);
    old_free(p, o);
    return 0;
}

static int old_remove_publish(struct old_part *p, u32 id, struct old_slot *out)
{
    struct old_set *o = p->set;
    u32 i = 0;
    while (i < o->used && o->slot[i].id != id)
        i++;
    if (i == o->used)
        return -1;
    struct old_set *s = old_alloc(p);
    memcpy(s, o, sizeof(*s));
    if (out)
        *out = s->slot[i];
    memmove(&s->slot[i], &s->slot[i + 1], (s->used - i - 1) * sizeof(s->slot[0]));
    s->used--;
    s->generation++;
    __atomic_store_n(&p->set, s, __ATOMIC_RELEASE);
    old_free(p, o);
    return 0;
}

static int old_delete(struct old_part *p, u32 id) { return old_remove_publish(p, id, NULL); }

static int old_move(struct old_part *p, u32 id, u64 gfn)
{
    struct old_slot m;
    if (old_remove_publish(p, id, &m))
        return -1;
    return old_create(p, id, gfn, m.npages, m.host_addr >> 12);
}

/* ================================================================ new map */

static struct heap H;
static u64 page_alloc(u64 n)
{
    void *p = aligned_alloc(PG, n * PG);
    return (u64)(uintptr_t)p;
}
static void page_free(u64 base, u64 n)
{
    (void)n;
    free((void *)(uintptr_t)base);
}

static long long cur_bytes, peak_bytes, cur_heap, peak_heap;
static void *b_alloc(void *ctx, size_t n)
{
    (void)ctx;
    cur_bytes += (long long)n;
    cur_heap += (long long)heap_block_size(n);
    if (cur_bytes > peak_bytes)
        peak_bytes = cur_bytes;
    if (cur_heap > peak_heap)
        peak_heap = cur_heap;
    return heap_alloc(&H, n);
}
static void b_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    cur_bytes -= (long long)n;
    cur_heap -= (long long)heap_block_size(n);
    heap_free(&H, p, n);
}
static void b_unmap(void *ctx, u64 gpa, u64 size) { (void)ctx, (void)gpa, (void)size; }
static void b_nosync(void *ctx) { (void)ctx; }
static const struct memslot_ops bench_ops = {
    .alloc = b_alloc, .free = b_free, .unmap = b_unmap, .synchronize = b_nosync,
};

/* ================================================================ lookups */

/* Slot i: guest frames [4i, 4i+2); frames 4i+2, 4i+3 are a gap. */
static u64 slot_gpa(u32 i) { return (u64)i * 4 * PG; }

#define NADDR 4096
#define ROUNDS 5
static u64 addr_rand[NADDR], addr_gap[NADDR];

static double time_new(struct memslot_part *p, const u64 *addrs, long iters, bool same)
{
    struct memslot_hint h = { 0 };
    u64 acc = 0;
    double t0 = now_ns();
    for (long k = 0; k < iters; k++) {
        const struct memslot *m = memslot_lookup(p, &h, same ? addrs[0] : addrs[k & (NADDR - 1)]);
        acc += m ? m->id : 1;
    }
    double t = now_ns() - t0;
    sink = acc;
    return t / iters;
}

static double time_old(struct old_part *p, const u64 *addrs, long iters, bool same)
{
    u64 acc = 0;
    double t0 = now_ns();
    for (long k = 0; k < iters; k++) {
        const struct old_slot *m = old_lookup(p, same ? addrs[0] : addrs[k & (NADDR - 1)]);
        acc += m ? m->id : 1;
    }
    double t = now_ns() - t0;
    sink = acc;
    return t / iters;
}

/* ================================================================ epoch GP */

static struct epoch_domain D;
static struct memslot_part GP_P;
static int gp_stop, gp_ready;
static int gp_guest_mode;     /* readers spend most time in the guest */
static __thread unsigned my_cpu;
static unsigned bipi[MAX_CPUS];

static unsigned e_cpu(void *ctx) { (void)ctx; return my_cpu; }
static unsigned long bipi_sent;
static void e_kick(void *ctx, unsigned cpu)
{
    (void)ctx;
    bipi_sent++;
    __atomic_store_n(&bipi[cpu], 1, __ATOMIC_RELEASE);
}
static void e_relax(void *ctx) { (void)ctx; sched_yield(); }
static const struct epoch_ops eops = { .cpu_index = e_cpu, .kick = e_kick, .relax = e_relax };

static void *gp_reader(void *arg)
{
    unsigned cpu = (unsigned)(uintptr_t)arg;
    my_cpu = cpu;
    struct memslot_hint h = { 0 };
    u64 r = 12345 + cpu, acc = 0;
    epoch_cpu_online(&D, cpu);
    __atomic_fetch_add(&gp_ready, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&gp_stop, __ATOMIC_ACQUIRE)) {
        epoch_quiescent(&D, cpu);           /* top of the exit loop */
        __atomic_store_n(&bipi[cpu], 0, __ATOMIC_RELAXED);
        for (int k = 0; k < 64; k++) {      /* an exit handler doing lookups */
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            const struct memslot *m = memslot_lookup(&GP_P, &h, slot_gpa((u32)(r % 509)));
            acc += m ? m->id : 0;
        }
        if (gp_guest_mode == 2) {
            sched_yield();                  /* share the CPU after each exit */
        } else if (gp_guest_mode) {         /* run the guest for a while */
            epoch_enter_eqs(&D, cpu);
            for (int k = 0; k < 2000; k++)
                __asm__ volatile("" ::: "memory");
            epoch_exit_eqs(&D, cpu);
        }
    }
    sink = acc;
    epoch_cpu_offline(&D, cpu);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void gp_latency(int guest_mode, int rounds, double *med, double *p99, double *cr_us,
                       unsigned long *ipis)
{
    bipi_sent = 0;
    static const struct memslot_ops gp_ops = { .alloc = b_alloc, .free = b_free, .unmap = b_unmap };
    epoch_init(&D, 3, &eops, NULL);
    my_cpu = 0;
    epoch_cpu_online(&D, 0);
    memslot_part_init(&GP_P, &D, &gp_ops, NULL, 0);
    for (u32 i = 0; i < 509; i++)
        memslot_create(&GP_P, i, slot_gpa(i), 2 * PG, (0x100000ULL + i * 2) * PG, 0);
    gp_stop = gp_ready = 0;
    gp_guest_mode = guest_mode;
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, gp_reader, (void *)(uintptr_t)(i + 1));
    while (__atomic_load_n(&gp_ready, __ATOMIC_ACQUIRE) < 2)
        sched_yield();
    double *lat = malloc(sizeof(double) * (size_t)rounds);
    for (int i = 0; i < 200; i++)   /* warm up */
        epoch_synchronize(&D);
    for (int i = 0; i < rounds; i++) {
        double t0 = now_ns();
        epoch_synchronize(&D);
        lat[i] = now_ns() - t0;
    }
    /* a full create (with its grace period) at 509 slots, readers running */
    int n = rounds / 4;
    double *cl = malloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++) {
        double t0 = now_ns();
        memslot_create(&GP_P, 100000, slot_gpa(600) + 2 * PG, PG, 0, 0);
        cl[i] = now_ns() - t0;
        memslot_delete(&GP_P, 100000);
    }
    qsort(cl, (size_t)n, sizeof(double), cmp_d);
    *cr_us = cl[n / 2] / 1e3;
    free(cl);
    *ipis = bipi_sent;
    __atomic_store_n(&gp_stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    qsort(lat, (size_t)rounds, sizeof(double), cmp_d);
    *med = lat[rounds / 2] / 1e3;
    *p99 = lat[rounds * 99 / 100] / 1e3;
    free(lat);
    memslot_part_destroy(&GP_P);
}

/* ================================================================ main */

static void ratio(char *buf, size_t n, double base, double now)
{
    if (base <= 0)
        snprintf(buf, n, "%8s", "n/a");
    else
        snprintf(buf, n, "%7.1fx", base / now);
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    static const u32 sizes[] = { 1, 8, 30, 32, 509, 4096, 32768 };
    heap_init(&H, page_alloc, page_free);
    /* Keep big blocks in the process: the hypervisor's frame allocator does
     * not fault pages in on every allocation, and neither should this. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    long lookups = quick ? 200000 : 2000000;

    printf("memslot benchmark: new = exact-size sorted array (32 B slots), binary search, per-vCPU\n"
           "generation-tagged hint, sets from the size-class heap; base = the old way: fixed\n"
           "512-entry array of 88 B slots searched linearly, copied whole on every update.\n"
           "Times are per operation, best of %d alternating rounds; updates exclude the grace period\n"
           "(measured separately).\n"
           "ratio = base / new (higher is better for new). n/a: the baseline cannot hold that many slots.\n\n",
           ROUNDS);

    printf("%6s | %-28s | %-28s | %-28s\n", "", "lookup repeated hit (ns)", "lookup random hit (ns)",
           "lookup gap (ns)");
    printf("%6s | %8s %8s %9s | %8s %8s %9s | %8s %8s %9s\n", "slots", "new", "base", "ratio",
           "new", "base", "ratio", "new", "base", "ratio");
    double upd[ARRAY_SIZE(sizes)][6];
    long long bytes_new[ARRAY_SIZE(sizes)], heap_new[ARRAY_SIZE(sizes)], peak_new[ARRAY_SIZE(sizes)],
        peak_heap_new[ARRAY_SIZE(sizes)];
    for (size_t si = 0; si < ARRAY_SIZE(sizes); si++) {
        u32 n = sizes[si];
        struct memslot_part P;
        cur_bytes = peak_bytes = cur_heap = peak_heap = 0;
        /* limit n+1: the create row adds one slot to a map of n (32768 is
         * the default limit, so that row needs one more) */
        memslot_part_init(&P, NULL, &bench_ops, NULL, n + 1);
        for (u32 i = 0; i < n; i++)
            memslot_create(&P, i, slot_gpa(i), 2 * PG, (0x100000ULL + i * 2) * PG, 0);
        bool has_old = n <= OLD_MAX - 2;
        struct old_part O = { 0 };
        if (has_old) {
            O.set = old_alloc(&O);
            memset(O.set, 0, sizeof(*O.set));
            for (u32 i = 0; i < n; i++)
                old_create(&O, i, (u64)i * 4, 2, 0x100000 + i * 2);
        }
        for (int k = 0; k < NADDR; k++) {
            u32 i = (u32)(rnd() % n);
            addr_rand[k] = slot_gpa(i) + rnd() % (2 * PG);
            addr_gap[k] = slot_gpa(i) + 2 * PG + rnd() % (2 * PG);
        }
        u64 rep[1] = { slot_gpa(n / 2) + 0x800 };
        /* New and baseline alternate over ROUNDS rounds and each figure is
         * the best round, so a burst of load on the machine hits both sides
         * and rarely decides a ratio. */
        double nr = 1e30, nrand = 1e30, ngap = 1e30, orp = 1e30, orand = 1e30, ogap = 1e30;
        long it_new = lookups / ROUNDS, it_old = (n > 100 ? lookups / 4 : lookups) / ROUNDS;
        for (int round = 0; round < ROUNDS; round++) {
            nr = MIN(nr, time_new(&P, rep, it_new, true));
            nrand = MIN(nrand, time_new(&P, addr_rand, it_new, false));
            ngap = MIN(ngap, time_new(&P, addr_gap, it_new, false));
            if (has_old) {
                orp = MIN(orp, time_old(&O, rep, it_old, true));
                orand = MIN(orand, time_old(&O, addr_rand, it_old, false));
                ogap = MIN(ogap, time_old(&O, addr_gap, it_old, false));
            }
        }
        if (!has_old)
            orp = orand = ogap = 0;
        char r1[16], r2[16], r3[16];
        ratio(r1, sizeof(r1), orp, nr);
        ratio(r2, sizeof(r2), orand, nrand);
        ratio(r3, sizeof(r3), ogap, ngap);
        char ob1[16], ob2[16], ob3[16];
        snprintf(ob1, sizeof(ob1), "%8.1f", orp);
        snprintf(ob2, sizeof(ob2), "%8.1f", orand);
        snprintf(ob3, sizeof(ob3), "%8.1f", ogap);
        if (!has_old) {
            snprintf(ob1, sizeof(ob1), "%8s", "n/a");
            snprintf(ob2, sizeof(ob2), "%8s", "n/a");
            snprintf(ob3, sizeof(ob3), "%8s", "n/a");
        }
        printf("%6u | %8.1f %s %s | %8.1f %s %s | %8.1f %s %s\n", n, nr, ob1, r1, nrand, ob2, r2,
               ngap, ob3, r3);

        /* sizes at rest */
        bytes_new[si] = (long long)memslot_part_bytes(&P);
        heap_new[si] = (long long)sizeof(P) + cur_heap;

        /* updates: create + delete of a one-page slot in a random gap, move
         * of a random slot by one page (overlapping itself) and back */
        int reps = n >= 32768 ? 20 : n >= 4096 ? 100 : 1000;
        if (quick)
            reps = reps / 10 + 1;
        double tc = 1e30, td = 1e30, tm = 1e30, oc = 1e30, od = 1e30, om = 1e30;
        peak_bytes = cur_bytes;
        peak_heap = cur_heap;
        for (int round = 0; round < ROUNDS; round++) {
        double rtc = 0, rtd = 0, rtm = 0, roc = 0, rod = 0, rom = 0;
        for (int r = 0; r < reps; r++) {
            u32 i = (u32)(rnd() % n);
            double t0 = now_ns();
            int e = memslot_create(&P, 1000000, slot_gpa(i) + 2 * PG, PG, 0, 0);
            double t1 = now_ns();
            e |= memslot_delete(&P, 1000000);
            double t2 = now_ns();
            e |= memslot_move(&P, i, slot_gpa(i) + PG);
            e |= memslot_move(&P, i, slot_gpa(i));
            double t3 = now_ns();
            if (e) {
                fprintf(stderr, "update failed at %u slots\n", n);
                return 1;
            }
            rtc += t1 - t0, rtd += t2 - t1, rtm += (t3 - t2) / 2;
        }
        if (has_old) {
            for (int r = 0; r < reps; r++) {
                u32 i = (u32)(rnd() % n);
                double t0 = now_ns();
                int e = old_create(&O, 1000000, (u64)i * 4 + 2, 1, 0);
                double t1 = now_ns();
                e |= old_delete(&O, 1000000);
                double t2 = now_ns();
                e |= old_move(&O, i, (u64)i * 4 + 1);
                e |= old_move(&O, i, (u64)i * 4);
                double t3 = now_ns();
                if (e) {
                    fprintf(stderr, "baseline update failed at %u slots\n", n);
                    return 1;
                }
                roc += t1 - t0, rod += t2 - t1, rom += (t3 - t2) / 2;
            }
        }
        tc = MIN(tc, rtc), td = MIN(td, rtd), tm = MIN(tm, rtm);
        oc = MIN(oc, roc), od = MIN(od, rod), om = MIN(om, rom);
        }
        peak_new[si] = (long long)sizeof(P) + peak_bytes;
        peak_heap_new[si] = (long long)sizeof(P) + peak_heap;
        upd[si][0] = tc / reps / 1e3, upd[si][1] = td / reps / 1e3, upd[si][2] = tm / reps / 1e3;
        upd[si][3] = has_old ? oc / reps / 1e3 : 0;
        upd[si][4] = has_old ? od / reps / 1e3 : 0;
        upd[si][5] = has_old ? om / reps / 1e3 : 0;
        memslot_part_destroy(&P);
        if (has_old)
            old_free(&O, O.set);
    }

    printf("\n%6s | %-28s | %-28s | %-28s\n", "", "create (us, no grace period)",
           "delete (us, no grace period)", "move (us, no grace period)");
    printf("%6s | %8s %8s %9s | %8s %8s %9s | %8s %8s %9s\n", "slots", "new", "base", "ratio",
           "new", "base", "ratio", "new", "base", "ratio");
    for (size_t si = 0; si < ARRAY_SIZE(sizes); si++) {
        char b[3][16], r[3][16];
        for (int k = 0; k < 3; k++) {
            if (upd[si][3 + k] > 0)
                snprintf(b[k], sizeof(b[k]), "%8.2f", upd[si][3 + k]);
            else
                snprintf(b[k], sizeof(b[k]), "%8s", "n/a");
            ratio(r[k], sizeof(r[k]), upd[si][3 + k], upd[si][k]);
        }
        printf("%6u | %8.2f %s %s | %8.2f %s %s | %8.2f %s %s\n", sizes[si], upd[si][0], b[0], r[0],
               upd[si][1], b[1], r[1], upd[si][2], b[2], r[2]);
    }

    long long old_bytes = (long long)sizeof(struct old_set) + (long long)sizeof(struct old_part);
    printf("\nbytes per partition (new: part + set, exact; heap: with the heap's size classes;\n"
           "base: part + fixed array). peak: highest during the updates above (create: old + new\n"
           "set; delete, move, flags: old + slot-less set).\n");
    printf("%6s | %10s %10s %10s %9s | %10s %10s %10s %9s\n", "slots", "new", "new heap", "base",
           "ratio", "peak new", "peak heap", "peak base", "ratio");
    for (size_t si = 0; si < ARRAY_SIZE(sizes); si++) {
        bool has_old = sizes[si] <= OLD_MAX - 2;
        char ob[16], op[16], r1[16], r2[16];
        snprintf(ob, sizeof(ob), "%10lld", old_bytes);
        snprintf(op, sizeof(op), "%10lld", 2 * old_bytes);
        if (!has_old) {
            snprintf(ob, sizeof(ob), "%10s", "n/a");
            snprintf(op, sizeof(op), "%10s", "n/a");
        }
        ratio(r1, sizeof(r1), has_old ? (double)old_bytes : 0, (double)heap_new[si]);
        ratio(r2, sizeof(r2), has_old ? 2.0 * old_bytes : 0, (double)peak_heap_new[si]);
        printf("%6u | %10lld %10lld %s %s | %10lld %10lld %s %s\n", sizes[si], bytes_new[si],
               heap_new[si], ob, r1, peak_new[si], peak_heap_new[si], op, r2);
    }

    int rounds = quick ? 500 : 5000;
    double med, p99, cr, med2, p992, cr2, med3, p993, cr3;
    unsigned long ipi1, ipi2, ipi3;
    /* readers that never leave the hypervisor cost a scheduler time slice
     * per grace period on an oversubscribed machine: fewer rounds */
    gp_latency(0, rounds / 10, &med, &p99, &cr, &ipi1);
    gp_latency(2, rounds, &med3, &p993, &cr3, &ipi3);
    gp_latency(1, rounds, &med2, &p992, &cr2, &ipi2);
    printf("\ngrace period with 2 reader threads (3 threads on %ld CPUs), %d rounds (first line: %d); the baseline\n"
           "frees its arrays after the same kind of grace period, so there is no separate figure.\n",
           sysconf(_SC_NPROCESSORS_ONLN), rounds, rounds / 10);
    printf("  readers always in the hypervisor doing lookups: median %8.2f us, p99 %8.2f us; "
           "create at 509 slots incl. grace period (median): %8.2f us; IPIs %lu\n",
           med, p99, cr, ipi1);
    printf("  same, readers yield the CPU after each exit:  median %8.2f us, p99 %8.2f us; "
           "create at 509 slots incl. grace period (median): %8.2f us; IPIs %lu\n",
           med3, p993, cr3, ipi3);
    printf("  readers mostly in guest mode (EQS):            median %8.2f us, p99 %8.2f us; "
           "create at 509 slots incl. grace period (median): %8.2f us; IPIs %lu\n",
           med2, p992, cr2, ipi2);
    return 0;
}
