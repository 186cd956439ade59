/* Guest-physical memory slots under epochs (see memslot.h). */
#include "memslot.h"
#include "../hv/string.h"

#define PA_LIMIT (1ULL << MEMSLOT_PA_BITS)

const char *memslot_strerror(int err)
{
    switch (err) {
    case MEMSLOT_OK: return "ok";
    case MEMSLOT_E_ALIGN: return "address or size not page aligned";
    case MEMSLOT_E_ZERO: return "zero-sized range";
    case MEMSLOT_E_OVERFLOW: return "range overflows the physical address space";
    case MEMSLOT_E_OVERLAP: return "range overlaps another slot";
    case MEMSLOT_E_LIMIT: return "slot limit reached";
    case MEMSLOT_E_NOENT: return "no such slot";
    case MEMSLOT_E_EXIST: return "slot id already in use";
    case MEMSLOT_E_FLAGS: return "unknown flags";
    case MEMSLOT_E_NOMEM: return "out of memory";
    }
    return "unknown error";
}

void memslot_part_init(struct memslot_part *p, struct epoch_domain *epoch,
                       const struct memslot_ops *ops, void *ctx, u32 max_slots)
{
    memset(p, 0, sizeof(*p));
    p->epoch = epoch;
    p->ops = ops;
    p->ctx = ctx;
    p->max_slots = max_slots ? max_slots : MEMSLOT_MAX_DEFAULT;
}

static void set_free(struct memslot_part *p, struct memslot_set *s)
{
    if (s)
        p->ops->free(p->ctx, s, memslot_set_bytes(s->nr));
}

void memslot_part_destroy(struct memslot_part *p)
{
    set_free(p, p->set);
    p->set = NULL;
}

u64 memslot_part_bytes(struct memslot_part *p)
{
    const struct memslot_set *s = memslot_current(p);
    return sizeof(*p) + (s ? memslot_set_bytes(s->nr) : 0);
}

/* ------------------------------------------------------------ read side */

const struct memslot *memslot_set_find(const struct memslot_set *s, u64 gfn)
{
    if (!s || s->nr == 0)
        return NULL;
    /* Last slot whose base is <= gfn (or slot 0 when there is none). */
    const struct memslot *base = s->slot;
    u32 n = s->nr;
    while (n > 1) {
        u32 half = n / 2;
        base = base[half].gfn <= gfn ? base + half : base;
        n -= half;
    }
    /* Unsigned: a base above gfn wraps to a huge offset. */
    return gfn - base->gfn < base->npages ? base : NULL;
}

const struct memslot *memslot_lookup(struct memslot_part *p, struct memslot_hint *hint, u64 gpa)
{
#ifdef BULKHEAD_DEBUG
    if (p->epoch)
        epoch_assert_reader(p->epoch, "memslot lookup outside a read-side section");
#endif
    const struct memslot_set *s = __atomic_load_n(&p->set, __ATOMIC_ACQUIRE);
    if (!s)
        return NULL;
    u64 gfn = gpa >> PAGE_SHIFT;
    if (hint && hint->gen == s->generation && hint->idx < s->nr) {
        const struct memslot *m = &s->slot[hint->idx];
        if (gfn - m->gfn < m->npages)
            return m;
    }
    const struct memslot *m = memslot_set_find(s, gfn);
    if (m && hint) {
        /* Fill only from a set that is the stable, fully published one. */
        if (__atomic_load_n(&p->gen, __ATOMIC_ACQUIRE) == s->generation) {
            hint->gen = s->generation;
            hint->idx = (u32)(m - s->slot);
        }
    }
    return m;
}

/* ------------------------------------------------------------ write side */

