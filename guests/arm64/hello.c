/* hello: greets over the virtual PL011, shows what the boot protocol gave
 * it (the device tree's bootargs, memory, vCPUs, PSCI method, UART, any
 * shared-memory channel, where the tree and the image are), leaves a note
 * in a writable channel, then shuts down with exit=N from its bootargs. */
#include "guest.h"

static void show_mem(const void *dtb, const char *name, const uint8_t *reg, uint32_t len)
{
    (void)dtb;
    for (uint32_t o = 0; o + 16 <= len; o += 16)
        gprintf("hello: %s: %lx +%lx\n", name, be64(reg + o), be64(reg + o + 8));
}

extern char _start[];

static const char note[] = "hello was here";

static void use_channel(const void *dtb, const char *name, const uint8_t *reg, uint32_t len)
{
    char path[64];
    uint32_t i = 0;
    path[i++] = '/';
    for (const char *s = name; *s && i < 63; s++)
        path[i++] = *s;
    path[i] = 0;
    if (len < 16)
        return;
    uint64_t at = be64(reg);
    bool ro = dt_getprop(dtb, path, "read-only", NULL) != NULL;
    const char *label = dt_getprop(dtb, path, "label", NULL);
    gprintf("hello: channel '%s' at %lx +%lx (%s)\n", label ? label : "?", at, be64(reg + 8),
            ro ? "read-only" : "read-write");
    if (!ro)
        memcpy((void *)(uintptr_t)at, note, sizeof(note));
}

int guest_main(const void *dtb)
{
    struct bh_part_info pi;
    uint64_t el;
    __asm__ volatile("mrs %0, CurrentEL" : "=r"(el));
    if (!part_info(&pi))
        println("hello: partition-information hypercall failed");
    const char *args = dt_bootargs(dtb);
    gprintf("hello from partition %s: linux-image boot at EL%u, bootargs '%s'\n", pi.name,
            (uint32_t)(el >> 2), args);
    gprintf("hello: image at %lx, device tree at %lx (%u bytes)\n", (uint64_t)(uintptr_t)_start,
            (uint64_t)(uintptr_t)dtb, be32((const uint8_t *)dtb + 4));
    dt_each_node(dtb, "memory", show_mem);
    const char *method = dt_getprop(dtb, "/psci", "method", NULL);
    const char *out = dt_getprop(dtb, "/chosen", "stdout-path", NULL);
    gprintf("hello: %u vCPU(s), psci method '%s', stdout-path '%s'\n", dt_count_cpus(dtb),
            method ? method : "none", out ? out : "none");
    dt_each_node(dtb, "bulkhead-channel", use_channel);
    const uint8_t *rs = dt_getprop(dtb, "/chosen", "linux,initrd-start", NULL);
    const uint8_t *re = dt_getprop(dtb, "/chosen", "linux,initrd-end", NULL);
    if (rs && re) {
        uint64_t a = be64(rs), b = be64(re);
        char first[17];
        uint32_t i = 0;
        for (; i < 16 && a + i < b; i++) {
            char c = *(volatile char *)(uintptr_t)(a + i);
            first[i] = c >= 32 && c < 127 ? c : '.';
        }
        first[i] = 0;
        gprintf("hello: initrd at %lx, %lu bytes, starts '%s'\n", a, b - a, first);
    }
    uint64_t lines = cmdline_u64(args, "lines", 1);
    for (uint64_t i = 1; i <= lines; i++)
        gprintf("hello line %lu of %lu\n", i, lines);
    return (int)cmdline_u64(args, "exit", 0);
}
