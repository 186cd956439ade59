#include "frame.h"
#include "../hv/format.h"
#include "../hv/spinlock.h"
#include "../hv/string.h"

static void remove_at(struct frame_alloc *fa, u32 i)
{
    memmove(&fa->r[i], &fa->r[i + 1], (fa->n - i - 1) * sizeof(fa->r[0]));
    fa->n--;
}

static bool insert_at(struct frame_alloc *fa, u32 i, u64 base, u64 end)
{
    if (fa->n >= FRAME_MAX_RANGES)
        return false;
    memmove(&fa->r[i + 1], &fa->r[i], (fa->n - i) * sizeof(fa->r[0]));
    fa->r[i] = (struct frame_range){ base, end };
    fa->n++;
    return true;
}

/* Add [base,end) merging with neighbours; ranges may overlap existing ones. */
static bool add_free(struct frame_alloc *fa, u64 base, u64 end)
{
    if (base >= end)
        return true;
    u32 i = 0;
    while (i < fa->n && fa->r[i].end < base)
        i++;
    /* Merge every range that overlaps or touches [base,end). */
    while (i < fa->n && fa->r[i].base <= end) {
        base = MIN(base, fa->r[i].base);
        end = MAX(end, fa->r[i].end);
        remove_at(fa, i);
    }
    return insert_at(fa, i, base, end);
}

/* Remove [base,end) from the free list. False only if a split had no room. */
static bool cut_free(struct frame_alloc *fa, u64 base, u64 end)
{
    if (base >= end)
        return true;
    for (u32 i = 0; i < fa->n;) {
        struct frame_range *r = &fa->r[i];
        if (r->end <= base || r->base >= end) {
            i++;
            continue;
        }
        if (r->base >= base && r->end <= end) {
            remove_at(fa, i);
            continue;
        }
        if (r->base < base && r->end > end) {
            u64 tail = r->end;
            r->end = base;
            if (!insert_at(fa, i + 1, end, tail))
                return false;
            return true;
        }
        if (r->base < base)
            r->end = base;
        else
            r->base = end;
        i++;
    }
    return true;
}

static u64 sum_free(const struct frame_alloc *fa)
{
    u64 t = 0;
    for (u32 i = 0; i < fa->n; i++)
        t += fa->r[i].end - fa->r[i].base;
    return t;
}

static u64 sat_end(u64 base, u64 size)
{
    return size > UINT64_MAX - base ? UINT64_MAX : base + size;
}

int frame_init(struct frame_alloc *fa, const struct boot_info *bi, char *err, size_t errlen)
{
    memset(fa, 0, sizeof(*fa));
    for (u32 i = 0; i < bi->nmem; i++) {
        const struct mem_range *m = &bi->mem[i];
        if (m->type != MEM_USABLE)
            continue;
        u64 b = ALIGN_UP(m->base, PAGE_SIZE);
        u64 e = ALIGN_DOWN(sat_end(m->base, m->size), PAGE_SIZE);
        if (b < m->base) /* wrapped */
            continue;
        if (!add_free(fa, b, e)) {
            bh_snprintf(err, errlen, "memory map has more than %u separate usable ranges",
                        FRAME_MAX_RANGES);
            return FRAME_E_TOOMANY;
        }
    }
    /* Firmware ranges that are not usable win over usable ones that overlap them. */
    for (u32 i = 0; i < bi->nmem; i++) {
        const struct mem_range *m = &bi->mem[i];
        if (m->type == MEM_USABLE)
            continue;
        u64 e = sat_end(m->base, m->size);
        if (!cut_free(fa, ALIGN_DOWN(m->base, PAGE_SIZE),
                      e > UINT64_MAX - PAGE_SIZE ? UINT64_MAX : ALIGN_UP(e, PAGE_SIZE)))
            goto toomany;
    }
    for (u32 i = 0; i < bi->nrsv; i++) {
        const struct mem_range *m = &bi->rsv[i];
        u64 e = sat_end(m->base, m->size);
        if (!cut_free(fa, ALIGN_DOWN(m->base, PAGE_SIZE),
                      e > UINT64_MAX - PAGE_SIZE ? UINT64_MAX : ALIGN_UP(e, PAGE_SIZE)))
            goto toomany;
    }
    /* Physical page 0 is never handed out: 0 means "no frame". */
    if (!cut_free(fa, 0, PAGE_SIZE))
        goto toomany;
    fa->free_bytes = fa->total_bytes = sum_free(fa);
    if (fa->free_bytes == 0) {
        bh_snprintf(err, errlen,
                    "no usable memory left after removing the hypervisor, the modules and "
                    "reserved ranges");
        return FRAME_E_NOMEM;
    }
    return FRAME_OK;
toomany:
    bh_snprintf(err, errlen, "memory map too fragmented: more than %u free ranges",
                FRAME_MAX_RANGES);
    return FRAME_E_TOOMANY;
}

