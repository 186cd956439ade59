/* Hypervisor stack overflows on arm64 (issue 12): every CPU's EL2 stack has
 * an unmapped guard page below it; the EL2 vectors (boot/arm64/head.S) check
 * with AT S1E2W that the exception frame can be written before pushing it,
 * and when it cannot, continue on the CPU's emergency stack and land here,
 * which reports the CPU and the addresses and stops that CPU. */
#include "arm64.h"
#include "../../hv/arch.h"
#include "../../hv/console.h"
#include "../../hv/smp.h"

/* Emergency stacks, one page per CPU (head.S indexes them by CPU index + 1). */
u8 emerg_stacks[MAX_CPUS][4096] __attribute__((aligned(16)));
static u64 guard_page[MAX_CPUS];

/* Layout written by head.S (same as cpu.c's). */
struct exc_regs {
    u64 x[31];
    u64 sp;
};
void arm64_exception(struct exc_regs *r, u64 vec);
void arm64_halt_loop(void) __noreturn;
void arm64_stack_overflow(struct exc_regs *r, u64 vec);

bool arm64_stack_guard(u32 cpu, u64 va)
{
    if (cpu >= MAX_CPUS || !arm64_unmap_page(va))
        return false;
    guard_page[cpu] = va;
    return true;
}

void arm64_stack_overflow(struct exc_regs *r, u64 vec)
{
    u64 far = sysreg_read(far_el2), elr = sysreg_read(elr_el2), esr = sysreg_read(esr_el2);
    unsigned me = arch_cpu_index();
    for (u32 c = 0; c < MAX_CPUS; c++) {
        u64 g = guard_page[c];
        /* The frame that could not be pushed lies just below sp. */
        if (!g || r->sp - 272 < g - PAGE_SIZE || r->sp - 272 >= g + PAGE_SIZE)
            continue;
        printk("bulkhead: stack overflow on cpu %u: sp %#llx ran into the guard page %#llx-%#llx "
               "of cpu %u's stack (FAR %#llx, ELR %#llx, ESR %#llx); cpu %u stopped\n",
               me, (unsigned long long)r->sp, (unsigned long long)g,
               (unsigned long long)(g + PAGE_SIZE - 1), c, (unsigned long long)far,
               (unsigned long long)elr, (unsigned long long)esr, me);
        arm64_halt_loop();
    }
    /* SP unusable for another reason: the usual report, from this stack. */
    printk("bulkhead: cpu %u: exception with an unusable stack pointer %#llx\n", me,
           (unsigned long long)r->sp);
    arm64_exception(r, vec);
    arm64_halt_loop();
}
