/* x86-64 CPU basics: the C entry from boot/x86_64/entry.S, per-CPU GDT/TSS,
 * GS-based per-CPU pointer, and the simple arch hooks. */
#include "x86.h"
#include "../../boot/x86_64/multiboot2.h"
#include "../../drivers/uart16550.h"
#include "../../hv/arch.h"
#include "../../hv/console.h"
#include "../../hv/format.h"
#include "../../hv/hv.h"
#include "../../hv/smp.h"
#include "../../hv/string.h"

#define COM1 0x3f8

struct tss64 {
    u32 rsvd0;
    u64 rsp[3];
    u64 rsvd1;
    u64 ist[7];
    u64 rsvd2;
    u16 rsvd3;
    u16 iomap;
} __packed;

/* GDT: null, code 0x08, data 0x10, then one 16-byte TSS descriptor per CPU. */
#define GDT_TSS_BASE 3
static u64 gdt[GDT_TSS_BASE + 2 * MAX_CPUS] __attribute__((aligned(16))) = {
    0,
    0x00af9b000000ffffULL,
    0x00cf93000000ffffULL,
};
static struct tss64 tss[MAX_CPUS] __attribute__((aligned(16)));

static struct boot_info bi;

void x86_set_percpu(u32 index)
{
    percpu[index].self = &percpu[index];
    percpu[index].index = index;
    wrmsr(MSR_GS_BASE, (u64)(uintptr_t)&percpu[index]);
}

unsigned arch_cpu_index(void)
{
    u32 idx;
    __asm__ volatile("movl %%gs:%c1, %0" : "=r"(idx) : "i"(offsetof(struct percpu, index)));
    return idx;
}

