/* Physical frame allocator: a sorted list of free page ranges built from the
 * boot memory map minus every reserved range (the hypervisor image, boot
 * modules, the boot loader's information, firmware-reserved memory, page 0).
 * It never hands out a frame that was not usable at boot. */
#ifndef BULKHEAD_FRAME_H
#define BULKHEAD_FRAME_H

#include "../hv/boot_info.h"

#define FRAME_MAX_RANGES 256

struct frame_range {
    u64 base; /* page aligned */
    u64 end;  /* exclusive, page aligned */
};

struct frame_alloc {
    u32 n;
    struct frame_range r[FRAME_MAX_RANGES];
    u64 free_bytes;
    u64 total_bytes; /* free bytes right after init */
};

enum frame_err {
    FRAME_OK = 0,
    FRAME_E_NOMEM = 1,     /* no usable memory after reservations */
    FRAME_E_TOOMANY = 2,   /* memory map too fragmented for the range table */
};

/* Build from bi. Returns FRAME_OK or an error, with a message in err. */
int frame_init(struct frame_alloc *fa, const struct boot_info *bi, char *err, size_t errlen);
/* Allocate npages contiguous frames aligned to align bytes (power of two,
 * at least a page), entirely below limit (0 = no limit). Returns the physical
 * address or 0 when nothing fits (page 0 is never handed out). */
u64 frame_alloc_range(struct frame_alloc *fa, u64 npages, u64 align, u64 limit);
/* Give back frames. Returns false (and changes nothing) for a range that is
 * misaligned or overlaps free memory (a double free). */
bool frame_free_range(struct frame_alloc *fa, u64 base, u64 npages);
/* Take exactly [base, base + npages pages) out of the free list, but only if
 * all of it is free right now (a pinned partition range must not alias
 * memory already handed out). Returns false and changes nothing otherwise. */
bool frame_claim_range(struct frame_alloc *fa, u64 base, u64 npages);
/* Remove [base, base+size) from the free list if it is there (for ranges
 * found reserved after init). */
void frame_reserve(struct frame_alloc *fa, u64 base, u64 size);

/* The hypervisor's own allocator (locked). */
void frames_init_global(struct frame_alloc *fa);
u64 frame_alloc(u64 npages);
u64 frame_alloc_below(u64 npages, u64 limit);
/* Locked, aligned, not zeroed (the caller decides). */
u64 frame_alloc_aligned(u64 npages, u64 align);
void frame_free(u64 base, u64 npages);
bool frame_claim(u64 base, u64 npages); /* locked frame_claim_range on the global allocator */
struct frame_alloc *frames_global(void);

#endif
