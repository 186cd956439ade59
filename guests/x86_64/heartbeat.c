/* heartbeat: prints "heartbeat N" beats=N times, delay=D busy loops apart,
 * then shuts down with exit code 0. */
#include "guest.h"

int guest_main(uint32_t magic, uint32_t info)
{
    const char *cmd = boot_cmdline(magic, info);
    uint32_t beats = cmdline_u32(cmd, "beats", 10);
    uint32_t delay = cmdline_u32(cmd, "delay", 200000);
    struct bh_part_info pi;
    part_info(&pi);
    for (uint32_t i = 1; i <= beats; i++) {
        gprintf("heartbeat %u of %u from %s\n", i, beats, pi.name);
        spin_delay(delay);
    }
    return 0;
}
