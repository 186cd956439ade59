/* The refusal path before the MMU is on: entered at the wrong exception
 * level, or on a CPU without what Bulkhead needs. Runs at the load address
 * with the MMU and caches off, so it reaches everything PC-relatively: only
 * string literals and direct calls, no tables of pointers, no atomics.
 * It finds the UART in the device tree (stdout-path or the first
 * "arm,pl011"), falling back to 0x09000000 (QEMU virt), prints why, and
 * stops the CPU. */
#include "../../arch/arm64/arm64.h"
#include "../../drivers/pl011.h"
#include "../../hv/boot_info.h"
#include "../../hv/fdt.h"
#include "../../hv/string.h"

#define FALLBACK_UART 0x09000000ULL

static bool early_fdt(u64 dtb_pa, struct fdt *f)
{
    if (!dtb_pa || (dtb_pa & 7))
        return false;
    u32 size = fdt_peek_size((const void *)(uintptr_t)dtb_pa, 64);
    return size && size <= MiB(2) && fdt_open(f, (const void *)(uintptr_t)dtb_pa, size) == 0;
}

/* PSCI SYSTEM_OFF when the command line asks for power-off on errors
 * (on_error=poweroff, or on_idle=poweroff without on_error), through the
 * DTB's conduit: smc, or hvc only when below EL2 (at EL2 it would trap to
 * our own, not yet installed, vectors). Returns if nothing happened. */
static void early_poweroff(uintptr_t uart, u64 dtb_pa);

static uintptr_t early_uart(u64 dtb_pa)
{
    struct fdt f;
    if (!early_fdt(dtb_pa, &f))
        return FALLBACK_UART;
    int n = -1;
    int chosen = fdt_path(&f, "/chosen");
    const char *sp = chosen >= 0 ? fdt_getprop_string(&f, chosen, "stdout-path") : NULL;
    if (sp && sp[0] == '/') {
        char path[96];
        u32 i = 0;
        while (sp[i] && sp[i] != ':' && i + 1 < sizeof(path)) {
            path[i] = sp[i];
            i++;
        }
        path[i] = 0;
        n = fdt_path(&f, path);
        if (n >= 0 && !fdt_node_is_compatible(&f, n, "arm,pl011"))
            n = -1;
    }
    if (n < 0)
        n = fdt_find_compatible(&f, -1, "arm,pl011");
    u64 base, sz;
    if (n >= 0 && fdt_get_reg(&f, n, 0, &base, &sz) && base)
        return (uintptr_t)base;
    return FALLBACK_UART;
}

static void puts_raw(uintptr_t uart, const char *s)
{
    for (; *s; s++) {
        if (*s == '\n')
            pl011_putc(uart, '\r');
        pl011_putc(uart, *s);
    }
}

static void puthex(uintptr_t uart, u64 v)
{
    char buf[19];
    buf[0] = '0';
    buf[1] = 'x';
    for (int i = 0; i < 16; i++) {
        u32 d = (u32)(v >> (60 - 4 * i)) & 0xf;
        buf[2 + i] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    }
    buf[18] = 0;
    puts_raw(uart, buf);
}

static void early_poweroff(uintptr_t uart, u64 dtb_pa)
{
    struct fdt f;
    char v[16];
    if (!early_fdt(dtb_pa, &f))
        return;
    int chosen = fdt_path(&f, "/chosen");
    const char *args = chosen >= 0 ? fdt_getprop_string(&f, chosen, "bootargs") : NULL;
    if (!args)
        return;
    bool off;
    if (bi_cmdline_get(args, "on_error", v, sizeof(v)))
        off = strcmp(v, "poweroff") == 0;
    else
        off = bi_cmdline_get(args, "on_idle", v, sizeof(v)) && strcmp(v, "poweroff") == 0;
    if (!off)
        return;
    int psci = fdt_find_compatible(&f, -1, "arm,psci-0.2");
    if (psci < 0)
        psci = fdt_find_compatible(&f, -1, "arm,psci-1.0");
    const char *m = psci >= 0 ? fdt_getprop_string(&f, psci, "method") : NULL;
    if (!m)
        return;
    u64 el = (sysreg_read(CurrentEL) >> 2) & 3;
    bool smc = strcmp(m, "smc") == 0, hvc = strcmp(m, "hvc") == 0 && el < 2;
    if (!smc && !hvc)
        return;
    puts_raw(uart, "bulkhead: powering off\n");
    register u64 x0 __asm__("x0") = 0x84000008; /* PSCI SYSTEM_OFF */
    if (smc)
        __asm__ volatile("smc #0" : "+r"(x0) : : "x1", "x2", "x3", "memory");
    else
        __asm__ volatile("hvc #0" : "+r"(x0) : : "x1", "x2", "x3", "memory");
    puts_raw(uart, "bulkhead: power-off failed\n");
}

void arm64_early_refuse(u64 reason, u64 dtb_pa, u64 detail)
{
    uintptr_t uart = early_uart(dtb_pa);
    pl011_init(uart);
    puts_raw(uart, "\nbulkhead: cannot start: ");
    if (reason == EARLY_NOT_EL2) {
        u64 el = (sysreg_read(CurrentEL) >> 2) & 3;
        puts_raw(uart, el == 1 ? "entered at EL1" : el == 3 ? "entered at EL3" : "entered at EL0");
        puts_raw(uart, ", but Bulkhead is a hypervisor and must be entered at EL2 (QEMU: -M "
                       "virt,virtualization=on; firmware: boot the image at EL2)\n");
    } else if (reason == EARLY_NO_VHE) {
        puts_raw(uart, "this CPU lacks VHE (FEAT_VHE, the Armv8.1 Virtualization Host "
                       "Extensions): ID_AA64MMFR1_EL1.VH = 0 (ID_AA64MMFR1_EL1 = ");
        puthex(uart, detail);
        puts_raw(uart, "); Bulkhead runs at EL2 with HCR_EL2.E2H = 1 and needs an Armv8.1 or "
                       "later CPU\n");
    } else if (reason == EARLY_NO_4K) {
        puts_raw(uart, "this CPU has no 4 KiB translation granule (ID_AA64MMFR0_EL1.TGran4 = "
                       "0xf)\n");
    } else if (reason == EARLY_PT_FULL) {
        puts_raw(uart, "out of early page-table memory while mapping the image\n");
    } else {
        puts_raw(uart, "unknown early failure\n");
    }
    early_poweroff(uart, dtb_pa);
    puts_raw(uart, "bulkhead: halted\n");
    for (;;)
        __asm__ volatile("msr daifset, #0xf\n\twfi" ::: "memory");
}
