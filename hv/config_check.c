/* Partition configuration: validation against the machine, and the summary
 * of what would be created. */
#include "config.h"
#include "config_int.h"
#include "format.h"
#include "string.h"

#define X86_VIOAPIC_PINS 24u    /* a partition's virtual I/O APIC (arch/x86_64/vioapic.h) */
#define ARM64_SPI_FIRST 32u     /* shared peripheral interrupts on arm64 (GICv3) */
#define ARM64_SPI_LAST 1019u

struct vctx {
    struct config *cfg;
    const struct boot_info *bi;
    struct cfg_errlist *el;
    u32 errors;
};

static void verr(struct vctx *v, int node, const char *prop, const char *fmt, ...) __printf(4, 5);
static void verr(struct vctx *v, int node, const char *prop, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_verr(v->el, &v->cfg->fdt, node, prop, fmt, ap);
    va_end(ap);
    v->errors++;
}

static bool overlaps(u64 a, u64 as, u64 b, u64 bs)
{
    if (!as || !bs)
        return false;
    return a >= b ? a - b < bs : b - a < as;
}

static unsigned long long last(u64 base, u64 size)
{
    return (unsigned long long)(base + size - 1);
}

static void path_of(struct vctx *v, int node, char *buf, size_t size)
{
    fdt_node_path(&v->cfg->fdt, node, buf, size);
}

/* Is [base, base+size) entirely usable RAM (possibly across adjacent entries)? */
static bool in_usable_ram(const struct boot_info *bi, u64 base, u64 size)
{
    u64 cur = base, end = base + size;
    for (u32 iter = 0; iter <= bi->nmem; iter++) {
        bool found = false;
        for (u32 i = 0; i < bi->nmem; i++) {
            const struct mem_range *m = &bi->mem[i];
            if (m->type == MEM_USABLE && cur >= m->base && cur - m->base < m->size) {
                cur = m->base + m->size;
                found = true;
                break;
            }
        }
        if (!found)
            return false;
        if (cur >= end || cur == 0)
            return true;
    }
    return false;
}

static bool touches_usable_ram(const struct boot_info *bi, u64 base, u64 size)
{
    for (u32 i = 0; i < bi->nmem; i++)
        if (bi->mem[i].type == MEM_USABLE && overlaps(base, size, bi->mem[i].base, bi->mem[i].size))
            return true;
    return false;
}

/* Reserved entries that just describe a module are reported as the module. */
static bool rsv_is_module(const struct boot_info *bi, const struct mem_range *r)
{
    if (r->what && strncmp(r->what, "module", 6) == 0)
        return true;
    for (u32 i = 0; i < bi->nmod; i++)
        if (bi->mod[i].base == r->base && bi->mod[i].size == r->size)
            return true;
    return false;
}

/* A host-physical range the configuration pins: must not touch the
 * hypervisor, a module or a reserved range. Returns false if it does. */
static bool check_host_clear(struct vctx *v, int node, const char *prop, u64 base, u64 size,
                             const char *what)
{
    const struct boot_info *bi = v->bi;
    bool ok = true;
    for (u32 i = 0; i < bi->nmod; i++) {
        const struct boot_module *m = &bi->mod[i];
        if (overlaps(base, size, m->base, m->size)) {
            verr(v, node, prop, "%s 0x%llx-0x%llx overlaps boot module '%s' at 0x%llx-0x%llx", what,
                 (unsigned long long)base, last(base, size), m->name,
                 (unsigned long long)m->base, last(m->base, m->size));
            ok = false;
        }
    }
    for (u32 i = 0; i < bi->nrsv; i++) {
        const struct mem_range *r = &bi->rsv[i];
        if (rsv_is_module(bi, r) || !overlaps(base, size, r->base, r->size))
            continue;
        /* A range holding modules (the arm64 initrd): a module it holds that
         * overlaps was reported above. */
        bool reported = false;
        for (u32 k = 0; k < bi->nmod && !reported; k++) {
            const struct boot_module *m = &bi->mod[k];
            reported = overlaps(base, size, m->base, m->size) && m->base >= r->base &&
                       m->base - r->base <= r->size && m->size <= r->size - (m->base - r->base);
        }
        if (reported)
            continue;
        verr(v, node, prop, "%s 0x%llx-0x%llx overlaps %s at 0x%llx-0x%llx", what,
             (unsigned long long)base, last(base, size), r->what ? r->what : "a reserved range",
             (unsigned long long)r->base, last(r->base, r->size));
        ok = false;
    }
    return ok;
}

