/* Loading an arm64 partition per the Linux arm64 boot protocol, and the
 * device tree the hypervisor writes for it.
 *
 * The kernel module must be an arm64 Image (magic "ARM\x64" at offset 56).
 * Its header is honoured: the image goes text_offset bytes above the lowest
 * 2 MiB-aligned address of the partition's lowest RAM region, and image_size
 * bytes (code, data and bss) must fit in that region. An image_size of 0
 * (kernels before 3.17) means text_offset 0x80000 and the file's size.
 *
 * Placement of the rest (all in the same RAM region, memory already zeroed):
 *   - the device tree at the start of the region's last 2 MiB block, so it
 *     shares no 2 MiB block with the image (the boot protocol asks for the
 *     DTB to be alone in its 2 MiB block), at most 64 KiB;
 *   - the ramdisk, page aligned, just below that block;
 *   - when the region is too small for that: the device tree right after
 *     the image (page aligned, 64 KiB reserved) and the ramdisk after it.
 * Nothing overlaps the image's image_size bytes.
 *
 * The device tree describes only what the partition has: its RAM regions
 * (memory nodes), its shared-memory channels (bulkhead,shared-memory nodes,
 * not memory), one cpu node per vCPU (reg = the vCPU index = its MPIDR
 * Aff0, enable-method "psci"), PSCI 1.0 through HVC, and the virtual PL011
 * at 0x09000000 with /chosen/stdout-path when the partition's console is on.
 * The virtual GICv3 (arm,gic-v3, the interrupt parent of everything) and
 * the architected timer (arm,armv8-timer) are always there; the PL011 has
 * SPI 1. /chosen/bootargs is the configured command line (else the
 * kernel module's arguments); linux,initrd-start/end give the ramdisk. */
#include "arm64.h"
#include "../../hv/bytes.h"
#include "vm.h"
#include "../../hv/fdt_write.h"
#include "../../hv/format.h"
#include "../../hv/string.h"

#define IMAGE_MAGIC 0x644d5241u /* "ARM\x64" little-endian */
#define DTB_MAX 0x10000ULL
#define GIC_PHANDLE 2

static const struct part_region *boot_region(struct partition *p)
{
    const struct part_region *best = NULL;
    for (u32 i = 0; i < p->nregions; i++) {
        const struct part_region *r = &p->region[i];
        if (r->kind == PART_RAM && (!best || r->gpa < best->gpa))
            best = r;
    }
    return best;
}

static void dcache_clean_inval(u64 pa, u64 size)
{
    u64 line = 4ULL << ((sysreg_read(ctr_el0) >> 16) & 0xf);
    for (u64 a = ALIGN_DOWN(pa, line); a < pa + size; a += line)
        __asm__ volatile("dc civac, %0" ::"r"(a) : "memory");
}

static void node_name(char *buf, size_t n, const char *base, u64 addr)
{
    bh_snprintf(buf, n, "%s@%llx", base, (unsigned long long)addr);
}

