/* The size-class heap (mm/heap.c) on a host page source. */
#include "check.h"
#include "mm/heap.h"

static long pages_out, page_allocs;
static int fail_pages;

static u64 pg_alloc(u64 n)
{
    if (fail_pages)
        return 0;
    void *p = aligned_alloc(4096, n * 4096);
    pages_out += (long)n;
    page_allocs++;
    return (u64)(uintptr_t)p;
}

static void pg_free(u64 base, u64 n)
{
    pages_out -= (long)n;
    free((void *)(uintptr_t)base);
}

static void test_block_sizes(void)
{
    CHECK_EQ(heap_block_size(0), 32);
    CHECK_EQ(heap_block_size(1), 32);
    CHECK_EQ(heap_block_size(32), 32);
    CHECK_EQ(heap_block_size(33), 64);
    CHECK_EQ(heap_block_size(976), 1024);     /* a 30-slot memslot set */
    CHECK_EQ(heap_block_size(1024), 1024);
    CHECK_EQ(heap_block_size(2048), 2048);
    CHECK_EQ(heap_block_size(2049), 4096);
    CHECK_EQ(heap_block_size(4097), 8192);
}

static void test_small_blocks(void)
{
    struct heap h;
    heap_init(&h, pg_alloc, pg_free);
    enum { N = 300 };
    static u8 *p[N];
    static size_t sz[N];
    for (int i = 0; i < N; i++) {
        sz[i] = (size_t)(1 + (i * 37) % 2048);
        p[i] = heap_alloc(&h, sz[i]);
        CHECK(p[i] != NULL);
        CHECK_EQ((uintptr_t)p[i] % heap_block_size(sz[i]), 0);
        memset(p[i], i & 0xff, sz[i]);
    }
    /* no block overlaps another: every pattern survived */
    for (int i = 0; i < N; i++)
        for (size_t k = 0; k < sz[i]; k++)
            if (p[i][k] != (u8)(i & 0xff)) {
                CHECK(!"block overwritten by another");
                break;
            }
    u64 in_use = 0;
    for (int i = 0; i < N; i++)
        in_use += heap_block_size(sz[i]);
    CHECK_EQ(h.bytes_in_use, in_use);
    long pages = pages_out;
    for (int i = 0; i < N; i++)
        heap_free(&h, p[i], sz[i]);
    CHECK_EQ(h.bytes_in_use, 0);
    /* freed blocks are reused: the same pattern needs no new pages */
    for (int i = 0; i < N; i++)
        p[i] = heap_alloc(&h, sz[i]);
    CHECK_EQ(pages_out, pages);
    for (int i = 0; i < N; i++)
        heap_free(&h, p[i], sz[i]);
    /* pages carved into small blocks stay with the heap (documented) */
    CHECK(pages_out > 0);
}

static void test_large_and_failure(void)
{
    struct heap h;
    heap_init(&h, pg_alloc, pg_free);
    long before = pages_out;
    void *big = heap_alloc(&h, 3 * 4096 + 1);
    CHECK(big != NULL);
    CHECK_EQ(pages_out - before, 4);
    CHECK_EQ(h.bytes_in_use, 4 * 4096);
    heap_free(&h, big, 3 * 4096 + 1);
    CHECK_EQ(pages_out, before);
    CHECK_EQ(h.bytes_in_use, 0);
    fail_pages = 1;
    CHECK(heap_alloc(&h, 100) == NULL);
    CHECK(heap_alloc(&h, 10000) == NULL);
    CHECK_EQ(h.bytes_in_use, 0);
    fail_pages = 0;
    heap_free(&h, NULL, 100);
}

int main(void)
{
    RUN(test_block_sizes);
    RUN(test_small_blocks);
    RUN(test_large_and_failure);
    return CHECK_DONE();
}
