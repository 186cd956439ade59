/* Memslot sets: validation matrix, lookups at every boundary, hints and
 * generations, update protocol order, sizes. Single-threaded; the grace
 * period is a logged stand-in (concurrency is in test_memslot_stress). */
#include "check.h"
#include "memslot_host.h"

#define PG 4096ULL

static struct memslot_part P;
static struct host_env E;

static void setup(u32 max)
{
    if (P.ops)
        memslot_part_destroy(&P);
    host_env_init(&E, &P, max);
}

static const struct memslot *by_id(u32 id)
{
    const struct memslot_set *s = memslot_current(&P);
    for (u32 i = 0; s && i < s->nr; i++)
        if (s->slot[i].id == id)
            return &s->slot[i];
    return NULL;
}

static void test_sizes(void)
{
    CHECK_EQ(sizeof(struct memslot), 32);
    CHECK(sizeof(struct memslot_set) <= 32);
    CHECK(sizeof(struct memslot_part) <= 64);
    setup(0);
    CHECK_EQ(P.max_slots, MEMSLOT_MAX_DEFAULT);
    for (u32 i = 0; i < 30; i++)
        CHECK_EQ(memslot_create(&P, i, i * 16 * PG, 8 * PG, 0x100000 + i * 8 * PG, 0), MEMSLOT_OK);
    CHECK(memslot_part_bytes(&P) <= 1126);
    /* The live allocation is exactly the set (header + 30 slots). */
    CHECK_EQ(E.bytes, memslot_set_bytes(30));
    CHECK_EQ(E.last_alloc_bytes, memslot_set_bytes(30));
    CHECK_EQ(E.allocs - E.frees, 1);
}

static void test_validation_create(void)
{
    setup(0);
    CHECK_EQ(memslot_create(&P, 1, 0x1000, 0x2000, 0x200000, MEMSLOT_F_EXEC), MEMSLOT_OK);
    /* misaligned guest address, size, host address */
    CHECK_EQ(memslot_create(&P, 2, 0x10001, 0x1000, 0x300000, 0), MEMSLOT_E_ALIGN);
    CHECK_EQ(memslot_create(&P, 2, 0x10000, 0x1800, 0x300000, 0), MEMSLOT_E_ALIGN);
    CHECK_EQ(memslot_create(&P, 2, 0x10000, 0x1000, 0x300010, 0), MEMSLOT_E_ALIGN);
    /* zero-sized */
    CHECK_EQ(memslot_create(&P, 2, 0x10000, 0, 0x300000, 0), MEMSLOT_E_ZERO);
    /* overflow: wrap, past the PA limit (guest and host), exactly at it */
    CHECK_EQ(memslot_create(&P, 2, 0xfffffffffffff000ULL, 0x2000, 0x300000, 0), MEMSLOT_E_OVERFLOW);
    CHECK_EQ(memslot_create(&P, 2, (1ULL << MEMSLOT_PA_BITS) - PG, 2 * PG, 0, 0), MEMSLOT_E_OVERFLOW);
    CHECK_EQ(memslot_create(&P, 2, 0x10000, 2 * PG, (1ULL << MEMSLOT_PA_BITS) - PG, 0), MEMSLOT_E_OVERFLOW);
    CHECK_EQ(memslot_create(&P, 2, 0x10000, 0xfffffffffffff000ULL, 0, 0), MEMSLOT_E_OVERFLOW);
    CHECK_EQ(memslot_create(&P, 2, (1ULL << MEMSLOT_PA_BITS) - PG, PG, 0, 0), MEMSLOT_OK);
    /* unknown flags */
    CHECK_EQ(memslot_create(&P, 3, 0x40000, PG, 0, 1u << 7), MEMSLOT_E_FLAGS);
    /* overlap: inside, straddling the start, straddling the end, covering */
    CHECK_EQ(memslot_create(&P, 3, 0x1000, PG, 0, 0), MEMSLOT_E_OVERLAP);
    CHECK_EQ(memslot_create(&P, 3, 0x2000, PG, 0, 0), MEMSLOT_E_OVERLAP);
    CHECK_EQ(memslot_create(&P, 3, 0x0000, 2 * PG, 0, 0), MEMSLOT_E_OVERLAP);
    CHECK_EQ(memslot_create(&P, 3, 0x0000, 16 * PG, 0, 0), MEMSLOT_E_OVERLAP);
    /* touching on both sides is fine */
    CHECK_EQ(memslot_create(&P, 3, 0x0000, PG, 0, 0), MEMSLOT_OK);
    CHECK_EQ(memslot_create(&P, 4, 0x3000, PG, 0, 0), MEMSLOT_OK);
    /* id in use: identical is a successful no-op, different is an error */
    u64 gen = memslot_generation(&P);
    long allocs = E.allocs;
    CHECK_EQ(memslot_create(&P, 1, 0x1000, 0x2000, 0x200000, MEMSLOT_F_EXEC), MEMSLOT_OK);
    CHECK_EQ(memslot_generation(&P), gen);
    CHECK_EQ(E.allocs, allocs);
    CHECK_EQ(memslot_create(&P, 1, 0x80000, 0x2000, 0x200000, 0), MEMSLOT_E_EXIST);
    /* the failures changed nothing */
    CHECK_EQ(memslot_current(&P)->nr, 4);
    CHECK_EQ(memslot_generation(&P), gen);
    /* every error has its own message */
    for (int a = 0; a <= MEMSLOT_E_NOMEM; a++)
        for (int b = a + 1; b <= MEMSLOT_E_NOMEM; b++)
            CHECK(strcmp(memslot_strerror(a), memslot_strerror(b)) != 0);
}

static void test_validation_limit(void)
{
    setup(3);
    for (u32 i = 0; i < 3; i++)
        CHECK_EQ(memslot_create(&P, i, i * PG * 4, PG, 0, 0), MEMSLOT_OK);
    CHECK_EQ(memslot_create(&P, 9, 0x100000, PG, 0, 0), MEMSLOT_E_LIMIT);
    /* an overlapping create at the limit reports the overlap */
    CHECK_EQ(memslot_create(&P, 9, 0, PG, 0, 0), MEMSLOT_E_OVERLAP);
    /* moves and flag changes work at the limit */
    CHECK_EQ(memslot_move(&P, 0, 0x200000), MEMSLOT_OK);
    CHECK_EQ(memslot_set_flags(&P, 0, MEMSLOT_F_RO), MEMSLOT_OK);
    CHECK_EQ(memslot_delete(&P, 1), MEMSLOT_OK);
    CHECK_EQ(memslot_create(&P, 9, 0x100000, PG, 0, 0), MEMSLOT_OK);
    CHECK_EQ(memslot_current(&P)->nr, 3);
}

static void test_validation_move_delete_flags(void)
{
    setup(0);
    CHECK_EQ(memslot_delete(&P, 1), MEMSLOT_E_NOENT);        /* empty map */
    CHECK_EQ(memslot_move(&P, 1, 0), MEMSLOT_E_NOENT);
    CHECK_EQ(memslot_set_flags(&P, 1, 0), MEMSLOT_E_NOENT);
    CHECK_EQ(memslot_create(&P, 1, 0x10000, 4 * PG, 0x400000, 0), MEMSLOT_OK);
    CHECK_EQ(memslot_create(&P, 2, 0x20000, 4 * PG, 0x500000, 0), MEMSLOT_OK);
    CHECK_EQ(memslot_delete(&P, 3), MEMSLOT_E_NOENT);
    CHECK_EQ(memslot_move(&P, 3, 0x40000), MEMSLOT_E_NOENT);
    CHECK_EQ(memslot_set_flags(&P, 3, 0), MEMSLOT_E_NOENT);
    CHECK_EQ(memslot_move(&P, 1, 0x40001), MEMSLOT_E_ALIGN);
    CHECK_EQ(memslot_move(&P, 1, (1ULL << MEMSLOT_PA_BITS) - PG), MEMSLOT_E_OVERFLOW);
    CHECK_EQ(memslot_move(&P, 1, 0xfffffffffffff000ULL), MEMSLOT_E_OVERFLOW);
    CHECK_EQ(memslot_move(&P, 1, 0x1e000), MEMSLOT_E_OVERLAP);
    CHECK_EQ(memslot_move(&P, 1, 0x23000), MEMSLOT_E_OVERLAP);
    CHECK_EQ(memslot_set_flags(&P, 1, 0x100), MEMSLOT_E_FLAGS);
    /* a move does not overlap itself: shift by one page either way */
    CHECK_EQ(memslot_move(&P, 1, 0x11000), MEMSLOT_OK);
    CHECK_EQ(by_id(1)->gfn, 0x11);
    CHECK_EQ(memslot_move(&P, 1, 0x0f000), MEMSLOT_OK);
    CHECK_EQ(by_id(1)->gfn, 0x0f);
    /* no-op updates succeed without publishing anything */
    u64 gen = memslot_generation(&P);
    int syncs = E.syncs;
    CHECK_EQ(memslot_move(&P, 1, 0x0f000), MEMSLOT_OK);
    CHECK_EQ(memslot_set_flags(&P, 1, 0), MEMSLOT_OK);
    CHECK_EQ(memslot_generation(&P), gen);
    CHECK_EQ(E.syncs, syncs);
    /* flags change keeps everything else */
    CHECK_EQ(memslot_set_flags(&P, 2, MEMSLOT_F_RO | MEMSLOT_F_SHARED), MEMSLOT_OK);
    const struct memslot *m = by_id(2);
    CHECK(m && m->flags == (MEMSLOT_F_RO | MEMSLOT_F_SHARED) && m->gfn == 0x20 &&
          m->npages == 4 && m->hfn == 0x500);
    /* move past the other slot reorders the array */
    CHECK_EQ(memslot_move(&P, 1, 0x80000), MEMSLOT_OK);
    const struct memslot_set *s = memslot_current(&P);
    CHECK(s->nr == 2 && s->slot[0].id == 2 && s->slot[1].id == 1 && s->slot[1].hfn == 0x400);
    CHECK_EQ(memslot_delete(&P, 2), MEMSLOT_OK);
    CHECK_EQ(memslot_delete(&P, 1), MEMSLOT_OK);
    CHECK(memslot_current(&P) == NULL);
    CHECK_EQ(E.bytes, 0);
}

