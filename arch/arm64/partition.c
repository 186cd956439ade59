/* arm64 partition hooks: a VMID and stage-2 tables per partition from its
 * memslots (arch_partition_prepare), and the Linux arm64 Image boot
 * protocol (arch_partition_load). The vCPUs run in vm.c. */
#include "arm64.h"
#include "vm.h"
#include "../../hv/format.h"
#include "../../hv/smp.h"
#include "../../hv/string.h"
#include "../../boot/arm64/dt.h"

extern struct dt_platform arm64_plat;
extern uintptr_t arm64_uart;

static bool overlaps(u64 a, u64 as, u64 b, u64 bs)
{
    return as && bs && a < b + bs && b < a + as;
}

/* A pass-through range must not hand the partition anything the
 * hypervisor drives itself: the GIC distributor and redistributors, and
 * the console UART. */
static bool mmio_allowed(const struct cfg_mmio *m, char *err, size_t errlen)
{
    const char *what = NULL;
    u64 base = 0, size = 0;
    if (arm64_plat.have_gic && overlaps(m->host, m->size, arm64_plat.gicd_base, arm64_plat.gicd_size)) {
        what = "the GIC distributor";
        base = arm64_plat.gicd_base;
        size = arm64_plat.gicd_size;
    }
    for (u32 r = 0; !what && r < arm64_plat.ngicr; r++)
        if (overlaps(m->host, m->size, arm64_plat.gicr_base[r], arm64_plat.gicr_size[r])) {
            what = "the GIC redistributors";
            base = arm64_plat.gicr_base[r];
            size = arm64_plat.gicr_size[r];
        }
    if (!what && arm64_uart && overlaps(m->host, m->size, arm64_uart, PAGE_SIZE)) {
        what = "the hypervisor's console UART";
        base = arm64_uart;
        size = PAGE_SIZE;
    }
    if (!what)
        return true;
    bh_snprintf(err, errlen,
                "mmio range 0x%llx-0x%llx covers %s (0x%llx-0x%llx), which the hypervisor "
                "drives itself",
                (unsigned long long)m->host, (unsigned long long)(m->host + m->size - 1), what,
                (unsigned long long)base, (unsigned long long)(base + size - 1));
    return false;
}

static struct a64_part aparts[PART_MAX];

struct a64_part *a64_part_of(struct partition *p)
{
    return p->arch;
}

bool arch_partition_prepare(struct partition *p, char *err, size_t errlen)
{
    struct a64_part *ap = &aparts[p->index];
    for (u32 i = 0; i < p->cfg->nmmio; i++)
        if (!mmio_allowed(&p->cfg->mmio[i], err, errlen))
            return false;
    /* Pass-through SPIs: the virtual GIC has INTIDs up to VGIC_NIRQ - 1,
     * and the physical distributor must implement the SPI. */
    u32 lines = gic_spi_lines();
    for (u32 i = 0; i < p->cfg->nirqs; i++) {
        u32 intid = p->cfg->irqs[i];
        if (intid < 32 || intid >= VGIC_NIRQ || intid >= lines) {
            bh_snprintf(err, errlen,
                        "interrupt %u cannot be passed through: the virtual GIC has SPIs "
                        "32-%u and this machine's distributor SPIs 32-%u",
                        intid, VGIC_NIRQ - 1, lines - 1);
            return false;
        }
        if (intid == VPL011_INTID && p->cfg->console) {
            bh_snprintf(err, errlen,
                        "interrupt %u is the virtual PL011's (the partition's console is on)",
                        intid);
            return false;
        }
    }
    /* VTCR_EL2.VS stays 0: 8-bit VMIDs, whatever ID_AA64MMFR1_EL1 offers. */
    if (p->index + 1 > 0xffu) {
        bh_snprintf(err, errlen, "no VMID left for it");
        return false;
    }
    memset(ap, 0, sizeof(*ap));
    p->arch = ap;
    ap->vmid = (u16)(p->index + 1);
    ap->nvcpus = p->cfg->ncpus;
    for (u32 v = 0; v < ap->nvcpus; v++) {
        ap->vcpu[v].cpu = p->cfg->cpus[v];
        ap->vcpu[v].state = VCPU_OFF;
    }
    vpl011_reset(&ap->uart);
    u32 pcpus[CFG_MAX_CPUS];
    for (u32 v = 0; v < ap->nvcpus; v++)
        pcpus[v] = ap->vcpu[v].cpu;
    vgic_reset(&ap->vgic, ap->nvcpus, pcpus);
    return stage2_build(p, ap, err, errlen);
}

bool arch_partition_load(struct partition *p, char *err, size_t errlen)
{
    struct a64_part *ap = p->arch;
    if (!guest_image_load(p, ap, err, errlen))
        return false;
    spin_lock(&ap->uart_lock);
    vpl011_reset(&ap->uart);
    spin_unlock(&ap->uart_lock);
    return true;
}
