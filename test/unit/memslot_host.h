/* Host stand-ins for the memslot hooks, shared by the memslot tests:
 * allocation with exact byte accounting (current and peak), poisoning on
 * free, an event log of unmaps and grace periods, and allocation failure
 * injection. */
#ifndef TEST_MEMSLOT_HOST_H
#define TEST_MEMSLOT_HOST_H

#include <stdlib.h>
#include <string.h>
#include "mm/memslot.h"

#define POISON_BYTE 0x5a

struct host_env {
    struct memslot_part *part;
    long allocs, frees;
    long long bytes, peak;
    long long last_alloc_bytes;
    int fail_allocs_after;      /* < 0: never fail; else fail once it reaches 0 */
    int syncs, unmaps;
    u64 last_unmap_gpa, last_unmap_size;
    /* Optional observers called from the hooks (test-specific checks). */
    void (*on_sync)(struct host_env *e);
    void (*on_unmap)(struct host_env *e, u64 gpa, u64 size);
};

static void *host_alloc(void *ctx, size_t n)
{
    struct host_env *e = ctx;
    if (e->fail_allocs_after == 0)
        return NULL;
    if (e->fail_allocs_after > 0)
        e->fail_allocs_after--;
    void *p = malloc(n);
    if (!p)
        return NULL;
    memset(p, 0xcc, n);
    e->allocs++;
    e->bytes += (long long)n;
    e->last_alloc_bytes = (long long)n;
    if (e->bytes > e->peak)
        e->peak = e->bytes;
    return p;
}

static void host_free(void *ctx, void *p, size_t n)
{
    struct host_env *e = ctx;
    memset(p, POISON_BYTE, n);
    free(p);
    e->frees++;
    e->bytes -= (long long)n;
}

static void host_unmap(void *ctx, u64 gpa, u64 size)
{
    struct host_env *e = ctx;
    e->unmaps++;
    e->last_unmap_gpa = gpa;
    e->last_unmap_size = size;
    if (e->on_unmap)
        e->on_unmap(e, gpa, size);
}

static void host_sync(void *ctx)
{
    struct host_env *e = ctx;
    e->syncs++;
    if (e->on_sync)
        e->on_sync(e);
}

static const struct memslot_ops host_ops = {
    .alloc = host_alloc, .free = host_free, .unmap = host_unmap, .synchronize = host_sync,
};

static inline void host_env_init(struct host_env *e, struct memslot_part *p, u32 max_slots)
{
    memset(e, 0, sizeof(*e));
    e->part = p;
    e->fail_allocs_after = -1;
    memslot_part_init(p, NULL, &host_ops, e, max_slots);
}

#endif
