/* EL2 stage-1 page tables (VHE EL2&0 regime, 4 KiB granule, 48-bit VAs).
 *
 * TTBR1_EL2 maps the image at its link address HV_VBASE with per-section
 * permissions. TTBR0_EL2 identity-maps RAM (read-write, never executable),
 * device windows (Device-nGnRE, never executable), the device tree (read-only)
 * and the one idmap page that switches the MMU on (read-only, executable).
 * The image's own physical range is left out of the identity map, so no
 * page of it is reachable through a writable alias; SCTLR_EL2.WXN is set as
 * well, so the hardware itself forbids executing from any writable page.
 *
 * arm64_early_mmu() runs with the MMU off at the load address: everything it
 * touches is reached PC-relatively, and it uses no tables of pointers. */
#include "arm64.h"
#include "../../hv/string.h"

#define PT_POOL_PAGES 96
#define PTE_VALID (1ULL << 0)
#define PTE_TABLE (1ULL << 1) /* table at L0-2, page at L3 */
#define PTE_ATTR(i) ((u64)(i) << 2)
#define PTE_AP_RO (1ULL << 7)
#define PTE_SH_INNER (3ULL << 8)
#define PTE_AF (1ULL << 10)
#define PTE_PXN (1ULL << 53)
#define PTE_UXN (1ULL << 54)
#define PTE_ADDR_MASK 0x0000fffffffff000ULL

/* MAIR indexes. */
#define MAIR_NORMAL 0 /* Normal, inner/outer write-back, read/write-allocate */
#define MAIR_DEVICE 1 /* Device-nGnRE */
#define MAIR_VALUE (0xffULL | (0x04ULL << 8))

struct pt_state {
    u64 ttbr0, ttbr1; /* physical addresses of the two level-0 tables */
    u32 used;
    s64 virt_off;     /* pointer to a table = its PA + virt_off */
};

static u8 pt_pool[PT_POOL_PAGES][4096] __attribute__((aligned(4096)));
static struct pt_state pts;

u64 arm64_image_pa;
u64 arm64_image_size;
u64 arm64_dtb_mapped;
struct arm64_mmu_regs arm64_mmu;

extern char __image_start[], __image_end[], __text_start[], __text_end[];
extern char __rodata_start[], __rodata_end[], __data_start[], __data_end[];
extern char __idmap_start[], __idmap_end[];

/* The address of a symbol taken before the MMU is on is its load address,
 * not its link address. Passing it through an empty asm hides it from the
 * compiler, which would otherwise treat it as a link-time constant (clang
 * folds a global that only ever holds &pt_pool[0] into a flag, for one). */
static inline void *at_runtime(void *p)
{
    __asm__("" : "+r"(p));
    return p;
}

static u64 kind_bits(enum pt_kind k)
{
    u64 normal = PTE_AF | PTE_SH_INNER | PTE_ATTR(MAIR_NORMAL);
    if (k == PT_TEXT)
        return normal | PTE_AP_RO | PTE_UXN;
    if (k == PT_RO)
        return normal | PTE_AP_RO | PTE_UXN | PTE_PXN;
    if (k == PT_RW)
        return normal | PTE_UXN | PTE_PXN;
    return PTE_AF | PTE_ATTR(MAIR_DEVICE) | PTE_UXN | PTE_PXN;
}

static u64 *table_ptr(u64 pa)
{
    return (u64 *)(uintptr_t)(pa + (u64)pts.virt_off);
}

static u64 new_table(void)
{
    if (pts.used >= PT_POOL_PAGES)
        return 0;
    u8 *p = (u8 *)at_runtime(pt_pool) + 4096ULL * pts.used++;
    for (u32 i = 0; i < 4096 / 8; i++)
        ((volatile u64 *)p)[i] = 0;
    return (u64)(uintptr_t)p - (u64)pts.virt_off;
}

/* Map [va, va+size) to pa with the given leaf bits. Uses 1 GiB / 2 MiB blocks
 * where both addresses are aligned and nothing is mapped yet; descends into
 * existing tables; leaves anything already mapped as it is (callers map the
 * specific ranges first). */
