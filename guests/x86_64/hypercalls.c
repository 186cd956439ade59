/* hypercalls: calls every Bulkhead hypercall with good and bad arguments and
 * checks each result; exits with the number of failed checks. */
#include "guest.h"

static uint32_t failed, passed;

static void expect(const char *what, int32_t got, int32_t want)
{
    if (got == want) {
        passed++;
        gprintf("hypercalls: ok   %s = %d\n", what, got);
    } else {
        failed++;
        gprintf("hypercalls: FAIL %s = %d, expected %d\n", what, got, want);
    }
}

static char msg[] = "hypercalls: console-write hypercall works\n";

/* Ring 3: a VMCALL from user mode must be refused (HC_E_PERM). The guest
 * builds a GDT with user segments and a TSS, IRETs to ring 3, calls the
 * hypervisor there, and comes back through an interrupt gate (int 0x80). */
static uint64_t gdt[7];
static uint64_t idt[0x81];
static uint32_t tss[26];
uint8_t user_stack[1024] __attribute__((aligned(16)));
static uint8_t kernel_stack[2048] __attribute__((aligned(16)));
volatile uint32_t user_result, saved_esp;

void ring3_call(void);
void ring3_back(void);
__asm__(".text\n"
        ".globl ring3_call\n"
        "ring3_call:\n"
        "  pushal\n"
        "  movl %esp, saved_esp\n"
        "  pushl $0x2b\n"                   /* user SS */
        "  pushl $user_stack + 1024\n"      /* user ESP */
        "  pushl $0x2\n"                    /* EFLAGS */
        "  pushl $0x23\n"                   /* user CS */
        "  pushl $1f\n"
        "  iret\n"
        "1: movw $0x2b, %ax\n"
        "  movw %ax, %ds\n"
        "  movl $0, %eax\n"                 /* HC_NULL */
        "  vmcall\n"
        "  movl %eax, user_result\n"
        "  int $0x80\n"
        ".globl ring3_back\n"
        "ring3_back:\n"                     /* int 0x80 lands here, in ring 0 */
        "  movl saved_esp, %esp\n"
        "  movw $0x18, %ax\n"
        "  movw %ax, %ds\n"
        "  movw %ax, %es\n"
        "  popal\n"
        "  ret\n");

static int32_t vmcall_from_ring3(void)
{
    uint32_t t = (uint32_t)(uintptr_t)tss, back = (uint32_t)(uintptr_t)ring3_back;
    gdt[2] = 0x00cf9a000000ffffULL; /* 0x10 kernel code */
    gdt[3] = 0x00cf92000000ffffULL; /* 0x18 kernel data */
    gdt[4] = 0x00cffa000000ffffULL; /* 0x23 user code */
    gdt[5] = 0x00cff2000000ffffULL; /* 0x2b user data */
    gdt[6] = (sizeof(tss) - 1) | ((uint64_t)(t & 0xffffff) << 16) | (0x89ULL << 40) |
             ((uint64_t)(t >> 24) << 56);
    tss[1] = (uint32_t)(uintptr_t)(kernel_stack + sizeof(kernel_stack)); /* esp0 */
    tss[2] = 0x18;                                                       /* ss0 */
    idt[0x80] = (back & 0xffff) | (0x10ULL << 16) | (0xeeULL << 40) | ((uint64_t)(back >> 16) << 48);
    struct {
        uint16_t limit;
        uint32_t base;
    } __attribute__((packed)) gd = { sizeof(gdt) - 1, (uint32_t)(uintptr_t)gdt },
      id = { sizeof(idt) - 1, (uint32_t)(uintptr_t)idt };
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp $0x10, $1f\n"
                     "1: movw $0x18, %%ax\n\t"
                     "movw %%ax, %%ds\n\tmovw %%ax, %%es\n\tmovw %%ax, %%ss\n\t"
                     "lidt %1\n\t"
                     "movw $0x30, %%ax\n\t"
                     "ltr %%ax\n\t" ::"m"(gd), "m"(id)
                     : "eax", "memory");
    user_result = 12345;
    ring3_call();
    return (int32_t)user_result;
}
static struct bh_part_info pi;

int guest_main(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    uint32_t len = (uint32_t)strlen(msg);
    expect("null", hypercall(HC_NULL, 0, 0, 0, 0), 0);
    expect("yield", hypercall(HC_YIELD, 0, 0, 0, 0), 0);
    expect("console-write(good)", hypercall(HC_CONSOLE_WRITE, (uint32_t)(uintptr_t)msg, len, 0, 0),
           (int32_t)len);
    expect("console-write(len 0)", hypercall(HC_CONSOLE_WRITE, (uint32_t)(uintptr_t)msg, 0, 0, 0), 0);
    expect("console-write(too long)",
           hypercall(HC_CONSOLE_WRITE, (uint32_t)(uintptr_t)msg, 4097, 0, 0), -22);
    expect("console-write(outside memory)", hypercall(HC_CONSOLE_WRITE, 0xfff00000u, 16, 0, 0),
           -14);
    expect("console-write(runs off the end)",
           hypercall(HC_CONSOLE_WRITE, 0x00fffff0u, 64, 0, 0), -14);
    expect("partition-info(good)",
           hypercall(HC_PART_INFO, (uint32_t)(uintptr_t)&pi, sizeof(pi), 0, 0), (int32_t)sizeof(pi));
    expect("partition-info(small buffer)",
           hypercall(HC_PART_INFO, (uint32_t)(uintptr_t)&pi, sizeof(pi) - 1, 0, 0), -22);
    expect("partition-info(outside memory)",
           hypercall(HC_PART_INFO, 0xfff00000u, sizeof(pi), 0, 0), -14);
    expect("unknown hypercall 99", hypercall(99, 1, 2, 3, 4), -38);
    expect("unknown hypercall 0x80000000", hypercall(0x80000000u, 0, 0, 0, 0), -38);
    expect("null from ring 3 (user mode)", vmcall_from_ring3(), -1);
    expect("null again from ring 0 afterwards", hypercall(HC_NULL, 0, 0, 0, 0), 0);
    gprintf("hypercalls: partition '%s' index %u, %u vCPU, %u MiB, ABI %u\n", pi.name, pi.partition,
            pi.vcpus, (uint32_t)(pi.ram_bytes >> 20), pi.abi_version);
    gprintf("hypercalls: %u passed, %u failed\n", passed, failed);
    return (int)(failed ? 100 + failed : 7);
}
