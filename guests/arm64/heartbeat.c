/* heartbeat: prints "heartbeat N of M from NAME" beats=M times, period_ms
 * apart (timed with the virtual counter; delay=LOOPS busy loops instead when
 * given), then shuts down with exit code 0. With period_ms it measures the
 * longest time from one beat to the next (its own printing included) and
 * reports it; with max_ms=T also whether that stayed within T. With a shared-memory channel in
 * its device tree it also shows what the channel holds. */
#include "guest.h"

static uint64_t chan;

static void find_channel(const void *dtb, const char *name, const uint8_t *reg, uint32_t len)
{
    (void)dtb, (void)name;
    if (len >= 16 && !chan)
        chan = be64(reg);
}

int guest_main(const void *dtb)
{
    const char *args = dt_bootargs(dtb);
    uint64_t beats = cmdline_u64(args, "beats", 10);
    uint64_t period = cmdline_u64(args, "period_ms", 0);
    uint64_t delay = cmdline_u64(args, "delay", 200000);
    struct bh_part_info pi;
    part_info(&pi);
    dt_each_node(dtb, "bulkhead-channel", find_channel);
    uint64_t max_ms = cmdline_u64(args, "max_ms", 0);
    uint64_t ticks = counter_freq() / 1000 * period;
    uint64_t last = 0, longest = 0;
    for (uint64_t i = 1; i <= beats; i++) {
        uint64_t now = counter();
        if (i > 1 && now - last > longest)
            longest = now - last;
        last = now;
        if (chan && *(volatile char *)(uintptr_t)chan)
            gprintf("heartbeat %lu of %lu from %s (channel: '%s')\n", i, beats, pi.name,
                    (const char *)(uintptr_t)chan);
        else
            gprintf("heartbeat %lu of %lu from %s\n", i, beats, pi.name);
        if (period) {
            uint64_t t0 = counter();
            while (counter() - t0 < ticks)
                ;
        } else {
            spin_delay(delay);
        }
    }
    if (period) {
        uint64_t ms = longest / (counter_freq() / 1000);
        gprintf("heartbeat: longest beat-to-beat time %lu ms (period %lu ms)\n", ms, period);
        if (max_ms)
            gprintf("heartbeat: period %s (limit %lu ms)\n", ms <= max_ms ? "kept" : "MISSED", max_ms);
    }
    return 0;
}