static bool map_range(u64 root, u64 va, u64 pa, u64 size, u64 bits)
{
    while (size) {
        u64 table = root;
        for (int level = 0;; level++) {
            u32 shift = 39 - 9 * level;
            u64 span = 1ULL << shift;
            u64 *t = table_ptr(table);
            u32 idx = (u32)((va >> shift) & 511);
            u64 e = t[idx];
            u64 step = span - (va & (span - 1));
            if (step > size)
                step = size;
            if (level == 3) {
                if (!(e & PTE_VALID))
                    t[idx] = (pa & PTE_ADDR_MASK) | bits | PTE_VALID | PTE_TABLE;
                va += PAGE_SIZE;
                pa += PAGE_SIZE;
                size -= PAGE_SIZE;
                break;
            }
            if (e & PTE_VALID) {
                if (e & PTE_TABLE) {
                    table = e & PTE_ADDR_MASK;
                    continue;
                }
                /* Already mapped by a block: keep it. */
                va += step;
                pa += step;
                size -= step;
                break;
            }
            if (level >= 1 && step == span && IS_ALIGNED(pa, span)) {
                t[idx] = (pa & PTE_ADDR_MASK) | bits | PTE_VALID;
                va += span;
                pa += span;
                size -= span;
                break;
            }
            u64 nt = new_table();
            if (!nt)
                return false;
            t[idx] = nt | PTE_VALID | PTE_TABLE;
            table = nt;
        }
    }
    return true;
}

static bool map_image_part(char *start, char *end, u64 image_pa, enum pt_kind k)
{
    /* Addresses here are load (physical) addresses: the MMU is off. */
    start = at_runtime(start);
    end = at_runtime(end);
    u64 pa = (u64)(uintptr_t)start;
    u64 len = (u64)(end - start);
    if (!len)
        return true;
    return map_range(pts.ttbr1, HV_VBASE + (pa - image_pa), pa, len, kind_bits(k));
}

u64 arm64_early_mmu(u64 image_pa, u64 dtb_pa)
{
    u64 mmfr0 = sysreg_read(id_aa64mmfr0_el1);
    if (((mmfr0 >> 28) & 0xf) == 0xf)
        return EARLY_NO_4K;
    u64 parange = mmfr0 & 0xf;
    if (parange > 5)
        parange = 5; /* 48-bit output addresses are all we describe */

    pts.virt_off = 0;
    pts.used = 0;
    pts.ttbr0 = new_table();
    pts.ttbr1 = new_table();
    arm64_image_pa = image_pa;
    arm64_image_size = SYM_DIFF(at_runtime(__image_end), at_runtime(__image_start));

    if (!map_image_part(__text_start, __text_end, image_pa, PT_TEXT) ||
        !map_image_part(__rodata_start, __rodata_end, image_pa, PT_RO) ||
        !map_image_part(__data_start, __data_end, image_pa, PT_RW))
        return EARLY_PT_FULL;
    u64 idmap = (u64)(uintptr_t)at_runtime(__idmap_start);
    u64 idmap_end = (u64)(uintptr_t)at_runtime(__idmap_end);
    if (!map_range(pts.ttbr0, idmap, idmap, idmap_end - idmap,
                   kind_bits(PT_TEXT)))
        return EARLY_PT_FULL;

    /* The device tree, read-only, so the C code can parse it after the switch.
     * Its size comes from its own header, capped at the 2 MiB the Linux boot
     * protocol allows; the parser checks everything against what is mapped. */
    if (dtb_pa && IS_ALIGNED(dtb_pa, 8)) {
        const u8 *h = (const u8 *)(uintptr_t)dtb_pa;
        u32 magic = ((u32)h[0] << 24) | ((u32)h[1] << 16) | ((u32)h[2] << 8) | h[3];
        u32 total = ((u32)h[4] << 24) | ((u32)h[5] << 16) | ((u32)h[6] << 8) | h[7];
        u64 len = magic == 0xd00dfeed ? total : 0;
        if (len < 64)
            len = 64;
        if (len > MiB(2))
            len = MiB(2);
        u64 b = ALIGN_DOWN(dtb_pa, PAGE_SIZE);
        u64 e = ALIGN_UP(dtb_pa + len, PAGE_SIZE);
        /* Never map the image through the identity map. */
        if (e <= image_pa || b >= image_pa + arm64_image_size) {
            if (!map_range(pts.ttbr0, b, b, e - b, kind_bits(PT_RO)))
                return EARLY_PT_FULL;
            arm64_dtb_mapped = len;
        }
    }

    arm64_mmu.mair = MAIR_VALUE;
    arm64_mmu.tcr = 16ULL                 /* T0SZ: 48-bit lower range */
                    | (1ULL << 8)          /* IRGN0 write-back write-allocate */
                    | (1ULL << 10)         /* ORGN0 */
                    | (3ULL << 12)         /* SH0 inner shareable */
                    | (0ULL << 14)         /* TG0 4 KiB */
                    | (16ULL << 16)        /* T1SZ: 48-bit upper range */
                    | (1ULL << 24)         /* IRGN1 */
                    | (1ULL << 26)         /* ORGN1 */
                    | (3ULL << 28)         /* SH1 */
                    | (2ULL << 30)         /* TG1 4 KiB */
                    | (parange << 32);     /* IPS */
    arm64_mmu.ttbr0 = pts.ttbr0;
    arm64_mmu.ttbr1 = pts.ttbr1;
    arm64_mmu.sctlr = SCTLR_MMU_ON;
    return 0;
}

bool arm64_map_identity(u64 pa, u64 size, enum pt_kind kind)
{
    if (!size)
        return true;
    /* After the switch the pool is reached through the image mapping. */
    pts.virt_off = (s64)(HV_VBASE - arm64_image_pa);
    u64 b = ALIGN_DOWN(pa, PAGE_SIZE);
    u64 e = ALIGN_UP(pa + size, PAGE_SIZE);
    if (e < b)
        return false;
    bool ok = map_range(pts.ttbr0, b, b, e - b, kind_bits(kind));
    dsb(ishst);
    __asm__ volatile("tlbi alle2is" ::: "memory");
    dsb(ish);
    isb();
    return ok;
}

bool arm64_unmap_page(u64 va)
{
    pts.virt_off = (s64)(HV_VBASE - arm64_image_pa);
    u64 table = va >= HV_VBASE ? pts.ttbr1 : pts.ttbr0;
    if (va & (PAGE_SIZE - 1))
        return false;
    for (int level = 0; level < 3; level++) {
        u32 shift = 39 - 9 * level;
        u64 *t = table_ptr(table);
        u32 idx = (u32)((va >> shift) & 511);
        u64 e = t[idx];
        if (!(e & PTE_VALID))
            return false;
        if (!(e & PTE_TABLE)) {
            /* A block: split it into the next level with the same attributes. */
            u64 nt = new_table();
            if (!nt)
                return false;
            u64 child = 1ULL << (shift - 9);
            u64 base = e & PTE_ADDR_MASK & ~((1ULL << shift) - 1);
            u64 attrs = e & ~PTE_ADDR_MASK & ~PTE_TABLE;
            u64 *n = table_ptr(nt);
            for (u32 i = 0; i < 512; i++)
                n[i] = (base + i * child) | attrs | (level == 2 ? PTE_TABLE : 0);
            dsb(ishst);
            t[idx] = nt | PTE_VALID | PTE_TABLE;
            e = t[idx];
        }
        table = e & PTE_ADDR_MASK;
    }
    u64 *t = table_ptr(table);
    t[(va >> 12) & 511] = 0;
    dsb(ishst);
    __asm__ volatile("tlbi vae2is, %0" ::"r"(va >> 12) : "memory");
    dsb(ish);
    isb();
    return true;
}

u32 arm64_pt_pages_used(void)
{
    return pts.used;
}
