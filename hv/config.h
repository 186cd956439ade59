/* Partition configuration: parse a "bulkhead,config" device tree (binding in
 * docs/config.md) into arch-neutral partition descriptions and validate them
 * against the machine (struct boot_info).
 *
 * Every problem is reported, not just the first: errors go into a
 * caller-provided list (struct cfg_errlist) that keeps up to `cap` entries and
 * counts the ones it had to drop. Each error names the node path, the
 * property (empty when the node itself is the problem) and what is wrong.
 *
 * No allocation: everything lives in fixed-size tables whose limits are the
 * CFG_MAX_* constants below (exceeding one is reported as an error). The same
 * code runs in the hypervisor and in the host tool tools/bulkhead-config. */
#ifndef BULKHEAD_CONFIG_H
#define BULKHEAD_CONFIG_H

#include "boot_info.h"
#include "fdt.h"

#define CFG_COMPATIBLE "bulkhead,config"
#define CFG_VERSION 1

#define CFG_MAX_PARTITIONS 16
#define CFG_MAX_CPUS BI_MAX_CPUS  /* CPUs per partition (and CPU index limit) */
#define CFG_MAX_REGIONS 8         /* memory regions per partition */
#define CFG_MAX_MMIO 8            /* pass-through MMIO ranges per partition */
#define CFG_MAX_IRQS 32           /* interrupts per partition */
#define CFG_MAX_PORTS 8           /* I/O port ranges per partition */
#define CFG_MAX_CHANNELS 16
#define CFG_MAX_MEMBERS 8         /* partitions per channel */
#define CFG_NAME_MAX 32           /* names incl. the NUL (same as module names) */
#define CFG_CMDLINE_MAX 256
#define CFG_MAX_RESTARTS 1000     /* upper bound for restart-limit */
#define CFG_MAX_POOL (1ULL << 30) /* pool-size limit (1 GiB) */
#define CFG_GUEST_ADDR_LIMIT (1ULL << 48) /* guest-physical addresses stay below */
/* arm64: where a partition with console on sees its virtual PL011 (one page). */
#define CFG_ARM64_VUART_GPA 0x09000000ULL
/* x86: the ports of a partition's virtual 16550 when its console is on. */
#define CFG_X86_VUART_PORT 0x3f8u
/* x86 partitions: the pages the hypervisor emulates (arch/x86_64/vlapic.h,
 * vacpi.h); runtime maps and pools stay clear of them. */
#define CFG_X86_LAPIC_GPA 0xfee00000ULL
#define CFG_X86_IOAPIC_GPA 0xfec00000ULL
#define CFG_X86_ACPI_GPA 0xe0000ULL
#define CFG_X86_ACPI_SIZE 0x1000ULL
/* arm64: every partition's virtual GICv3: the distributor (64 KiB) and one
 * 128 KiB redistributor per vCPU. */
#define CFG_ARM64_VGICD_GPA 0x08000000ULL
#define CFG_ARM64_VGICD_SIZE 0x10000ULL
#define CFG_ARM64_VGICR_GPA 0x080a0000ULL
#define CFG_ARM64_VGICR_STRIDE 0x20000ULL
/* arm64: the doorbell interrupt of channel c is SPI INTID
 * CFG_ARM64_DOORBELL_INTID + c (64..79) in every member's virtual GIC. */
#define CFG_ARM64_DOORBELL_INTID 64u
/* x86-64: the doorbell interrupt of channel c is vector
 * CFG_X86_DOORBELL_VECTOR + c (0xd0..0xdf) in vCPU 0's virtual local APIC,
 * fixed, edge; guests keep that range free of their own I/O APIC, timer
 * and IPI vectors. */
#define CFG_X86_DOORBELL_VECTOR 0xd0u

#define CFG_ERR_WHERE 96
#define CFG_ERR_PROP 32
#define CFG_ERR_MSG 256

enum cfg_boot_protocol {
    CFG_BOOT_DEFAULT = 0,   /* not given: the arch default (filled in by cfg_validate) */
    CFG_BOOT_LINUX_IMAGE,   /* arm64 Linux Image boot protocol */
    CFG_BOOT_MULTIBOOT,     /* x86 multiboot v1 */
    CFG_BOOT_PVH,           /* x86 PVH */
};

enum cfg_fault_policy { CFG_FAULT_HALT = 0, CFG_FAULT_RESTART };
enum cfg_access { CFG_ACCESS_R = 1, CFG_ACCESS_RW = 3 };
enum cfg_log_level { CFG_LOG_ERROR, CFG_LOG_WARN, CFG_LOG_INFO, CFG_LOG_DEBUG };

/* `node` fields are offsets of the describing node in the configuration
 * blob (cfg->fdt); they are only used to name the node in messages. */
struct cfg_region {
    u64 guest;   /* guest-physical base */
    u64 size;
    u64 host;    /* host-physical base when fixed */
    bool fixed;
    int node;
};

struct cfg_mmio {
    u64 host;    /* host-physical base of the device */
    u64 guest;   /* where the guest sees it (defaults to host) */
    u64 size;
    int node;
};

struct cfg_ports {
    u32 base;
    u32 count;
};