static void writer_lock(struct memslot_part *p)
{
    if (p->epoch) {
        epoch_lock_quiescent(p->epoch, &p->lock);
        return;
    }
    u32 expect = 0;
    while (!__atomic_compare_exchange_n(&p->lock, &expect, 1, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
        expect = 0;
        arch_cpu_relax();
    }
}

static void writer_unlock(struct memslot_part *p)
{
    __atomic_store_n(&p->lock, 0, __ATOMIC_RELEASE);
}

static void grace_period(struct memslot_part *p)
{
    if (p->ops->synchronize)
        p->ops->synchronize(p->ctx);
    else if (p->epoch)
        epoch_synchronize(p->epoch);
}

/* Publish s (or an empty map) under a fresh generation. The partition
 * generation is odd between the two stores, so no reader fills a hint from a
 * half-published state. Writer lock held. */
static void publish(struct memslot_part *p, struct memslot_set *s)
{
    u64 g = p->gen;
    if (s)
        s->generation = g + 2;
    __atomic_store_n(&p->gen, g + 1, __ATOMIC_RELEASE);
    __atomic_store_n(&p->set, s, __ATOMIC_RELEASE);
    __atomic_store_n(&p->gen, g + 2, __ATOMIC_RELEASE);
}

static struct memslot_set *set_alloc(struct memslot_part *p, u32 nr)
{
    if (nr == 0)
        return NULL;
    struct memslot_set *s = p->ops->alloc(p->ctx, memslot_set_bytes(nr));
    if (s) {
        s->nr = nr;
        s->pad = 0;
        s->generation = 0;
    }
    return s;
}

static int check_range(u64 gpa, u64 size, u64 hpa)
{
    if (!IS_ALIGNED(gpa, PAGE_SIZE) || !IS_ALIGNED(size, PAGE_SIZE) || !IS_ALIGNED(hpa, PAGE_SIZE))
        return MEMSLOT_E_ALIGN;
    if (size == 0)
        return MEMSLOT_E_ZERO;
    if (gpa >= PA_LIMIT || size > PA_LIMIT - gpa || hpa >= PA_LIMIT || size > PA_LIMIT - hpa)
        return MEMSLOT_E_OVERFLOW;
    return MEMSLOT_OK;
}

static s64 find_id(const struct memslot_set *s, u32 id)
{
    if (!s)
        return -1;
    for (u32 i = 0; i < s->nr; i++)
        if (s->slot[i].id == id)
            return i;
    return -1;
}

/* Index where a slot at gfn would be inserted: the first slot with a larger
 * base. */
static u32 insert_pos(const struct memslot_set *s, u64 gfn)
{
    u32 lo = 0, hi = s ? s->nr : 0;
    while (lo < hi) {
        u32 mid = lo + (hi - lo) / 2;
        if (s->slot[mid].gfn <= gfn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Does [gfn, gfn+n) overlap any slot of s other than index skip? */
static bool overlaps(const struct memslot_set *s, u64 gfn, u64 n, s64 skip)
{
    if (!s)
        return false;
    u32 pos = insert_pos(s, gfn);
    /* Only the neighbours can overlap (slots are sorted and disjoint);
     * skipping one index means looking one further on that side. */
    for (s64 i = (s64)pos - 1; i >= 0 && i >= (s64)pos - 2; i--) {
        if (i == skip)
            continue;
        const struct memslot *m = &s->slot[i];
        if (m->gfn + m->npages > gfn)
            return true;
        break;
    }
    for (s64 i = pos; i < (s64)s->nr && i <= (s64)pos + 1; i++) {
        if (i == skip)
            continue;
        if (s->slot[i].gfn < gfn + n)
            return true;
        break;
    }
    return false;
}

int memslot_create(struct memslot_part *p, u32 id, u64 gpa, u64 size, u64 hpa, u32 flags)
{
    int err = check_range(gpa, size, hpa);
    if (err)
        return err;
    if (flags & ~MEMSLOT_F_ALL)
        return MEMSLOT_E_FLAGS;
    u64 gfn = gpa >> PAGE_SHIFT, n = size >> PAGE_SHIFT, hfn = hpa >> PAGE_SHIFT;

    writer_lock(p);
    struct memslot_set *old = p->set;
    u32 nr = old ? old->nr : 0;
    s64 have = find_id(old, id);
    if (have >= 0) {
        const struct memslot *m = &old->slot[have];
        err = (m->gfn == gfn && m->npages == n && m->hfn == hfn && m->flags == flags)
                  ? MEMSLOT_OK : MEMSLOT_E_EXIST;
        goto out;
    }
    if (overlaps(old, gfn, n, -1)) {
        err = MEMSLOT_E_OVERLAP;
        goto out;
    }
    if (nr >= p->max_slots) {
        err = MEMSLOT_E_LIMIT;
        goto out;
    }
    struct memslot_set *s = set_alloc(p, nr + 1);
    if (!s) {
        err = MEMSLOT_E_NOMEM;
        goto out;
    }
    u32 pos = insert_pos(old, gfn);
    if (pos)
        memcpy(s->slot, old->slot, pos * sizeof(struct memslot));
    s->slot[pos] = (struct memslot){ .gfn = gfn, .npages = n, .hfn = hfn, .id = id, .flags = flags };
    if (nr > pos)
        memcpy(&s->slot[pos + 1], &old->slot[pos], (nr - pos) * sizeof(struct memslot));
    if (p->ops->map) {
        err = p->ops->map(p->ctx, &s->slot[pos]);
        if (err) {
            set_free(p, s);
            goto out;
        }
    }
    publish(p, s);
    /* Nothing left the map: readers of the old set see a subset of the new
     * one. The old array may only go once nobody reads it. */
    grace_period(p);
    set_free(p, old);
out:
    writer_unlock(p);
    return err;
}

/* Copy of s without index idx (NULL when that leaves nothing). On allocation
 * failure *nomem is set. */
static struct memslot_set *set_without(struct memslot_part *p, const struct memslot_set *s,
                                       u32 idx, bool *nomem)
{
    struct memslot_set *n = set_alloc(p, s->nr - 1);
    *nomem = !n && s->nr > 1;
    if (!n)
        return NULL;
    memcpy(n->slot, s->slot, idx * sizeof(struct memslot));
    memcpy(&n->slot[idx], &s->slot[idx + 1], (s->nr - idx - 1) * sizeof(struct memslot));
    return n;
}

/* Take slot idx out of the published map: publish the set without it, wait
 * until no CPU can still use the old set, then remove the stage-2 mappings
 * and flush TLBs (nothing can refill them now: every reader sees the slot
 * gone). The old set is unreachable when this returns; the caller frees or
 * reuses it. */
static void unpublish(struct memslot_part *p, const struct memslot_set *old,
                      struct memslot_set *without, u32 idx)
{
    struct memslot slot = old->slot[idx];
    publish(p, without);
    grace_period(p);
    if (p->ops->unmap)
        p->ops->unmap(p->ctx, slot.gfn << PAGE_SHIFT, slot.npages << PAGE_SHIFT);
}

int memslot_delete(struct memslot_part *p, u32 id)
{
    int err = MEMSLOT_OK;
    writer_lock(p);
    struct memslot_set *old = p->set;
    s64 idx = find_id(old, id);
    if (idx < 0) {
        err = MEMSLOT_E_NOENT;
        goto out;
    }
    bool nomem;
    struct memslot_set *n = set_without(p, old, (u32)idx, &nomem);
    if (nomem) {
        err = MEMSLOT_E_NOMEM;
        goto out;
    }
    unpublish(p, old, n, (u32)idx);
    set_free(p, old);
out:
    writer_unlock(p);
    return err;
}

/* Replace slot idx by m: old mapping, then none, then the new one (mapped
 * through ops->map before it is published). If the new mapping cannot be
 * made, the old slot is mapped and published again and the error returned. Only the
 * slot-less set is allocated (so a failure leaves the map untouched): the
 * final set has the old set's size and is built in the old set's memory,
 * which no CPU can reach any more once the slot-less set's grace period has
 * passed. Peak: the old set plus the slot-less one. */
static int replace(struct memslot_part *p, struct memslot_set *old, u32 idx, struct memslot m)
{
    bool nomem;
    struct memslot_set *mid = set_without(p, old, idx, &nomem);
    if (nomem)
        return MEMSLOT_E_NOMEM;
    struct memslot was = old->slot[idx];
    unpublish(p, old, mid, idx);
    int err = MEMSLOT_OK;
    if (p->ops->map) {
        err = p->ops->map(p->ctx, &m);
        if (err) {
            /* Put the old slot back: its range was mapped a moment ago. */
            m = was;
            (void)p->ops->map(p->ctx, &m);
        }
    }
    struct memslot_set *fin = old;
    u32 nr = mid ? mid->nr : 0;
    u32 pos = insert_pos(mid, m.gfn);
    if (pos)
        memcpy(fin->slot, mid->slot, pos * sizeof(struct memslot));
    fin->slot[pos] = m;
    if (nr > pos)
        memcpy(&fin->slot[pos + 1], &mid->slot[pos], (nr - pos) * sizeof(struct memslot));
    publish(p, fin);
    grace_period(p);
    set_free(p, mid);
    return err;
}

int memslot_move(struct memslot_part *p, u32 id, u64 gpa)
{
    int err;
    writer_lock(p);
    struct memslot_set *old = p->set;
    s64 idx = find_id(old, id);
    if (idx < 0) {
        err = MEMSLOT_E_NOENT;
        goto out;
    }
    struct memslot m = old->slot[idx];
    err = check_range(gpa, m.npages << PAGE_SHIFT, m.hfn << PAGE_SHIFT);
    if (err)
        goto out;
    if ((gpa >> PAGE_SHIFT) == m.gfn)
        goto out; /* nothing changes */
    m.gfn = gpa >> PAGE_SHIFT;
    if (overlaps(old, m.gfn, m.npages, idx)) {
        err = MEMSLOT_E_OVERLAP;
        goto out;
    }
    err = replace(p, old, (u32)idx, m);
out:
    writer_unlock(p);
    return err;
}

int memslot_set_flags(struct memslot_part *p, u32 id, u32 flags)
{
    int err = MEMSLOT_OK;
    if (flags & ~MEMSLOT_F_ALL)
        return MEMSLOT_E_FLAGS;
    writer_lock(p);
    struct memslot_set *old = p->set;
    s64 idx = find_id(old, id);
    if (idx < 0) {
        err = MEMSLOT_E_NOENT;
        goto out;
    }
    struct memslot m = old->slot[idx];
    if (m.flags == flags)
        goto out; /* nothing changes */
    m.flags = flags;
    err = replace(p, old, (u32)idx, m);
out:
    writer_unlock(p);
    return err;
}
