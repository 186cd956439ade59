/* Size-class heap (see heap.h). */
#include "heap.h"
#include "frame.h"
#include "../hv/spinlock.h"

static int class_of(size_t size)
{
    int c = 0;
    while (((size_t)1 << (HEAP_MIN_SHIFT + c)) < size)
        c++;
    return c;
}

u64 heap_block_size(size_t size)
{
    if (size == 0)
        size = 1;
    if (size > ((size_t)1 << HEAP_MAX_SHIFT))
        return ALIGN_UP((u64)size, PAGE_SIZE);
    return (u64)1 << (HEAP_MIN_SHIFT + class_of(size));
}

void heap_init(struct heap *h, u64 (*page_alloc)(u64), void (*page_free)(u64, u64))
{
    *h = (struct heap){ .page_alloc = page_alloc, .page_free = page_free };
}

static void lock(struct heap *h)
{
    u32 expect = 0;
    while (!__atomic_compare_exchange_n(&h->lock, &expect, 1, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
        expect = 0;
        arch_cpu_relax();
    }
}

static void unlock(struct heap *h)
{
    __atomic_store_n(&h->lock, 0, __ATOMIC_RELEASE);
}

void *heap_alloc(struct heap *h, size_t size)
{
    u64 bytes = heap_block_size(size);
    if (bytes > ((u64)1 << HEAP_MAX_SHIFT)) {
        u64 a = h->page_alloc(bytes >> PAGE_SHIFT);
        if (a) {
            lock(h);
            h->bytes_in_use += bytes;
            unlock(h);
        }
        return (void *)(uintptr_t)a;
    }
    int c = class_of(size);
    lock(h);
    void *p = h->free_list[c];
    if (!p) {
        /* Carve a fresh page into blocks of this class. */
        unlock(h);
        u64 page = h->page_alloc(1);
        if (!page)
            return NULL;
        lock(h);
        for (u64 off = 0; off < PAGE_SIZE; off += bytes) {
            void **blk = (void **)(uintptr_t)(page + off);
            *blk = h->free_list[c];
            h->free_list[c] = blk;
        }
        p = h->free_list[c];
    }
    h->free_list[c] = *(void **)p;
    h->bytes_in_use += bytes;
    unlock(h);
    return p;
}

void heap_free(struct heap *h, void *p, size_t size)
{
    if (!p)
        return;
    u64 bytes = heap_block_size(size);
    if (bytes > ((u64)1 << HEAP_MAX_SHIFT)) {
        h->page_free((u64)(uintptr_t)p, bytes >> PAGE_SHIFT);
        lock(h);
        h->bytes_in_use -= bytes;
        unlock(h);
        return;
    }
    int c = class_of(size);
    lock(h);
    *(void **)p = h->free_list[c];
    h->free_list[c] = p;
    h->bytes_in_use -= bytes;
    unlock(h);
}

static struct heap global_heap = { .page_alloc = frame_alloc, .page_free = frame_free };

void *kmalloc(size_t size)
{
    return heap_alloc(&global_heap, size);
}

void kfree(void *p, size_t size)
{
    heap_free(&global_heap, p, size);
}

void *kmalloc_ctx(void *ctx, size_t size)
{
    (void)ctx;
    return kmalloc(size);
}

void kfree_ctx(void *ctx, void *p, size_t size)
{
    (void)ctx;
    kfree(p, size);
}
