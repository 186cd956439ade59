/* arm64 partitions (stage-2, EL1 guests) are issue 7 and not written yet:
 * a configuration with partitions is refused with a clear message rather
 * than half-started. */
#include "../../hv/format.h"
#include "../../hv/partition.h"

bool arch_partition_prepare(struct partition *p, char *err, size_t errlen)
{
    (void)p;
    bh_snprintf(err, errlen, "running partitions on arm64 is not implemented yet");
    return false;
}

bool arch_partition_load(struct partition *p, char *err, size_t errlen)
{
    (void)p;
    bh_snprintf(err, errlen, "running partitions on arm64 is not implemented yet");
    return false;
}

void arch_vcpu_run(struct partition *p, u32 vcpu)
{
    (void)vcpu;
    partition_stopped(p);
}
