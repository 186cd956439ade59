/* hello: greets over the virtual UART, shows what the boot protocol passed
 * (multiboot v1 or PVH), then shuts down with exit=N from its command line. */
#include "guest.h"

int guest_main(uint32_t magic, uint32_t info)
{
    struct bh_part_info pi;
    const char *cmd = boot_cmdline(magic, info);
    bool mb = magic == 0x2badb002;
    if (!part_info(&pi))
        println("hello: partition-information hypercall failed");
    gprintf("hello from partition %s: %s boot, command line '%s'\n", pi.name,
            mb ? "multiboot" : "pvh", cmd);
    if (mb) {
        const uint32_t *mbi = (const uint32_t *)(uintptr_t)info;
        gprintf("hello: memory %u KiB low, %u KiB high, loader '%s'\n", mbi[1], mbi[2],
                (mbi[0] & (1u << 9)) ? (const char *)(uintptr_t)mbi[16] : "?");
        if (mbi[0] & (1u << 6)) {
            uint32_t len = mbi[11], at = mbi[12];
            for (uint32_t off = 0; off < len;) {
                const uint8_t *e = (const uint8_t *)(uintptr_t)(at + off);
                uint32_t sz, type;
                uint64_t base, l;
                memcpy(&sz, e, 4);
                memcpy(&base, e + 4, 8);
                memcpy(&l, e + 12, 8);
                memcpy(&type, e + 20, 4);
                gprintf("hello: memory map %x +%x type %u\n", (uint32_t)base, (uint32_t)l, type);
                off += sz + 4;
            }
        }
        if (mbi[0] & (1u << 3) && mbi[5]) {
            const uint32_t *mod = (const uint32_t *)(uintptr_t)mbi[6];
            gprintf("hello: module '%s' at %x, %u bytes, starts '%c'\n",
                    (const char *)(uintptr_t)mod[2], mod[0], mod[1] - mod[0],
                    *(const char *)(uintptr_t)mod[0]);
        }
    } else {
        const uint32_t *si = (const uint32_t *)(uintptr_t)info;
        gprintf("hello: hvm_start_info version %u, %u memory map entries, %u modules\n", si[1],
                si[12], si[3]);
    }
    uint32_t lines = cmdline_u32(cmd, "lines", 1);
    for (uint32_t i = 1; i <= lines; i++)
        gprintf("hello line %u of %u\n", i, lines);
    return (int)cmdline_u32(cmd, "exit", 0);
}