u64 frame_alloc_range(struct frame_alloc *fa, u64 npages, u64 align, u64 limit)
{
    if (npages == 0 || npages > (UINT64_MAX >> PAGE_SHIFT))
        return 0;
    if (align < PAGE_SIZE)
        align = PAGE_SIZE;
    if (align & (align - 1))
        return 0;
    u64 bytes = npages << PAGE_SHIFT;
    for (u32 i = 0; i < fa->n; i++) {
        struct frame_range *r = &fa->r[i];
        u64 b = ALIGN_UP(r->base, align);
        if (b < r->base || b >= r->end || r->end - b < bytes)
            continue;
        if (limit && (b >= limit || limit - b < bytes))
            continue;
        if (b == r->base) {
            r->base += bytes;
            if (r->base == r->end)
                remove_at(fa, i);
        } else if (b + bytes == r->end) {
            r->end = b;
        } else {
            u64 tail = r->end;
            r->end = b;
            if (!insert_at(fa, i + 1, b + bytes, tail)) {
                r->end = tail; /* undo: the table is full */
                continue;
            }
        }
        fa->free_bytes -= bytes;
        return b;
    }
    return 0;
}

bool frame_free_range(struct frame_alloc *fa, u64 base, u64 npages)
{
    if (!IS_ALIGNED(base, PAGE_SIZE) || npages == 0 || base == 0 ||
        npages > (UINT64_MAX - base) >> PAGE_SHIFT)
        return false;
    u64 end = base + (npages << PAGE_SHIFT);
    for (u32 i = 0; i < fa->n; i++)
        if (fa->r[i].base < end && base < fa->r[i].end)
            return false; /* double free */
    if (!add_free(fa, base, end))
        return false;
    fa->free_bytes += end - base;
    return true;
}

bool frame_claim_range(struct frame_alloc *fa, u64 base, u64 npages)
{
    if (!IS_ALIGNED(base, PAGE_SIZE) || npages == 0 || npages > (UINT64_MAX - base) >> PAGE_SHIFT)
        return false;
    u64 end = base + (npages << PAGE_SHIFT);
    for (u32 i = 0; i < fa->n; i++) {
        if (fa->r[i].base <= base && end <= fa->r[i].end) {
            if (!cut_free(fa, base, end))
                return false;
            fa->free_bytes -= end - base;
            return true;
        }
    }
    return false; /* some of it is in use, reserved or not RAM */
}

void frame_reserve(struct frame_alloc *fa, u64 base, u64 size)
{
    cut_free(fa, ALIGN_DOWN(base, PAGE_SIZE), ALIGN_UP(sat_end(base, size), PAGE_SIZE));
    fa->free_bytes = sum_free(fa);
}

static struct frame_alloc *global_fa;
static spinlock_t global_lock;

void frames_init_global(struct frame_alloc *fa)
{
    global_fa = fa;
}

struct frame_alloc *frames_global(void)
{
    return global_fa;
}

static u64 locked_alloc(u64 npages, u64 align, u64 limit)
{
    spin_lock(&global_lock);
    u64 r = frame_alloc_range(global_fa, npages, align, limit);
    spin_unlock(&global_lock);
    return r;
}

u64 frame_alloc_below(u64 npages, u64 limit)
{
    u64 r = locked_alloc(npages, PAGE_SIZE, limit);
#ifndef BULKHEAD_HOST
    if (r)
        memset((void *)(uintptr_t)r, 0, npages << PAGE_SHIFT);
#endif
    return r;
}

u64 frame_alloc_aligned(u64 npages, u64 align)
{
    return locked_alloc(npages, align, 0);
}

u64 frame_alloc(u64 npages)
{
    return frame_alloc_below(npages, 0);
}

void frame_free(u64 base, u64 npages)
{
    spin_lock(&global_lock);
    frame_free_range(global_fa, base, npages);
    spin_unlock(&global_lock);
}

bool frame_claim(u64 base, u64 npages)
{
    spin_lock(&global_lock);
    bool ok = global_fa && frame_claim_range(global_fa, base, npages);
    spin_unlock(&global_lock);
    return ok;
}
