/* A tiny runtime for the arm64 test guests: output on the partition's
 * virtual PL011, number formatting, SMCCC calls (PSCI and Bulkhead's
 * hypercalls through HVC or SMC), and a minimal device-tree reader. The
 * guests run with the MMU off: every data access is Device memory, so
 * nothing unaligned and no exclusives. */
#ifndef GUEST_H
#define GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UART_BASE 0x09000000UL

void putc_(char c);
void puts_(const char *s);
void println(const char *s);
/* printf-like: %s %u %d %x %lx %lu %c */
void gprintf(const char *fmt, ...);

struct smc_res {
    uint64_t x0, x1, x2, x3;
};
uint64_t hvc_call(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4);
uint64_t smc_call(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4);

#define HC_BASE 0xc6000000UL
#define HC_NULL 0
#define HC_CONSOLE_WRITE 1
#define HC_PART_INFO 2
#define HC_SHUTDOWN 3
#define HC_YIELD 4
#define HC_WIN_ATTACH 5
#define HC_WIN_DETACH 6
#define HC_WIN_MOVE 7
#define HC_WIN_PROTECT 8
#define HC_POOL_GIVE 9
#define HC_POOL_TAKE 10
#define HC_DOORBELL_RING 11
#define HC_DOORBELL_POLL 12
#define HC_FREE_FRAMES 13
#define HC_MAP_STATS 14
static inline int64_t hypercall(uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    return (int64_t)hvc_call(HC_BASE + nr, a0, a1, a2, a3);
}

#define PSCI_VERSION 0x84000000UL
#define PSCI_CPU_OFF 0x84000002UL
#define PSCI_CPU_ON 0xc4000003UL
#define PSCI_AFFINITY_INFO 0xc4000004UL
#define PSCI_SYSTEM_OFF 0x84000008UL
#define PSCI_SYSTEM_RESET 0x84000009UL
#define PSCI_FEATURES 0x8400000aUL

struct bh_part_info {
    uint32_t abi_version, partition, vcpus, restarts;
    uint64_t ram_bytes;
    char name[32];
};
bool part_info(struct bh_part_info *pi);

/* Device tree: a property of the node at path, or NULL. */
const void *dt_getprop(const void *dtb, const char *path, const char *prop, uint32_t *len);
/* Call fn for each node whose name starts with prefix at depth 1 ("memory"). */
void dt_each_node(const void *dtb, const char *prefix,
                  void (*fn)(const void *dtb, const char *name, const uint8_t *reg, uint32_t reglen));
uint32_t be32(const void *p);
uint64_t be64(const void *p);
/* Number of /cpus children. */
uint32_t dt_count_cpus(const void *dtb);
/* /chosen/bootargs or "". */
const char *dt_bootargs(const void *dtb);

uint64_t cmdline_u64(const char *cmdline, const char *key, uint64_t dflt);
void spin_delay(uint64_t loops);
static inline uint64_t counter(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v)::"memory");
    return v;
}
static inline uint64_t counter_freq(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v;
}

/* The partition's virtual GICv3 (distributor, one redistributor per vCPU). */
#define GICD_BASE 0x08000000UL
#define GICR_BASE(i) (0x080a0000UL + (uint64_t)(i) * 0x20000UL)
#define GICR_SGI_BASE(i) (GICR_BASE(i) + 0x10000UL)
/* Plain LDR/STR without writeback, so a trapped access has a syndrome
 * (as Linux's readl/writel). */
static inline uint32_t mmio_r32(uint64_t a)
{
    uint32_t v;
    __asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
    return v;
}
static inline void mmio_w32(uint64_t a, uint32_t v)
{
    __asm__ volatile("str %w0, [%1]" ::"rZ"(v), "r"(a) : "memory");
}
static inline uint64_t mmio_r64(uint64_t a)
{
    uint64_t v;
    __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(a) : "memory");
    return v;
}
static inline void mmio_w64(uint64_t a, uint64_t v)
{
    __asm__ volatile("str %x0, [%1]" ::"rZ"(v), "r"(a) : "memory");
}
/* Distributor on (group 1); returns GICD_PIDR2. */
uint32_t gic_dist_on(void);
/* This vCPU's redistributor awake, SGIs/PPIs group 1 at priority 0x80,
 * those in enable_mask enabled, and its CPU interface on (PMR 0xff). */
void gic_cpu_on(uint32_t vcpu, uint32_t enable_mask);
static inline uint32_t gic_ack(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, S3_0_C12_C12_0" : "=r"(v)::"memory"); /* ICC_IAR1_EL1 */
    return (uint32_t)v & 0xffffff;
}
static inline void gic_eoi(uint32_t intid)
{
    __asm__ volatile("msr S3_0_C12_C12_1, %0; isb" ::"r"((uint64_t)intid) : "memory"); /* ICC_EOIR1_EL1 */
}
static inline void gic_send_sgi(uint32_t intid, uint32_t target_list)
{
    uint64_t v = (uint64_t)(intid & 15) << 24 | (target_list & 0xffff);
    __asm__ volatile("msr S3_0_C12_C11_5, %0; isb" ::"r"(v) : "memory"); /* ICC_SGI1R_EL1 */
}
static inline void irq_enable(void) { __asm__ volatile("msr daifclr, #2; isb" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("msr daifset, #2; isb" ::: "memory"); }
void irq_handler(void);

size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

extern char secondary_entry[];
extern char guest_vectors[];
extern volatile uint64_t last_esr, exceptions;
extern volatile uint64_t vcpu_exc[16], vcpu_esr[16], vcpu_far[16];
static inline void set_vectors(void)
{
    __asm__ volatile("msr vbar_el1, %0; isb" ::"r"((uintptr_t)guest_vectors) : "memory");
}
int guest_main(const void *dtb);
void secondary_main(uint64_t index);

#endif
