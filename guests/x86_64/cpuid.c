/* cpuid: checks what the partition sees of CPUID and MSRs: no VMX, the
 * hypervisor bit and Bulkhead's leaf; allowed MSRs work, others raise #GP
 * (caught by a #GP handler that skips the instruction). Exit code = failures. */
#include "guest.h"

static volatile uint32_t gp_count;
volatile uint32_t gp_skip = 2;
static uint32_t failed, passed;

void gp_handler(void);
__asm__(".text\n"
        ".globl gp_handler\n"
        "gp_handler:\n"
        "  addl $4, %esp\n"          /* error code */
        "  pushl %eax\n"
        "  movl gp_skip, %eax\n"
        "  addl %eax, 4(%esp)\n"     /* skip the faulting instruction */
        "  popl %eax\n"
        "  incl gp_count\n"
        "  iret\n");

static uint64_t idt[32];

static void check(const char *what, bool ok)
{
    if (ok)
        passed++;
    else
        failed++;
    gprintf("cpuid: %s %s\n", ok ? "ok  " : "FAIL", what);
}

static bool rdmsr_faults(uint32_t msr, uint64_t *val)
{
    uint32_t before = gp_count, lo = 0, hi = 0;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    *val = ((uint64_t)hi << 32) | lo;
    return gp_count != before;
}

static bool wrmsr_faults(uint32_t msr, uint64_t val)
{
    uint32_t before = gp_count;
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32)));
    return gp_count != before;
}

