/* Token buckets for hypervisor messages a guest can trigger (issue 12): each
 * partition may make the hypervisor print at most RL_BURST lines at once and
 * RL_PER_SEC lines a second after that; the rest are counted, and the count
 * is printed ("N messages suppressed") before the next line that gets
 * through, or when the partition stops. */
#ifndef BULKHEAD_RATELIMIT_H
#define BULKHEAD_RATELIMIT_H

#include "spinlock.h"
#include "types.h"

#define RL_BURST 32
#define RL_PER_SEC 2

struct ratelimit {
    spinlock_t lock;
    bool started;
    u32 tokens;      /* whole messages available now */
    u64 last_us;     /* when tokens were last refilled (a multiple of the refill step) */
    u32 suppressed;  /* dropped since the last message that went out */
};

/* May a message go out at time now_us (microseconds, monotonic)? When it
 * may, *resumed is set to the number of messages suppressed before it (and
 * the count restarts at 0); when it may not, the message is counted. */
bool ratelimit_take(struct ratelimit *rl, u64 now_us, u32 *resumed);
/* Messages suppressed and not yet reported; resets the count. */
u32 ratelimit_drain(struct ratelimit *rl);

#endif
