/* Guest-physical memory slots.
 *
 * A partition's guest-physical map is a memslot_set: a small header and an
 * array of exactly the slots in use, sorted by guest frame, non-overlapping.
 * A published set is never modified: every update builds a new set at its
 * exact new size, publishes it with a release store, and frees the old one
 * only after an epoch grace period (hv/epoch.h).
 *
 * Readers (vCPUs handling exits) look up guest addresses without locks, from
 * a point where the CPU is ACTIVE in the epoch domain; the returned slot is
 * valid until the CPU's next quiescent state, guest entry or idle wait.
 *
 * Generations: the partition's generation is even while it is stable and odd
 * while an update is being published. Each set carries the (even) generation
 * it was published under, which no other set of the partition ever has, so a
 * per-vCPU hint tagged with it can never be applied to another set. Hints are
 * filled only when the partition generation equals the set's generation. */
#ifndef BULKHEAD_MEMSLOT_H
#define BULKHEAD_MEMSLOT_H

#include "../hv/types.h"
#include "../hv/epoch.h"

#define MEMSLOT_F_RO     (1u << 0)   /* guest writes fault */
#define MEMSLOT_F_EXEC   (1u << 1)   /* guest may execute */
#define MEMSLOT_F_DEVICE (1u << 2)   /* device / MMIO memory attributes */
#define MEMSLOT_F_SHARED (1u << 3)   /* shared-memory channel */
#define MEMSLOT_F_ALL    (MEMSLOT_F_RO | MEMSLOT_F_EXEC | MEMSLOT_F_DEVICE | MEMSLOT_F_SHARED)

/* Guest and host physical addresses must lie below 2^MEMSLOT_PA_BITS. */
#define MEMSLOT_PA_BITS 52
#define MEMSLOT_MAX_DEFAULT 32768u

struct memslot {
    u64 gfn;      /* first guest frame */
    u64 npages;   /* number of 4 KiB frames, > 0 */
    u64 hfn;      /* first host frame */
    u32 id;
    u32 flags;    /* MEMSLOT_F_* */
};

struct memslot_set {
    u64 generation;          /* even; unique per published set of a partition */
    u32 nr;                  /* slots in use */
    u32 pad;
    struct memslot slot[];   /* nr slots, sorted by gfn, non-overlapping */
};

static inline u64 memslot_set_bytes(u32 nr)
{
    return sizeof(struct memslot_set) + (u64)nr * sizeof(struct memslot);
}

enum memslot_err {
    MEMSLOT_OK = 0,
    MEMSLOT_E_ALIGN = 1,     /* guest/host address or size not page aligned */
    MEMSLOT_E_ZERO = 2,      /* zero-sized range */
    MEMSLOT_E_OVERFLOW = 3,  /* range wraps or goes past 2^MEMSLOT_PA_BITS */
    MEMSLOT_E_OVERLAP = 4,   /* guest range overlaps another slot */
    MEMSLOT_E_LIMIT = 5,     /* partition slot limit reached */
    MEMSLOT_E_NOENT = 6,     /* no slot with that id */
    MEMSLOT_E_EXIST = 7,     /* a slot with that id already exists */
    MEMSLOT_E_FLAGS = 8,     /* unknown flag bits */
    MEMSLOT_E_NOMEM = 9,     /* allocation failed; nothing changed */
};

const char *memslot_strerror(int err);

/* Hooks for what the partition code (or a host test) provides. */
struct memslot_ops {
    void *(*alloc)(void *ctx, size_t bytes);
    void (*free)(void *ctx, void *p, size_t bytes);
    /* Remove the stage-2 mappings of [gpa, gpa+size) and flush the TLBs of
     * every CPU that runs the partition. May be NULL (nothing mapped yet). */
    void (*unmap)(void *ctx, u64 gpa, u64 size);
    /* Map slot m in the second stage before the set holding it is published
     * (create, move, flag change). Returns MEMSLOT_OK, or an error with
     * nothing left mapped; re-mapping a range just unmapped must succeed.
     * May be NULL (second stage built later from the slots). */
    int (*map)(void *ctx, const struct memslot *m);
    /* Wait for a grace period. NULL: epoch_synchronize(part->epoch); with
     * no epoch domain either, no concurrent readers are assumed. */
    void (*synchronize)(void *ctx);
};

struct memslot_part {
    struct memslot_set *set;     /* published set; NULL when empty */
    u64 gen;                     /* even = stable, odd = update in progress */
    u32 lock;                    /* writer lock (epoch_lock_quiescent) */
    u32 max_slots;
    struct epoch_domain *epoch;
    const struct memslot_ops *ops;
    void *ctx;
};

/* Per-vCPU last-hit hint, owned by the vCPU (never shared). */
struct memslot_hint {
    u64 gen;      /* generation of the set idx refers to; 0 = empty */
    u32 idx;
    u32 pad;
};

void memslot_part_init(struct memslot_part *p, struct epoch_domain *epoch,
                       const struct memslot_ops *ops, void *ctx, u32 max_slots);
/* Free the set. Only when no CPU can still look the partition up. */
void memslot_part_destroy(struct memslot_part *p);

/* Read side. Call between epoch_read_lock/unlock (checked in debug builds).
 * Returns the slot holding gpa, or NULL for a gap. hint may be NULL. */
const struct memslot *memslot_lookup(struct memslot_part *p, struct memslot_hint *hint, u64 gpa);
/* Same on a set the caller already loaded (a set of one consistent moment). */
const struct memslot *memslot_set_find(const struct memslot_set *s, u64 gfn);
/* The current set (may be NULL); same rules as memslot_lookup. */
static inline const struct memslot_set *memslot_current(struct memslot_part *p)
{
    return __atomic_load_n(&p->set, __ATOMIC_ACQUIRE);
}
static inline u64 memslot_generation(struct memslot_part *p)
{
    return __atomic_load_n(&p->gen, __ATOMIC_ACQUIRE);
}

/* Write side: each takes the partition writer lock and must be called from
 * hypervisor context outside any read-side section. Return MEMSLOT_OK or a
 * MEMSLOT_E_* code; on error nothing changed. */
int memslot_create(struct memslot_part *p, u32 id, u64 gpa, u64 size, u64 hpa, u32 flags);
int memslot_delete(struct memslot_part *p, u32 id);
/* Move slot id to guest address gpa (same size, same host frames). */
int memslot_move(struct memslot_part *p, u32 id, u64 gpa);
int memslot_set_flags(struct memslot_part *p, u32 id, u32 flags);

/* Bytes the partition's map costs now: the part plus its published set. */
u64 memslot_part_bytes(struct memslot_part *p);

#endif
