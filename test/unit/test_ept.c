/* The x86 EPT table code (arch/x86_64/ept.c) on the host: mapping with the
 * largest pages alignment allows, runtime map and clear of a slot's range
 * (including a range inside a large page, which must be split with the rest
 * of the large page kept), permissions and memory type in the leaves, table
 * pages kept and reused (re-mapping a cleared range never allocates), and a
 * map that runs out of table pages leaving nothing behind once cleared. */
#include "check.h"
#include "../../arch/x86_64/ept.h"

static u32 allocs, alloc_limit = ~0u;

static u64 host_alloc(void)
{
    if (allocs >= alloc_limit)
        return 0;
    void *p = aligned_alloc(4096, 4096);
    if (!p)
        return 0;
    memset(p, 0, 4096);
    allocs++;
    return (u64)(uintptr_t)p;
}

static void host_free(u64 pa)
{
    free((void *)(uintptr_t)pa);
}

static void setup(struct ept *e, bool large)
{
    memset(e, 0, sizeof(*e));
    e->has2m = e->has1g = large;
    e->alloc_page = host_alloc;
    e->free_page = host_free;
    allocs = 0;
    alloc_limit = ~0u;
    CHECK(ept_init(e));
}

static struct ept e;

/* hpa of gpa through the tables, or ~0 when unmapped. */
static u64 translate(u64 gpa, u64 *perm)
{
    u64 size = 0;
    u64 v = ept_lookup(&e, gpa, &size);
    if (!v)
        return ~0ULL;
    if (perm)
        *perm = v & 7;
    return (v & EPT_ADDR & ~(size - 1)) + (gpa & (size - 1));
}

static void large_pages_and_split(void)
{
    setup(&e, true);
    /* 4 MiB at 2 MiB alignment: two 2 MiB leaves */
    CHECK(ept_map(&e, 0x200000, 0x40200000, 0x400000, EPT_R | EPT_W | EPT_X, EPT_WB));
    u64 size = 0, v = ept_lookup(&e, 0x300000, &size);
    CHECK_EQ(size, 0x200000);
    CHECK(v & EPT_LARGE);
    CHECK_EQ(v & (7ULL << 3), EPT_WB);
    CHECK_EQ(translate(0x3ff123, NULL), 0x403ff123);
    /* clear 4 KiB in the middle of the first large page: split, rest kept */
    u32 before = e.tables;
    ept_clear(&e, 0x201000, 0x1000);
    CHECK_EQ(e.tables, before + 1);
    CHECK_EQ(translate(0x201000, NULL), ~0ULL);
    CHECK_EQ(translate(0x200fff, NULL), 0x40200fff);
    CHECK_EQ(translate(0x202000, NULL), 0x40202000);
    CHECK_EQ(translate(0x3fffff, NULL), 0x403fffff);
    size = 0;
    ept_lookup(&e, 0x202000, &size);
    CHECK_EQ(size, 0x1000);
    CHECK(!(ept_lookup(&e, 0x202000, NULL) & EPT_LARGE));
    /* the second large page is untouched */
    size = 0;
    CHECK(ept_lookup(&e, 0x400000, &size) & EPT_LARGE);
    CHECK_EQ(size, 0x200000);
    /* map the hole again read-only: no new table */
    before = e.tables;
    CHECK(ept_map(&e, 0x201000, 0x9000000, 0x1000, EPT_R, EPT_WB));
    CHECK_EQ(e.tables, before);
    u64 perm = 0;
    CHECK_EQ(translate(0x201000, &perm), 0x9000000);
    CHECK_EQ(perm, EPT_R);
    /* map a 4 KiB page inside the second large page: split on the way down */
    CHECK(ept_map(&e, 0x500000, 0x7000000, 0x1000, EPT_R, 0));
    CHECK_EQ(translate(0x500000, NULL), 0x7000000);
    CHECK_EQ(translate(0x501000, NULL), 0x40501000);
    CHECK_EQ(translate(0x4ff000, NULL), 0x404ff000);
    ept_free(&e);
}