/* ------------------------------------------------------------ host memory */

struct host_range {
    u64 base, size;
    int node;
};

/* The k-th host range the configuration pins (partition regions first, then
 * channels); false past the last. Enumerated rather than collected to keep
 * the hypervisor stack small. */
static bool fixed_range(const struct config *cfg, u32 k, struct host_range *out)
{
    for (u32 i = 0; i < cfg->npartitions; i++)
        for (u32 j = 0; j < cfg->partitions[i].nregions; j++) {
            const struct cfg_region *r = &cfg->partitions[i].regions[j];
            if (r->fixed && k-- == 0) {
                *out = (struct host_range){ r->host, r->size, r->node };
                return true;
            }
        }
    for (u32 i = 0; i < cfg->nchannels; i++) {
        const struct cfg_channel *c = &cfg->channels[i];
        if (c->fixed && c->size && k-- == 0) {
            *out = (struct host_range){ c->host, c->size, c->node };
            return true;
        }
    }
    return false;
}

static void check_fixed_memory(struct vctx *v)
{
    struct config *cfg = v->cfg;
    struct host_range a, b;
    char other[CFG_ERR_WHERE];

    for (u32 i = 0; fixed_range(cfg, i, &a); i++) {
        if (!check_host_clear(v, a.node, "host-address", a.base, a.size, "host range"))
            continue;
        if (!in_usable_ram(v->bi, a.base, a.size)) {
            verr(v, a.node, "host-address",
                 "host range 0x%llx-0x%llx is not usable RAM in the machine's memory map",
                 (unsigned long long)a.base, last(a.base, a.size));
            continue;
        }
        for (u32 j = 0; j < i && fixed_range(cfg, j, &b); j++)
            if (overlaps(a.base, a.size, b.base, b.size)) {
                path_of(v, b.node, other, sizeof(other));
                verr(v, a.node, "host-address",
                     "host range 0x%llx-0x%llx overlaps %s (host 0x%llx-0x%llx)",
                     (unsigned long long)a.base, last(a.base, a.size), other,
                     (unsigned long long)b.base, last(b.base, b.size));
                break;
            }
    }
}

/* Total memory asked for against what the machine has free for partitions. */
static void check_total_memory(struct vctx *v)
{
    const struct boot_info *bi = v->bi;
    struct config *cfg = v->cfg;
    u64 need = 0, avail = 0;
    for (u32 i = 0; i < cfg->npartitions; i++)
        for (u32 j = 0; j < cfg->partitions[i].nregions; j++)
            need += cfg->partitions[i].regions[j].size;
    for (u32 i = 0; i < cfg->npartitions; i++)
        need += cfg->partitions[i].pool_size;
    for (u32 i = 0; i < cfg->nchannels; i++)
        need += cfg->channels[i].size;
    for (u32 i = 0; i < bi->nmem; i++) {
        const struct mem_range *m = &bi->mem[i];
        if (m->type != MEM_USABLE)
            continue;
        u64 free = m->size;
        for (u32 k = 0; k < bi->nrsv; k++) {
            const struct mem_range *r = &bi->rsv[k];
            if (!overlaps(m->base, m->size, r->base, r->size))
                continue;
            u64 lo = MAX(m->base, r->base);
            u64 hi = MIN(m->base + m->size - 1, r->base + r->size - 1);
            u64 cut = hi - lo + 1;
            free = free > cut ? free - cut : 0;
        }
        avail += free;
    }
    if (need > avail) {
        char a[32], b[32];
        bh_format_size(a, sizeof(a), need);
        bh_format_size(b, sizeof(b), avail);
        verr(v, fdt_path(&cfg->fdt, "/partitions"), NULL,
             "partitions and channels need %s of memory but the machine has only %s free "
             "for them",
             a, b);
    }
}

