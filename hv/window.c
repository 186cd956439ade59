/* Runtime changes of a running partition's guest-physical map (see
 * window.h): channel windows changed by a control partition, the balloon
 * pool, doorbells. Every change goes through the memslot writer path
 * (mm/memslot.c), which maps the new slot in the second stage before it is
 * published, and unpublishes, waits for a grace period and unmaps (with the
 * TLB flush on every CPU of the partition) before anything is reused. */
#include "window.h"
#include "arch.h"
#include "hypercall.h"
#include "partition.h"
#include "string.h"
#include "../mm/frame.h"

static s64 err_of(int memslot_err)
{
    switch (memslot_err) {
    case MEMSLOT_OK: return HC_OK;
    case MEMSLOT_E_ALIGN:
    case MEMSLOT_E_ZERO:
    case MEMSLOT_E_FLAGS: return HC_E_INVAL;
    case MEMSLOT_E_OVERFLOW: return HC_E_RANGE;
    case MEMSLOT_E_OVERLAP: return HC_E_BUSY;
    case MEMSLOT_E_LIMIT: return HC_E_NOSPC;
    case MEMSLOT_E_NOENT: return HC_E_NOENT;
    case MEMSLOT_E_EXIST: return HC_E_EXIST;
    default: return HC_E_NOMEM;
    }
}

static void lock(struct partition *p)
{
    epoch_lock_quiescent(hv_epoch(), &p->win_lock);
}

static void unlock(struct partition *p)
{
    epoch_unlock(&p->win_lock);
}

/* The region of partition `target` for channel c, or NULL. */
static struct part_region *window_of(u64 c, u64 target, struct partition **out)
{
    if (c >= CFG_MAX_CHANNELS || target >= npartitions)
        return NULL;
    struct partition *t = &partitions[target];
    for (u32 i = 0; i < t->nregions; i++) {
        struct part_region *r = &t->region[i];
        if (r->kind == PART_CHANNEL && r->channel == c) {
            *out = t;
            return r;
        }
    }
    return NULL;
}

static u32 flags_of(bool rw)
{
    return MEMSLOT_F_SHARED | (rw ? 0 : MEMSLOT_F_RO);
}

static s64 check_access(u64 access, const struct part_region *r, bool *rw)
{
    if (access != HC_ACCESS_R && access != HC_ACCESS_RW)
        return HC_E_INVAL;
    *rw = access == HC_ACCESS_RW;
    if (*rw && !r->max_rw)
        return HC_E_PERM; /* more than the configuration gives this member */
    return HC_OK;
}

static s64 check_gpa(struct partition *t, u64 gpa, u64 size)
{
    if (!IS_ALIGNED(gpa, PAGE_SIZE))
        return HC_E_INVAL;
    if (gpa >= CFG_GUEST_ADDR_LIMIT || size > CFG_GUEST_ADDR_LIMIT - gpa ||
        !arch_guest_range_ok(t, gpa, size))
        return HC_E_RANGE;
    /* The pool's range stays the pool's even while it is given back. */
    if (t->pool_size && gpa < t->pool_gpa + t->pool_size && t->pool_gpa < gpa + size)
        return HC_E_BUSY;
    return HC_OK;
}

static void count_change(struct partition *t, u64 t0)
{
    __atomic_fetch_add(&t->slot_changes, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&t->change_ticks, arch_timestamp() - t0, __ATOMIC_RELAXED);
}

s64 window_call(struct partition *caller, u64 nr, u64 c, u64 target, u64 a2, u64 a3)
{
    if (!caller->cfg->control)
        return HC_E_PERM;
    if (!arch_runtime_maps())
        return HC_E_NOSYS;
    struct partition *t = NULL;
    struct part_region *r = window_of(c, target, &t);
    if (!r)
        return HC_E_NOENT;
    bool rw = false;
    s64 e = HC_OK;
    lock(t);
    u64 t0 = arch_timestamp();
    switch (nr) {
    case HC_WIN_ATTACH:
        if (r->attached) {
            e = HC_E_EXIST;
            break;
        }
        if ((e = check_access(a3, r, &rw)) || (e = check_gpa(t, a2, r->size)))
            break;
        e = err_of(memslot_create(&t->mem, r->slot_id, a2, r->size, r->hpa, flags_of(rw)));
        if (e == HC_OK) {
            r->gpa = a2;
            r->writable = rw;
            r->attached = true;
        }
        break;
    case HC_WIN_DETACH:
        if (!r->attached) {
            e = HC_E_NOENT;
            break;
        }
        e = err_of(memslot_delete(&t->mem, r->slot_id));
        if (e == HC_OK)
            r->attached = false;
        break;
    case HC_WIN_MOVE:
        if (!r->attached) {
            e = HC_E_NOENT;
            break;
        }
        if ((e = check_gpa(t, a2, r->size)))
            break;
        e = err_of(memslot_move(&t->mem, r->slot_id, a2));
        if (e == HC_OK)
            r->gpa = a2;
        break;
    case HC_WIN_PROTECT:
        if (!r->attached) {
            e = HC_E_NOENT;
            break;
        }
        if ((e = check_access(a2, r, &rw)))
            break;
        e = err_of(memslot_set_flags(&t->mem, r->slot_id, flags_of(rw)));
        if (e == HC_OK)
            r->writable = rw;
        break;
    default:
        e = HC_E_NOSYS;
    }
    if (e == HC_OK)
        count_change(t, t0);
    unlock(t);
    return e;
}