static int write_dt(struct partition *p, struct a64_part *ap, void *buf, u32 cap)
{
    static struct fdt_writer ws[PART_MAX]; /* the name table is 1 KiB: not on the stack */
    struct fdt_writer *w = &ws[p->index];
    char name[48];
    fdtw_init(w, buf, cap);
    fdtw_begin_node(w, "");
    fdtw_prop_u32(w, "#address-cells", 2);
    fdtw_prop_u32(w, "#size-cells", 2);
    fdtw_prop_string(w, "compatible", "bulkhead,partition");
    bh_snprintf(name, sizeof(name), "Bulkhead partition %s", p->name);
    fdtw_prop_string(w, "model", name);
    fdtw_prop_u32(w, "interrupt-parent", GIC_PHANDLE);

    fdtw_begin_node(w, "chosen");
    const char *cmd = p->cfg->cmdline[0] ? p->cfg->cmdline : p->kernel->args;
    fdtw_prop_string(w, "bootargs", cmd);
    if (p->cfg->console) {
        node_name(name, sizeof(name), "/pl011", VPL011_GPA);
        fdtw_prop_string(w, "stdout-path", name);
    }
    if (p->ramdisk) {
        fdtw_prop_u64(w, "linux,initrd-start", ap->initrd);
        fdtw_prop_u64(w, "linux,initrd-end", ap->initrd + ap->initrd_size);
    }
    fdtw_end_node(w);

    for (u32 i = 0; i < p->nregions; i++) {
        const struct part_region *r = &p->region[i];
        if (r->kind != PART_RAM)
            continue;
        node_name(name, sizeof(name), "memory", r->gpa);
        fdtw_begin_node(w, name);
        fdtw_prop_string(w, "device_type", "memory");
        fdtw_prop_reg64(w, "reg", r->gpa, r->size);
        fdtw_end_node(w);
    }
    const struct config *cfg = config_active();
    for (u32 i = 0; i < p->nregions; i++) {
        const struct part_region *r = &p->region[i];
        if (r->kind != PART_CHANNEL)
            continue;
        node_name(name, sizeof(name), "bulkhead-channel", r->gpa);
        fdtw_begin_node(w, name);
        fdtw_prop_string(w, "compatible", "bulkhead,shared-memory");
        fdtw_prop_reg64(w, "reg", r->gpa, r->size);
        if (cfg && r->channel < cfg->nchannels)
            fdtw_prop_string(w, "label", cfg->channels[r->channel].name);
        if (!r->writable)
            fdtw_prop_empty(w, "read-only");
        /* The channel's doorbell interrupt: SPI, edge-rising. */
        u32 bell[3] = { 0, DOORBELL_INTID(r->channel) - 32, 1 };
        fdtw_prop_cells(w, "interrupts", bell, 3);
        fdtw_prop_u32(w, "bulkhead,channel", r->channel);
        fdtw_end_node(w);
    }

    fdtw_begin_node(w, "cpus");
    fdtw_prop_u32(w, "#address-cells", 1);
    fdtw_prop_u32(w, "#size-cells", 0);
    for (u32 v = 0; v < p->cfg->ncpus; v++) {
        node_name(name, sizeof(name), "cpu", v);
        fdtw_begin_node(w, name);
        fdtw_prop_string(w, "device_type", "cpu");
        fdtw_prop_string(w, "compatible", "arm,armv8");
        fdtw_prop_u32(w, "reg", v);
        fdtw_prop_string(w, "enable-method", "psci");
        fdtw_end_node(w);
    }
    fdtw_end_node(w);

    fdtw_begin_node(w, "psci");
    static const char psci_compat[] = "arm,psci-1.0\0arm,psci-0.2";
    fdtw_prop(w, "compatible", psci_compat, sizeof(psci_compat));
    fdtw_prop_string(w, "method", "hvc");
    fdtw_end_node(w);

    /* The virtual GICv3: distributor and one redistributor per vCPU, in
     * one redistributor region. */
    node_name(name, sizeof(name), "interrupt-controller", VGICD_GPA);
    fdtw_begin_node(w, name);
    fdtw_prop_string(w, "compatible", "arm,gic-v3");
    fdtw_prop_u32(w, "#interrupt-cells", 3);
    fdtw_prop_empty(w, "interrupt-controller");
    fdtw_prop_u32(w, "#redistributor-regions", 1);
    u32 gic_reg[8] = { 0, (u32)VGICD_GPA, 0, (u32)VGICD_SIZE,
                       0, (u32)VGICR_GPA, 0, (u32)(p->cfg->ncpus * VGICR_STRIDE) };
    fdtw_prop_cells(w, "reg", gic_reg, 8);
    fdtw_prop_u32(w, "phandle", GIC_PHANDLE);
    fdtw_end_node(w);

    /* The architected timer: secure and non-secure physical, virtual and
     * hypervisor PPIs (13, 14, 11, 10 = INTIDs 29, 30, 27, 26), level-high.
     * The guest uses the virtual one; the physical timer traps. */
    fdtw_begin_node(w, "timer");
    static const char timer_compat[] = "arm,armv8-timer";
    fdtw_prop(w, "compatible", timer_compat, sizeof(timer_compat));
    u32 timer_irqs[12] = { 1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4 };
    fdtw_prop_cells(w, "interrupts", timer_irqs, 12);
    fdtw_prop_empty(w, "always-on");
    fdtw_end_node(w);

    if (p->cfg->console) {
        fdtw_begin_node(w, "apb-pclk");
        fdtw_prop_string(w, "compatible", "fixed-clock");
        fdtw_prop_u32(w, "#clock-cells", 0);
        fdtw_prop_u32(w, "clock-frequency", 24000000);
        fdtw_prop_string(w, "clock-output-names", "clk24mhz");
        fdtw_prop_u32(w, "phandle", 1);
        fdtw_end_node(w);

        node_name(name, sizeof(name), "pl011", VPL011_GPA);
        fdtw_begin_node(w, name);
        static const char uart_compat[] = "arm,pl011\0arm,primecell";
        fdtw_prop(w, "compatible", uart_compat, sizeof(uart_compat));
        fdtw_prop_reg64(w, "reg", VPL011_GPA, VPL011_SIZE);
        u32 clocks[2] = { 1, 1 };
        fdtw_prop_cells(w, "clocks", clocks, 2);
        u32 uart_irq[3] = { 0, VPL011_INTID - 32, 4 }; /* SPI, level-high */
        fdtw_prop_cells(w, "interrupts", uart_irq, 3);
        static const char clock_names[] = "uartclk\0apb_pclk";
        fdtw_prop(w, "clock-names", clock_names, sizeof(clock_names));
        fdtw_end_node(w);
    }
    fdtw_end_node(w);
    return fdtw_finish(w);
}