int guest_main(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    /* Our own GDT (the boot protocol leaves GDTR undefined) and an IDT with #GP. */
    static uint64_t gdt[4] = { 0, 0, 0x00cf9a000000ffffULL, 0x00cf92000000ffffULL };
    struct {
        uint16_t limit;
        uint32_t base;
    } __attribute__((packed)) gd = { sizeof(gdt) - 1, (uint32_t)(uintptr_t)gdt },
      id = { sizeof(idt) - 1, (uint32_t)(uintptr_t)idt };
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp $0x10, $1f\n"
                     "1: movw $0x18, %%ax\n\t"
                     "movw %%ax, %%ds\n\tmovw %%ax, %%es\n\tmovw %%ax, %%ss\n\t" ::"m"(gd)
                     : "eax", "memory");
    uint32_t h = (uint32_t)(uintptr_t)gp_handler;
    idt[13] = (h & 0xffff) | (0x10ULL << 16) | (0x8eULL << 40) | ((uint64_t)(h >> 16) << 48);
    __asm__ volatile("lidt %0" ::"m"(id));

    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    check("CPUID.1:ECX.VMX is hidden", !(c & (1u << 5)));
    check("CPUID.1:ECX.hypervisor is set", c & (1u << 31));
    check("CPUID.1:EDX.MCE and MCA are hidden", !(d & ((1u << 7) | (1u << 14))));
    check("CPUID.1:ECX.OSXSAVE is clear while the guest's CR4.OSXSAVE is", !(c & (1u << 27)));
    uint32_t leaf1_ecx = c;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x40000000), "c"(0));
    char sig[13];
    memcpy(sig, &b, 4);
    memcpy(sig + 4, &c, 4);
    memcpy(sig + 8, &d, 4);
    sig[12] = 0;
    gprintf("cpuid: leaf 0x40000000: max %x, signature '%s'\n", a, sig);
    check("hypervisor leaf signature is Bulkhead", sig[0] == 'B' && sig[4] == 'h' && sig[8] == 'H');
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x40000010), "c"(0));
    gprintf("cpuid: leaf 0x40000010: TSC %u kHz, APIC timer %u kHz\n", a, b);
    check("leaf 0x40000010 gives the TSC and APIC-timer frequencies", a != 0 && b != 0);
    uint64_t v;
    check("RDMSR EFER works", !rdmsr_faults(0xc0000080, &v));
    check("WRMSR EFER.NXE works", !wrmsr_faults(0xc0000080, v | (1u << 11)));
    check("EFER.NXE reads back", !rdmsr_faults(0xc0000080, &v) && (v & (1u << 11)));
    check("WRMSR EFER with a reserved bit raises #GP", wrmsr_faults(0xc0000080, v | (1u << 20)));
    check("RDMSR IA32_FEATURE_CONTROL raises #GP", rdmsr_faults(0x3a, &v));
    check("WRMSR IA32_APIC_BASE with a reserved bit raises #GP", wrmsr_faults(0x1b, 0xfee00901ULL));
    check("RDMSR IA32_MCG_STATUS reads 0 (machine checks hidden)", !rdmsr_faults(0x17a, &v) && v == 0);
    check("RDMSR 0x12345678 (no such MSR) raises #GP", rdmsr_faults(0x12345678, &v));
    check("WRMSR LSTAR works (guest-owned)", !wrmsr_faults(0xc0000082, 0x12345678));
    check("RDMSR LSTAR reads it back", !rdmsr_faults(0xc0000082, &v) && v == 0x12345678);
    check("RDMSR TSC works", !rdmsr_faults(0x10, &v));
    /* The PMU and the debug MSRs are the hypervisor's. */
    check("RDMSR IA32_PERFEVTSEL0 raises #GP", rdmsr_faults(0x186, &v));
    check("WRMSR IA32_PERF_GLOBAL_CTRL raises #GP", wrmsr_faults(0x38f, 1));
    check("WRMSR IA32_FIXED_CTR_CTRL raises #GP", wrmsr_faults(0x38d, 0x333));
    check("WRMSR IA32_DEBUGCTL raises #GP", wrmsr_faults(0x1d9, 1));
    {
        uint32_t before = gp_count, lo, hi;
        __asm__ volatile("rdpmc" : "=a"(lo), "=d"(hi) : "c"(0));
        (void)lo, (void)hi;
        check("RDPMC raises #GP", gp_count != before);
    }
    /* An ungranted port with no device behind it (COM2's line status) reads
     * all-ones and is reported once. The RTC/CMOS is never granted: ports
     * 0x70/0x71 are the partition's virtual RTC. */
    check("port 0x2fd (not granted, no device) reads all-ones", inb(0x2fd) == 0xff);
    check("port 0x2fd reads all-ones again", inb(0x2fd) == 0xff);
    outb(0x70, 0x0d);
    outb(0x70, 0x0d);
    uint8_t rtc_d = inb(0x71);
    gprintf("cpuid: CMOS status D of the virtual RTC: %x\n", rtc_d);
    check("ports 0x70/0x71 (never granted) are the virtual RTC (status D 0x80)", rtc_d == 0x80);
    /* Port 0x80 is granted: the emulator's POST latch reads back what was
     * written, which only the real device can do. */
    outb(0x80, 0xa5);
    uint8_t post = inb(0x80);
    gprintf("cpuid: port 0x80 through the grant reads %x\n", post);
    check("granted port 0x80 reaches the hardware (POST latch reads back 0xa5)", post == 0xa5);
    if (leaf1_ecx & (1u << 26)) {
        uint32_t cr4;
        __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
        __asm__ volatile("mov %0, %%cr4" ::"r"(cr4 | (1u << 18)));
        __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
        check("CPUID.1:ECX.OSXSAVE follows the guest's CR4.OSXSAVE", c & (1u << 27));
        gp_skip = 3;
        uint32_t before = gp_count;
        __asm__ volatile("xsetbv" ::"c"(0), "a"(3), "d"(0));
        check("XSETBV XCR0=x87|SSE works", gp_count == before);
        __asm__ volatile("xsetbv" ::"c"(0), "a"(2), "d"(0));
        check("XSETBV XCR0 without x87 raises #GP", gp_count == before + 1);
        uint32_t xa, xb, xc, xd;
        __asm__ volatile("cpuid" : "=a"(xa), "=b"(xb), "=c"(xc), "=d"(xd) : "a"(0xd), "c"(0));
        if ((xa & 0xe4) == 0xe4) {
            /* one AVX-512 state bit without the other two: #GP for the guest, not the host */
            __asm__ volatile("xsetbv" ::"c"(0), "a"(0x27), "d"(0));
            check("XSETBV with a partial AVX-512 set raises #GP", gp_count == before + 2);
            __asm__ volatile("xsetbv" ::"c"(0), "a"(0xe7), "d"(0));
            check("XSETBV with all AVX-512 state works", gp_count == before + 2);
        }
        gp_skip = 2;
    } else {
        println("cpuid: no XSAVE on this CPU; XSETBV not tested");
    }
    gprintf("cpuid: %u passed, %u failed, %u #GP taken\n", passed, failed, gp_count);
    return (int)failed;
}