/* ------------------------------------------------------------ guest space */

struct guest_range {
    u64 base, size;
    int node;
    const char *prop;
};

static void check_guest_space(struct vctx *v, u32 pi)
{
    struct config *cfg = v->cfg;
    const struct cfg_partition *pt = &cfg->partitions[pi];
    struct guest_range gr[CFG_MAX_REGIONS + CFG_MAX_MMIO + CFG_MAX_CHANNELS + 1];
    u32 n = 0;
    char other[CFG_ERR_WHERE];

    for (u32 j = 0; j < pt->nregions; j++)
        gr[n++] = (struct guest_range){ pt->regions[j].guest, pt->regions[j].size,
                                        pt->regions[j].node, "guest-address" };
    for (u32 j = 0; j < pt->nmmio; j++)
        gr[n++] = (struct guest_range){ pt->mmio[j].guest, pt->mmio[j].size, pt->mmio[j].node,
                                        "guest-address" };
    if (pt->pool_size)
        gr[n++] = (struct guest_range){ pt->pool_guest, pt->pool_size, pt->pool_node,
                                        "pool-address" };
    for (u32 c = 0; c < cfg->nchannels; c++) {
        const struct cfg_channel *ch = &cfg->channels[c];
        for (u32 m = 0; m < ch->nmembers; m++)
            if (ch->members[m].partition == pi && ch->size)
                gr[n++] = (struct guest_range){ ch->members[m].guest, ch->size,
                                                ch->members[m].node, "guest-address" };
    }
    u32 bits = v->bi->guest_phys_bits;
    if (bits && bits < 64) {
        u64 limit = 1ULL << bits;
        for (u32 i = 0; i < n; i++)
            if (gr[i].size > limit || gr[i].base > limit - gr[i].size)
                verr(v, gr[i].node, gr[i].prop,
                     "guest range 0x%llx-0x%llx is beyond the %u-bit guest-physical address space "
                     "this machine gives partitions (%s)",
                     (unsigned long long)gr[i].base, last(gr[i].base, gr[i].size), bits,
                     v->bi->arch && strcmp(v->bi->arch, "arm64") == 0 ? "the stage-2 input size"
                                                                      : "the EPT input size");
    }
    bool arm64_uart = v->bi->arch && strcmp(v->bi->arch, "arm64") == 0 && pt->console;
    for (u32 i = 0; arm64_uart && i < n; i++)
        if (overlaps(gr[i].base, gr[i].size, CFG_ARM64_VUART_GPA, PAGE_SIZE))
            verr(v, gr[i].node, gr[i].prop,
                 "guest range 0x%llx-0x%llx covers the virtual PL011 at 0x%llx that the "
                 "partition's console uses",
                 (unsigned long long)gr[i].base, last(gr[i].base, gr[i].size),
                 (unsigned long long)CFG_ARM64_VUART_GPA);
    /* x86: a pool is mapped at run time, where the EPT must stay clear of
     * the pages the hypervisor emulates (arch/x86_64/runtime_map.c refuses a
     * take there): say so before the partition starts. */
    bool x86 = v->bi->arch && strcmp(v->bi->arch, "x86_64") == 0;
    static const struct {
        u64 base, size;
        const char *what;
    } x86_dev[] = { { CFG_X86_LAPIC_GPA, PAGE_SIZE, "virtual local APIC" },
                    { CFG_X86_IOAPIC_GPA, PAGE_SIZE, "virtual I/O APIC" },
                    { CFG_X86_ACPI_GPA, CFG_X86_ACPI_SIZE, "ACPI tables" } };
    for (u32 d = 0; x86 && pt->pool_size && d < ARRAY_SIZE(x86_dev); d++)
        if (overlaps(pt->pool_guest, pt->pool_size, x86_dev[d].base, x86_dev[d].size))
            verr(v, pt->pool_node, "pool-address",
                 "guest range 0x%llx-0x%llx covers the partition's %s at 0x%llx-0x%llx",
                 (unsigned long long)pt->pool_guest, last(pt->pool_guest, pt->pool_size),
                 x86_dev[d].what, (unsigned long long)x86_dev[d].base,
                 last(x86_dev[d].base, x86_dev[d].size));
    /* A pass-through range there would hide the emulated device (its EPT
     * trap) or the ACPI tables the hypervisor writes into the guest. */
    for (u32 j = 0; x86 && j < pt->nmmio; j++) {
        const struct cfg_mmio *m = &pt->mmio[j];
        for (u32 d = 0; d < ARRAY_SIZE(x86_dev); d++)
            if (overlaps(m->guest, m->size, x86_dev[d].base, x86_dev[d].size)) {
                verr(v, m->node, "guest-address",
                     "guest range 0x%llx-0x%llx covers the partition's %s at 0x%llx-0x%llx",
                     (unsigned long long)m->guest, last(m->guest, m->size), x86_dev[d].what,
                     (unsigned long long)x86_dev[d].base, last(x86_dev[d].base, x86_dev[d].size));
                break;
            }
    }
    bool arm64 = v->bi->arch && strcmp(v->bi->arch, "arm64") == 0;
    u64 gicr_size = (u64)pt->ncpus * CFG_ARM64_VGICR_STRIDE;
    for (u32 i = 0; arm64 && i < n; i++) {
        if (overlaps(gr[i].base, gr[i].size, CFG_ARM64_VGICD_GPA, CFG_ARM64_VGICD_SIZE))
            verr(v, gr[i].node, gr[i].prop,
                 "guest range 0x%llx-0x%llx covers the virtual GIC distributor at 0x%llx-0x%llx",
                 (unsigned long long)gr[i].base, last(gr[i].base, gr[i].size),
                 (unsigned long long)CFG_ARM64_VGICD_GPA,
                 last(CFG_ARM64_VGICD_GPA, CFG_ARM64_VGICD_SIZE));
        else if (gicr_size &&
                 overlaps(gr[i].base, gr[i].size, CFG_ARM64_VGICR_GPA, gicr_size))
            verr(v, gr[i].node, gr[i].prop,
                 "guest range 0x%llx-0x%llx covers the virtual GIC redistributors at "
                 "0x%llx-0x%llx (128 KiB for each of the partition's %u vCPUs)",
                 (unsigned long long)gr[i].base, last(gr[i].base, gr[i].size),
                 (unsigned long long)CFG_ARM64_VGICR_GPA, last(CFG_ARM64_VGICR_GPA, gicr_size),
                 pt->ncpus);
    }
    for (u32 i = 0; i < n; i++)
        for (u32 j = 0; j < i; j++)
            if (overlaps(gr[i].base, gr[i].size, gr[j].base, gr[j].size)) {
                path_of(v, gr[j].node, other, sizeof(other));
                verr(v, gr[i].node, gr[i].prop,
                     "guest range 0x%llx-0x%llx overlaps %s (guest 0x%llx-0x%llx) in partition '%s'",
                     (unsigned long long)gr[i].base, last(gr[i].base, gr[i].size), other,
                     (unsigned long long)gr[j].base, last(gr[j].base, gr[j].size), pt->name);
                break;
            }
}

