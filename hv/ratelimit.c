#include "ratelimit.h"

#define RL_STEP_US (1000000u / RL_PER_SEC)

bool ratelimit_take(struct ratelimit *rl, u64 now_us, u32 *resumed)
{
    bool ok;
    spin_lock(&rl->lock);
    if (!rl->started) {
        rl->started = true;
        rl->tokens = RL_BURST;
        rl->last_us = now_us;
    } else if (now_us > rl->last_us) {
        u64 steps = (now_us - rl->last_us) / RL_STEP_US;
        if (steps >= RL_BURST) {
            rl->tokens = RL_BURST;
            rl->last_us = now_us;
        } else if (steps) {
            rl->tokens = (u32)MIN((u64)RL_BURST, rl->tokens + steps);
            rl->last_us += steps * RL_STEP_US;
        }
    }
    ok = rl->tokens > 0;
    *resumed = 0;
    if (ok) {
        rl->tokens--;
        *resumed = rl->suppressed;
        rl->suppressed = 0;
    } else if (rl->suppressed != ~0u) {
        rl->suppressed++;
    }
    spin_unlock(&rl->lock);
    return ok;
}

u32 ratelimit_drain(struct ratelimit *rl)
{
    spin_lock(&rl->lock);
    u32 n = rl->suppressed;
    rl->suppressed = 0;
    spin_unlock(&rl->lock);
    return n;
}