static void test_nomem(void)
{
    setup(0);
    CHECK_EQ(memslot_create(&P, 1, 0x10000, PG, 0, 0), MEMSLOT_OK);
    CHECK_EQ(memslot_create(&P, 2, 0x20000, PG, 0, 0), MEMSLOT_OK);
    u64 gen = memslot_generation(&P);
    E.fail_allocs_after = 0;
    CHECK_EQ(memslot_create(&P, 3, 0x30000, PG, 0, 0), MEMSLOT_E_NOMEM);
    CHECK_EQ(memslot_delete(&P, 1), MEMSLOT_E_NOMEM);
    CHECK_EQ(memslot_move(&P, 1, 0x50000), MEMSLOT_E_NOMEM);
    CHECK_EQ(memslot_set_flags(&P, 1, MEMSLOT_F_RO), MEMSLOT_E_NOMEM);
    CHECK_EQ(memslot_generation(&P), gen);
    CHECK_EQ(memslot_current(&P)->nr, 2);
    CHECK_EQ(E.unmaps, 0);
    CHECK_EQ(E.allocs - E.frees, 1);
    /* a move or flag change needs one allocation only (the final set
     * reuses the old set's memory after its grace period) */
    E.fail_allocs_after = 1;
    CHECK_EQ(memslot_set_flags(&P, 1, MEMSLOT_F_RO), MEMSLOT_OK);
    CHECK_EQ(memslot_move(&P, 2, 0x70000), MEMSLOT_E_NOMEM);
    E.fail_allocs_after = -1;
    CHECK_EQ(memslot_move(&P, 2, 0x70000), MEMSLOT_OK);
    CHECK_EQ(memslot_current(&P)->slot[1].id, 2);
    CHECK_EQ(memslot_current(&P)->slot[1].gfn, 0x70);
    CHECK_EQ(memslot_current(&P)->slot[0].flags, MEMSLOT_F_RO);
}

/* Slots: id i at gfn 0x100*i + 0x10, 0x20 pages (gaps in between). */
static void make_grid(u32 n)
{
    for (u32 i = 0; i < n; i++)
        CHECK_EQ(memslot_create(&P, 100 + i, (0x100ULL * i + 0x10) * PG, 0x20 * PG,
                                (0x1000ULL + 0x20 * i) * PG, 0), MEMSLOT_OK);
}