void x86_gdt_load(u32 cpu)
{
    u64 base = (u64)(uintptr_t)&tss[cpu];
    u64 limit = sizeof(struct tss64) - 1;
    tss[cpu].iomap = sizeof(struct tss64);
    tss[cpu].ist[0] = x86_ist_top(cpu); /* IST 1: #PF and #DF (stack overflows) */
    u32 slot = GDT_TSS_BASE + 2 * cpu;
    gdt[slot] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
                (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[slot + 1] = base >> 32;
    struct {
        u16 limit;
        u64 base;
    } __packed ptr = { sizeof(gdt) - 1, (u64)(uintptr_t)gdt };
    __asm__ volatile("lgdt %0\n\t"
                     "pushq $0x08\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "movw $0x10, %%ax\n\t"
                     "movw %%ax, %%ds\n\t"
                     "movw %%ax, %%es\n\t"
                     "movw %%ax, %%ss\n\t"
                     "ltr %w1\n\t"
                     :
                     : "m"(ptr), "r"((u16)(slot * 8))
                     : "rax", "memory");
}

void arch_cpu_relax(void)
{
    __asm__ volatile("pause" ::: "memory");
}

void arch_halt_cpu(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

void arch_idle_forever(void)
{
    /* No work is ever handed to an idle CPU yet: interrupts stay off. */
    for (;;)
        __asm__ volatile("cli; hlt");
}

void arch_console_putc(char c)
{
    uart16550_putc(COM1, c);
}

int arch_console_getc(void)
{
    return uart16550_getc(COM1);
}

void arch_cpu_model(char *buf, size_t size)
{
    u32 a, b, c, d;
    char vendor[13];
    cpuid(0, 0, &a, &b, &c, &d);
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    vendor[12] = 0;
    u32 sig, unused;
    cpuid(1, 0, &sig, &unused, &unused, &unused);
    u32 family = (sig >> 8) & 0xf, model = (sig >> 4) & 0xf, stepping = sig & 0xf;
    if (family == 0xf)
        family += (sig >> 20) & 0xff;
    if (family == 0x6 || family >= 0xf)
        model |= ((sig >> 16) & 0xf) << 4;
    char brand[49] = "";
    cpuid(0x80000000, 0, &a, &b, &c, &d);
    if (a >= 0x80000004) {
        u32 *w = (u32 *)brand;
        for (u32 i = 0; i < 3; i++)
            cpuid(0x80000002 + i, 0, &w[i * 4], &w[i * 4 + 1], &w[i * 4 + 2], &w[i * 4 + 3]);
        brand[48] = 0;
    }
    const char *br = brand;
    while (*br == ' ')
        br++;
    bh_snprintf(buf, size, "%s family %#x model %#x stepping %u%s%s", vendor, family, model,
                stepping, *br ? ", " : "", br);
}

static void append(char *buf, size_t size, const char *word)
{
    size_t n = strlen(buf);
    bh_snprintf(buf + n, size - n, "%s%s", n ? " " : "", word);
}

void arch_virt_features(char *buf, size_t size)
{
    u32 a, b, c, d;
    buf[0] = 0;
    cpuid(1, 0, &a, &b, &c, &d);
    if (c & (1u << 5)) {
        append(buf, size, "VMX");
        u64 fc = rdmsr(MSR_FEATURE_CONTROL);
        if ((fc & 1) && !(fc & 4))
            append(buf, size, "(disabled by firmware)");
        u64 basic = rdmsr(MSR_VMX_BASIC);
        u64 proc = rdmsr((basic & (1ULL << 55)) ? MSR_VMX_TRUE_PROCBASED_CTLS
                                                : MSR_VMX_PROCBASED_CTLS);
        if (proc & (1ULL << 63)) {
            u64 proc2 = rdmsr(MSR_VMX_PROCBASED_CTLS2) >> 32;
            if (proc2 & (1u << 1))
                append(buf, size, "EPT");
            if (proc2 & (1u << 7))
                append(buf, size, "unrestricted-guest");
            if (proc2 & (1u << 5))
                append(buf, size, "VPID");
        }
    }
    cpuid(0x80000000, 0, &a, &b, &c, &d);
    u32 maxext = a;
    if (maxext >= 0x80000001) {
        cpuid(0x80000001, 0, &a, &b, &c, &d);
        if (c & (1u << 2)) {
            append(buf, size, "SVM");
            if (maxext >= 0x8000000a) {
                cpuid(0x8000000a, 0, &a, &b, &c, &d);
                if (d & 1)
                    append(buf, size, "NPT");
            }
        }
    }
    cpuid(1, 0, &a, &b, &c, &d);
    if (c & (1u << 31))
        append(buf, size, "(running under a hypervisor)");
    if (!buf[0])
        bh_snprintf(buf, size, "none (no VMX or SVM: partitions cannot run on this CPU)");
}

/* Busy delay on PIT channel 2 (works before any interrupt is set up). */
void arch_udelay(u64 us)
{
    while (us) {
        u64 chunk = us > 50000 ? 50000 : us;
        u32 ticks = (u32)((chunk * 1193182ULL) / 1000000ULL);
        if (ticks < 1)
            ticks = 1;
        u8 p61 = inb(0x61);
        outb(0x61, (u8)((p61 & ~0x02) | 0x01)); /* gate on, speaker off */
        outb(0x43, 0xb0);                         /* channel 2, lo/hi, mode 0 */
        outb(0x42, (u8)ticks);
        outb(0x42, (u8)(ticks >> 8));
        for (u32 guard = 0; !(inb(0x61) & 0x20) && guard < 100000000u; guard++)
            __asm__ volatile("pause");
        us -= chunk;
    }
}

void arch_poweroff(void)
{
    x86_acpi_poweroff();
}

void x86_boot_main(u32 magic, u32 info_phys);
void x86_boot_main(u32 magic, u32 info_phys)
{
    char err[256];
    x86_set_percpu(0);
    uart16550_init(COM1);
    x86_idt_init();
    x86_idt_load();
    x86_gdt_load(0);

    printk("\nbulkhead: x86-64 entry (multiboot2 magic %#x, information at %#x)\n", magic,
           info_phys);
    if (magic != MB2_BOOTLOADER_MAGIC) {
        printk("bulkhead: boot stopped: not started by a multiboot2 loader (EAX %#x, expected "
               "%#x); boot it with GRUB's multiboot2 command\n",
               magic, MB2_BOOTLOADER_MAGIC);
        arch_halt_cpu();
    }
    x86_acpi_early(&bi);
    bi.arch = "x86_64";
    bi.loader = "multiboot2";
    bi_add_reserved(&bi, (u64)(uintptr_t)__image_start,
                    SYM_DIFF(__image_end, __image_start), "hypervisor image");
    if (!mb2_parse((const void *)(uintptr_t)info_phys, MB2_INFO_MAX, info_phys, &bi, err,
                   sizeof(err))) {
        /* Options from tags that passed their own checks still apply (on_error=). */
        hv_set_boot_info(&bi);
        hv_stop_boot("%s", err);
    }
    hv_main(&bi);
}

/* Host state for the VMCS. */
u64 x86_gdt_base(void)
{
    return (u64)(uintptr_t)gdt;
}

u64 x86_tss_base(u32 cpu)
{
    return (u64)(uintptr_t)&tss[cpu];
}

u16 x86_tr_selector(u32 cpu)
{
    return (u16)((GDT_TSS_BASE + 2 * cpu) * 8);
}
