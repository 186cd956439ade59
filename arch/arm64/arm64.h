/* arm64 definitions shared by the assembly entry code and the C side. */
#ifndef BULKHEAD_ARM64_H
#define BULKHEAD_ARM64_H

/* Link address of the image (must match linker/arm64.ld). */
#define HV_VBASE 0xffffffffc0000000

/* HCR_EL2 */
#define HCR_RW (1 << 31)
#define HCR_E2H_SHIFT 34

/* SCTLR_EL2 in the E2H=1 (EL2&0, SCTLR_EL1-shaped) layout. */
#define SCTLR_M (1 << 0)
#define SCTLR_C (1 << 2)
#define SCTLR_SA (1 << 3)
#define SCTLR_I (1 << 12)
#define SCTLR_WXN (1 << 19)
/* RES1 bits of the SCTLR_EL1 layout when the features behind them are absent
 * (EOS, TSCXT, EIS, SPAN, nTLSMD, LSMAOE). */
#define SCTLR_RES1 ((1 << 11) | (1 << 20) | (1 << 22) | (1 << 23) | (1 << 28) | (1 << 29))
#define SCTLR_MMU_OFF SCTLR_RES1
#define SCTLR_MMU_ON (SCTLR_RES1 | SCTLR_M | SCTLR_C | SCTLR_SA | SCTLR_I | SCTLR_WXN)

/* Why the early code refuses to go on (arm64_early_refuse reason). */
#define EARLY_NOT_EL2 1
#define EARLY_NO_VHE 2
#define EARLY_NO_4K 3
#define EARLY_PT_FULL 4
#define EARLY_NO_DTB 5

/* Offsets in struct arm64_mmu_regs. */
#define MMU_MAIR 0
#define MMU_TCR 8
#define MMU_TTBR0 16
#define MMU_TTBR1 24
#define MMU_SCTLR 32

#ifndef __ASSEMBLY__
#include "../../hv/types.h"

struct arm64_mmu_regs {
    u64 mair, tcr, ttbr0, ttbr1, sctlr;
};

#define sysreg_read(r)                                          \
    ({                                                          \
        u64 _v;                                                 \
        __asm__ volatile("mrs %0, " #r : "=r"(_v));             \
        _v;                                                     \
    })
#define sysreg_write(r, v) __asm__ volatile("msr " #r ", %0" ::"r"((u64)(v)) : "memory")
#define isb() __asm__ volatile("isb" ::: "memory")
#define dsb(opt) __asm__ volatile("dsb " #opt ::: "memory")

/* Page-table attributes for arm64_map(). */
enum pt_kind {
    PT_TEXT,   /* read-only, executable at EL2 */
    PT_RO,     /* read-only, never executable */
    PT_RW,     /* read-write, never executable */
    PT_DEVICE, /* Device-nGnRE, read-write, never executable */
};

/* Physical address where the image was loaded; VA = PA + hv_virt_off for
 * anything inside the image. Everything outside the image is identity-mapped. */
extern u64 arm64_image_pa;
extern u64 arm64_image_size;
extern struct arm64_mmu_regs arm64_mmu;

static inline u64 hv_virt_to_phys(const void *p)
{
    return (u64)p - HV_VBASE + arm64_image_pa;
}

/* Pre-MMU: build the initial tables. Returns 0 or an EARLY_* reason. */
u64 arm64_early_mmu(u64 image_pa, u64 dtb_pa);
/* Identity-map [pa, pa+size) (rounded out to pages). False when out of tables. */
bool arm64_map_identity(u64 pa, u64 size, enum pt_kind kind);
/* Unmap the 4 KiB page at va (image or identity map), splitting a block
 * mapping if needed: a stack guard page. False when not mapped or out of tables. */
bool arm64_unmap_page(u64 va);
/* arch/arm64/stage2.c: the IPA size partitions get (at most 39 bits). */
u32 stage2_ipa_bits(void);
/* arch/arm64/stackguard.c: unmap va as the guard page of cpu's stack. */
bool arm64_stack_guard(u32 cpu, u64 va);
/* Bytes of the DTB that the early code mapped (0 if none). */
extern u64 arm64_dtb_mapped;
/* Table pages used / available (for the banner and tests of exhaustion). */
u32 arm64_pt_pages_used(void);

__noreturn void arm64_early_refuse(u64 reason, u64 dtb_pa, u64 detail);
#endif

#endif
