/* Hypervisor stack overflows (issue 12): every CPU's stack has an unmapped
 * guard page below it, and #PF and #DF run on a separate per-CPU stack
 * (IST 1), so a push into the guard page is caught and reported with the CPU
 * and the addresses instead of triple-faulting the machine. */
#include "x86.h"
#include "../../hv/arch.h"
#include "../../hv/console.h"
#include "../../hv/smp.h"

#define IST_SIZE 4096

static u8 ist_stacks[MAX_CPUS][IST_SIZE] __attribute__((aligned(16)));
static u64 guard_page[MAX_CPUS]; /* 0: none */

u64 x86_ist_top(u32 cpu)
{
    return (u64)(uintptr_t)&ist_stacks[cpu][IST_SIZE];
}

bool x86_stack_guard(u32 cpu, u64 guard)
{
    if (cpu >= MAX_CPUS || !x86_unmap_page(guard))
        return false;
    guard_page[cpu] = guard;
    return true;
}

/* Called by the exception handler for #PF and #DF: when addr (the fault
 * address, or the stack pointer of a #DF) is in a guard page, report it. */
bool x86_stack_overflow(u64 vector, u64 addr, u64 rsp, u64 rip)
{
    for (u32 c = 0; c < MAX_CPUS; c++) {
        u64 g = guard_page[c];
        if (!g || addr < g || addr >= g + PAGE_SIZE)
            continue;
        printk("bulkhead: stack overflow on cpu %u (%s): address %#llx is in the guard page "
               "%#llx-%#llx of cpu %u's stack (rsp %#llx, rip %#llx); cpu %u stopped\n",
               arch_cpu_index(), vector == 8 ? "double fault" : "page fault",
               (unsigned long long)addr, (unsigned long long)g,
               (unsigned long long)(g + PAGE_SIZE - 1), c, (unsigned long long)rsp,
               (unsigned long long)rip, arch_cpu_index());
        return true;
    }
    return false;
}
