/* x86-64: runtime changes of a running partition's EPT are not wired yet.
 * Removing a mapping needs an INVEPT on every CPU that runs the partition,
 * which takes an IPI this hypervisor does not send yet, so the window and
 * pool hypercalls return HC_E_NOSYS (hv/window.c checks arch_runtime_maps
 * before changing anything) and the two table hooks below are never reached
 * for a prepared partition. They fail closed if they ever are. */
#include "../../hv/console.h"
#include "../../hv/partition.h"

bool arch_runtime_maps(void)
{
    return false;
}

bool arch_guest_range_ok(struct partition *p, u64 gpa, u64 size)
{
    (void)p, (void)gpa, (void)size;
    return false;
}

int arch_stage2_map(struct partition *p, const struct memslot *m)
{
    printk("partition %s: runtime EPT change refused (slot %u): not supported on x86-64 yet\n",
           p->name, m->id);
    return MEMSLOT_E_NOMEM;
}

void arch_stage2_unmap(struct partition *p, u64 gpa, u64 size)
{
    printk("partition %s: runtime EPT unmap of 0x%llx+0x%llx refused: not supported on "
           "x86-64 yet\n",
           p->name, (unsigned long long)gpa, (unsigned long long)size);
}

u64 arch_timestamp(void)
{
    u32 lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((u64)hi << 32) | lo;
}

/* Doorbells stay polled (HC_DOORBELL_POLL) on x86-64 until the virtual
 * LAPIC lands: no interrupt to raise. */
void arch_partition_notify(struct partition *p, u32 channel)
{
    (void)p, (void)channel;
}

/* The epoch kick: no IPI yet on x86-64 (hv/arch.h). Grace periods still
 * end: a CPU in VMX non-root mode or idle is in an extended quiescent state,
 * and one in the hypervisor reports at the top of its exit loop. */
bool arch_kick_cpu(unsigned cpu)
{
    (void)cpu;
    return false;
}

u64 arch_timestamp_hz(void)
{
    return 0; /* TSC frequency not calibrated */
}
