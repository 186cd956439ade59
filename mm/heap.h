/* A small heap for hypervisor objects smaller than a page (memslot sets).
 * Power-of-two size classes from 32 bytes to 2 KiB carved out of whole pages;
 * anything larger takes whole pages. Frees are sized (the caller passes the
 * size it allocated), so blocks carry no header. Pages come from a page
 * source (the frame allocator in the hypervisor, a stand-in on the host). */
#ifndef BULKHEAD_HEAP_H
#define BULKHEAD_HEAP_H

#include "../hv/types.h"

#define HEAP_MIN_SHIFT 5    /* 32 bytes */
#define HEAP_MAX_SHIFT 11   /* 2 KiB */
#define HEAP_CLASSES (HEAP_MAX_SHIFT - HEAP_MIN_SHIFT + 1)

struct heap {
    u32 lock;
    u32 pad;
    void *free_list[HEAP_CLASSES];
    u64 (*page_alloc)(u64 npages);          /* returns an address, 0 on failure */
    void (*page_free)(u64 base, u64 npages);
    u64 bytes_in_use;                       /* rounded to the class / pages */
};

/* Bytes a request of size really takes. */
u64 heap_block_size(size_t size);
void heap_init(struct heap *h, u64 (*page_alloc)(u64), void (*page_free)(u64, u64));
void *heap_alloc(struct heap *h, size_t size);
void heap_free(struct heap *h, void *p, size_t size);

/* The hypervisor's heap on the frame allocator. */
void *kmalloc(size_t size);
void kfree(void *p, size_t size);
/* The same in the shape of struct memslot_ops' alloc/free (ctx unused). */
void *kmalloc_ctx(void *ctx, size_t size);
void kfree_ctx(void *ctx, void *p, size_t size);

#endif
