/* Pass-through interrupts on x86: the host I/O APIC driver and the glue
 * between a host input and the owning partition's virtual I/O APIC.
 *
 * GSI n given to a partition is pin n of its virtual I/O APIC (the MADT the
 * partition gets maps ISA IRQs 1:1 except IRQ 0 -> GSI 2). Its host pin is
 * programmed with host vector X86_PASSTHRU_VECTOR + n, fixed delivery in
 * physical mode to the CPU that runs the vCPU the guest's entry points at
 * (x86_vioapic_target_cpu, re-evaluated on every change of the entry), and
 * the guest's trigger mode and polarity. It is masked while the guest's
 * entry is masked, and for a level entry also from the host interrupt until
 * the guest's EOI: the device holds a level line until the guest services
 * it, so an unmasked host pin would interrupt again at once. After the EOI
 * the host pin is unmasked and interrupts again if the line is still
 * asserted.
 *
 * The interrupt reaches the hypervisor as an external-interrupt VM exit on
 * that CPU (acknowledged on exit); vmx.c hands the vector to
 * x86_passthru_irq before it EOIs the host LAPIC. The hypervisor itself
 * takes no device interrupt: x86_passthru_init masks every host pin.
 *
 * Lock order: a partition's I/O APIC lock (vmx.c), then `lock` here (the
 * host I/O APICs and the pin table). */
#include "passthru.h"
#include "vioapic.h"
#include "x86.h"
#include "../../hv/arch.h"
#include "../../hv/config.h"
#include "../../hv/console.h"
#include "../../hv/format.h"
#include "../../hv/partition.h"
#include "../../hv/spinlock.h"

#define RTE_MASKED (1ULL << 16)
#define RTE_LEVEL (1ULL << 15)
#define RTE_RIRR (1ULL << 14)
#define RTE_LOW_POL (1ULL << 13)
#define RTE_LOGICAL (1ULL << 11)

static const struct boot_info *pbi;
static spinlock_t lock;
static struct pt_pin {
    struct partition *owner;
    u64 base;     /* host I/O APIC registers */
    u32 idx;      /* input of that I/O APIC */
    u64 rte;      /* as last written */
    u32 cpu;      /* where its last interrupt arrived, +1 (0: none yet) */
} pins[VIOAPIC_PINS];

static void reg_write(u64 base, u32 reg, u32 val)
{
    mmio_write32(base, reg);
    mmio_write32(base + 0x10, val);
}

static u32 reg_read(u64 base, u32 reg)
{
    mmio_write32(base, reg);
    return mmio_read32(base + 0x10);
}

/* Masked while the destination changes, so a half-written entry never
 * delivers. Caller holds `lock`. */
static void write_rte(struct pt_pin *pp, u64 rte)
{
    reg_write(pp->base, 0x10 + 2 * pp->idx, (u32)rte | (u32)RTE_MASKED);
    reg_write(pp->base, 0x11 + 2 * pp->idx, (u32)(rte >> 32));
    if (!(rte & RTE_MASKED))
        reg_write(pp->base, 0x10 + 2 * pp->idx, (u32)rte);
    pp->rte = rte;
}

u32 x86_ioapic_pins(u64 base)
{
    u32 ver = reg_read(base, 1);
    if (ver == 0xffffffffu)
        return 0; /* nothing answers there */
    return ((ver >> 16) & 0xff) + 1;
}

static u64 apic_id_of(u32 cpu)
{
    return pbi && cpu < pbi->ncpus ? pbi->cpus[cpu].hwid : 0;
}

void x86_passthru_init(const struct boot_info *bi)
{
    pbi = bi;
    for (u32 i = 0; i < bi->nioapics; i++) {
        const struct ioapic_desc *io = &bi->ioapics[i];
        for (u32 n = 0; n < io->npins; n++) {
            reg_write(io->base, 0x10 + 2 * n, (u32)RTE_MASKED | X86_PASSTHRU_VECTOR);
            reg_write(io->base, 0x11 + 2 * n, 0);
        }
        printk("ioapic: I/O APIC %u at %#llx: GSIs %u-%u, all masked\n", io->id,
               (unsigned long long)io->base, io->gsi_base, io->gsi_base + io->npins - 1);
    }
}