static void test_lookup_boundaries(void)
{
    setup(0);
    struct memslot_hint h = { 0 };
    /* empty set */
    CHECK(memslot_lookup(&P, &h, 0) == NULL);
    CHECK(memslot_lookup(&P, NULL, 0x10000) == NULL);
    for (u32 n = 1; n <= 40; n++) {
        setup(0);
        make_grid(n);
        for (u32 i = 0; i < n; i++) {
            u64 base = (0x100ULL * i + 0x10) * PG, end = base + 0x20 * PG;
            struct memslot_hint hh = { 0 };
            const struct memslot *m;
            m = memslot_lookup(&P, NULL, base);
            CHECK(m && m->id == 100 + i);
            m = memslot_lookup(&P, &hh, base + 0x123);
            CHECK(m && m->id == 100 + i);
            m = memslot_lookup(&P, &hh, end - 1);                   /* last byte */
            CHECK(m && m->id == 100 + i);
            CHECK(memslot_lookup(&P, &hh, end) == NULL);            /* one past the end */
            CHECK(memslot_lookup(&P, NULL, end) == NULL);
            CHECK(memslot_lookup(&P, &hh, base - 1) == NULL);       /* gap before */
            CHECK(memslot_lookup(&P, NULL, base - 1) == NULL);
        }
        CHECK(memslot_lookup(&P, &h, 0) == NULL);
        CHECK(memslot_lookup(&P, &h, 0xfffffffffffff000ULL) == NULL);
        CHECK(memslot_lookup(&P, &h, ~0ULL) == NULL);
    }
    /* adjacent slots: the boundary byte belongs to the second */
    setup(0);
    CHECK_EQ(memslot_create(&P, 1, 0, 2 * PG, 0, 0), MEMSLOT_OK);
    CHECK_EQ(memslot_create(&P, 2, 2 * PG, PG, 0, 0), MEMSLOT_OK);
    CHECK_EQ(memslot_lookup(&P, NULL, 2 * PG - 1)->id, 1);
    CHECK_EQ(memslot_lookup(&P, NULL, 2 * PG)->id, 2);
    CHECK_EQ(memslot_lookup(&P, NULL, 0)->id, 1);
    CHECK(memslot_lookup(&P, NULL, 3 * PG) == NULL);
    /* a slot reaching the top of the PA space */
    u64 top = 1ULL << MEMSLOT_PA_BITS;
    CHECK_EQ(memslot_create(&P, 3, top - 4 * PG, 4 * PG, 0, 0), MEMSLOT_OK);
    CHECK_EQ(memslot_lookup(&P, NULL, top - 1)->id, 3);
    CHECK(memslot_lookup(&P, NULL, top) == NULL);
}

static void test_hint_hits_and_generation(void)
{
    setup(0);
    make_grid(16);
    struct memslot_hint h = { 0 };
    u64 gen = memslot_generation(&P);
    CHECK(gen != 0 && gen % 2 == 0);
    CHECK_EQ(memslot_current(&P)->generation, gen);
    const struct memslot *m = memslot_lookup(&P, &h, (0x100ULL * 7 + 0x15) * PG);
    CHECK(m && m->id == 107);
    CHECK_EQ(h.gen, gen);
    CHECK_EQ(h.idx, 7);
    /* a hit through the hint leaves it alone; a different slot refills it */
    CHECK_EQ(memslot_lookup(&P, &h, (0x100ULL * 7 + 0x10) * PG)->id, 107);
    CHECK_EQ(h.idx, 7);
    CHECK_EQ(memslot_lookup(&P, &h, (0x100ULL * 3 + 0x10) * PG)->id, 103);
    CHECK_EQ(h.idx, 3);
    /* a gap does not disturb it */
    CHECK(memslot_lookup(&P, &h, 0) == NULL);
    CHECK_EQ(h.idx, 3);
    /* every publish moves the generation up by 2 (create, delete: one
     * publish; move and flags: two, the slot-less set and the final one) */
    u64 g0 = memslot_generation(&P);
    CHECK_EQ(memslot_create(&P, 1, 0x1000000, PG, 0, 0), MEMSLOT_OK);
    CHECK_EQ(memslot_generation(&P), g0 + 2);
    CHECK_EQ(memslot_move(&P, 1, 0x2000000), MEMSLOT_OK);
    CHECK_EQ(memslot_generation(&P), g0 + 6);
    CHECK_EQ(memslot_set_flags(&P, 1, MEMSLOT_F_DEVICE), MEMSLOT_OK);
    CHECK_EQ(memslot_generation(&P), g0 + 10);
    CHECK_EQ(memslot_delete(&P, 1), MEMSLOT_OK);
    CHECK_EQ(memslot_generation(&P), g0 + 12);
    CHECK_EQ(memslot_current(&P)->generation, g0 + 12);
    /* a failed update does not move it */
    CHECK_EQ(memslot_delete(&P, 1), MEMSLOT_E_NOENT);
    CHECK_EQ(memslot_generation(&P), g0 + 12);
}

