/* Stage-2 translation for arm64 partitions, built from the partition's
 * memslots: 4 KiB granule, a walk starting at level 1 (IPA space of up to
 * 39 bits, less when the CPU's physical range is smaller), 1 GiB and 2 MiB
 * blocks wherever guest and host addresses and the size allow, 4 KiB pages
 * elsewhere. A read-only slot is mapped read-only, a slot without the
 * executable flag never-executable, a device slot Device-nGnRE; nothing
 * outside the slots is mapped, so every other access is a stage-2 fault
 * taken to EL2. Each partition has its own VMID; whenever its mappings
 * change, its TLB entries are invalidated on every CPU (TLBI VMALLS12E1IS
 * and DSB ISH). */
#include "arm64.h"
#include "vm.h"
#include "../../hv/console.h"
#include "../../hv/format.h"
#include "../../hv/string.h"
#include "../../mm/frame.h"

#define S2_VALID (1ULL << 0)
#define S2_TABLE (1ULL << 1)   /* table at levels 1-2, page at level 3 */
#define S2_MEM_NORMAL (0xfULL << 2)  /* Normal, inner and outer write-back */
#define S2_MEM_DEVICE (0x1ULL << 2)  /* Device-nGnRE */
#define S2_AP_RO (1ULL << 6)
#define S2_AP_RW (3ULL << 6)
#define S2_SH_INNER (3ULL << 8)
#define S2_AF (1ULL << 10)
#define S2_XN (2ULL << 53)     /* XN[1:0] = 0b10: not executable at EL1 or EL0 */
#define S2_ADDR 0x0000fffffffff000ULL

static u32 ipa_bits(void)
{
    static const u8 pa[] = { 32, 36, 40, 42, 44, 48, 52 };
    u32 r = sysreg_read(id_aa64mmfr0_el1) & 0xf;
    u32 bits = r < sizeof(pa) ? pa[r] : 48;
    return bits < 39 ? bits : 39;
}

u32 stage2_ipa_bits(void)
{
    return ipa_bits();
}

u64 stage2_vtcr(void)
{
    u32 r = sysreg_read(id_aa64mmfr0_el1) & 0xf;
    u64 ps = r > 5 ? 5 : r; /* 48-bit output at most: no 52-bit descriptors here */
    u64 t0sz = 64 - ipa_bits();
    return (1ULL << 31) | (ps << 16) | (0ULL << 14) /* TG0 4K */ | (3ULL << 12) /* SH0 inner */ |
           (1ULL << 10) /* ORGN0 WB */ | (1ULL << 8) /* IRGN0 WB */ | (1ULL << 6) /* SL0: level 1 */ |
           t0sz;
}

static u64 *new_table(struct a64_part *ap)
{
    if (ap->ntables >= ARRAY_SIZE(ap->tables))
        return NULL;
    u64 pa = frame_alloc(1);
    if (!pa)
        return NULL;
    memset((void *)(uintptr_t)pa, 0, PAGE_SIZE);
    ap->tables[ap->ntables++] = pa;
    return (u64 *)(uintptr_t)pa;
}

static void free_tables(struct a64_part *ap)
{
    for (u32 i = 0; i < ap->ntables; i++)
        frame_free(ap->tables[i], 1);
    ap->ntables = 0;
    ap->root = NULL;
}

/* Map one block (level 1: 1 GiB, level 2: 2 MiB) or page (level 3). */
static bool map_one(struct a64_part *ap, u64 ipa, u64 pa, int level, u64 attr)
{
    u64 *t = ap->root;
    for (int l = 1; l < level; l++) {
        unsigned idx = (ipa >> (39 - 9 * l)) & 511;
        if (!(t[idx] & S2_VALID)) {
            u64 *n = new_table(ap);
            if (!n)
                return false;
            t[idx] = (u64)(uintptr_t)n | S2_VALID | S2_TABLE;
        } else if (!(t[idx] & S2_TABLE)) {
            return false; /* a block is there already: slots never overlap */
        }
        t = (u64 *)(uintptr_t)(t[idx] & S2_ADDR);
    }
    unsigned idx = (ipa >> (39 - 9 * level)) & 511;
    t[idx] = pa | attr | S2_VALID | (level == 3 ? S2_TABLE : 0);
    return true;
}

static u32 mapped[4]; /* per level, for the last build (boot CPU only) */