/* The slot holding pool offset off, when it starts there and has n pages. */
static bool pool_slot_is(struct partition *p, u64 off, u64 pages)
{
    bool ok = false;
    epoch_read_lock(p->mem.epoch);
    const struct memslot *m = memslot_lookup(&p->mem, NULL, p->pool_gpa + off);
    if (m && m->id == POOL_SLOT_BASE + (off >> PAGE_SHIFT) &&
        m->gfn == (p->pool_gpa + off) >> PAGE_SHIFT && m->npages == pages)
        ok = true;
    epoch_read_unlock(p->mem.epoch);
    return ok;
}

s64 pool_call(struct partition *p, u64 nr, u64 off, u64 size)
{
    if (!p->pool_size)
        return HC_E_NOENT;
    if (!arch_runtime_maps())
        return HC_E_NOSYS;
    if (!IS_ALIGNED(off, PAGE_SIZE) || !IS_ALIGNED(size, PAGE_SIZE) || size == 0 ||
        off >= p->pool_size || size > p->pool_size - off)
        return HC_E_INVAL;
    u32 id = POOL_SLOT_BASE + (u32)(off >> PAGE_SHIFT);
    s64 e;
    lock(p);
    u64 t0 = arch_timestamp();
    if (nr == HC_POOL_TAKE) {
        e = err_of(memslot_create(&p->mem, id, p->pool_gpa + off, size, p->pool_hpa + off,
                                  MEMSLOT_F_EXEC));
    } else if (!pool_slot_is(p, off, size >> PAGE_SHIFT)) {
        e = HC_E_NOENT;
    } else {
        e = err_of(memslot_delete(&p->mem, id));
        /* Unmapped and flushed everywhere, past a grace period: scrub it so
         * the next TAKE hands out zeroed memory. */
        if (e == HC_OK)
            memset((void *)(uintptr_t)(p->pool_hpa + off), 0, size);
    }
    if (e == HC_OK)
        count_change(p, t0);
    unlock(p);
    return e;
}

/* A restart gives the partition its pool back as at boot: every range it
 * had taken is unmapped through the writer path (grace period and TLB flush
 * included, like a GIVE) and scrubbed, so the new run can take it again and
 * never sees the previous run's contents. */
void pool_reset(struct partition *p)
{
    if (!p->pool_size || !arch_runtime_maps())
        return;
    u32 ids[PART_MAX_SLOTS];
    u64 offs[PART_MAX_SLOTS], sizes[PART_MAX_SLOTS];
    u32 n = 0;
    lock(p);
    epoch_read_lock(p->mem.epoch);
    const struct memslot_set *set = memslot_current(&p->mem);
    for (u32 i = 0; set && i < set->nr && n < PART_MAX_SLOTS; i++) {
        const struct memslot *m = &set->slot[i];
        if (m->id < POOL_SLOT_BASE)
            continue;
        ids[n] = m->id;
        offs[n] = (m->gfn << PAGE_SHIFT) - p->pool_gpa;
        sizes[n] = m->npages << PAGE_SHIFT;
        n++;
    }
    epoch_read_unlock(p->mem.epoch);
    for (u32 i = 0; i < n; i++) {
        u64 t0 = arch_timestamp();
        if (memslot_delete(&p->mem, ids[i]) != MEMSLOT_OK)
            continue; /* cannot happen under the lock: the slot was just seen */
        memset((void *)(uintptr_t)(p->pool_hpa + offs[i]), 0, sizes[i]);
        count_change(p, t0);
    }
    unlock(p);
}

/* The caller's attached window on channel c, or NULL. */
static struct part_region *own_window(struct partition *p, u64 c)
{
    struct partition *t;
    struct part_region *r = window_of(c, p->index, &t);
    return r && r->attached ? r : NULL;
}

s64 doorbell_call(struct partition *p, u64 nr, u64 c)
{
    struct part_region *r = own_window(p, c);
    if (!r)
        return HC_E_NOENT;
    if (nr == HC_DOORBELL_POLL)
        return (s64)__atomic_exchange_n(&p->doorbell[c], 0, __ATOMIC_ACQ_REL);
    s64 n = 0;
    for (u32 i = 0; i < npartitions; i++) {
        struct partition *o = &partitions[i];
        if (o == p || !own_window(o, c))
            continue;
        /* The interrupt says "the mask is no longer empty": once per poll
         * at most, so ringing in a loop cannot flood the other member. */
        if (!__atomic_fetch_or(&o->doorbell[c], 1u << r->member, __ATOMIC_ACQ_REL))
            arch_partition_notify(o, (u32)c);
        n++;
    }
    return n;
}

s64 free_frames_call(struct partition *p)
{
    if (!p->cfg->control)
        return HC_E_PERM;
    const struct frame_alloc *fa = frames_global();
    return fa ? (s64)(fa->free_bytes >> PAGE_SHIFT) : 0;
}

s64 map_stats_call(struct partition *caller, u64 target, u64 gpa, u64 size)
{
    if (!caller->cfg->control)
        return HC_E_PERM;
    if (target >= npartitions)
        return HC_E_NOENT;
    struct bh_map_stats st;
    if (size < BH_MAP_STATS_V1_SIZE)
        return HC_E_INVAL;
    if (size > sizeof(st))
        size = sizeof(st);
    struct partition *t = &partitions[target];
    lock(t); /* a consistent snapshot: changes update these under it */
    st.changes = t->slot_changes;
    st.change_ticks = t->change_ticks;
    st.grace_periods = t->gp_count;
    st.gp_ticks = t->gp_ticks;
    st.unmap_ticks = t->unmap_ticks;
    unlock(t);
    st.tick_hz = arch_timestamp_hz();
    hv_epoch_kick_stats(&st.kick_requests, &st.kick_ipis_sent, &st.kick_ipis_taken);
    if (!guest_write(caller, gpa, &st, size))
        return HC_E_FAULT;
    return (s64)size;
}
