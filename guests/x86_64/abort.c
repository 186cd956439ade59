/* abort: outside-access = "abort" on x86 (docs/config.md), one case per run
 * (fault policy restart, restart limit 1).
 *
 * run 1: a read and a write outside the partition's memory (read=ADDR) must
 * each come back as #GP(0) at the access, with error code 0, which the
 * handler skips; then a call to that address must not: an instruction fetch
 * goes to the fault policy (the partition restarts).
 * run 2: an IDT outside its memory: delivering INT3 reads the gate there,
 * an access during event delivery, which also goes to the fault policy.
 * Getting past either prints ESCAPED. */
#include "guest.h"

uint32_t ab_ld(uint32_t addr);
void ab_st(uint32_t addr, uint32_t val);
void ab_gp(void);
volatile uint32_t ab_faults, ab_eip, ab_err;

/* #GP frame (same privilege): error code, EIP, CS, EFLAGS. The handler
 * records the fault and resumes after the faulting load or store. */
__asm__(".text\n"
        ".globl ab_ld\nab_ld:\n  movl 4(%esp), %edx\n"
        ".globl ab_ld_insn\nab_ld_insn:\n  movl (%edx), %eax\nab_ld_after:\n  ret\n"
        ".globl ab_st\nab_st:\n  movl 4(%esp), %edx\n  movl 8(%esp), %eax\n"
        ".globl ab_st_insn\nab_st_insn:\n  movl %eax, (%edx)\nab_st_after:\n  ret\n"
        ".globl ab_gp\nab_gp:\n"
        "  pushl %eax\n  movl 4(%esp), %eax\n  movl %eax, ab_err\n"
        "  movl 8(%esp), %eax\n  movl %eax, ab_eip\n  incl ab_faults\n"
        "  cmpl $ab_ld_insn, %eax\n  jne 1f\n  movl $ab_ld_after, 8(%esp)\n  jmp 2f\n"
        "1: cmpl $ab_st_insn, %eax\n  jne 3f\n  movl $ab_st_after, 8(%esp)\n"
        "2: popl %eax\n  addl $4, %esp\n  iret\n"
        "3: cli\n  hlt\n  jmp 3b\n");
extern char ab_ld_insn[], ab_st_insn[];

static uint64_t gdt[4] = { 0, 0, 0x00cf9a000000ffffULL, 0x00cf92000000ffffULL };
static uint64_t idt[32];
static struct {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed)) gdtr, idtr;

static void load_tables(void)
{
    gdtr.limit = sizeof(gdt) - 1;
    gdtr.base = (uint32_t)(uintptr_t)gdt;
    uint32_t a = (uint32_t)(uintptr_t)ab_gp;
    idt[13] = (a & 0xffff) | (0x10ULL << 16) | (0x8eULL << 40) | ((uint64_t)(a >> 16) << 48);
    idtr.limit = sizeof(idt) - 1;
    idtr.base = (uint32_t)(uintptr_t)idt;
    __asm__ volatile("lgdt %0\n\tljmp $0x10, $1f\n1: movw $0x18, %%ax\n\t"
                     "movw %%ax, %%ds\n\tmovw %%ax, %%es\n\tmovw %%ax, %%ss\n\tlidt %1" ::"m"(gdtr),
                     "m"(idtr)
                     : "eax", "memory");
}

int guest_main(uint32_t magic, uint32_t info)
{
    const char *cmd = boot_cmdline(magic, info);
    struct bh_part_info pi;
    part_info(&pi);
    uint32_t outside = cmdline_u32(cmd, "read", 0x3000000);
    load_tables();
    if (pi.restarts == 0) {
        uint32_t v = ab_ld(outside);
        bool rd = ab_faults == 1 && ab_eip == (uint32_t)(uintptr_t)ab_ld_insn && ab_err == 0;
        ab_st(outside + 4, 0xdeadbeef);
        bool wr = ab_faults == 2 && ab_eip == (uint32_t)(uintptr_t)ab_st_insn && ab_err == 0;
        gprintf("abort: run 1: read of %x: %s; write of %x: %s\n", outside,
                rd ? "#GP(0) at the load" : "FAILED", outside + 4,
                wr ? "#GP(0) at the store" : "FAILED");
        (void)v;
        gprintf("abort: run 1: calling %x, outside my memory\n", outside);
        ((void (*)(void))(uintptr_t)outside)();
        gprintf("abort: ESCAPED: returned from %x\n", outside);
        return 1;
    }
    gprintf("abort: run 2: INT3 with the IDT at %x, outside my memory\n", outside);
    idtr.base = outside;
    __asm__ volatile("lidt %0\n\tint3" ::"m"(idtr) : "memory");
    gprintf("abort: ESCAPED: INT3 delivered through %x\n", outside);
    return 1;
}
