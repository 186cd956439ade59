/* EPT tables of one partition (4-level walk): building them from the memory
 * slots and the runtime map/clear of one slot's range. Table pages come from
 * alloc_page (frame_alloc in the hypervisor, the host heap in
 * test/unit/test_ept.c) and stay until ept_free. No locking here: the
 * caller serialises changes (vmx.c: before the partition runs, then under
 * the partition's memslot writer lock); leaves are stored atomically, and a
 * table is complete before it is linked, so a concurrent hardware walk sees
 * the old or the new entry, never a half-built table. */
#ifndef BULKHEAD_X86_EPT_H
#define BULKHEAD_X86_EPT_H

#include "../../hv/types.h"

#define EPT_R 1ULL
#define EPT_W 2ULL
#define EPT_X 4ULL
#define EPT_WB (6ULL << 3)
/* Pass-through device memory: type UC (0) and "ignore PAT", so the guest's
 * PAT cannot make device registers cacheable (SDM 29.3.7.2). */
#define EPT_UC_IPAT (1ULL << 6)
#define EPT_LARGE (1ULL << 7)
#define EPT_ADDR 0x000ffffffffff000ULL
#define EPT_MAX_TABLES 512

struct ept {
    u64 *pml4;
    bool has2m, has1g;         /* large pages the CPU supports */
    u64 (*alloc_page)(void);   /* a zeroed 4 KiB page, 0 when none is left */
    void (*free_page)(u64 pa);
    u32 tables;                /* pages used, to free them */
    u64 page[EPT_MAX_TABLES];
};

/* Allocate the top table: false when no page is left. */
bool ept_init(struct ept *e);
/* Map [gpa, gpa+size) -> hpa with the largest pages alignment allows,
 * splitting a large page in the way. False when table pages ran out: what
 * was installed stays (the caller clears the range). */
bool ept_map(struct ept *e, u64 gpa, u64 hpa, u64 size, u64 perm, u64 memtype);
/* Clear every leaf inside [gpa, gpa+size) (a large leaf the range covers
 * only partly is split first; if that cannot allocate, the whole large leaf
 * goes: a missing page faults, it never points anywhere wrong). */
void ept_clear(struct ept *e, u64 gpa, u64 size);
/* The leaf entry for gpa (0 when unmapped) and the size it maps. */
u64 ept_lookup(const struct ept *e, u64 gpa, u64 *size);
void ept_free(struct ept *e);

#endif
