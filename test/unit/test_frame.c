/* Frame allocator: never hands out reserved, firmware or non-usable memory;
 * alignment and limits; free/merge; double free; fragmentation limits. */
#include "check.h"
#include "mm/frame.h"

static struct boot_info bi;
static struct frame_alloc fa;
static char err[256];

static void reset(void)
{
    memset(&bi, 0, sizeof(bi));
    memset(err, 0, sizeof(err));
}

static bool overlaps(u64 a, u64 alen, u64 b, u64 blen)
{
    return a < b + blen && b < a + alen;
}

static void basic_map(void)
{
    reset();
    bi_add_mem(&bi, 0, 0x9fc00, MEM_USABLE);
    bi_add_mem(&bi, 0x9fc00, 0x400, MEM_RESERVED);
    bi_add_mem(&bi, 0xf0000, 0x10000, MEM_RESERVED);
    bi_add_mem(&bi, 0x100000, 0x7f00000, MEM_USABLE); /* 1 MiB .. 128 MiB */
    bi_add_reserved(&bi, 0x200000, 0x15000, "hypervisor");
    bi_add_reserved(&bi, 0x300123, 0x10, "module");
    CHECK_EQ(frame_init(&fa, &bi, err, sizeof(err)), FRAME_OK);
    /* usable: [0x1000,0x9f000) + [1M,128M) minus image (0x15000) minus module page */
    u64 expect = (0x9f000 - 0x1000) + (0x8000000 - 0x100000) - 0x15000 - 0x1000;
    CHECK_EQ(fa.free_bytes, expect);
    /* Allocate everything one page at a time: never a reserved byte. */
    u64 n = 0, p;
    while ((p = frame_alloc_range(&fa, 1, 0, 0)) != 0) {
        CHECK(p % PAGE_SIZE == 0);
        CHECK(!overlaps(p, PAGE_SIZE, 0x200000, 0x15000));
        CHECK(!overlaps(p, PAGE_SIZE, 0x300123, 0x10));
        CHECK(!overlaps(p, PAGE_SIZE, 0x9f000, 0x61000)); /* partial page + hole */
        CHECK(p != 0);
        n++;
        if (check_cur_failed)
            break;
    }
    CHECK_EQ(n * PAGE_SIZE, expect);
    CHECK_EQ(fa.free_bytes, 0);
}

static void alignment_and_limit(void)
{
    reset();
    bi_add_mem(&bi, 0x1000, GiB(8), MEM_USABLE);
    CHECK_EQ(frame_init(&fa, &bi, err, sizeof(err)), FRAME_OK);
    u64 a = frame_alloc_range(&fa, 1, MiB(2), 0);
    CHECK(a && a % MiB(2) == 0);
    u64 b = frame_alloc_range(&fa, 512, GiB(1), 0);
    CHECK(b && b % GiB(1) == 0);
    u64 c = frame_alloc_range(&fa, 1, 0, MiB(1));
    CHECK(c && c + PAGE_SIZE <= MiB(1));
    /* Nothing that large fits below the limit. */
    CHECK_EQ(frame_alloc_range(&fa, 1024, 0, MiB(1)), 0);
    /* Bad alignment (not a power of two) is refused. */
    CHECK_EQ(frame_alloc_range(&fa, 1, 3 * PAGE_SIZE, 0), 0);
    CHECK_EQ(frame_alloc_range(&fa, 0, 0, 0), 0);
    CHECK_EQ(frame_alloc_range(&fa, UINT64_MAX, 0, 0), 0);
}

static void free_and_merge(void)
{
    reset();
    bi_add_mem(&bi, MiB(1), MiB(1), MEM_USABLE);
    CHECK_EQ(frame_init(&fa, &bi, err, sizeof(err)), FRAME_OK);
    u64 total = fa.free_bytes;
    u64 p[256];
    for (int i = 0; i < 256; i++)
        p[i] = frame_alloc_range(&fa, 1, 0, 0);
    CHECK_EQ(fa.free_bytes, 0);
    CHECK_EQ(frame_alloc_range(&fa, 1, 0, 0), 0);
    /* Free every other page, then the rest: ranges merge back into one. */
    for (int i = 0; i < 256; i += 2)
        CHECK(frame_free_range(&fa, p[i], 1));
    CHECK_EQ(fa.n, 128);
    for (int i = 1; i < 256; i += 2)
        CHECK(frame_free_range(&fa, p[i], 1));
    CHECK_EQ(fa.n, 1);
    CHECK_EQ(fa.free_bytes, total);
    /* Double free and bad arguments are refused without changing anything. */
    CHECK(!frame_free_range(&fa, p[3], 1));
    CHECK(!frame_free_range(&fa, p[3] + 1, 1));
    CHECK(!frame_free_range(&fa, 0, 1));
    CHECK(!frame_free_range(&fa, MiB(4), 0));
    CHECK(!frame_free_range(&fa, UINT64_MAX & ~0xfffULL, 2));
    CHECK_EQ(fa.free_bytes, total);
    /* A contiguous multi-page allocation after everything merged. */
    CHECK_EQ(frame_alloc_range(&fa, 256, 0, 0), MiB(1));
}