/* Where the Image goes, from its header: RAM base (2 MiB aligned) + text_offset. */
static bool header_place(struct partition *p, const struct boot_module *k,
                         const struct part_region **rp, u64 *loadp, u64 *sizep, char *err,
                         size_t len)
{
    const u8 *im = (const u8 *)(uintptr_t)k->base;
    if (k->size < 64 || le32(im + 56) != IMAGE_MAGIC) {
        bh_snprintf(err, len, "not an arm64 Image (no \"ARM\\x64\" magic at offset 56); for a "
                              "raw image give the partition a load-address");
        return false;
    }
    u64 text_offset = le64(im + 8), image_size = le64(im + 16), flags = le64(im + 24);
    if (image_size == 0) {
        text_offset = 0x80000;
        image_size = k->size;
    }
    if (flags & 1) {
        bh_snprintf(err, len, "the Image is big-endian; partitions run little-endian");
        return false;
    }
    if (image_size < k->size) {
        bh_snprintf(err, len, "the Image header's image_size (%#llx) is smaller than the file (%#llx)",
                    (unsigned long long)image_size, (unsigned long long)k->size);
        return false;
    }
    const struct part_region *r = boot_region(p);
    if (!r) {
        bh_snprintf(err, len, "the partition has no RAM region");
        return false;
    }
    u64 top = r->gpa + r->size;
    u64 base = ALIGN_UP(r->gpa, MiB(2));
    u64 load = base + text_offset;
    if (text_offset >= r->size || load < r->gpa || load > top || image_size > top - load) {
        bh_snprintf(err, len,
                    "the Image (text_offset %#llx, image_size %#llx) does not fit in RAM region "
                    "0x%llx+0x%llx",
                    (unsigned long long)text_offset, (unsigned long long)image_size,
                    (unsigned long long)r->gpa, (unsigned long long)r->size);
        return false;
    }
    *rp = r;
    *loadp = load;
    *sizep = image_size;
    return true;
}

/* A raw image (no header needed) at the partition's configured load-address,
 * entered there; the device tree and ramdisk go in the same RAM region. */
