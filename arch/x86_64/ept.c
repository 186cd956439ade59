/* EPT tables of one partition: see ept.h. */
#include "ept.h"

static u64 *new_table(struct ept *e)
{
    if (e->tables >= EPT_MAX_TABLES)
        return NULL;
    u64 pa = e->alloc_page();
    if (!pa)
        return NULL;
    e->page[e->tables++] = pa;
    return (u64 *)(uintptr_t)pa;
}

bool ept_init(struct ept *e)
{
    e->tables = 0;
    e->pml4 = new_table(e);
    return e->pml4 != NULL;
}

static void set_entry(u64 *slot, u64 v)
{
    __atomic_store_n(slot, v, __ATOMIC_RELEASE);
}

/* One leaf at level (0: 4 KiB, 1: 2 MiB, 2: 1 GiB), creating tables and
 * splitting large leaves on the way down. */
static bool map_one(struct ept *e, u64 gpa, u64 hpa, int level, u64 perm, u64 memtype)
{
    u64 *t = e->pml4;
    for (int l = 3; l > level; l--) {
        unsigned idx = (gpa >> (12 + 9 * l)) & 511;
        u64 cur = t[idx];
        if (!(cur & 7)) {
            u64 *n = new_table(e);
            if (!n)
                return false;
            set_entry(&t[idx], (u64)(uintptr_t)n | EPT_R | EPT_W | EPT_X);
        } else if (cur & EPT_LARGE) {
            /* 512 entries of the next size with the same attributes; the
             * table is complete before it replaces the large leaf. */
            u64 *n = new_table(e);
            if (!n)
                return false;
            u64 sub = 1ULL << (12 + 9 * (l - 1));
            u64 attr = cur & ~EPT_ADDR;
            if (l - 1 == 0)
                attr &= ~EPT_LARGE;
            for (unsigned i = 0; i < 512; i++)
                n[i] = ((cur & EPT_ADDR) + i * sub) | attr;
            set_entry(&t[idx], (u64)(uintptr_t)n | EPT_R | EPT_W | EPT_X);
        }
        t = (u64 *)(uintptr_t)(t[idx] & EPT_ADDR);
    }
    unsigned idx = (gpa >> (12 + 9 * level)) & 511;
    u64 v = perm ? (hpa | perm | memtype | (level > 0 ? EPT_LARGE : 0)) : 0;
    set_entry(&t[idx], v);
    return true;
}

bool ept_map(struct ept *e, u64 gpa, u64 hpa, u64 size, u64 perm, u64 memtype)
{
    while (size) {
        int level = 0;
        if (e->has1g && IS_ALIGNED(gpa | hpa, GiB(1)) && size >= GiB(1))
            level = 2;
        else if (e->has2m && IS_ALIGNED(gpa | hpa, MiB(2)) && size >= MiB(2))
            level = 1;
        u64 step = 1ULL << (12 + 9 * level);
        if (!map_one(e, gpa, hpa, level, perm, memtype))
            return false;
        gpa += step;
        hpa += step;
        size -= step;
    }
    return true;
}

void ept_clear(struct ept *e, u64 gpa, u64 size)
{
    if (!e->pml4)
        return;
    u64 end = gpa + size;
    while (gpa < end) {
        u64 *t = e->pml4;
        u64 step = 0;
        for (int l = 3; l >= 0; l--) {
            step = 1ULL << (12 + 9 * l);
            u64 *ent = &t[(gpa >> (12 + 9 * l)) & 511];
            if (!(*ent & 7))
                break;
            if (l == 0 || (*ent & EPT_LARGE)) {
                if (l > 0 && (!IS_ALIGNED(gpa, step) || end - gpa < step) &&
                    map_one(e, gpa, 0, 0, 0, 0)) {
                    step = PAGE_SIZE; /* split; its 4 KiB entry is now clear */
                    break;
                }
                set_entry(ent, 0);
                break;
            }
            t = (u64 *)(uintptr_t)(*ent & EPT_ADDR);
        }
        gpa = (gpa & ~(step - 1)) + step;
    }
}

u64 ept_lookup(const struct ept *e, u64 gpa, u64 *size)
{
    const u64 *t = e->pml4;
    for (int l = 3; t && l >= 0; l--) {
        u64 v = t[(gpa >> (12 + 9 * l)) & 511];
        if (!(v & 7))
            return 0;
        if (l == 0 || (v & EPT_LARGE)) {
            if (size)
                *size = 1ULL << (12 + 9 * l);
            return v;
        }
        t = (const u64 *)(uintptr_t)(v & EPT_ADDR);
    }
    return 0;
}

void ept_free(struct ept *e)
{
    for (u32 i = 0; i < e->tables; i++)
        e->free_page(e->page[i]);
    e->tables = 0;
    e->pml4 = NULL;
}
