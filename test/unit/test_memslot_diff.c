/* Differential test: random create/delete/move/flag operations on a memslot
 * partition and on a plain reference model (an unsorted list checked by
 * linear scans), comparing every result and every invariant after every step.
 *
 *   test_memslot_diff                  bounded runs (make test)
 *   test_memslot_diff --long [SEED]    grows to the 32768-slot limit and churns there
 *   test_memslot_diff STEPS MAXSLOTS SEED [GROW%]
 */
#include "check.h"
#include "memslot_host.h"

#define PG 4096ULL
#define ID_SPACE 65536

struct ref_slot {
    u32 id;
    u64 gfn, npages, hfn;
    u32 flags;
};

static struct ref_slot *ref;      /* unsorted */
static u32 ref_n;
static s32 *ref_idx;              /* id -> index in ref, or -1 */
static u64 rng_state;
static u64 gfn_space;             /* guest frames the random ranges fall into */

static u64 rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}
static u64 rnd_below(u64 n) { return n ? rnd() % n : 0; }

static int ref_range(u64 gpa, u64 size, u64 hpa)
{
    u64 lim = 1ULL << MEMSLOT_PA_BITS;
    if (gpa % PG || size % PG || hpa % PG)
        return MEMSLOT_E_ALIGN;
    if (size == 0)
        return MEMSLOT_E_ZERO;
    /* overflow: compute the end in 128 bits */
    unsigned __int128 ge = (unsigned __int128)gpa + size, he = (unsigned __int128)hpa + size;
    if (ge > lim || he > lim)
        return MEMSLOT_E_OVERFLOW;
    return MEMSLOT_OK;
}

static bool ref_overlap(u64 gfn, u64 n, u32 skip_id)
{
    for (u32 i = 0; i < ref_n; i++) {
        if (ref[i].id == skip_id)
            continue;
        if (gfn < ref[i].gfn + ref[i].npages && ref[i].gfn < gfn + n)
            return true;
    }
    return false;
}

static int ref_create(u32 id, u64 gpa, u64 size, u64 hpa, u32 flags, u32 max)
{
    int e = ref_range(gpa, size, hpa);
    if (e)
        return e;
    if (flags & ~MEMSLOT_F_ALL)
        return MEMSLOT_E_FLAGS;
    if (ref_idx[id] >= 0) {
        struct ref_slot *r = &ref[ref_idx[id]];
        return r->gfn == gpa / PG && r->npages == size / PG && r->hfn == hpa / PG &&
                       r->flags == flags ? MEMSLOT_OK : MEMSLOT_E_EXIST;
    }
    if (ref_overlap(gpa / PG, size / PG, ~0u))
        return MEMSLOT_E_OVERLAP;
    if (ref_n >= max)
        return MEMSLOT_E_LIMIT;
    ref[ref_n] = (struct ref_slot){ id, gpa / PG, size / PG, hpa / PG, flags };
    ref_idx[id] = (s32)ref_n++;
    return MEMSLOT_OK;
}

static int ref_delete(u32 id)
{
    if (ref_idx[id] < 0)
        return MEMSLOT_E_NOENT;
    u32 i = (u32)ref_idx[id];
    ref[i] = ref[--ref_n];
    ref_idx[ref[i].id] = (s32)i;
    ref_idx[id] = -1;
    return MEMSLOT_OK;
}

static int ref_move(u32 id, u64 gpa)
{
    if (ref_idx[id] < 0)
        return MEMSLOT_E_NOENT;
    struct ref_slot *r = &ref[ref_idx[id]];
    int e = ref_range(gpa, r->npages * PG, r->hfn * PG);
    if (e)
        return e;
    if (ref_overlap(gpa / PG, r->npages, id))
        return MEMSLOT_E_OVERLAP;
    r->gfn = gpa / PG;
    return MEMSLOT_OK;
}

static int ref_flags(u32 id, u32 flags)
{
    if (flags & ~MEMSLOT_F_ALL)
        return MEMSLOT_E_FLAGS;
    if (ref_idx[id] < 0)
        return MEMSLOT_E_NOENT;
    ref[ref_idx[id]].flags = flags;
    return MEMSLOT_OK;
}

static const struct ref_slot *ref_lookup(u64 gpa)
{
    u64 gfn = gpa / PG;
    for (u32 i = 0; i < ref_n; i++)
        if (gfn >= ref[i].gfn && gfn < ref[i].gfn + ref[i].npages)
            return &ref[i];
    return NULL;
}

static struct memslot_part P;
static struct host_env E;
static struct memslot_hint H;
static long failures;
static long result_count[MEMSLOT_E_NOMEM + 1];

