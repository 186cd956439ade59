/* x86-64: runtime changes of a running partition's EPT (windows and pool,
 * hv/window.c), under the partition's memslot writer lock. The order is the
 * one of docs/memslots.md: the new slot set is published, a grace period
 * passes, then the EPT entries of what left are cleared and every CPU that
 * runs the partition invalidates (x86_ept_shootdown: INVEPT single-context
 * here, the kick IPI and an acknowledged INVEPT before the next VM entry
 * elsewhere) before this returns; only then may the frames be reused. */
#include "x86.h"
#include "vacpi.h"
#include "vlapic.h"
#include "../../hv/console.h"
#include "../../hv/config.h"
#include "../../hv/partition.h"

bool arch_runtime_maps(void)
{
    return true;
}

static bool overlaps(u64 gpa, u64 size, u64 base, u64 len)
{
    return gpa < base + len && base < gpa + size;
}

bool arch_guest_range_ok(struct partition *p, u64 gpa, u64 size)
{
    (void)p;
    /* A 4-level EPT walk covers 48 bits of guest-physical address. */
    u64 limit = 1ULL << 48;
    if (size == 0 || size > limit || gpa > limit - size)
        return false;
    /* Never over what the hypervisor emulates for the partition: a mapping
     * there would hide the virtual LAPIC or I/O APIC from their EPT traps,
     * or overwrite the ACPI tables it writes at (re)start. */
    if (overlaps(gpa, size, APIC_DEFAULT_BASE, PAGE_SIZE) ||
        overlaps(gpa, size, VACPI_IOAPIC_BASE, PAGE_SIZE) ||
        overlaps(gpa, size, ALIGN_DOWN(VACPI_BASE, PAGE_SIZE),
                 ALIGN_UP(VACPI_BASE + VACPI_MAX, PAGE_SIZE) - ALIGN_DOWN(VACPI_BASE, PAGE_SIZE)))
        return false;
    return true;
}

int arch_stage2_map(struct partition *p, const struct memslot *m)
{
    u64 gpa = m->gfn << PAGE_SHIFT, size = m->npages << PAGE_SHIFT;
    if (!arch_guest_range_ok(p, gpa, size))
        return MEMSLOT_E_OVERFLOW;
    if (!x86_ept_map(p, m)) {
        /* Out of table pages: nothing of the slot stays mapped (the part
         * that was installed is cleared and shot down like any removal). */
        arch_stage2_unmap(p, gpa, size);
        return MEMSLOT_E_NOMEM;
    }
    /* The entries were not present before, and EPT caches no
     * not-present translations: no invalidation is needed. */
    return MEMSLOT_OK;
}

void arch_stage2_unmap(struct partition *p, u64 gpa, u64 size)
{
    x86_ept_clear(p, gpa, size);
    x86_ept_shootdown(p);
}

/* A channel doorbell: vector CFG_X86_DOORBELL_VECTOR + channel in vCPU 0's
 * virtual LAPIC, its CPU kicked (hv/window.c calls this only when the
 * pending mask was empty). A stopped partition is not notified; a restart
 * raises again what it left unpolled (vmx.c). */
void arch_partition_notify(struct partition *p, u32 channel)
{
    if (channel >= CFG_MAX_CHANNELS || __atomic_load_n(&p->stopped, __ATOMIC_ACQUIRE))
        return;
    x86_doorbell_post(p, CFG_X86_DOORBELL_VECTOR + channel);
}

/* The epoch kick (hv/arch.h): an IPI with its own vector. A CPU in guest
 * mode leaves it at once (external-interrupt exiting), one halted in the
 * guest's HLT state wakes, one in hypervisor code (interrupts off) keeps it
 * pending and its next VM entry exits at once. vmx.c counts it taken
 * (hv_epoch_kick_taken) at that exit; the run loop then reports its
 * quiescent state. No wait for delivery: it cannot deadlock. */
bool arch_kick_cpu(unsigned cpu)
{
    if (!x86_cpu_runs_vcpu(cpu))
        return false;
    x86_kick_cpu_vec(cpu, X86_EPOCH_VECTOR);
    return true;
}

/* The configuration check (hv/config_check.c) refuses pools over the same
 * pages, by its own copy of their addresses. */
_Static_assert(CFG_X86_LAPIC_GPA == APIC_DEFAULT_BASE, "LAPIC page");
_Static_assert(CFG_X86_IOAPIC_GPA == VACPI_IOAPIC_BASE, "I/O APIC page");
_Static_assert(CFG_X86_ACPI_GPA == VACPI_BASE && VACPI_MAX <= CFG_X86_ACPI_SIZE, "ACPI tables");
