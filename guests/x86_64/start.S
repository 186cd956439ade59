/* Guest entry: multiboot v1 header (ELF image, no flags) and, for PVH,
 * a XEN_ELFNOTE_PHYS32_ENTRY note pointing at the same entry. Sets up a
 * stack and calls guest_main(eax, ebx); its return value is the exit code
 * of the shutdown hypercall. */
    .section .multiboot, "a"
    .balign 4
    .long 0x1badb002
    .long 0
    .long -0x1badb002

    .section .note.Xen, "a"
    .balign 4
    .long 4                 /* name size */
    .long 4                 /* desc size */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long _start

    .text
    .code32
    .globl _start
_start:
    cli
    movl $stack_top, %esp
    pushl %ebx
    pushl %eax
    call guest_main
    movl %eax, %ebx
    movl $3, %eax           /* HC_SHUTDOWN */
    vmcall
1:  hlt
    jmp 1b

    .bss
    .balign 16
    .skip 16384
stack_top:
