#include "guest.h"
#include <stdarg.h>

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

void *memset(void *d, int c, size_t n)
{
    uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *p = d;
    const uint8_t *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

void putc_(char c)
{
    while (!(inb(0x3fd) & 0x20))
        ;
    outb(0x3f8, (uint8_t)c);
}

void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}

void println(const char *s)
{
    puts_(s);
    putc_('\n');
}

void putu(uint32_t v)
{
    char b[12];
    int n = 0;
    do {
        b[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        putc_(b[--n]);
}

void puthex(uint32_t v)
{
    puts_("0x");
    bool started = false;
    for (int i = 28; i >= 0; i -= 4) {
        unsigned d = (v >> i) & 15;
        if (d || started || i == 0) {
            putc_("0123456789abcdef"[d]);
            started = true;
        }
    }
}

void gprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            putc_(*fmt);
            continue;
        }
        switch (*++fmt) {
        case 's': puts_(va_arg(ap, const char *)); break;
        case 'u': putu(va_arg(ap, uint32_t)); break;
        case 'd': {
            int32_t v = va_arg(ap, int32_t);
            if (v < 0) {
                putc_('-');
                putu((uint32_t)0 - (uint32_t)v);
            } else {
                putu((uint32_t)v);
            }
            break;
        }
        case 'x': puthex(va_arg(ap, uint32_t)); break;
        case 'c': putc_((char)va_arg(ap, int)); break;
        case '%': putc_('%'); break;
        default: putc_('?'); break;
        }
    }
    va_end(ap);
}

const char *boot_cmdline(uint32_t magic, uint32_t info)
{
    if (magic == 0x2badb002) {
        const uint32_t *mbi = (const uint32_t *)(uintptr_t)info;
        if (mbi[0] & 4)
            return (const char *)(uintptr_t)mbi[4];
    } else {
        const uint32_t *si = (const uint32_t *)(uintptr_t)info;
        if (si[0] == 0x336ec578 && si[6])
            return (const char *)(uintptr_t)si[6];
    }
    return "";
}

uint32_t cmdline_u32(const char *c, const char *key, uint32_t dflt)
{
    size_t kl = strlen(key);
    for (const char *p = c; *p; p++) {
        if ((p == c || p[-1] == ' ')) {
            size_t i = 0;
            while (i < kl && p[i] == key[i])
                i++;
            if (i == kl && p[kl] == '=') {
                const char *v = p + kl + 1;
                uint32_t r = 0;
                if (v[0] == '0' && v[1] == 'x') {
                    for (v += 2; *v && *v != ' '; v++)
                        r = r * 16 + (uint32_t)(*v <= '9' ? *v - '0' : (*v | 32) - 'a' + 10);
                } else {
                    for (; *v >= '0' && *v <= '9'; v++)
                        r = r * 10 + (uint32_t)(*v - '0');
                }
                return r;
            }
        }
    }
    return dflt;
}

bool part_info(struct bh_part_info *pi)
{
    return hypercall(HC_PART_INFO, (uint32_t)(uintptr_t)pi, sizeof(*pi), 0, 0) ==
           (int32_t)sizeof(*pi);
}

void spin_delay(uint32_t loops)
{
    for (volatile uint32_t i = 0; i < loops; i++)
        ;
}

/* 256 interrupt and exception stubs, 16 bytes apart: each pushes a zero
 * error code (except for the vectors where the CPU pushes one: 8, 10-14),
 * its vector, the general registers, and calls the hook with the frame;
 * the hook may change the saved EIP. */
