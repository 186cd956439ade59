/* channel: the reader's side of a shared-memory channel that its device tree
 * describes as read-only. It waits for the writer's note and prints it;
 * then, on its first run, writes to the channel, and after the restart
 * jumps into it: the stage-2 tables map the window read-only and never
 * executable, so both must fault. */
#include "guest.h"

static uint64_t chan;
static bool ro;

static void find(const void *dtb, const char *name, const uint8_t *reg, uint32_t len)
{
    char path[64];
    uint32_t i = 0;
    path[i++] = '/';
    for (const char *s = name; *s && i < 63; s++)
        path[i++] = *s;
    path[i] = 0;
    if (len >= 16 && !chan) {
        chan = be64(reg);
        ro = dt_getprop(dtb, path, "read-only", NULL) != NULL;
    }
}

int guest_main(const void *dtb)
{
    struct bh_part_info pi;
    part_info(&pi);
    dt_each_node(dtb, "bulkhead-channel", find);
    if (!chan) {
        println("channel: no channel in my device tree");
        return 1;
    }
    volatile char *c = (volatile char *)(uintptr_t)chan;
    while (!c[0])
        ;
    char buf[32];
    uint32_t i = 0;
    for (; i < 31 && c[i]; i++)
        buf[i] = c[i];
    buf[i] = 0;
    gprintf("channel: run %u: channel at %lx (%s) says '%s'\n", pi.restarts + 1, chan,
            ro ? "read-only" : "read-write", buf);
    if (pi.restarts == 0) {
        println("channel: writing to it");
        c[0] = 'X';
        println("channel: ESCAPED: the write went through");
    } else {
        println("channel: executing from it");
        ((void (*)(void))(uintptr_t)chan)();
        println("channel: ESCAPED: executed from the channel");
    }
    return 99;
}
