/* Host stand-ins for the few arch hooks the arch-neutral code calls. */
#include <sched.h>

void arch_cpu_relax(void);
void arch_cpu_relax(void)
{
    sched_yield();
}
