/* The arm64 boot path after the MMU is on: read the platform device tree,
 * bring up the console, map memory and devices, collect the boot modules,
 * fill boot_info and hand over to the core. */
#include "dt.h"
#include "../../arch/arm64/arm64.h"
#include "../../arch/arm64/psci.h"
#include "../../drivers/pl011.h"
#include "../../hv/arch.h"
#include "../../hv/console.h"
#include "../../hv/format.h"
#include "../../hv/hv.h"
#include "../../hv/string.h"

#define FALLBACK_UART 0x09000000ULL /* QEMU virt, used only if the DTB cannot be read */

struct dt_platform arm64_plat;
uintptr_t arm64_uart;
const struct boot_info *arm64_bi;
static struct boot_info bi;
static struct fdt fdt;

void arm64_boot_main(u64 dtb_pa, u64 image_pa);
void arm64_selftest(unsigned cpu);
bool arm64_poweroff_on_error(void);

static void console_at(u64 base, u64 size)
{
    if (!arm64_map_identity(base, size ? size : PAGE_SIZE, PT_DEVICE))
        return;
    pl011_init((uintptr_t)base);
    arm64_uart = (uintptr_t)base;
}

/* on_error=, else on_idle=, decides (as hv_stop_boot does once the core runs). */
bool arm64_poweroff_on_error(void)
{
    char v[16];
    if (bi_cmdline_get(bi.cmdline, "on_error", v, sizeof(v)))
        return strcmp(v, "poweroff") == 0;
    return bi_cmdline_get(bi.cmdline, "on_idle", v, sizeof(v)) && strcmp(v, "poweroff") == 0;
}

static bool map_ram(u64 image_pa, u64 image_end)
{
    u64 hb[DT_MAX_NOMAP + 1], he[DT_MAX_NOMAP + 1];
    u32 nh = 0;
    hb[nh] = image_pa;
    he[nh++] = image_end;
    for (u32 i = 0; i < arm64_plat.nnomap; i++) {
        hb[nh] = ALIGN_DOWN(arm64_plat.nomap_base[i], PAGE_SIZE);
        u64 end = arm64_plat.nomap_base[i] + arm64_plat.nomap_size[i];
        he[nh++] = end < arm64_plat.nomap_base[i] ? UINT64_MAX : ALIGN_UP(end, PAGE_SIZE);
    }
    for (u32 i = 0; i < bi.nmem; i++) {
        u64 b = ALIGN_UP(bi.mem[i].base, PAGE_SIZE);
        u64 e = ALIGN_DOWN(bi.mem[i].base + bi.mem[i].size, PAGE_SIZE);
        u64 pb[DT_MAX_NOMAP + 2], pe[DT_MAX_NOMAP + 2];
        int n = e > b ? range_subtract(b, e, hb, he, nh, pb, pe, DT_MAX_NOMAP + 2) : 0;
        if (n < 0)
            return false;
        for (int k = 0; k < n; k++)
            if (!arm64_map_identity(pb[k], pe[k] - pb[k], PT_RW))
                return false;
    }
    return true;
}

void arm64_boot_main(u64 dtb_pa, u64 image_pa)
{
    char err[256];
    u64 image_end = image_pa + arm64_image_size;
    arm64_bi = &bi;
    bi.arch = "arm64";
    bi.loader = "linux-arm64";
    bi.platform_dtb = dtb_pa;
    bi_add_reserved(&bi, image_pa, arm64_image_size, "hypervisor");
    /* hv_stop_boot follows on_error=/on_idle= from the command line as soon
     * as /chosen has been read. */
    hv_set_boot_info(&bi);

    if (!dtb_pa || !arm64_dtb_mapped) {
        console_at(FALLBACK_UART, PAGE_SIZE);
        hv_stop_boot("no usable device tree address in x0 (%#llx): the boot loader must pass the "
             "platform DTB (8-byte aligned, outside the image)", (unsigned long long)dtb_pa);
    }
    int e = fdt_open(&fdt, (const void *)(uintptr_t)dtb_pa, arm64_dtb_mapped);
    if (e) {
        char why[FDT_ERR_DETAIL + 64];
        fdt_format_open_error(&fdt, e, why, sizeof(why));
        console_at(FALLBACK_UART, PAGE_SIZE);
        hv_stop_boot("the device tree at %#llx passed in x0 is malformed: %s", (unsigned long long)dtb_pa,
             why);
    }
    bi.platform_dtb_size = fdt.totalsize;

    u64 mpidr = sysreg_read(mpidr_el1) & 0xff00ffffffULL;
    bool ok = dt_parse_platform(&fdt, dtb_pa, mpidr, &arm64_plat, &bi, err, sizeof(err));
    if (arm64_plat.have_uart)
        console_at(arm64_plat.uart_base, arm64_plat.uart_size);
    else
        console_at(FALLBACK_UART, PAGE_SIZE);
    /* PSCI through hvc cannot work from EL2 (it would trap to Bulkhead
     * itself): no conduit then; arch_platform_init says why. */
    psci_set_conduit(arm64_plat.psci == PSCI_SMC ? PSCI_SMC : PSCI_NONE);
    if (!ok)
        hv_stop_boot("%s", err);
    if (!arm64_plat.have_uart)
        printk("bulkhead: no arm,pl011 UART in the device tree; using %#llx\n", FALLBACK_UART);
    /* What partitions can never be given: the devices the hypervisor drives,
     * and guest addresses beyond the stage-2 input size (cfg_validate). */
    bi.guest_phys_bits = stage2_ipa_bits();
    bi_add_reserved(&bi, arm64_plat.have_uart ? arm64_plat.uart_base : FALLBACK_UART,
                    arm64_plat.have_uart && arm64_plat.uart_size ? arm64_plat.uart_size : PAGE_SIZE,
                    "the hypervisor's UART");
    if (arm64_plat.gicd_size)
        bi_add_reserved(&bi, arm64_plat.gicd_base, arm64_plat.gicd_size,
                        "the GIC distributor (the hypervisor's)");
    for (u32 i = 0; i < arm64_plat.ngicr; i++)
        bi_add_reserved(&bi, arm64_plat.gicr_base[i], arm64_plat.gicr_size[i],
                        "the GIC redistributors (the hypervisor's)");

    if (!map_ram(image_pa, image_end))
        hv_stop_boot("out of page-table memory while mapping RAM");
    bool dev_ok = arm64_map_identity(arm64_plat.gicd_base, arm64_plat.gicd_size, PT_DEVICE);
    for (u32 i = 0; i < arm64_plat.ngicr; i++)
        dev_ok = dev_ok &&
                 arm64_map_identity(arm64_plat.gicr_base[i], arm64_plat.gicr_size[i], PT_DEVICE);
    if (!dev_ok)
        hv_stop_boot("out of page-table memory while mapping the GIC");

    if (!dt_collect_modules(&fdt, &arm64_plat, (const void *)(uintptr_t)arm64_plat.initrd_start,
                            &bi, err, sizeof(err)))
        hv_stop_boot("%s", err);

    printk("bulkhead: image at %#llx (%llu KiB, mapped at %#llx), device tree at %#llx\n",
           (unsigned long long)image_pa, (unsigned long long)(arm64_image_size >> 10),
           (unsigned long long)HV_VBASE, (unsigned long long)dtb_pa);
    arm64_selftest(0);
    hv_main(&bi);
}