static bool map_range(struct a64_part *ap, u64 ipa, u64 pa, u64 size, u64 attr)
{
    while (size) {
        int level = 3;
        if (IS_ALIGNED(ipa | pa, GiB(1)) && size >= GiB(1))
            level = 1;
        else if (IS_ALIGNED(ipa | pa, MiB(2)) && size >= MiB(2))
            level = 2;
        u64 step = 1ULL << (39 - 9 * level);
        if (!map_one(ap, ipa, pa, level, attr))
            return false;
        mapped[level]++;
        ipa += step;
        pa += step;
        size -= step;
    }
    return true;
}

static u64 slot_attr(u32 flags)
{
    u64 a = S2_AF | ((flags & MEMSLOT_F_RO) ? S2_AP_RO : S2_AP_RW);
    if (flags & MEMSLOT_F_DEVICE)
        a |= S2_MEM_DEVICE | S2_XN;
    else
        a |= S2_MEM_NORMAL | S2_SH_INNER;
    if (!(flags & MEMSLOT_F_EXEC))
        a |= S2_XN;
    return a;
}

bool stage2_build(struct partition *p, struct a64_part *ap, char *err, size_t len)
{
    free_tables(ap);
    ap->root = new_table(ap);
    if (!ap->root) {
        bh_snprintf(err, len, "out of memory for stage-2 tables");
        return false;
    }
    u64 limit = 1ULL << ipa_bits();
    memset(mapped, 0, sizeof(mapped));
    epoch_read_lock(hv_epoch());
    const struct memslot_set *s = memslot_current(&p->mem);
    u32 nslots = s ? s->nr : 0;
    bool ok = true;
    for (u32 i = 0; s && i < s->nr && ok; i++) {
        const struct memslot *m = &s->slot[i];
        u64 ipa = m->gfn << PAGE_SHIFT, size = m->npages << PAGE_SHIFT;
        if (ipa + size > limit) {
            bh_snprintf(err, len,
                        "guest range 0x%llx+0x%llx lies beyond the %u-bit guest-physical space "
                        "of this CPU's stage-2 tables",
                        (unsigned long long)ipa, (unsigned long long)size, ipa_bits());
            ok = false;
            break;
        }
        if (!map_range(ap, ipa, m->hfn << PAGE_SHIFT, size, slot_attr(m->flags))) {
            bh_snprintf(err, len, "out of memory for stage-2 tables");
            ok = false;
        }
    }
    epoch_read_unlock(hv_epoch());
    if (!ok) {
        free_tables(ap);
        return false;
    }
    ap->vttbr = ((u64)ap->vmid << 48) | (u64)(uintptr_t)ap->root;
    dsb(ishst);
    stage2_flush(ap);
    printk("partition %s: stage 2: VMID %u, %u-bit IPA, %u slot(s) as %u x 1 GiB + %u x 2 MiB + "
           "%u x 4 KiB, %u table pages\n",
           p->name, ap->vmid, ipa_bits(), nslots, mapped[1], mapped[2], mapped[3],
           ap->ntables);
    return true;
}

/* Invalidate the partition's stage-1 and stage-2 TLB entries on every CPU
 * in the inner-shareable domain. TLBI VMALLS12E1IS acts on the VMID in
 * VTTBR_EL2, so the partition's is put there for the duration. */
void stage2_flush(struct a64_part *ap)
{
    u64 daif = sysreg_read(daif);
    __asm__ volatile("msr daifset, #0xf" ::: "memory");
    u64 old = sysreg_read(vttbr_el2);
    sysreg_write(vttbr_el2, ap->vttbr);
    isb();
    dsb(ishst);
    __asm__ volatile("tlbi vmalls12e1is" ::: "memory");
    dsb(ish);
    isb();
    sysreg_write(vttbr_el2, old);
    isb();
    sysreg_write(daif, daif);
}

/* Clear every top-level entry: each vCPU of the partition takes a stage-2
 * translation fault at its next instruction fetch or access, and so comes
 * back to the hypervisor without an interrupt. */
void stage2_block(struct a64_part *ap)
{
    if (ap->blocked || !ap->root)
        return;
    memcpy(ap->root_saved, ap->root, sizeof(ap->root_saved));
    memset(ap->root, 0, PAGE_SIZE);
    ap->blocked = true;
    dsb(ishst);
    stage2_flush(ap);
}

void stage2_unblock(struct a64_part *ap)
{
    if (!ap->blocked)
        return;
    memcpy(ap->root, ap->root_saved, sizeof(ap->root_saved));
    ap->blocked = false;
    dsb(ishst);
    stage2_flush(ap);
}