/* ------------------------------------------------------------ modules */

static void check_module(struct vctx *v, const struct cfg_partition *pt, const char *prop,
                         const char *name)
{
    const struct boot_info *bi = v->bi;
    if (!name[0])
        return;
    u32 count = 0;
    for (u32 i = 0; i < bi->nmod; i++)
        count += strcmp(bi->mod[i].name, name) == 0;
    if (count > 1) {
        verr(v, pt->node, prop, "boot module '%s' is loaded %u times (module names must be unique)",
             name, count);
        return;
    }
    if (count == 1)
        return;
    char list[150];
    size_t pos = 0;
    list[0] = 0;
    for (u32 i = 0; i < bi->nmod; i++) {
        int w = bh_snprintf(list + pos, sizeof(list) - pos, "%s%s", i ? ", " : "", bi->mod[i].name);
        if (w < 0 || (size_t)w >= sizeof(list) - pos)
            break;
        pos += (size_t)w;
    }
    verr(v, pt->node, prop, "no boot module named '%s' (%s%s)", name,
         bi->nmod ? "loaded: " : "no modules loaded", list);
}

/* The kernel (and ramdisk) must at least fit in the partition's memory:
 * the loaders copy them in whole. */
static void check_image_fit(struct vctx *v, const struct cfg_partition *pt)
{
    const struct boot_info *bi = v->bi;
    const struct boot_module *k = pt->kernel[0] ? bi_find_module(bi, pt->kernel) : NULL;
    const struct boot_module *r = pt->ramdisk[0] ? bi_find_module(bi, pt->ramdisk) : NULL;
    u64 ram = 0, need = (k ? k->size : 0) + (r ? r->size : 0);
    for (u32 j = 0; j < pt->nregions; j++)
        ram += pt->regions[j].size;
    if (!k || !ram || need <= ram)
        return;
    char a[32], b[32];
    bh_format_size(a, sizeof(a), need);
    bh_format_size(b, sizeof(b), ram);
    if (r)
        verr(v, pt->node, "kernel",
             "modules '%s' and '%s' take %s (%llu bytes), more than the partition's %s of memory",
             pt->kernel, pt->ramdisk, a, (unsigned long long)need, b);
    else
        verr(v, pt->node, "kernel",
             "module '%s' is %s (%llu bytes), more than the partition's %s of memory", pt->kernel,
             a, (unsigned long long)need, b);
}

