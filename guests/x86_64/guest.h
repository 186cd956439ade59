/* A tiny runtime for the test guests: serial output on the virtual 16550,
 * number formatting, Bulkhead hypercalls, multiboot/PVH start information. */
#ifndef GUEST_H
#define GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

void putc_(char c);
void puts_(const char *s);            /* no newline added */
void putu(uint32_t v);
void puthex(uint32_t v);
void println(const char *s);
/* printf-like: %s %u %d %x %c only */
void gprintf(const char *fmt, ...);

struct bh_part_info {
    uint32_t abi_version, partition, vcpus, restarts;
    uint64_t ram_bytes;
    char name[32];
};

static inline int32_t hypercall(uint32_t nr, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3)
{
    uint32_t r;
    __asm__ volatile("vmcall" : "=a"(r) : "a"(nr), "b"(a0), "c"(a1), "d"(a2), "S"(a3) : "memory");
    return (int32_t)r;
}

#define HC_NULL 0
#define HC_CONSOLE_WRITE 1
#define HC_PART_INFO 2
#define HC_SHUTDOWN 3
#define HC_YIELD 4

/* Command line of the boot protocol (multiboot or PVH); "" when none. */
const char *boot_cmdline(uint32_t magic, uint32_t info);
/* Value of key=NUMBER in the command line, or dflt. */
uint32_t cmdline_u32(const char *cmdline, const char *key, uint32_t dflt);
bool part_info(struct bh_part_info *pi);
void spin_delay(uint32_t loops);

size_t strlen(const char *s);
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

/* An IDT whose 256 vectors all call hook (lib.c); frame as pushed. */
struct irq_frame {
    uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
    uint32_t vector, error;
    uint32_t eip, cs, eflags;
};
void idt_install(void (*hook)(struct irq_frame *));

/* For guests with their own interrupt stubs: gate_set puts an interrupt
 * gate (CS 0x10) for vector v in a 256-entry IDT; gate_tables_load loads the
 * flat GDT of idt_install (code 0x10, data 0x18), reloads the segments and
 * loads that IDT; gate_idt_load loads the IDT only (a further vCPU).
 * gate_gdtr is the GDTR value a real-mode trampoline loads. */
struct desc_ptr {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));
extern struct desc_ptr gate_gdtr;
void gate_set(unsigned v, void (*h)(void));
void gate_tables_load(void);
void gate_idt_load(void);
/* A further vCPU: copies a real-mode trampoline to 0x8000 (SIPI vector 8)
 * that loads the 6-byte GDTR value gdtr (code 0x10, data 0x18), enters
 * protected mode and calls entry on stack_top. The caller then sends
 * INIT-SIPI-SIPI. */
void ap_tramp_install(const void *gdtr, void *stack_top, void (*entry)(void));

/* The virtual platform's timestamp and interrupt controllers, shared by the
 * test guests: the TSC (ordered after earlier loads), the xAPIC page and the
 * I/O APIC's index/data window (docs/hypercalls.md). */
#define GUEST_LAPIC 0xfee00000u
#define GUEST_IOAPIC 0xfec00000u
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}
static inline uint32_t apic_rd(uint32_t off) { return *(volatile uint32_t *)(uintptr_t)(GUEST_LAPIC + off); }
static inline void apic_wr(uint32_t off, uint32_t v) { *(volatile uint32_t *)(uintptr_t)(GUEST_LAPIC + off) = v; }
static inline void ioapic_wr(uint32_t reg, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)GUEST_IOAPIC = reg;
    *(volatile uint32_t *)(uintptr_t)(GUEST_IOAPIC + 0x10) = v;
}
static inline uint32_t ioapic_rd(uint32_t reg)
{
    *(volatile uint32_t *)(uintptr_t)GUEST_IOAPIC = reg;
    return *(volatile uint32_t *)(uintptr_t)(GUEST_IOAPIC + 0x10);
}

int guest_main(uint32_t magic, uint32_t info);

#endif