struct cfg_partition {
    char name[CFG_NAME_MAX];
    int node;
    u32 ncpus;
    u8 cpus[CFG_MAX_CPUS];          /* indexes into boot_info.cpus */
    u32 nregions;
    struct cfg_region regions[CFG_MAX_REGIONS];
    char kernel[CFG_NAME_MAX];      /* module names */
    char ramdisk[CFG_NAME_MAX];     /* "" when none */
    char cmdline[CFG_CMDLINE_MAX];
    enum cfg_boot_protocol boot;
    bool console;                   /* virtual console on */
    bool pmu;                       /* arm64: the PMU passed through (EL2 counting off) */
    enum cfg_fault_policy fault;
    bool outside_abort;             /* outside-access = "abort" (arm64: SEA, x86_64: #GP(0)) */
    u32 restart_limit;              /* with CFG_FAULT_RESTART */
    bool has_load_address;          /* arm64: load the kernel raw at load_address */
    u64 load_address;
    u32 nmmio;
    struct cfg_mmio mmio[CFG_MAX_MMIO];
    u32 nirqs;
    u32 irqs[CFG_MAX_IRQS];
    u32 nports;
    struct cfg_ports ports[CFG_MAX_PORTS];
    bool control;                   /* may change other partitions' channel windows */
    u64 pool_guest;                 /* balloon pool: guest-physical base */
    u64 pool_size;                  /* 0 when the partition has no pool */
    int pool_node;
};

struct cfg_member {
    u32 partition;        /* index into config.partitions */
    u64 guest;            /* guest-physical address of the window */
    enum cfg_access access;
    int node;
};

struct cfg_channel {
    char name[CFG_NAME_MAX];
    int node;
    u64 size;
    u64 host;
    bool fixed;
    u32 nmembers;
    struct cfg_member members[CFG_MAX_MEMBERS];
};

struct config {
    struct fdt fdt;       /* the blob the configuration was read from */
    u32 version;
    char arch[16];        /* "" when the config does not say */
    enum cfg_log_level log_level;
    bool console_prefix;  /* prefix guest console lines with the partition name */
    u32 npartitions;
    struct cfg_partition partitions[CFG_MAX_PARTITIONS];
    u32 nchannels;
    struct cfg_channel channels[CFG_MAX_CHANNELS];
};

struct cfg_error {
    int node;                   /* offset of the node in the blob (0 for the root) */
    char where[CFG_ERR_WHERE];  /* node path */
    char prop[CFG_ERR_PROP];    /* property, "" for the node itself */
    char msg[CFG_ERR_MSG];
};

struct cfg_errlist {
    struct cfg_error *v;
    u32 cap;
    u32 n;        /* kept in v[0..n) */
    u32 dropped;  /* reported but not kept (list full) */
};

void cfg_errlist_init(struct cfg_errlist *el, struct cfg_error *buf, u32 cap);
static inline u32 cfg_error_count(const struct cfg_errlist *el)
{
    return el->n + el->dropped;
}
/* Put the kept errors in document order (stable: errors about one node keep
 * the order they were found in). cfg_check() does this itself. */
void cfg_errlist_sort(struct cfg_errlist *el);
/* "config: <where>: <prop>: <msg>" (or without the prop part). */
int cfg_format_error(const struct cfg_error *e, char *buf, size_t size);

/* Does blob look like a partition configuration (valid FDT whose root is
 * compatible with "bulkhead,config")? */
bool cfg_is_config_blob(const void *blob, size_t len);

/* Parse blob into cfg (which is zeroed first). Reports malformed or unknown
 * nodes and properties, wrong types and sizes, exceeded limits and
 * references within the configuration (channel members). Returns the number
 * of errors it added. cfg keeps pointing into blob. */
u32 cfg_parse(struct config *cfg, const void *blob, size_t len, struct cfg_errlist *el);

/* Check a parsed configuration against the machine: CPUs, memory (overlaps
 * with each other, the hypervisor, modules, reserved and non-RAM ranges),
 * modules, devices, interrupts, ports, arch-specific settings. Fills in the
 * arch defaults (boot protocol). Returns the number of errors it added. */
u32 cfg_validate(struct config *cfg, const struct boot_info *bi, struct cfg_errlist *el);

/* cfg_parse then cfg_validate (validation runs even when parsing found
 * problems, so one run reports as much as possible), then cfg_errlist_sort.
 * Returns the total number of errors added. A configuration is usable only
 * when this is 0. */
u32 cfg_check(struct config *cfg, const void *blob, size_t len, const struct boot_info *bi,
              struct cfg_errlist *el);

/* Describe what would be created, one line per call of emit (no newline). */
void cfg_describe(const struct config *cfg, void (*emit)(void *ctx, const char *line), void *ctx);

const char *cfg_boot_protocol_name(enum cfg_boot_protocol b);

/* Boot glue (hv/config_boot.c): find the configuration among bi's modules,
 * check it, print every error and stop the boot when there is any; print
 * the partitions otherwise. Returns the configuration, or NULL when no
 * module is a configuration. */
const struct config *config_boot(const struct boot_info *bi);
/* The configuration accepted at boot, or NULL. */
const struct config *config_active(void);

#endif
