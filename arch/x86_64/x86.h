/* x86-64 helpers: port I/O, MSRs, CPUID, control registers. */
#ifndef BULKHEAD_X86_H
#define BULKHEAD_X86_H

#include "../../hv/boot_info.h"

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline u8 inb(u16 port)
{
    u8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline u16 inw(u16 port)
{
    u16 v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline u64 rdmsr(u32 msr)
{
    u32 lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((u64)hi << 32) | lo;
}
static inline void wrmsr(u32 msr, u64 v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((u32)v), "d"((u32)(v >> 32)));
}

static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static inline u64 read_cr0(void) { u64 v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline u64 read_cr2(void) { u64 v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline u64 read_cr3(void) { u64 v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline u64 read_cr4(void) { u64 v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr3(u64 v) { __asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
static inline void write_cr4(u64 v) { __asm__ volatile("mov %0, %%cr4" ::"r"(v) : "memory"); }

static inline void mmio_write32(u64 addr, u32 v) { *(volatile u32 *)(uintptr_t)addr = v; }
static inline u32 mmio_read32(u64 addr) { return *(volatile u32 *)(uintptr_t)addr; }

#define MSR_APIC_BASE 0x1b
#define MSR_FEATURE_CONTROL 0x3a
#define MSR_EFER 0xc0000080
#define MSR_GS_BASE 0xc0000101
#define MSR_VMX_BASIC 0x480
#define MSR_VMX_PROCBASED_CTLS 0x482
#define MSR_VMX_PROCBASED_CTLS2 0x48b
#define MSR_VMX_EPT_VPID_CAP 0x48c
#define MSR_VMX_TRUE_PROCBASED_CTLS 0x48e

#define EFER_NXE (1u << 11)

/* Linker symbols. */
extern char __image_start[], __image_end[], __text_start[], __text_end[];
extern char __rodata_start[], __rodata_end[], __data_start[], __bss_start[], __bss_end[];

/* arch/x86_64 internals */
void x86_idt_init(void);
void x86_idt_load(void);
void x86_gdt_load(u32 cpu);
void x86_paging_init(const struct boot_info *bi);
u64 x86_paging_cr3(void);
bool x86_phys_mapped(u64 pa, u64 len);
bool x86_acpi_init(struct boot_info *bi, char *err, size_t errlen);
/* arch/x86_64/tsc.c: calibrate the TSC against the PIT once at boot; its
 * rate in kHz (the LAPIC timer, CPUID, the RTC, arch_time_us). */
void x86_tsc_calibrate(void);
u64 x86_tsc_khz(void);
static inline u64 rdtsc(void)
{
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}
/* arch/x86_64/stackguard.c: IST stack top for cpu; unmap the guard page
 * below cpu's stack; report a fault in a guard page (true when it was). */
u64 x86_ist_top(u32 cpu);
bool x86_stack_guard(u32 cpu, u64 guard);
bool x86_stack_overflow(u64 vector, u64 addr, u64 rsp, u64 rip);
/* arch/x86_64/paging.c: unmap one 4 KiB page of the hypervisor's tables. */
bool x86_unmap_page(u64 va);
void x86_acpi_poweroff(void);
u64 x86_lapic_base(void);
void x86_lapic_eoi(void);
void x86_kick_cpu(u32 cpu); /* IPI that makes that CPU leave guest mode */
/* Host vectors of the kicks (smp.c): any kick, and the epoch kick
 * (arch_kick_cpu), which the exit counts as taken (vmx.c). */
#define X86_KICK_VECTOR 0xf2
#define X86_EPOCH_VECTOR 0xf3
void x86_kick_cpu_vec(u32 cpu, u32 vec);
struct partition;
/* A channel doorbell (runtime_map.c): post vec in vCPU 0's virtual LAPIC. */
void x86_doorbell_post(struct partition *p, u32 vec);
bool x86_cpu_runs_vcpu(u32 cpu); /* vmx.c: it may take an epoch kick */
struct partition;
struct memslot;
/* Runtime EPT changes (vmx.c, for runtime_map.c): map a slot, clear a range,
 * and make every CPU running the partition drop stale translations. */
bool x86_ept_map(struct partition *p, const struct memslot *m);
void x86_ept_clear(struct partition *p, u64 gpa, u64 size);
void x86_ept_shootdown(struct partition *p);
u32 x86_bsp_apic_id(void);
void x86_set_percpu(u32 index);
u64 x86_gdt_base(void);
u64 x86_idt_base(void);
u64 x86_tss_base(u32 cpu);
u16 x86_tr_selector(u32 cpu);
void x86_acpi_find_rsdp(struct boot_info *bi);
void x86_acpi_early(struct boot_info *bi);
void arch_udelay(u64 us);

#endif