/* ------------------------------------------------------------ devices */

static void check_devices(struct vctx *v, bool x86, bool arm64)
{
    struct config *cfg = v->cfg;
    const struct boot_info *bi = v->bi;
    char other[CFG_ERR_WHERE];

    for (u32 i = 0; i < cfg->npartitions; i++) {
        const struct cfg_partition *pt = &cfg->partitions[i];
        for (u32 j = 0; j < pt->nmmio; j++) {
            const struct cfg_mmio *m = &pt->mmio[j];
            if (!check_host_clear(v, m->node, "address", m->host, m->size, "device range"))
                continue;
            if (touches_usable_ram(bi, m->host, m->size)) {
                verr(v, m->node, "address",
                     "device range 0x%llx-0x%llx is RAM in the machine's memory map, not a device",
                     (unsigned long long)m->host, last(m->host, m->size));
                continue;
            }
            bool done = false;
            for (u32 k = 0; k <= i && !done; k++) {
                const struct cfg_partition *po = &cfg->partitions[k];
                u32 upto = k == i ? j : po->nmmio;
                for (u32 l = 0; l < upto && !done; l++) {
                    const struct cfg_mmio *o = &po->mmio[l];
                    if (!overlaps(m->host, m->size, o->host, o->size))
                        continue;
                    path_of(v, o->node, other, sizeof(other));
                    if (k == i)
                        verr(v, m->node, "address",
                             "device range 0x%llx-0x%llx overlaps %s in the same partition",
                             (unsigned long long)m->host, last(m->host, m->size), other);
                    else
                        verr(v, m->node, "address",
                             "device range 0x%llx-0x%llx is already passed through to partition "
                             "'%s' (%s)",
                             (unsigned long long)m->host, last(m->host, m->size), po->name, other);
                    done = true;
                }
            }
        }

        for (u32 j = 0; j < pt->nirqs; j++) {
            u32 irq = pt->irqs[j];
            if (x86 && !bi_ioapic_of(bi, irq)) {
                if (!bi->nioapics)
                    verr(v, pt->node, "interrupts",
                         "interrupt %u cannot be passed through: the machine has no I/O APIC",
                         irq);
                else
                    verr(v, pt->node, "interrupts",
                         "interrupt %u is not an input of the machine's I/O APIC%s (GSIs %u-%u%s)",
                         irq, bi->nioapics > 1 ? "s" : "", bi->ioapics[0].gsi_base,
                         bi->ioapics[0].gsi_base + bi->ioapics[0].npins - 1,
                         bi->nioapics > 1 ? " and more" : "");
                continue;
            }
            if (x86 && irq >= X86_VIOAPIC_PINS) {
                verr(v, pt->node, "interrupts",
                     "interrupt %u is beyond the partition's virtual I/O APIC (GSIs 0-%u)", irq,
                     X86_VIOAPIC_PINS - 1);
                continue;
            }
            bool kept = false;
            for (u32 r = 0; x86 && r < bi->nirq_rsv && !kept; r++)
                if (bi->irq_rsv[r].irq == irq) {
                    verr(v, pt->node, "interrupts",
                         "interrupt %u is %s: the hypervisor keeps it, it is never granted", irq,
                         bi->irq_rsv[r].what);
                    kept = true;
                }
            if (kept)
                continue;
            if (arm64 && (irq < ARM64_SPI_FIRST || irq > ARM64_SPI_LAST)) {
                verr(v, pt->node, "interrupts",
                     "interrupt %u is not a shared peripheral interrupt (arm64 SPIs are %u-%u)",
                     irq, ARM64_SPI_FIRST, ARM64_SPI_LAST);
                continue;
            }
            u32 bell = irq - CFG_ARM64_DOORBELL_INTID;
            if (arm64 && irq >= CFG_ARM64_DOORBELL_INTID && bell < cfg->nchannels) {
                const struct cfg_channel *ch = &cfg->channels[bell];
                bool member = false;
                for (u32 k = 0; k < ch->nmembers; k++)
                    member |= ch->members[k].partition == i;
                if (member) {
                    verr(v, pt->node, "interrupts",
                         "interrupt %u is the doorbell interrupt of channel '%s' in this "
                         "partition (arm64: INTID %u + channel index)",
                         irq, ch->name, CFG_ARM64_DOORBELL_INTID);
                    continue;
                }
            }
            for (u32 k = 0; k < i; k++) {
                const struct cfg_partition *po = &cfg->partitions[k];
                bool dup = false;
                for (u32 l = 0; l < po->nirqs; l++)
                    dup |= po->irqs[l] == irq;
                if (dup) {
                    verr(v, pt->node, "interrupts",
                         "interrupt %u is already assigned to partition '%s'", irq, po->name);
                    break;
                }
            }
        }

        if (pt->pmu && !arm64)
            verr(v, pt->node, "pmu", "PMU pass-through exists only on arm64 (this machine is %s)",
                 bi->arch ? bi->arch : "unknown");
        if (pt->nports && !x86) {
            verr(v, pt->node, "io-ports", "I/O ports exist only on x86_64 (this machine is %s)",
                 bi->arch ? bi->arch : "unknown");
            continue;
        }
        for (u32 j = 0; j < pt->nports; j++) {
            const struct cfg_ports *p = &pt->ports[j];
            bool refused = false;
            for (u32 r = 0; r < bi->nports_rsv && !refused; r++) {
                const struct port_range *pr = &bi->ports_rsv[r];
                if (!overlaps(p->base, p->count, pr->base, pr->count))
                    continue;
                verr(v, pt->node, "io-ports",
                     "ports 0x%x-0x%x include %s: the hypervisor keeps those ports, they are "
                     "never granted", p->base, p->base + p->count - 1, pr->what);
                refused = true;
            }
            /* The partition's own virtual devices. */
            if (!refused && pt->console && overlaps(p->base, p->count, CFG_X86_VUART_PORT, 8)) {
                verr(v, pt->node, "io-ports",
                     "ports 0x%x-0x%x overlap the partition's virtual 16550 UART at 0x%x-0x%x "
                     "(console is on)", p->base, p->base + p->count - 1, CFG_X86_VUART_PORT,
                     CFG_X86_VUART_PORT + 7);
                refused = true;
            }
            if (refused)
                continue;
            for (u32 k = 0; k < i; k++) {
                const struct cfg_partition *po = &cfg->partitions[k];
                bool dup = false;
                for (u32 l = 0; l < po->nports && !dup; l++)
                    dup = overlaps(p->base, p->count, po->ports[l].base, po->ports[l].count);
                if (dup) {
                    verr(v, pt->node, "io-ports",
                         "ports 0x%x-0x%x are already assigned to partition '%s'", p->base,
                         p->base + p->count - 1, po->name);
                    break;
                }
            }
        }
    }
}

