/* Application-processor start-up. tramp_start..tramp_end is copied to a page
 * below 1 MiB; the SIPI vector points there. The AP goes straight from real
 * mode to long mode on the boot identity tables, then jumps into the image
 * (ap_entry64), which switches to the final tables and its own stack. */
    .section .rodata
    .code16
    .balign 16
    .globl tramp_start
tramp_start:
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    lgdtl (tramp_gdtr - tramp_start)
    movl %cr4, %eax
    orl $(1 << 5), %eax                 /* PAE */
    movl %eax, %cr4
    movl (tramp_cr3 - tramp_start), %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx              /* EFER: LME (+ NXE) */
    rdmsr
    orl (tramp_efer - tramp_start), %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax               /* PG, WP, PE */
    movl %eax, %cr0
    ljmpl *(tramp_farptr - tramp_start)

    .code64
tramp_64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movabsq $ap_entry64, %rax
    jmp *%rax

    .balign 8
tramp_gdt:
    .quad 0
    .quad 0x00af9b000000ffff
    .quad 0x00cf93000000ffff
    .globl tramp_gdtr
tramp_gdtr:
    .short 23
    .long 0                             /* patched: linear address of tramp_gdt */
    .balign 4
    .globl tramp_farptr
tramp_farptr:
    .long 0                             /* patched: linear address of tramp_64 */
    .short 0x08
    .balign 4
    .globl tramp_cr3
tramp_cr3:
    .long 0
    .globl tramp_efer
tramp_efer:
    .long 0
    .globl tramp_end
tramp_end:

    .globl tramp_off_gdt, tramp_off_64
    .balign 4
tramp_off_gdt:
    .long tramp_gdt - tramp_start
tramp_off_64:
    .long tramp_64 - tramp_start

    .text
    .code64
    .globl ap_entry64
ap_entry64:
    movq x86_final_cr3(%rip), %rax
    testq %rax, %rax
    jz 1f
    movq %rax, %cr3
1:  movl $1, %eax
    cpuid
    shrl $24, %ebx                      /* initial xAPIC ID */
    leaq x86_ap_stack_by_apic(%rip), %rax
    movq (%rax,%rbx,8), %rsp
    testq %rsp, %rsp
    jz 2f
    movl %ebx, %edi
    call x86_ap_main
2:  cli
    hlt
    jmp 2b
