/* Runtime changes of a running partition's guest-physical map, behind the
 * hypercalls HC_WIN_*, HC_POOL_*, HC_DOORBELL_* (docs/hypercalls.md).
 *
 * Windows: a partition with `control = "on"` attaches, detaches, moves and
 * re-permissions the window of a channel in a partition that the
 * configuration makes a member of that channel; read-write only where the
 * configuration gives that member "rw". Pool: a partition with pool-address
 * and pool-size maps (TAKE) and unmaps (GIVE) ranges of frames set aside for
 * it at boot; a given-back range is unmapped, flushed and zeroed before the
 * call returns; a restart gives every taken range back (pool_reset).
 * Doorbells: a pending mask per partition and channel, polled, and raised
 * as a virtual interrupt when it becomes non-empty. Each returns HC_OK / a
 * count or an HC_E_*. */
#ifndef BULKHEAD_WINDOW_H
#define BULKHEAD_WINDOW_H

#include "types.h"

struct partition;

s64 window_call(struct partition *caller, u64 nr, u64 channel, u64 target, u64 a2, u64 a3);
s64 pool_call(struct partition *p, u64 nr, u64 off, u64 size);
/* At a restart: give back every pool range the partition had taken. */
void pool_reset(struct partition *p);
s64 doorbell_call(struct partition *p, u64 nr, u64 channel);
s64 free_frames_call(struct partition *p);
s64 map_stats_call(struct partition *caller, u64 target, u64 gpa, u64 size);

#endif
