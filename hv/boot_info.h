/* The arch-neutral description of what the boot loader handed us. Each boot
 * path (multiboot2 on x86-64, the Linux arm64 boot protocol) fills one of
 * these before the core runs. */
#ifndef BULKHEAD_BOOT_INFO_H
#define BULKHEAD_BOOT_INFO_H

#include "types.h"

#define BI_MAX_MEM 128
#define BI_MAX_RSV 64
#define BI_MAX_MODULES 32
#define BI_NAME_MAX 32
#define BI_CMDLINE_MAX 256
#define BI_MAX_CPUS 64
#define BI_MAX_PORT_RSV 48
#define BI_MAX_IOAPICS 8
#define BI_MAX_IRQ_RSV 16

enum mem_type {
    MEM_USABLE = 1,
    MEM_RESERVED = 2,
    MEM_ACPI_RECLAIM = 3,
    MEM_ACPI_NVS = 4,
    MEM_BAD = 5,
};

struct mem_range {
    u64 base;
    u64 size;
    u32 type;       /* enum mem_type (for the memory map) */
    const char *what; /* for reserved ranges: who owns it ("hypervisor", "module rtos", ...) */
};

/* I/O ports the hypervisor or the platform needs (x86): never granted to a
 * partition. `what` names the device in refusals. */
struct port_range {
    u32 base;
    u32 count;
    const char *what;
};

/* x86: an I/O APIC from the MADT (or the host checker's model). Its inputs
 * are GSIs gsi_base .. gsi_base + npins - 1. */
struct ioapic_desc {
    u64 base;
    u32 id;
    u32 gsi_base;
    u32 npins;
};

/* An interrupt (x86 GSI) the hypervisor or the platform keeps: never
 * granted to a partition. `what` names it in refusals. */
struct irq_rsv {
    u32 irq;
    const char *what;
};

struct boot_module {
    char name[BI_NAME_MAX]; /* first word of the module's string */
    char args[BI_CMDLINE_MAX]; /* the rest of the string, if any */
    u64 base;               /* physical address */
    u64 size;
};

struct cpu_desc {
    u64 hwid;   /* APIC ID on x86, MPIDR affinity on arm64 */
    bool boot;  /* the CPU we booted on */
};

struct boot_info {
    const char *arch;
    const char *loader;          /* "multiboot2", "linux-arm64" */
    char loader_name[64];        /* boot loader's own name, if it gave one */
    char cmdline[BI_CMDLINE_MAX];

    u32 nmem;
    struct mem_range mem[BI_MAX_MEM];      /* firmware memory map */
    u32 nrsv;
    struct mem_range rsv[BI_MAX_RSV];      /* never handed out by the frame allocator */
    u32 nmod;
    struct boot_module mod[BI_MAX_MODULES];
    /* Guest-physical address bits partitions get (arm64: the stage-2 IPA
     * size; 0: CFG_GUEST_ADDR_LIMIT). The boot and the host checker fill it
     * alike, and cfg_validate refuses guest ranges beyond it. */
    u32 guest_phys_bits;
    u32 nports_rsv;
    struct port_range ports_rsv[BI_MAX_PORT_RSV]; /* ports no partition may be given */
    u32 nioapics;
    struct ioapic_desc ioapics[BI_MAX_IOAPICS];   /* x86: the machine's I/O APICs */
    u32 nirq_rsv;
    struct irq_rsv irq_rsv[BI_MAX_IRQ_RSV];      /* interrupts no partition may be given */

    u64 acpi_rsdp;      /* physical address of a copy of the RSDP, 0 if none */
    u8 acpi_rsdp_copy[36]; /* the RSDP as the boot loader gave it */
    u32 acpi_rsdp_len;
    u64 platform_dtb;   /* arm64: physical address of the platform DTB */
    u64 platform_dtb_size;

    u32 ncpus;
    struct cpu_desc cpus[BI_MAX_CPUS];
    u32 cpus_ignored;   /* CPUs present beyond BI_MAX_CPUS */
};

/* Add a reserved range; false when the table is full. */
bool bi_add_reserved(struct boot_info *bi, u64 base, u64 size, const char *what);
/* Add a memory-map entry; false when the table is full. */
/* Add ports no partition may be given; false when the table is full or the
 * range is empty or beyond 0xffff. */
bool bi_add_reserved_ports(struct boot_info *bi, u32 base, u32 count, const char *what);
bool bi_add_mem(struct boot_info *bi, u64 base, u64 size, u32 type);
/* x86: add an I/O APIC; false when the table is full or npins is 0. */
bool bi_add_ioapic(struct boot_info *bi, u64 base, u32 id, u32 gsi_base, u32 npins);
/* The I/O APIC whose inputs include gsi (its pin: gsi - gsi_base), or NULL. */
const struct ioapic_desc *bi_ioapic_of(const struct boot_info *bi, u32 gsi);
/* Add an interrupt no partition may be given; false when the table is full. */
bool bi_add_reserved_irq(struct boot_info *bi, u32 irq, const char *what);
/* Add a module, splitting "name args..." into name and args. */
enum bi_mod_err { BI_MOD_OK = 0, BI_MOD_FULL, BI_MOD_NONAME, BI_MOD_NAMELONG };
enum bi_mod_err bi_add_module(struct boot_info *bi, u64 base, u64 size, const char *str, size_t len);
const struct boot_module *bi_find_module(const struct boot_info *bi, const char *name);
/* Checks that apply to every boot path. Writes a message and returns false
 * on the first problem (no modules, a name used twice, ...). */
bool bi_check(const struct boot_info *bi, char *err, size_t errlen);
/* Total usable bytes in the memory map. */
u64 bi_usable_bytes(const struct boot_info *bi);

/* Command-line options: "key=value" or "key" words. */
bool bi_cmdline_get(const char *cmdline, const char *key, char *val, size_t vallen);
/* A numeric option (decimal or 0x hex); dflt when absent or not a number. */
u64 bi_cmdline_u64(const struct boot_info *bi, const char *key, u64 dflt);

#endif
