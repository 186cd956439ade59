/* The arch-neutral hypercall table (see hypercall.h). The architecture has
 * already checked that the call came from guest kernel mode and turned its
 * registers into (nr, a0..a3); unused arguments are ignored. */
#include "hypercall.h"
#include "partition.h"
#include "string.h"
#include "window.h"

_Static_assert(sizeof(struct bh_part_info) == 56, "bh_part_info is guest ABI");
_Static_assert(sizeof(struct bh_map_stats) == 72, "bh_map_stats is guest ABI");

static s64 hc_console_write(struct partition *p, u64 gpa, u64 len)
{
    if (len > HC_CONSOLE_MAX)
        return HC_E_INVAL;
    const char *s = guest_ptr(p, gpa, len, false);
    if (!s)
        return HC_E_FAULT;
    partition_console_write(p, s, len);
    return (s64)len;
}

static s64 hc_part_info(struct partition *p, u64 gpa, u64 size)
{
    struct bh_part_info info;
    if (size < sizeof(info))
        return HC_E_INVAL;
    memset(&info, 0, sizeof(info));
    info.abi_version = HC_ABI_VERSION;
    info.partition = p->index;
    info.vcpus = p->cfg->ncpus;
    info.restarts = __atomic_load_n(&p->restarts, __ATOMIC_RELAXED);
    info.ram_bytes = p->ram_bytes;
    bh_strlcpy(info.name, p->name, sizeof(info.name));
    if (!guest_write(p, gpa, &info, sizeof(info)))
        return HC_E_FAULT;
    return (s64)sizeof(info);
}

s64 hypercall_dispatch(struct partition *p, u32 vcpu, u64 nr, u64 a0, u64 a1, u64 a2, u64 a3,
                       bool *stop)
{
    (void)vcpu;
    if (stop)
        *stop = false;
    switch (nr) {
    case HC_NULL:
        return HC_OK;
    case HC_CONSOLE_WRITE:
        return hc_console_write(p, a0, a1);
    case HC_PART_INFO:
        return hc_part_info(p, a0, a1);
    case HC_SHUTDOWN:
        partition_shutdown(p, a0);
        if (stop)
            *stop = true;
        return HC_OK;
    case HC_YIELD:
        return HC_OK;
    case HC_WIN_ATTACH:
    case HC_WIN_DETACH:
    case HC_WIN_MOVE:
    case HC_WIN_PROTECT:
        return window_call(p, nr, a0, a1, a2, a3);
    case HC_POOL_GIVE:
    case HC_POOL_TAKE:
        return pool_call(p, nr, a0, a1);
    case HC_DOORBELL_RING:
    case HC_DOORBELL_POLL:
        return doorbell_call(p, nr, a0);
    case HC_FREE_FRAMES:
        return free_frames_call(p);
    case HC_MAP_STATS:
        return map_stats_call(p, a0, a1, a2);
    default:
        return HC_E_NOSYS;
    }
}