static void window_map_clear_reuse(void)
{
    setup(&e, true);
    /* a 16 KiB window moved back and forth between two addresses */
    CHECK(ept_map(&e, 0x60000000, 0x1234000, 0x4000, EPT_R | EPT_W, EPT_WB));
    CHECK(ept_map(&e, 0x70000000, 0x1234000, 0x4000, EPT_R | EPT_W, EPT_WB));
    u32 tables = e.tables;
    for (int i = 0; i < 100; i++) {
        u64 from = i & 1 ? 0x70000000 : 0x60000000, to = i & 1 ? 0x60000000 : 0x70000000;
        ept_clear(&e, from, 0x4000);
        for (u64 o = 0; o < 0x4000; o += 0x1000)
            CHECK_EQ(translate(from + o, NULL), ~0ULL);
        CHECK_EQ(translate(to + 0x3004, NULL), 0x1237004);
        CHECK(ept_map(&e, from, 0x1234000, 0x4000, i & 2 ? EPT_R : EPT_R | EPT_W, EPT_WB));
        u64 perm = 0;
        CHECK_EQ(translate(from + 0x2000, &perm), 0x1236000);
        CHECK_EQ(perm, i & 2 ? EPT_R : EPT_R | EPT_W);
    }
    CHECK_EQ(e.tables, tables); /* table pages reused */
    /* neighbours of a cleared window stay */
    CHECK(ept_map(&e, 0x60004000, 0x2000000, 0x1000, EPT_R, EPT_WB));
    ept_clear(&e, 0x60000000, 0x4000);
    CHECK_EQ(translate(0x60004000, NULL), 0x2000000);
    CHECK_EQ(translate(0x60003000, NULL), ~0ULL);
    ept_free(&e);
}

static void out_of_tables(void)
{
    setup(&e, false);
    CHECK(ept_map(&e, 0, 0x100000, 0x200000, EPT_R | EPT_W | EPT_X, EPT_WB));
    /* the next map needs three new tables (PDPT, PD, PT) and gets two */
    alloc_limit = allocs + 2;
    CHECK(!ept_map(&e, 0x8000000000ULL, 0x5000000, 0x2000, EPT_R, EPT_WB));
    ept_clear(&e, 0x8000000000ULL, 0x2000);
    CHECK_EQ(translate(0x8000000000ULL, NULL), ~0ULL);
    CHECK_EQ(translate(0x8000001000ULL, NULL), ~0ULL);
    CHECK_EQ(translate(0x1ff000, NULL), 0x2ff000); /* the rest untouched */
    /* a map that fails half-way through a range: cleared, nothing stays */
    alloc_limit = allocs + 2; /* PD + one PT for a range crossing 2 MiB */
    CHECK(!ept_map(&e, 0x40000000ULL + 0x1ff000, 0x6000000, 0x3000, EPT_R, EPT_WB));
    CHECK_EQ(translate(0x40000000ULL + 0x1ff000, NULL), 0x6000000); /* half-mapped */
    ept_clear(&e, 0x40000000ULL + 0x1ff000, 0x3000);
    for (u64 o = 0; o < 0x3000; o += 0x1000)
        CHECK_EQ(translate(0x40000000ULL + 0x1ff000 + o, NULL), ~0ULL);
    /* the table cap */
    alloc_limit = ~0u;
    e.tables = EPT_MAX_TABLES;
    CHECK(!ept_map(&e, 0x9000000000ULL, 0x5000000, 0x1000, EPT_R, EPT_WB));
    e.tables = allocs; /* every page allocated here, so ept_free frees them */
    ept_free(&e);
}

int main(void)
{
    RUN(large_pages_and_split);
    RUN(window_map_clear_reuse);
    RUN(out_of_tables);
    return CHECK_DONE();
}