static void overlapping_map_entries(void)
{
    reset();
    /* Firmware maps can repeat or overlap entries; a reserved entry wins. */
    bi_add_mem(&bi, MiB(1), MiB(4), MEM_USABLE);
    bi_add_mem(&bi, MiB(2), MiB(4), MEM_USABLE);
    bi_add_mem(&bi, MiB(3), MiB(1), MEM_ACPI_NVS);
    CHECK_EQ(frame_init(&fa, &bi, err, sizeof(err)), FRAME_OK);
    CHECK_EQ(fa.free_bytes, MiB(4));
    u64 p;
    while ((p = frame_alloc_range(&fa, 1, 0, 0)) != 0)
        CHECK(!overlaps(p, PAGE_SIZE, MiB(3), MiB(1)));
}

static void unaligned_and_overflowing_entries(void)
{
    reset();
    bi_add_mem(&bi, 0x1800, 0x2000, MEM_USABLE);            /* only page 0x2000 is whole */
    bi_add_mem(&bi, UINT64_MAX - 0x5000, 0x10000, MEM_USABLE); /* wraps: clamped */
    CHECK_EQ(frame_init(&fa, &bi, err, sizeof(err)), FRAME_OK);
    u64 p = frame_alloc_range(&fa, 1, 0, 0);
    CHECK_EQ(p, 0x2000);
    while ((p = frame_alloc_range(&fa, 1, 0, 0)) != 0)
        CHECK(p >= UINT64_MAX - 0x5000 && p + PAGE_SIZE - 1 <= UINT64_MAX);
}

static void no_usable_memory(void)
{
    reset();
    CHECK_EQ(frame_init(&fa, &bi, err, sizeof(err)), FRAME_E_NOMEM);
    CHECK_CONTAINS(err, "no usable memory");
    reset();
    bi_add_mem(&bi, MiB(1), MiB(1), MEM_USABLE);
    bi_add_reserved(&bi, 0, MiB(8), "hypervisor");
    CHECK_EQ(frame_init(&fa, &bi, err, sizeof(err)), FRAME_E_NOMEM);
    CHECK_CONTAINS(err, "no usable memory left after removing the hypervisor");
    /* Only page 0 usable: page 0 is never handed out. */
    reset();
    bi_add_mem(&bi, 0, PAGE_SIZE, MEM_USABLE);
    CHECK_EQ(frame_init(&fa, &bi, err, sizeof(err)), FRAME_E_NOMEM);
    /* bi_check reports an empty memory map before the allocator runs. */
    reset();
    char m[8] = "cfg";
    bi_add_module(&bi, MiB(1), 10, m, sizeof(m));
    CHECK(!bi_check(&bi, err, sizeof(err)));
    CHECK_CONTAINS(err, "no usable memory in the boot loader's memory map");
}

static void too_fragmented(void)
{
    reset();
    for (u32 i = 0; i < BI_MAX_MEM; i++)
        bi_add_mem(&bi, MiB(1) + i * 2 * PAGE_SIZE, PAGE_SIZE, MEM_USABLE);
    CHECK_EQ(frame_init(&fa, &bi, err, sizeof(err)), FRAME_OK);
    CHECK_EQ(fa.n, BI_MAX_MEM);
    /* Punch holes until the range table is full: init must report it. */
    reset();
    bi_add_mem(&bi, MiB(1), GiB(1), MEM_USABLE);
    for (u32 i = 0; i < BI_MAX_RSV; i++)
        bi_add_reserved(&bi, MiB(1) + (u64)i * 4 * PAGE_SIZE + PAGE_SIZE, PAGE_SIZE, "x");
    CHECK_EQ(frame_init(&fa, &bi, err, sizeof(err)), FRAME_OK);
    CHECK_EQ(fa.n, BI_MAX_RSV + 1);
}

int main(void)
{
    RUN(basic_map);
    RUN(alignment_and_limit);
    RUN(free_and_merge);
    RUN(overlapping_map_entries);
    RUN(unaligned_and_overflowing_entries);
    RUN(no_usable_memory);
    RUN(too_fragmented);
    return CHECK_DONE();
}