/* ------------------------------------------------------------ validate */

u32 cfg_validate(struct config *cfg, const struct boot_info *bi, struct cfg_errlist *el)
{
    struct vctx v = { cfg, bi, el, 0 };
    int owner[CFG_MAX_CPUS];
    const char *arch = bi->arch ? bi->arch : "";
    bool x86 = strcmp(arch, "x86_64") == 0, arm64 = strcmp(arch, "arm64") == 0;

    if (cfg->arch[0] && arch[0] && strcmp(cfg->arch, arch) != 0)
        verr(&v, fdt_root(&cfg->fdt), "arch", "the configuration is for %s but this machine is %s",
             cfg->arch, arch);

    for (u32 i = 0; i < CFG_MAX_CPUS; i++)
        owner[i] = -1;
    for (u32 i = 0; i < cfg->npartitions; i++) {
        struct cfg_partition *pt = &cfg->partitions[i];
        for (u32 j = 0; j < pt->ncpus; j++) {
            u32 c = pt->cpus[j];
            if (c >= bi->ncpus) {
                if (bi->ncpus == 1)
                    verr(&v, pt->node, "cpus",
                         "CPU %u is not present (the machine has 1 CPU: index 0)", c);
                else if (bi->ncpus)
                    verr(&v, pt->node, "cpus",
                         "CPU %u is not present (the machine has %u CPUs: indexes 0-%u)", c,
                         bi->ncpus, bi->ncpus - 1);
                else
                    verr(&v, pt->node, "cpus", "CPU %u is not present (no CPUs are known)", c);
            } else if (owner[c] >= 0) {
                verr(&v, pt->node, "cpus", "CPU %u is already owned by partition '%s'", c,
                     cfg->partitions[owner[c]].name);
            } else {
                owner[c] = (int)i;
            }
        }

        if (pt->boot == CFG_BOOT_DEFAULT)
            pt->boot = arm64 ? CFG_BOOT_LINUX_IMAGE : CFG_BOOT_MULTIBOOT;
        if (x86 && pt->boot == CFG_BOOT_LINUX_IMAGE)
            verr(&v, pt->node, "boot-protocol",
                 "\"linux-image\" is the arm64 boot protocol (x86_64 partitions use "
                 "\"multiboot\" or \"pvh\")");
        if (arm64 && (pt->boot == CFG_BOOT_MULTIBOOT || pt->boot == CFG_BOOT_PVH))
            verr(&v, pt->node, "boot-protocol",
                 "\"%s\" is an x86_64 boot protocol (arm64 partitions use \"linux-image\")",
                 cfg_boot_protocol_name(pt->boot));

        if (pt->has_load_address) {
            bool inside = false;
            for (u32 j = 0; j < pt->nregions; j++)
                if (pt->load_address >= pt->regions[j].guest &&
                    pt->load_address - pt->regions[j].guest < pt->regions[j].size)
                    inside = true;
            if (x86)
                verr(&v, pt->node, "load-address",
                     "only for arm64 raw images (x86 images say where they load)");
            else if (!inside)
                verr(&v, pt->node, "load-address",
                     "0x%llx is not inside any memory region of partition '%s'",
                     (unsigned long long)pt->load_address, pt->name);
        }
        check_module(&v, pt, "kernel", pt->kernel);
        check_module(&v, pt, "ramdisk", pt->ramdisk);
        check_image_fit(&v, pt);
        if (pt->kernel[0] && strcmp(pt->kernel, pt->ramdisk) == 0)
            verr(&v, pt->node, "ramdisk", "'%s' is also the kernel module", pt->ramdisk);
        check_guest_space(&v, i);
    }
    check_devices(&v, x86, arm64);
    check_fixed_memory(&v);
    check_total_memory(&v);
    return v.errors;
}