#define DIFF_CHECK(cond, step, what)                                                 \
    do {                                                                             \
        if (!(cond)) {                                                               \
            if (failures++ < 10)                                                     \
                printf("  step %ld: %s (%s)\n", (long)(step), what, #cond);          \
            CHECK(cond);                                                             \
        }                                                                            \
    } while (0)

/* Every invariant, against the model. */
static void check_all(long step, u64 prev_gen, bool changed)
{
    const struct memslot_set *s = memslot_current(&P);
    u32 nr = s ? s->nr : 0;
    u64 gen = memslot_generation(&P);
    DIFF_CHECK(nr == ref_n, step, "slot count");
    DIFF_CHECK(gen % 2 == 0, step, "generation even when idle");
    DIFF_CHECK(changed ? gen > prev_gen : gen == prev_gen, step, "generation moves iff changed");
    DIFF_CHECK(!s || s->generation == gen, step, "set carries the partition generation");
    DIFF_CHECK(s || nr == 0, step, "empty map has no set");
    /* exact size: the only live allocation is the set */
    DIFF_CHECK(E.bytes == (long long)(s ? memslot_set_bytes(nr) : 0), step, "set sized exactly");
    DIFF_CHECK(E.allocs - E.frees == (s ? 1 : 0), step, "one live set");
    for (u32 i = 0; i < nr; i++) {
        const struct memslot *m = &s->slot[i];
        DIFF_CHECK(m->npages > 0, step, "non-empty slot");
        if (i > 0)
            DIFF_CHECK(s->slot[i - 1].gfn + s->slot[i - 1].npages <= m->gfn, step,
                       "sorted and disjoint");
        DIFF_CHECK(m->id < ID_SPACE && ref_idx[m->id] >= 0, step, "slot is in the model");
        if (m->id < ID_SPACE && ref_idx[m->id] >= 0) {
            const struct ref_slot *r = &ref[ref_idx[m->id]];
            DIFF_CHECK(r->gfn == m->gfn && r->npages == m->npages && r->hfn == m->hfn &&
                           r->flags == m->flags, step, "slot equals the model");
        }
    }
}

static u64 random_gpa(void)
{
    return rnd_below(gfn_space) * PG;
}

static void check_lookups(long step)
{
    for (int k = 0; k < 4; k++) {
        u64 gpa;
        if (ref_n && k < 2) {
            /* around a random slot's edges */
            const struct ref_slot *r = &ref[rnd_below(ref_n)];
            u64 choices[4] = { r->gfn * PG, (r->gfn + r->npages) * PG - 1,
                               (r->gfn + r->npages) * PG, r->gfn * PG - 1 };
            gpa = choices[rnd_below(4)];
        } else {
            gpa = random_gpa() + rnd_below(PG);
        }
        const struct ref_slot *r = ref_lookup(gpa);
        const struct memslot *m = memslot_lookup(&P, &H, gpa);
        DIFF_CHECK((r == NULL) == (m == NULL), step, "lookup hit/miss agrees");
        if (r && m)
            DIFF_CHECK(r->id == m->id, step, "lookup finds the same slot");
        const struct memslot *m2 = memslot_lookup(&P, &H, gpa); /* through the hint */
        DIFF_CHECK(m2 == m, step, "hinted lookup agrees");
    }
}

static u32 random_flags(void)
{
    return rnd_below(50) == 0 ? (u32)rnd() & 0xff : (u32)rnd_below(16);
}

/* One random operation; returns whether the map changed. */
static bool step_once(long step, u32 max, unsigned grow_pct)
{
    int op = (int)rnd_below(100);
    u32 id = (u32)rnd_below(ref_n + 64 < ID_SPACE ? ref_n + 64 : ID_SPACE);
    if (ref_n && rnd_below(2))
        id = ref[rnd_below(ref_n)].id; /* mostly existing ids for delete/move/flags */
    int want, got;
    u64 gen_before = memslot_generation(&P);
    u32 n_before = ref_n;
    if (op < (int)grow_pct) {
        u64 gpa = random_gpa(), size = (1 + rnd_below(rnd_below(8) ? 4 : 64)) * PG;
        u64 hpa = rnd_below(1ULL << 30) * PG;
        switch (rnd_below(40)) {
        case 0: gpa += 1 + rnd_below(PG - 1); break;
        case 1: size = rnd_below(2) ? 0 : size + 8; break;
        case 2: gpa = (1ULL << MEMSLOT_PA_BITS) - rnd_below(4) * PG; break;
        case 3: hpa = ~0ULL - PG + 1; break;
        case 4: size = ~0ULL - PG + 1; break;
        }
        u32 cid = ref_idx[id] >= 0 && rnd_below(4) ? (u32)rnd_below(ID_SPACE) : id;
        u32 flags = random_flags();
        if (ref_idx[cid] >= 0 && rnd_below(8) == 0) { /* repeat an identical create */
            const struct ref_slot *r = &ref[ref_idx[cid]];
            gpa = r->gfn * PG, size = r->npages * PG, hpa = r->hfn * PG, flags = r->flags;
        }
        want = ref_create(cid, gpa, size, hpa, flags, max);
        got = memslot_create(&P, cid, gpa, size, hpa, flags);
    } else if (op < (int)grow_pct + (100 - (int)grow_pct) / 3) {
        want = ref_delete(id);
        got = memslot_delete(&P, id);
    } else if (op < (int)grow_pct + 2 * (100 - (int)grow_pct) / 3) {
        u64 gpa = random_gpa();
        if (rnd_below(30) == 0)
            gpa |= 0x800;
        if (ref_idx[id] >= 0 && rnd_below(10) == 0) /* a small shift overlapping itself */
            gpa = (ref[ref_idx[id]].gfn + (rnd_below(2) ? 1 : -1ULL)) * PG;
        if (ref_idx[id] >= 0 && rnd_below(20) == 0)
            gpa = ref[ref_idx[id]].gfn * PG; /* no-op move */
        u64 old_gfn = ref_idx[id] >= 0 ? ref[ref_idx[id]].gfn : 0;
        want = ref_move(id, gpa);
        got = memslot_move(&P, id, gpa);
        if (want == MEMSLOT_OK && old_gfn == gpa / PG)
            n_before = ~0u; /* marks a no-op below */
    } else {
        u32 flags = random_flags();
        u32 old = ref_idx[id] >= 0 ? ref[ref_idx[id]].flags : 0;
        want = ref_flags(id, flags);
        got = memslot_set_flags(&P, id, flags);
        if (want == MEMSLOT_OK && old == flags)
            n_before = ~0u;
    }
    DIFF_CHECK(want == got, step, "same result as the model");
    if (got >= 0 && got <= MEMSLOT_E_NOMEM)
        result_count[got]++;
    if (want != got)
        printf("  step %ld: op %d id %u: model %d (%s), memslot %d (%s)\n", step, op, id, want,
               memslot_strerror(want), got, memslot_strerror(got));
    bool changed = want == MEMSLOT_OK && n_before != ~0u &&
                   !(op < (int)grow_pct && ref_n == n_before);
    check_all(step, gen_before, changed);
    return changed;
}

/* Run steps operations with a slot limit of max; grow_pct of them creates. */
static void run(long steps, u32 max, u64 seed, unsigned grow_pct, bool churn_at_limit)
{
    rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
    ref_n = 0;
    for (u32 i = 0; i < ID_SPACE; i++)
        ref_idx[i] = -1;
    gfn_space = (u64)max * 16 + 64;
    host_env_init(&E, &P, max);
    memset(&H, 0, sizeof(H));
    failures = 0;
    memset(result_count, 0, sizeof(result_count));
    long changes = 0, limit_hits = 0;
    u32 peak_n = 0;
    for (long st = 0; st < steps && failures < 10; st++) {
        unsigned g = grow_pct;
        if (churn_at_limit && ref_n >= max)
            g = 60;
        changes += step_once(st, max, g);
        check_lookups(st);
        if (ref_n > peak_n)
            peak_n = ref_n;
        if (ref_n == max)
            limit_hits++;
    }
    printf("  %ld steps, limit %u, seed %llu: %ld changes, peak %u slots, %ld steps at the limit\n",
           steps, max, (unsigned long long)seed, changes, peak_n, limit_hits);
    printf("  results:");
    for (int i = 0; i <= MEMSLOT_E_NOMEM; i++)
        printf(" %s=%ld", i ? memslot_strerror(i) : "ok", result_count[i]);
    printf("\n");
    memslot_part_destroy(&P);
    CHECK_EQ(E.bytes, 0);
}

static void test_diff_small(void)
{
    for (u64 seed = 1; seed <= 4; seed++)
        run(20000, 48, seed, 40, true);
}

static void test_diff_medium(void)
{
    run(12000, 4096, 11, 85, true);
}

static void test_diff_limit_tiny(void)
{
    run(5000, 1, 21, 50, false);
    run(5000, 5, 22, 50, false);
}

static u64 long_seed = 77;
static void test_diff_long_32768(void)
{
    /* Grow to the default limit (32768), then churn there. */
    run(90000, MEMSLOT_MAX_DEFAULT, long_seed, 95, true);
}

int main(int argc, char **argv)
{
    ref = calloc(40000, sizeof(*ref));
    ref_idx = calloc(ID_SPACE, sizeof(*ref_idx));
    if (argc >= 2 && strcmp(argv[1], "--long") == 0) {
        if (argc >= 3)
            long_seed = strtoull(argv[2], NULL, 0);
        RUN(test_diff_long_32768);
    } else if (argc >= 4) {
        long steps = strtol(argv[1], NULL, 0);
        u32 max = (u32)strtoul(argv[2], NULL, 0);
        u64 seed = strtoull(argv[3], NULL, 0);
        unsigned grow = argc >= 5 ? (unsigned)strtoul(argv[4], NULL, 0) : 70;
        check_cur_failed = 0;
        run(steps, max, seed, grow, true);
        printf("%s: test_diff_custom\n", check_cur_failed ? "FAIL" : "PASS");
        if (check_cur_failed)
            check_total_failed++;
    } else {
        RUN(test_diff_small);
        RUN(test_diff_limit_tiny);
        RUN(test_diff_medium);
    }
    free(ref);
    free(ref_idx);
    return CHECK_DONE();
}