bool x86_passthru_prepare(struct partition *p, char *err, size_t errlen)
{
    const struct cfg_partition *c = p->cfg;
    for (u32 i = 0; i < c->nirqs; i++) {
        u32 gsi = c->irqs[i];
        const struct ioapic_desc *io = pbi ? bi_ioapic_of(pbi, gsi) : NULL;
        /* cfg_validate refused these already; fail closed all the same. */
        if (!io || gsi >= VIOAPIC_PINS) {
            bh_snprintf(err, errlen, "interrupt %u: no I/O APIC input of this machine that the "
                                     "partition's virtual I/O APIC (pins 0-%u) can show", gsi,
                        VIOAPIC_PINS - 1);
            return false;
        }
        /* Any of the partition's CPUs may become the destination. */
        for (u32 k = 0; k < c->ncpus; k++)
            if (apic_id_of(c->cpus[k]) > 255) {
                bh_snprintf(err, errlen, "interrupt %u: CPU %u has APIC ID %llu, beyond the I/O "
                                         "APIC's 8-bit destination", gsi, c->cpus[k],
                            (unsigned long long)apic_id_of(c->cpus[k]));
                return false;
            }
        spin_lock(&lock);
        struct pt_pin *pp = &pins[gsi];
        struct partition *other = pp->owner && pp->owner != p ? pp->owner : NULL;
        if (!other) {
            pp->owner = p;
            pp->base = io->base;
            pp->idx = gsi - io->gsi_base;
            write_rte(pp, RTE_MASKED | (X86_PASSTHRU_VECTOR + gsi) |
                              (apic_id_of(c->cpus[0]) << 56));
        }
        spin_unlock(&lock);
        if (other) {
            bh_snprintf(err, errlen, "interrupt %u is already passed through to partition '%s'",
                        gsi, other->name);
            return false;
        }
    }
    return true;
}

void x86_passthru_reset(struct partition *p, struct vioapic *io)
{
    io->passthru = 0;
    spin_lock(&lock);
    for (u32 gsi = 0; gsi < VIOAPIC_PINS; gsi++)
        if (pins[gsi].owner == p) {
            io->passthru |= 1u << gsi;
            write_rte(&pins[gsi], pins[gsi].rte | RTE_MASKED);
        }
    spin_unlock(&lock);
}

/* vioapic.c, under p's I/O APIC lock: the guest's entry (or the pin's
 * state) changed; the host pin follows. */
void x86_vioapic_passthru_sync(void *owner, u32 pin, u64 rte, bool asserted)
{
    struct partition *p = owner;
    if (pin >= VIOAPIC_PINS || pins[pin].owner != p)
        return;
    u32 mode = (u32)(rte >> 8) & 7;
    bool level = rte & RTE_LEVEL;
    /* Delivery modes the virtual I/O APIC drops (SMI, INIT, ExtINT): masked. */
    bool masked = (rte & RTE_MASKED) || (mode != 0 && mode != 1 && mode != 4) ||
                  (level && ((rte & RTE_RIRR) || asserted));
    u32 cpu = x86_vioapic_target_cpu(p, (u32)(rte >> 56), rte & RTE_LOGICAL);
    if (apic_id_of(cpu) > 255) /* refused by prepare: never another CPU */
        cpu = p->cfg->cpus[0];
    u64 host = (X86_PASSTHRU_VECTOR + pin) | (rte & (RTE_LEVEL | RTE_LOW_POL)) |
               (masked ? RTE_MASKED : 0) | (apic_id_of(cpu) << 56);
    spin_lock(&lock);
    if (host != pins[pin].rte)
        write_rte(&pins[pin], host);
    spin_unlock(&lock);
}

void x86_passthru_irq(u32 info)
{
    u32 vec = info & 0xff;
    if (!(info & (1u << 31)) || vec < X86_PASSTHRU_VECTOR ||
        vec >= X86_PASSTHRU_VECTOR + VIOAPIC_PINS)
        return;
    u32 gsi = vec - X86_PASSTHRU_VECTOR;
    spin_lock(&lock);
    struct pt_pin *pp = &pins[gsi];
    struct partition *p = pp->owner;
    bool live = p && !__atomic_load_n(&p->stopped, __ATOMIC_ACQUIRE);
    u32 cpu = arch_cpu_index();
    bool moved = live && pp->cpu != cpu + 1, level = pp->rte & RTE_LEVEL;
    pp->cpu = cpu + 1;
    /* A level line stays asserted until the guest services the device: no
     * more interrupts from it until the guest's EOI (sync unmasks). A pin
     * nobody can take any more is masked for good. */
    if (pp->base && (!live || (pp->rte & RTE_LEVEL)) && !(pp->rte & RTE_MASKED)) {
        reg_write(pp->base, 0x10 + 2 * pp->idx, (u32)pp->rte | (u32)RTE_MASKED);
        pp->rte |= RTE_MASKED;
    }
    spin_unlock(&lock);
    if (moved) /* the first, and after each re-route: where it is handled */
        part_printk(p, "partition %s: GSI %u (%s) interrupts arrive on cpu %u\n", p->name, gsi,
                    level ? "level" : "edge", cpu);
    if (live)
        x86_vioapic_line(p, gsi);
}