__asm__(".text\n.balign 16\n.globl lib_isr_stubs\nlib_isr_stubs:\n"
        ".set lib_vec, 0\n"
        ".rept 256\n"
        "  .balign 16\n"
        "  .if lib_vec <> 8 && (lib_vec < 10 || lib_vec > 14)\n"
        "  pushl $0\n"
        "  .endif\n"
        "  pushl $lib_vec\n"
        "  jmp lib_isr_common\n"
        "  .set lib_vec, lib_vec + 1\n"
        ".endr\n"
        "lib_isr_common:\n"
        "  pushal\n"
        "  cld\n"
        "  pushl %esp\n"
        "  call *lib_isr_hook\n"
        "  addl $4, %esp\n"
        "  popal\n"
        "  addl $8, %esp\n"
        "  iret\n");
extern char lib_isr_stubs[];
void (*lib_isr_hook)(struct irq_frame *);

static uint64_t lib_gdt[4] = { 0, 0, 0x00cf9a000000ffffULL, 0x00cf92000000ffffULL };

/* Our own flat GDT (the entry state has none: GDTR limit 0), code 0x10 and
 * data 0x18, and an IDT whose every vector goes to hook. */
void idt_install(void (*hook)(struct irq_frame *))
{
    lib_isr_hook = hook;
    for (uint32_t v = 0; v < 256; v++)
        gate_set(v, (void (*)(void))(uintptr_t)(lib_isr_stubs + 16 * v));
    gate_tables_load();
}

static uint64_t gate_idt[256];
struct desc_ptr gate_gdtr;
static struct desc_ptr gate_idtr;

void gate_set(unsigned v, void (*h)(void))
{
    uint32_t a = (uint32_t)(uintptr_t)h;
    gate_idt[v & 255] = (a & 0xffff) | (0x10ULL << 16) | (0x8eULL << 40) | ((uint64_t)(a >> 16) << 48);
}

void gate_tables_load(void)
{
    gate_gdtr.limit = sizeof(lib_gdt) - 1;
    gate_gdtr.base = (uint32_t)(uintptr_t)lib_gdt;
    gate_idtr.limit = sizeof(gate_idt) - 1;
    gate_idtr.base = (uint32_t)(uintptr_t)gate_idt;
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp $0x10, $1f\n"
                     "1: movw $0x18, %%ax\n\t"
                     "movw %%ax, %%ds\n\tmovw %%ax, %%es\n\tmovw %%ax, %%ss\n\t"
                     "movw %%ax, %%fs\n\tmovw %%ax, %%gs\n\t"
                     "lidt %1" ::"m"(gate_gdtr), "m"(gate_idtr)
                     : "eax", "memory");
}

void gate_idt_load(void)
{
    __asm__ volatile("lidt %0" ::"m"(gate_idtr) : "memory");
}

/* The trampoline of ap_tramp_install: entered with CS = 0x800, IP = 0. */
extern char ap_tramp[], ap_tramp_end[], ap_gdtr[];
uint32_t ap_lib_stack;
void (*ap_lib_entry)(void);
__asm__(".text\n.code16\n.globl ap_tramp\nap_tramp:\n"
        "  cli\n  movw %cs, %ax\n  movw %ax, %ds\n"
        "  lgdtl (ap_gdtr - ap_tramp)\n"
        "  movl %cr0, %eax\n  orl $1, %eax\n  movl %eax, %cr0\n"
        "  ljmpl $0x10, $ap_entry32\n"
        ".globl ap_gdtr\nap_gdtr:\n  .word 0\n  .long 0\n"
        ".globl ap_tramp_end\nap_tramp_end:\n"
        ".code32\n"
        "ap_entry32:\n  movw $0x18, %ax\n  movw %ax, %ds\n  movw %ax, %es\n  movw %ax, %ss\n"
        "  movl ap_lib_stack, %esp\n  call *ap_lib_entry\n1: cli\n  hlt\n  jmp 1b\n");

void ap_tramp_install(const void *gdtr, void *stack_top, void (*entry)(void))
{
    memcpy(ap_gdtr, gdtr, 6);
    memcpy((void *)0x8000, ap_tramp, (uint32_t)(ap_tramp_end - ap_tramp));
    ap_lib_stack = (uint32_t)(uintptr_t)stack_top;
    ap_lib_entry = entry;
}
