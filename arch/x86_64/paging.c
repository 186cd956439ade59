/* The hypervisor's own page tables: identity map of every memory-map range
 * (write-back) and of the 32-bit MMIO hole (uncached), 2 MiB pages, except
 * the 2 MiB regions that hold the hypervisor image, which use 4 KiB pages:
 * text read-only+executable, rodata read-only, data/bss read-write. Nothing
 * is mapped both writable and executable. */
#include "x86.h"
#include "../../hv/console.h"
#include "../../hv/string.h"
#include "../../mm/frame.h"

#define PTE_P (1ULL << 0)
#define PTE_W (1ULL << 1)
#define PTE_PWT (1ULL << 3)
#define PTE_PCD (1ULL << 4)
#define PTE_PS (1ULL << 7)
#define PTE_NX_BIT (1ULL << 63)
#define ADDR_MASK 0x000ffffffffff000ULL

static u64 pte_nx;
static u64 *pml4;
static u64 mapped_limit;

static u64 *new_table(void)
{
    u64 p = frame_alloc_below(1, GiB(4));
    if (!p)
        return NULL;
    return (u64 *)(uintptr_t)p;
}

static u64 *next_level(u64 *table, unsigned idx)
{
    if (!(table[idx] & PTE_P)) {
        u64 *t = new_table();
        if (!t)
            return NULL;
        table[idx] = (u64)(uintptr_t)t | PTE_P | PTE_W;
    }
    return (u64 *)(uintptr_t)(table[idx] & ADDR_MASK);
}

static bool map_page(u64 va, u64 flags, bool large)
{
    u64 *pdpt = next_level(pml4, (va >> 39) & 511);
    if (!pdpt)
        return false;
    u64 *pd = next_level(pdpt, (va >> 30) & 511);
    if (!pd)
        return false;
    if (large) {
        pd[(va >> 21) & 511] = va | flags | PTE_PS | PTE_P;
        return true;
    }
    u64 *pt = next_level(pd, (va >> 21) & 511);
    if (!pt)
        return false;
    pt[(va >> 12) & 511] = va | flags | PTE_P;
    return true;
}

static bool in_memory_map(const struct boot_info *bi, u64 base, u64 size)
{
    for (u32 i = 0; i < bi->nmem; i++) {
        const struct mem_range *m = &bi->mem[i];
        if (m->base < base + size && base < m->base + m->size)
            return true;
    }
    return false;
}

static u64 image_page_flags(u64 pa)
{
    u64 ts = (u64)(uintptr_t)__text_start, te = (u64)(uintptr_t)__text_end;
    u64 rs = (u64)(uintptr_t)__rodata_start, ds = (u64)(uintptr_t)__data_start;
    if (pa >= ALIGN_DOWN(ts, PAGE_SIZE) && pa < ALIGN_UP(te, PAGE_SIZE))
        return 0; /* read-only, executable */
    if (pa >= rs && pa < ds)
        return pte_nx; /* read-only data (and the multiboot2 header page) */
    if (pa < (u64)(uintptr_t)__image_start || pa >= (u64)(uintptr_t)__image_end)
        return PTE_W | pte_nx;
    if (pa < ts)
        return pte_nx;
    return PTE_W | pte_nx;
}

void x86_paging_init(const struct boot_info *bi)
{
    u32 a, b, c, d;
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    pte_nx = (d & (1u << 20)) ? PTE_NX_BIT : 0;
    if (!pte_nx)
        printk("bulkhead: warning: CPU has no NX bit; data pages stay executable\n");

    u64 top = GiB(4);
    for (u32 i = 0; i < bi->nmem; i++) {
        u64 e = bi->mem[i].base + bi->mem[i].size;
        if (e > top && e <= (1ULL << 46))
            top = e;
    }
    top = ALIGN_UP(top, MiB(2));

    pml4 = new_table();
    if (!pml4)
        goto oom;
    u64 img_lo = ALIGN_DOWN((u64)(uintptr_t)__image_start, MiB(2));
    u64 img_hi = ALIGN_UP((u64)(uintptr_t)__image_end, MiB(2));
    for (u64 va = 0; va < top; va += MiB(2)) {
        bool ram = in_memory_map(bi, va, MiB(2));
        if (va >= GiB(4) && !ram)
            continue;
        if (va >= img_lo && va < img_hi) {
            for (u64 p = va; p < va + MiB(2); p += PAGE_SIZE)
                if (p != 0 && !map_page(p, image_page_flags(p), false))
                    goto oom;
            continue;
        }
        u64 flags = PTE_W | pte_nx;
        if (!ram)
            flags |= PTE_PCD | PTE_PWT; /* MMIO hole below 4 GiB */
        if (!map_page(va, flags, true))
            goto oom;
    }
    /* Page 0 stays unmapped so that NULL dereferences fault. */
    {
        u64 *pdpt = (u64 *)(uintptr_t)(pml4[0] & ADDR_MASK);
        u64 *pd = (u64 *)(uintptr_t)(pdpt[0] & ADDR_MASK);
        if (pd[0] & PTE_PS) {
            u64 flags = pd[0] & (PTE_W | PTE_PCD | PTE_PWT | pte_nx);
            pd[0] = 0;
            for (u64 p = PAGE_SIZE; p < MiB(2); p += PAGE_SIZE)
                if (!map_page(p, flags, false))
                    goto oom;
        }
    }
    mapped_limit = top;
    /* Memory the tables do not reach (above 2^46) must never be handed out. */
    if (frames_global())
        frame_reserve(frames_global(), top, UINT64_MAX - top);
    write_cr3((u64)(uintptr_t)pml4);
    return;
oom:
    printk("bulkhead: out of memory below 4 GiB while building page tables; staying on the "
           "boot tables\n");
}

bool x86_unmap_page(u64 va)
{
    if (!pml4 || (va & (PAGE_SIZE - 1)))
        return false;
    u64 *pdpt, *pd, *pt;
    if (!(pml4[(va >> 39) & 511] & PTE_P))
        return false;
    pdpt = (u64 *)(uintptr_t)(pml4[(va >> 39) & 511] & ADDR_MASK);
    u64 pdpte = pdpt[(va >> 30) & 511];
    if (!(pdpte & PTE_P) || (pdpte & PTE_PS))
        return false;
    pd = (u64 *)(uintptr_t)(pdpte & ADDR_MASK);
    u64 *pde = &pd[(va >> 21) & 511];
    if (!(*pde & PTE_P))
        return false;
    if (*pde & PTE_PS) {
        /* Split the 2 MiB page into 4 KiB pages with the same attributes. */
        u64 *t = new_table();
        if (!t)
            return false;
        u64 base = *pde & ADDR_MASK & ~(MiB(2) - 1);
        u64 flags = *pde & (PTE_W | PTE_PCD | PTE_PWT | pte_nx);
        for (u32 i = 0; i < 512; i++)
            t[i] = (base + (u64)i * PAGE_SIZE) | flags | PTE_P;
        *pde = (u64)(uintptr_t)t | PTE_P | PTE_W;
    }
    pt = (u64 *)(uintptr_t)(*pde & ADDR_MASK);
    pt[(va >> 12) & 511] = 0;
    __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory");
    return true;
}

u64 x86_paging_cr3(void)
{
    return (u64)(uintptr_t)pml4;
}

bool x86_phys_mapped(u64 pa, u64 len)
{
    u64 lim = mapped_limit ? mapped_limit : GiB(4);
    return pa >= PAGE_SIZE && pa < lim && len <= lim - pa;
}
