/* IDT and exception reporting. Every exception prints the vector, its name,
 * the error code, the faulting context and all registers, then stops the CPU
 * it happened on. Other CPUs keep running. */
#include "x86.h"
#include "../../hv/arch.h"
#include "../../hv/console.h"
#include "../../hv/smp.h"

struct exc_frame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vector, error;
    u64 rip, cs, rflags, rsp, ss;
};

struct idt_gate {
    u16 off0;
    u16 sel;
    u8 ist;
    u8 type;
    u16 off1;
    u32 off2;
    u32 zero;
} __packed;

static struct idt_gate idt[256] __attribute__((aligned(16)));
extern const u64 isr_table[32];
extern char isr_spurious[];
void x86_exception(struct exc_frame *f);

static void set_gate(unsigned v, u64 handler)
{
    idt[v] = (struct idt_gate){
        .off0 = (u16)handler,
        .sel = 0x08,
        .ist = 0,
        .type = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
        .off1 = (u16)(handler >> 16),
        .off2 = (u32)(handler >> 32),
    };
}

void x86_idt_init(void)
{
    for (unsigned v = 0; v < 256; v++)
        set_gate(v, (u64)(uintptr_t)isr_spurious);
    for (unsigned v = 0; v < 32; v++)
        set_gate(v, isr_table[v]);
    /* A stack overflow faults on the push of the exception frame itself:
     * #PF and #DF switch to the CPU's IST 1 stack. */
    idt[8].ist = 1;
    idt[14].ist = 1;
}

void x86_idt_load(void)
{
    struct {
        u16 limit;
        u64 base;
    } __packed ptr = { sizeof(idt) - 1, (u64)(uintptr_t)idt };
    __asm__ volatile("lidt %0" ::"m"(ptr));
}

static const char *const exc_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
    "#BR bound range", "#UD invalid opcode", "#NM device not available", "#DF double fault",
    "coprocessor overrun", "#TS invalid TSS", "#NP segment not present", "#SS stack fault",
    "#GP general protection", "#PF page fault", "reserved", "#MF x87 error",
    "#AC alignment check", "#MC machine check", "#XM SIMD error", "#VE virtualization",
    "#CP control protection", "reserved", "reserved", "reserved", "reserved", "reserved",
    "reserved", "#HV hypervisor injection", "#VC VMM communication", "#SX security",
    "reserved",
};

void x86_exception(struct exc_frame *f)
{
    unsigned cpu = arch_cpu_index();
    if ((f->vector == 14 && x86_stack_overflow(14, read_cr2(), f->rsp, f->rip)) ||
        (f->vector == 8 && x86_stack_overflow(8, f->rsp - 8, f->rsp, f->rip)))
        arch_halt_cpu();
    const char *name = f->vector < 32 ? exc_names[f->vector] : "unexpected interrupt";
    printk("EXCEPTION on cpu %u: vector %llu (%s), error code %#llx\n"
           "  rip %016llx cs %04llx rflags %016llx rsp %016llx ss %04llx\n"
           "  cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx\n"
           "  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
           "  rsi %016llx rdi %016llx rbp %016llx r8  %016llx\n"
           "  r9  %016llx r10 %016llx r11 %016llx r12 %016llx\n"
           "  r13 %016llx r14 %016llx r15 %016llx\n"
           "cpu %u stopped\n",
           cpu, (unsigned long long)f->vector, name, (unsigned long long)f->error,
           (unsigned long long)f->rip, (unsigned long long)f->cs, (unsigned long long)f->rflags,
           (unsigned long long)f->rsp, (unsigned long long)f->ss,
           (unsigned long long)read_cr0(), (unsigned long long)read_cr2(),
           (unsigned long long)read_cr3(), (unsigned long long)read_cr4(),
           (unsigned long long)f->rax, (unsigned long long)f->rbx, (unsigned long long)f->rcx,
           (unsigned long long)f->rdx, (unsigned long long)f->rsi, (unsigned long long)f->rdi,
           (unsigned long long)f->rbp, (unsigned long long)f->r8, (unsigned long long)f->r9,
           (unsigned long long)f->r10, (unsigned long long)f->r11, (unsigned long long)f->r12,
           (unsigned long long)f->r13, (unsigned long long)f->r14, (unsigned long long)f->r15,
           cpu);
    arch_halt_cpu();
}

u64 x86_idt_base(void)
{
    return (u64)(uintptr_t)idt;
}
