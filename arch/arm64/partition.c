/* arm64 partition hooks: a VMID and stage-2 tables per partition from its
 * memslots (arch_partition_prepare), and the Linux arm64 Image boot
 * protocol (arch_partition_load). The vCPUs run in vm.c. */
#include "arm64.h"
#include "vm.h"
#include "../../hv/format.h"
#include "../../hv/smp.h"
#include "../../hv/string.h"

static struct a64_part aparts[PART_MAX];

struct a64_part *a64_part_of(struct partition *p)
{
    return p->arch;
}

bool arch_partition_prepare(struct partition *p, char *err, size_t errlen)
{
    struct a64_part *ap = &aparts[p->index];
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