/* ------------------------------------------------------------ summary */

void cfg_describe(const struct config *cfg, void (*emit)(void *ctx, const char *line), void *ctx)
{
    char line[CFG_CMDLINE_MAX * 4 + 64], sz[32];
    size_t pos;
#define ADD(...)                                                                          \
    do {                                                                                  \
        if (pos < sizeof(line)) {                                                         \
            int w_ = bh_snprintf(line + pos, sizeof(line) - pos, __VA_ARGS__);           \
            pos += w_ > 0 ? (size_t)w_ : 0;                                               \
        }                                                                                 \
    } while (0)

    pos = 0;
    ADD("%u partition%s, %u channel%s", cfg->npartitions, cfg->npartitions == 1 ? "" : "s",
        cfg->nchannels, cfg->nchannels == 1 ? "" : "s");
    emit(ctx, line);
    for (u32 i = 0; i < cfg->npartitions; i++) {
        const struct cfg_partition *pt = &cfg->partitions[i];
        u64 total = 0;
        for (u32 j = 0; j < pt->nregions; j++)
            total += pt->regions[j].size;
        bh_format_size(sz, sizeof(sz), total);
        pos = 0;
        ADD("partition %s: cpus ", pt->name);
        for (u32 j = 0; j < pt->ncpus; j++)
            ADD("%s%u", j ? "," : "", pt->cpus[j]);
        ADD("; memory %s; kernel %s (%s)", sz, pt->kernel, cfg_boot_protocol_name(pt->boot));
        if (pt->ramdisk[0])
            ADD("; ramdisk %s", pt->ramdisk);
        ADD("; console %s; ", pt->console ? "on" : "off");
        if (pt->pmu)
            ADD("pmu passed through; ");
        ADD("on fault ");
        if (pt->fault == CFG_FAULT_RESTART)
            ADD("restart (at most %u times)", pt->restart_limit);
        else
            ADD("halt");
        if (pt->outside_abort)
            ADD("; outside its memory: %s", pt->boot == CFG_BOOT_MULTIBOOT || pt->boot == CFG_BOOT_PVH
                                                ? "#GP(0) injected"
                                                : "external abort");
        emit(ctx, line);
        if (pt->cmdline[0]) {
            pos = 0;
            ADD("  cmdline: ");
            if (pos < sizeof(line))
                pos += bh_escape(line + pos, sizeof(line) - pos, pt->cmdline, sizeof(pt->cmdline));
            emit(ctx, line);
        }
        for (u32 j = 0; j < pt->nregions; j++) {
            const struct cfg_region *r = &pt->regions[j];
            bh_format_size(sz, sizeof(sz), r->size);
            pos = 0;
            ADD("  memory: guest 0x%llx-0x%llx (%s), host ", (unsigned long long)r->guest,
                last(r->guest, r->size), sz);
            if (r->fixed)
                ADD("fixed at 0x%llx", (unsigned long long)r->host);
            else
                ADD("allocated at boot");
            emit(ctx, line);
        }
        for (u32 j = 0; j < pt->nmmio; j++) {
            const struct cfg_mmio *m = &pt->mmio[j];
            pos = 0;
            ADD("  mmio: host 0x%llx-0x%llx at guest 0x%llx", (unsigned long long)m->host,
                last(m->host, m->size), (unsigned long long)m->guest);
            emit(ctx, line);
        }
        if (pt->nirqs) {
            pos = 0;
            ADD("  interrupts:");
            for (u32 j = 0; j < pt->nirqs; j++)
                ADD(" %u", pt->irqs[j]);
            emit(ctx, line);
        }
        if (pt->nports) {
            pos = 0;
            ADD("  io-ports:");
            for (u32 j = 0; j < pt->nports; j++)
                ADD(" 0x%x-0x%x", pt->ports[j].base, pt->ports[j].base + pt->ports[j].count - 1);
            emit(ctx, line);
        }
    }
    for (u32 i = 0; i < cfg->nchannels; i++) {
        const struct cfg_channel *ch = &cfg->channels[i];
        bh_format_size(sz, sizeof(sz), ch->size);
        pos = 0;
        ADD("channel %s: %s, host ", ch->name, sz);
        if (ch->fixed)
            ADD("fixed at 0x%llx", (unsigned long long)ch->host);
        else
            ADD("allocated at boot");
        ADD("; members:");
        for (u32 m = 0; m < ch->nmembers; m++) {
            const struct cfg_member *mb = &ch->members[m];
            ADD(" %s@0x%llx(%s)", cfg->partitions[mb->partition].name,
                (unsigned long long)mb->guest, mb->access == CFG_ACCESS_RW ? "rw" : "r");
        }
        emit(ctx, line);
    }
#undef ADD
}