/* While an update is in progress (odd generation) lookups still work but no
 * hint is filled. */
static void test_no_fill_while_in_progress(void)
{
    setup(0);
    make_grid(8);
    struct memslot_hint h = { 0 };
    u64 g = P.gen;
    __atomic_store_n(&P.gen, g + 1, __ATOMIC_RELEASE); /* what publish() does first */
    CHECK_EQ(memslot_lookup(&P, &h, (0x100ULL * 5 + 0x10) * PG)->id, 105);
    CHECK_EQ(h.gen, 0);
    __atomic_store_n(&P.gen, g, __ATOMIC_RELEASE);
    CHECK_EQ(memslot_lookup(&P, &h, (0x100ULL * 5 + 0x10) * PG)->id, 105);
    CHECK_EQ(h.gen, g);
}

/* Hint into a longer, older set must not be used on a shorter one. */
static void test_stale_hint_after_shrink(void)
{
    setup(0);
    make_grid(16);
    struct memslot_hint h = { 0 };
    u64 last = (0x100ULL * 15 + 0x10) * PG;
    CHECK_EQ(memslot_lookup(&P, &h, last)->id, 115);
    CHECK_EQ(h.idx, 15);
    u64 stale_gen = h.gen;
    for (u32 i = 8; i < 16; i++)
        CHECK_EQ(memslot_delete(&P, 100 + i), MEMSLOT_OK);
    CHECK_EQ(memslot_current(&P)->nr, 8);
    /* the hint points past the end of the new set and must be ignored */
    CHECK(memslot_lookup(&P, &h, last) == NULL);
    CHECK_EQ(h.gen, stale_gen); /* a miss does not fill */
    /* a valid address still resolves and refreshes the hint */
    CHECK_EQ(memslot_lookup(&P, &h, (0x100ULL * 2 + 0x10) * PG)->id, 102);
    CHECK_EQ(h.gen, memslot_generation(&P));
    /* shrink to empty and grow again: the old hint stays dead */
    for (u32 i = 0; i < 8; i++)
        CHECK_EQ(memslot_delete(&P, 100 + i), MEMSLOT_OK);
    CHECK(memslot_lookup(&P, &h, (0x100ULL * 2 + 0x10) * PG) == NULL);
}

/* Same index, different slot: after a swap the stale hint would point at the
 * wrong slot; the generation tag must reject it. */