bool stage2_lookup(struct a64_part *ap, u64 ipa, u64 *pa, u64 *desc)
{
    u64 *t = ap->root;
    for (int l = 1; t && l <= 3; l++) {
        u64 d = t[(ipa >> (39 - 9 * l)) & 511];
        if (!(d & S2_VALID))
            return false;
        if (l == 3 || !(d & S2_TABLE)) {
            u64 span = 1ULL << (39 - 9 * l);
            *pa = (d & S2_ADDR & ~(span - 1)) | (ipa & (span - 1));
            *desc = d;
            return true;
        }
        t = (u64 *)(uintptr_t)(d & S2_ADDR);
    }
    return false;
}

/* ------------------------------------------------------------ runtime changes
 *
 * Windows and pool ranges change while the partition runs (hv/window.c), under
 * its memslot writer lock. ap->lock keeps them apart from a partition-wide
 * stop (stage2_block keeps the top-level entries in root_saved then: changes
 * go there, and stage2_unblock brings them back). Table pages are kept until
 * the partition is destroyed, so mapping a range again never allocates. */

static u64 *top_table(struct a64_part *ap)
{
    return ap->blocked ? ap->root_saved : ap->root;
}

bool arch_runtime_maps(void)
{
    return true;
}

bool arch_guest_range_ok(struct partition *p, u64 gpa, u64 size)
{
    u64 limit = 1ULL << ipa_bits();
    if (size > limit || gpa > limit - size)
        return false;
    /* Never over the partition's emulated devices: a mapping there would
     * hide the virtual PL011 or the virtual GIC from their traps. */
    u64 gicr_size = (u64)p->cfg->ncpus * VGICR_STRIDE;
    if (gpa < VGICD_GPA + VGICD_SIZE && VGICD_GPA < gpa + size)
        return false;
    if (gpa < VGICR_GPA + gicr_size && VGICR_GPA < gpa + size)
        return false;
    return !(p->cfg->console && gpa < VPL011_GPA + VPL011_SIZE && VPL011_GPA < gpa + size);
}

int arch_stage2_map(struct partition *p, const struct memslot *m)
{
    struct a64_part *ap = p->arch;
    u64 ipa = m->gfn << PAGE_SHIFT, size = m->npages << PAGE_SHIFT;
    if (!arch_guest_range_ok(p, ipa, size))
        return MEMSLOT_E_OVERFLOW;
    spin_lock(&ap->lock);
    u64 *saved = ap->root;
    ap->root = top_table(ap);
    bool ok = map_range(ap, ipa, m->hfn << PAGE_SHIFT, size, slot_attr(m->flags));
    ap->root = saved;
    spin_unlock(&ap->lock);
    if (!ok) {
        arch_stage2_unmap(p, ipa, size);
        return MEMSLOT_E_NOMEM;
    }
    /* The entries were invalid before (no TLB holds a fault): making the new
     * ones visible to the table walkers of every CPU is enough. */
    dsb(ishst);
    return MEMSLOT_OK;
}

void arch_stage2_unmap(struct partition *p, u64 gpa, u64 size)
{
    struct a64_part *ap = p->arch;
    u64 end = gpa + size;
    spin_lock(&ap->lock);
    u64 ipa = gpa;
    while (ipa < end) {
        u64 *t = top_table(ap);
        u64 step = 1ULL << 30;
        for (int l = 1; l <= 3; l++) {
            step = 1ULL << (39 - 9 * l);
            u64 *e = &t[(ipa >> (39 - 9 * l)) & 511];
            if (!(*e & S2_VALID))
                break;
            if (l == 3 || !(*e & S2_TABLE)) {
                /* A leaf: slots map only their own blocks, so it lies inside
                 * the range. */
                __atomic_store_n(e, 0, __ATOMIC_RELAXED);
                break;
            }
            t = (u64 *)(uintptr_t)(*e & S2_ADDR);
        }
        ipa = (ipa & ~(step - 1)) + step;
    }
    /* Break: the cleared entries reach the walkers, then every CPU's TLB
     * entries of this VMID go (TLBI VMALLS12E1IS; DSB ISH waits for it on
     * all CPUs of the inner-shareable domain). */
    dsb(ishst);
    if (ap->vttbr)
        stage2_flush(ap);
    spin_unlock(&ap->lock);
}