static bool raw_place(struct partition *p, const struct boot_module *k,
                      const struct part_region **rp, u64 *loadp, u64 *sizep, char *err,
                      size_t len)
{
    u64 load = p->cfg->load_address;
    for (u32 i = 0; i < p->nregions; i++) {
        const struct part_region *r = &p->region[i];
        if (r->kind != PART_RAM || load < r->gpa || load - r->gpa >= r->size)
            continue;
        if (k->size > r->gpa + r->size - load) {
            bh_snprintf(err, len,
                        "the raw image (%llu bytes) at load-address %#llx runs past RAM region "
                        "0x%llx+0x%llx",
                        (unsigned long long)k->size, (unsigned long long)load,
                        (unsigned long long)r->gpa, (unsigned long long)r->size);
            return false;
        }
        *rp = r;
        *loadp = load;
        *sizep = k->size;
        return true;
    }
    bh_snprintf(err, len, "load-address %#llx is not in a RAM region of the partition",
                (unsigned long long)load);
    return false;
}

bool guest_image_load(struct partition *p, struct a64_part *ap, char *err, size_t len)
{
    const struct boot_module *k = p->kernel;
    if (!k) {
        bh_snprintf(err, len, "no kernel module");
        return false;
    }
    const struct part_region *r;
    u64 load, image_size;
    if (p->cfg->has_load_address ? !raw_place(p, k, &r, &load, &image_size, err, len)
                                 : !header_place(p, k, &r, &load, &image_size, err, len))
        return false;
    u64 top = r->gpa + r->size;
    u8 *dst = guest_ptr(p, load, k->size, true);
    if (!dst) {
        bh_snprintf(err, len, "guest range %#llx+%#llx is not writable RAM",
                    (unsigned long long)load, (unsigned long long)k->size);
        return false;
    }
    memcpy(dst, (const void *)(uintptr_t)k->base, k->size);
    ap->image_base = load;
    ap->image_end = load + image_size;
    ap->entry = load;

    u64 img_end = ALIGN_UP(ap->image_end, PAGE_SIZE);
    u64 rd_size = p->ramdisk ? ALIGN_UP(p->ramdisk->size, PAGE_SIZE) : 0;
    u64 dtb = ALIGN_DOWN(top - 1, MiB(2)), initrd;
    if (dtb >= img_end + rd_size && dtb > r->gpa) {
        initrd = dtb - rd_size;
    } else {
        dtb = img_end;
        initrd = img_end + DTB_MAX;
    }
    u64 cap = MIN(DTB_MAX, top > dtb ? top - dtb : 0);
    if (cap < PAGE_SIZE || initrd + rd_size > top || initrd < img_end) {
        bh_snprintf(err, len,
                    "no room for the device tree%s after the Image in RAM region 0x%llx+0x%llx",
                    p->ramdisk ? " and the ramdisk" : "", (unsigned long long)r->gpa,
                    (unsigned long long)r->size);
        return false;
    }
    ap->initrd = initrd;
    ap->initrd_size = p->ramdisk ? p->ramdisk->size : 0;
    if (p->ramdisk && p->ramdisk->size) {
        u8 *rd = guest_ptr(p, initrd, p->ramdisk->size, true);
        if (!rd) {
            bh_snprintf(err, len, "the ramdisk's guest range is not writable RAM");
            return false;
        }
        memcpy(rd, (const void *)(uintptr_t)p->ramdisk->base, p->ramdisk->size);
    }
    void *dt = guest_ptr(p, dtb, cap, true);
    int n = dt ? write_dt(p, ap, dt, (u32)cap) : FDTW_E_NOSPACE;
    if (n < 0) {
        bh_snprintf(err, len, "cannot write the partition's device tree: %s", fdtw_strerror(n));
        return false;
    }
    ap->dtb = dtb;
    ap->dtb_size = (u64)n;
    /* The guest starts with its MMU (and so its data cache) off: everything
     * written or zeroed through the hypervisor's cacheable mapping must be
     * in memory, and no dirty line may be written back over the guest's
     * uncached stores later. */
    for (u32 i = 0; i < p->nregions; i++)
        if (p->region[i].kind == PART_RAM)
            dcache_clean_inval(p->region[i].hpa, p->region[i].size);
    dsb(ish);
    __asm__ volatile("ic ialluis" ::: "memory");
    dsb(ish);
    isb();
    return true;
}
