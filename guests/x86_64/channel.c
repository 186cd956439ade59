/* channel: shared-memory channel test. role=writer puts a message into the
 * channel at addr=ADDR (mapped read-write for it). role=reader (mapped
 * read-only) waits for the message and prints it, then tries to write to the
 * channel (must fault); after a restart it tries to execute from it (must
 * fault too: channels are never executable). */
#include "guest.h"

static const char message[] = "greetings through the shared channel";

int guest_main(uint32_t magic, uint32_t info)
{
    const char *cmd = boot_cmdline(magic, info);
    volatile char *ch = (volatile char *)(uintptr_t)cmdline_u32(cmd, "addr", 0x2000000);
    struct bh_part_info pi;
    part_info(&pi);
    if (cmdline_u32(cmd, "writer", 0)) {
        for (size_t i = 0; i < sizeof(message); i++)
            ch[i + 4] = message[i];
        __asm__ volatile("" ::: "memory");
        *(volatile uint32_t *)ch = 0x600dc0de; /* ready flag last */
        gprintf("channel: wrote '%s'\n", message);
        return 0;
    }
    if (pi.restarts == 0) {
        uint32_t spins = 0;
        while (*(volatile uint32_t *)ch != 0x600dc0de && spins < 50000000)
            spins++;
        if (*(volatile uint32_t *)ch != 0x600dc0de) {
            println("channel: no message arrived: FAILED");
            return 1;
        }
        char buf[64];
        size_t i;
        for (i = 0; i + 1 < sizeof(buf) && ch[i + 4]; i++)
            buf[i] = ch[i + 4];
        buf[i] = 0;
        gprintf("channel: read '%s'\n", buf);
        println("channel: now writing to my read-only mapping (must fault)");
        ch[0] = 1;
        println("channel: ESCAPED: the write went through");
    } else {
        println("channel: run 2: executing from the channel (must fault)");
        ((void (*)(void))(uintptr_t)ch)();
        println("channel: ESCAPED: executed from the channel");
    }
    return 1;
}