static void test_stale_hint_after_swap(void)
{
    setup(0);
    CHECK_EQ(memslot_create(&P, 1, 0x10000, 0x10 * PG, 0x100000, 0), MEMSLOT_OK);
    CHECK_EQ(memslot_create(&P, 2, 0x40000, 0x10 * PG, 0x200000, 0), MEMSLOT_OK);
    struct memslot_hint h = { 0 };
    CHECK_EQ(memslot_lookup(&P, &h, 0x12000)->id, 1);
    CHECK_EQ(h.idx, 0);
    /* move slot 2 below slot 1 so that index 0 is now slot 2 ... */
    CHECK_EQ(memslot_move(&P, 2, 0x0), MEMSLOT_OK);
    /* ... and move slot 1 somewhere else: 0x12000 is a gap now */
    CHECK_EQ(memslot_move(&P, 1, 0x80000), MEMSLOT_OK);
    CHECK(memslot_lookup(&P, &h, 0x12000) == NULL);
    /* index 0 is slot 2 at 0..0x10000: the stale hint must not turn an
     * address in slot 2 into slot 1 or vice versa */
    CHECK_EQ(memslot_lookup(&P, &h, 0x3000)->id, 2);
    CHECK_EQ(h.idx, 0);
    CHECK_EQ(memslot_lookup(&P, &h, 0x82000)->id, 1);
    CHECK_EQ(h.idx, 1);
    /* forge the stale case exactly: right index, wrong generation */
    struct memslot_hint forged = { .gen = memslot_generation(&P) - 2, .idx = 0 };
    CHECK_EQ(memslot_lookup(&P, &forged, 0x82000)->id, 1);
    CHECK_EQ(forged.idx, 1);
    /* and a hint with the right generation but whose slot misses falls back */
    struct memslot_hint right = { .gen = memslot_generation(&P), .idx = 0 };
    CHECK_EQ(memslot_lookup(&P, &right, 0x82000)->id, 1);

    /* A stale hint whose index happens to hold the address in the new set
     * must still not be used: the lookup searches and re-tags the hint (a
     * hint hit would leave the old generation in place). */
    setup(0);
    CHECK_EQ(memslot_create(&P, 1, 0x10000, 0x10 * PG, 0x100000, 0), MEMSLOT_OK);
    struct memslot_hint st = { 0 };
    CHECK_EQ(memslot_lookup(&P, &st, 0x10000)->id, 1);
    u64 old_gen = st.gen;
    CHECK_EQ(st.idx, 0);
    CHECK_EQ(memslot_create(&P, 2, 0x0, 0x10 * PG, 0x200000, 0), MEMSLOT_OK); /* new index 0 */
    CHECK_EQ(memslot_lookup(&P, &st, 0x1000)->id, 2);
    CHECK(st.gen != old_gen);
    CHECK_EQ(st.gen, memslot_generation(&P));
    /* the same for a hint taken on a longer set after a shrink */
    CHECK_EQ(memslot_lookup(&P, &st, 0x10000)->id, 1);
    CHECK_EQ(st.idx, 1);
    old_gen = st.gen;
    CHECK_EQ(memslot_delete(&P, 2), MEMSLOT_OK);
    CHECK_EQ(memslot_lookup(&P, &st, 0x10000)->id, 1);
    CHECK(st.gen != old_gen);
    CHECK_EQ(st.idx, 0);
}

/* Delete/move/flags: old mapping, then none, then new. Observed from the
 * grace-period and unmap hooks. */
static int phase_errors;
static u32 watch_id;
static u64 watch_old_gfn;
static int sync_seen_without, unmap_after_sync;

static void obs_sync(struct host_env *e)
{
    const struct memslot *m = by_id(watch_id);
    if (!m)
        sync_seen_without++;
    else if (m->gfn == watch_old_gfn && e->unmaps == 0)
        phase_errors++; /* grace period while the old mapping is still published */
    if (memslot_generation(e->part) % 2)
        phase_errors++;
}

static void obs_unmap(struct host_env *e, u64 gpa, u64 size)
{
    if (by_id(watch_id) != NULL)
        phase_errors++; /* unmapping while a slot with this id is published */
    if (e->syncs > 0)
        unmap_after_sync++;
    if (gpa != watch_old_gfn * PG)
        phase_errors++;
}

