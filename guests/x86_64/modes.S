/* modes: walks the CPU through its modes inside a partition (unrestricted
 * guest): 32-bit protected mode -> 16-bit protected -> real mode (printing
 * from real mode) -> protected mode -> 64-bit long mode (PAE paging, EFER.LME,
 * CR0.PG), then shuts down with exit code 0 from long mode. */
#define COM1 0x3f8
#define STUB 0x7000

    .section .multiboot, "a"
    .balign 4
    .long 0x1badb002
    .long 0
    .long -0x1badb002

    .text
    .code32
    .globl _start
_start:
    cli
    lgdt gdt_desc
    ljmp $0x08, $pm32
pm32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl $stack_top, %esp
    movl $msg_pm32, %esi
    call print32

    /* Copy the real-mode stub below 64 KiB and enter it through a 16-bit segment. */
    movl $stub_start, %esi
    movl $STUB, %edi
    movl $(stub_end - stub_start), %ecx
    rep movsb
    ljmp $0x18, $STUB

back32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl $stack_top, %esp
    movl $msg_back, %esi
    call print32

    /* Long mode: identity-map the first GiB with 2 MiB pages. */
    movl $pdpt, %eax
    orl $3, %eax
    movl %eax, pml4
    movl $pd, %eax
    orl $3, %eax
    movl %eax, pdpt
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, pd(,%ecx,8)
    incl %ecx
    cmpl $512, %ecx
    jb 1b
    movl %cr4, %eax
    orl $(1 << 5), %eax
    movl %eax, %cr4
    movl $pml4, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx
    rdmsr
    orl $(1 << 8), %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80000000, %eax
    movl %eax, %cr0
    ljmp $0x28, $lm64

/* print the NUL-terminated string at esi on the UART */
print32:
    movw $COM1, %dx
2:  lodsb
    testb %al, %al
    jz 3f
    outb %al, %dx
    jmp 2b
3:  ret

    .code64
lm64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %ss
    movl $stack_top, %esp
    /* Check that this really is 64-bit mode: a 64-bit register holds a 64-bit value. */
    movabsq $0x123456789a, %rax
    shrq $32, %rax
    cmpq $0x12, %rax
    jne 5f
    movl $msg_lm, %esi
    movw $COM1, %dx
4:  lodsb
    testb %al, %al
    jz 6f
    outb %al, %dx
    jmp 4b
5:  movl $msg_lm_bad, %esi
    jmp 4b
6:  movq $3, %rax       /* HC_SHUTDOWN */
    xorq %rbx, %rbx
    vmcall
7:  hlt
    jmp 7b

/* ------------------------------------------------------------------ */
    .code16
stub_start:
    /* 16-bit protected mode: load 16-bit data segments, then leave protected mode. */
    movw $0x20, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr0, %eax
    andl $~1, %eax
    movl %eax, %cr0
    ljmp $0, $(STUB + (real - stub_start))
real:
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw $0x6ff0, %sp
    movw $(STUB + (msg_real - stub_start)), %si
    movw $COM1, %dx
8:  lodsb
    testb %al, %al
    jz 9f
    outb %al, %dx
    jmp 8b
9:  /* smsw shows PE clear: report it */
    smsw %ax
    testw $1, %ax
    jz 10f
    movw $(STUB + (msg_notreal - stub_start)), %si
    jmp 8b
10: lgdtl (STUB + (gdt_desc16 - stub_start))
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x08, $back32
msg_real:
    .asciz "modes: real mode (CR0.PE=0), printing with 16-bit code\n"
msg_notreal:
    .asciz "modes: FAILED: CR0.PE is still set in real mode\n"
    .balign 8
gdt_desc16:
    .short gdt_end - gdt - 1
    .long gdt
stub_end:

    .section .rodata
msg_pm32:
    .asciz "modes: 32-bit protected mode (multiboot entry)\n"
msg_back:
    .asciz "modes: back in 32-bit protected mode\n"
msg_lm:
    .asciz "modes: 64-bit long mode, paging on; shutting down from long mode\n"
msg_lm_bad:
    .asciz "modes: FAILED: not in 64-bit mode\n"

    .data
    .balign 8
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
    .quad 0x00009a000000ffff    /* 0x18: 16-bit code, base 0, limit 64 KiB */
    .quad 0x000092000000ffff    /* 0x20: 16-bit data */
    .quad 0x00af9a000000ffff    /* 0x28: 64-bit code */
gdt_end:
gdt_desc:
    .short gdt_end - gdt - 1
    .long gdt

    .bss
    .balign 4096
pml4: .skip 4096
pdpt: .skip 4096
pd:   .skip 4096
    .skip 8192
stack_top:
