/* Platform discovery from the device tree the boot loader passed in x0, and
 * the boot modules it names. Plain C over hv/fdt.h so host tests can run it
 * on real and crafted device trees. */
#ifndef BULKHEAD_ARM64_DT_H
#define BULKHEAD_ARM64_DT_H

#include "../../hv/boot_info.h"
#include "../../hv/fdt.h"

#define DT_MAX_GICR 8
#define DT_MAX_NOMAP 16

enum psci_conduit { PSCI_NONE = 0, PSCI_SMC, PSCI_HVC };

struct dt_platform {
    bool have_uart;
    u64 uart_base, uart_size;
    bool uart_from_stdout; /* found through /chosen stdout-path */

    bool have_gic;
    u64 gicd_base, gicd_size;
    u32 ngicr;
    u64 gicr_base[DT_MAX_GICR], gicr_size[DT_MAX_GICR];

    bool have_timer;
    u32 timer_hyp_ppi;     /* EL2 physical timer interrupt (PPI number) */
    u32 timer_freq;        /* clock-frequency property, 0 if absent */

    enum psci_conduit psci;
    char psci_compat[24];

    u32 ncpus;
    u64 cpu_mpidr[BI_MAX_CPUS];
    bool cpu_psci[BI_MAX_CPUS]; /* enable-method = "psci" */
    u32 cpus_ignored;

    bool have_initrd;
    u64 initrd_start, initrd_end;

    /* /reserved-memory regions marked no-map: kept out of the hypervisor's
     * own mappings (firmware may forbid even speculative access). */
    u32 nnomap;
    u64 nomap_base[DT_MAX_NOMAP], nomap_size[DT_MAX_NOMAP];
};

/* Everything but the modules: memory map, reserved ranges (memreserve block,
 * /reserved-memory, the DTB itself at dtb_pa), /chosen bootargs, the devices
 * and the CPUs, the boot CPU (boot_mpidr) first in bi->cpus. Returns false
 * with a message naming the node and property at the first problem; the UART
 * fields are filled before anything else is checked so the caller can still
 * print the message. */
bool dt_parse_platform(const struct fdt *f, u64 dtb_pa, u64 boot_mpidr, struct dt_platform *p,
                       struct boot_info *bi, char *err, size_t errlen);

/* The modules: the initrd (a cpio newc archive mapped at initrd, physical
 * address p->initrd_start) and every /chosen child with compatible
 * "multiboot,module". Each module must lie inside memory. Returns false with
 * a message on the first problem. */
bool dt_collect_modules(const struct fdt *f, const struct dt_platform *p, const void *initrd,
                        struct boot_info *bi, char *err, size_t errlen);

const char *dt_conduit_name(enum psci_conduit c);

/* [b, e) minus the holes [hb[i], he[i]) (in any order, may overlap), as
 * sorted, disjoint pieces written to ob/oe. Returns the number of pieces, or
 * -1 if there are more than max. Used to map RAM around the image and no-map
 * regions. */
int range_subtract(u64 b, u64 e, const u64 *hb, const u64 *he, u32 nh, u64 *ob, u64 *oe,
                   u32 max);

#endif