static void test_update_protocol(void)
{
    setup(0);
    E.on_sync = obs_sync;
    E.on_unmap = obs_unmap;
    make_grid(4);
    /* move */
    watch_id = 102;
    watch_old_gfn = 0x210;
    E.syncs = E.unmaps = 0;
    sync_seen_without = unmap_after_sync = phase_errors = 0;
    CHECK_EQ(memslot_move(&P, 102, 0x900000), MEMSLOT_OK);
    CHECK_EQ(phase_errors, 0);
    CHECK_EQ(E.unmaps, 1);
    CHECK_EQ(E.last_unmap_gpa, 0x210 * PG);
    CHECK_EQ(E.last_unmap_size, 0x20 * PG);
    CHECK_EQ(unmap_after_sync, 1);     /* grace period before the unmap */
    CHECK(sync_seen_without >= 1);     /* the slot-less set was published */
    CHECK_EQ(E.syncs, 2);              /* and another before the last free */
    CHECK_EQ(by_id(102)->gfn, 0x900);
    /* flags */
    watch_old_gfn = 0x900;
    E.syncs = E.unmaps = 0;
    sync_seen_without = unmap_after_sync = phase_errors = 0;
    CHECK_EQ(memslot_set_flags(&P, 102, MEMSLOT_F_RO), MEMSLOT_OK);
    CHECK_EQ(phase_errors, 0);
    CHECK_EQ(unmap_after_sync, 1);
    CHECK(sync_seen_without >= 1);
    /* delete */
    watch_id = 101;
    watch_old_gfn = 0x110;
    E.syncs = E.unmaps = 0;
    sync_seen_without = unmap_after_sync = phase_errors = 0;
    CHECK_EQ(memslot_delete(&P, 101), MEMSLOT_OK);
    CHECK_EQ(phase_errors, 0);
    CHECK_EQ(E.unmaps, 1);
    CHECK_EQ(unmap_after_sync, 1);
    CHECK_EQ(sync_seen_without, 1);
    /* create: nothing to unmap */
    E.syncs = E.unmaps = 0;
    watch_id = 999;
    CHECK_EQ(memslot_create(&P, 999, 0x700000, PG, 0, 0), MEMSLOT_OK);
    CHECK_EQ(E.unmaps, 0);
    CHECK_EQ(E.syncs, 1);
    E.on_sync = NULL;
    E.on_unmap = NULL;
}

/* The old array is freed only after the grace period (the free hook poisons;
 * the set seen inside the grace period must still be intact). */
static const struct memslot_set *seen_old;
static u32 seen_old_nr;
static int old_intact;
static void obs_old(struct host_env *e)
{
    (void)e;
    if (seen_old && seen_old->nr == seen_old_nr && seen_old->slot[0].id != 0x5a5a5a5a)
        old_intact++;
}

static void test_free_after_grace(void)
{
    setup(0);
    make_grid(5);
    E.on_sync = obs_old;
    seen_old = memslot_current(&P);
    seen_old_nr = seen_old->nr;
    old_intact = 0;
    long frees = E.frees;
    CHECK_EQ(memslot_create(&P, 7, 0x4000000, PG, 0, 0), MEMSLOT_OK);
    CHECK_EQ(old_intact, 1);
    CHECK_EQ(E.frees, frees + 1);
    seen_old = memslot_current(&P);
    seen_old_nr = seen_old->nr;
    old_intact = 0;
    CHECK_EQ(memslot_delete(&P, 7), MEMSLOT_OK);
    CHECK_EQ(old_intact, 1);
    E.on_sync = NULL;
    seen_old = NULL;
    /* peak during an update: old + new, never more */
    E.peak = E.bytes;
    CHECK_EQ(memslot_create(&P, 8, 0x5000000, PG, 0, 0), MEMSLOT_OK);
    CHECK_EQ(E.peak, (long long)(memslot_set_bytes(5) + memslot_set_bytes(6)));
    E.peak = E.bytes;
    CHECK_EQ(memslot_move(&P, 8, 0x6000000), MEMSLOT_OK);
    CHECK_EQ(E.peak, (long long)(memslot_set_bytes(6) + memslot_set_bytes(5)));
}

static void test_set_find(void)
{
    CHECK(memslot_set_find(NULL, 0) == NULL);
    setup(0);
    make_grid(3);
    const struct memslot_set *s = memslot_current(&P);
    CHECK_EQ(memslot_set_find(s, 0x110)->id, 101);
    CHECK(memslot_set_find(s, 0x130) == NULL);
    CHECK(memslot_set_find(s, 0xf) == NULL);
    memslot_part_destroy(&P);
    CHECK_EQ(E.bytes, 0);
}

int main(void)
{
    RUN(test_sizes);
    RUN(test_validation_create);
    RUN(test_validation_limit);
    RUN(test_validation_move_delete_flags);
    RUN(test_nomem);
    RUN(test_lookup_boundaries);
    RUN(test_hint_hits_and_generation);
    RUN(test_no_fill_while_in_progress);
    RUN(test_stale_hint_after_shrink);
    RUN(test_stale_hint_after_swap);
    RUN(test_update_protocol);
    RUN(test_free_after_grace);
    RUN(test_set_find);
    if (P.ops)
        memslot_part_destroy(&P);
    return CHECK_DONE();
}
