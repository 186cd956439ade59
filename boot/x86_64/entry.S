/* x86-64 boot entry: multiboot2 header, 32-bit protected-mode entry from
 * GRUB (BIOS or UEFI), switch to long mode on temporary identity page tables
 * (first 4 GiB, 2 MiB pages), then call x86_boot_main(magic, info) in C,
 * which builds the real W^X page tables. */

#define MB2_MAGIC 0xe85250d6
#define MB2_ARCH_I386 0
#define MB2_BOOT_MAGIC 0x36d76289

    .section .multiboot2, "a"
    .balign 8
mb2_header:
    .long MB2_MAGIC
    .long MB2_ARCH_I386
    .long mb2_header_end - mb2_header
    .long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
    /* console flags tag: we have a serial console and no EGA text need */
    .balign 8
    .short 4, 0
    .long 12
    .long 0
    /* end tag */
    .balign 8
    .short 0, 0
    .long 8
mb2_header_end:

    .section .text.boot, "ax"
    .code32
    .globl _start
_start:
    cli
    cld
    movl %eax, %ebp            /* keep magic and info pointer (no stack yet) */
    movl %ebx, %esi

    /* Zero .bss (GRUB zero-fills, but do not rely on it). */
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb
    movl %ebp, %edi            /* magic */

    movl $boot_stack_top, %esp

    /* Long mode available? */
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb no_long_mode
    movl $0x80000001, %eax
    cpuid
    testl $(1 << 29), %edx
    jz no_long_mode
    movl %edx, %ebp             /* bit 20: NX available */

    /* Temporary tables: PML4[0] -> PDPT, PDPT[0..3] -> 4 PDs of 2 MiB pages. */
    movl $boot_pdpt, %eax
    orl $0x3, %eax
    movl %eax, boot_pml4
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $12, %eax
    addl $boot_pd, %eax
    orl $0x3, %eax
    movl %eax, boot_pdpt(,%ecx,8)
    incl %ecx
    cmpl $4, %ecx
    jb 1b
    xorl %ecx, %ecx            /* 2048 entries of 2 MiB: 0 .. 4 GiB */
2:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax            /* present, writable, 2 MiB page */
    movl %eax, boot_pd(,%ecx,8)
    movl $0, boot_pd+4(,%ecx,8)
    incl %ecx
    cmpl $2048, %ecx
    jb 2b

    movl %cr4, %eax
    orl $(1 << 5), %eax         /* PAE */
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx      /* EFER */
    rdmsr
    orl $(1 << 8), %eax         /* LME */
    testl $(1 << 20), %ebp
    jz 3f
    orl $(1 << 11), %eax        /* NXE when the CPU has NX */
3:  wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax       /* PG, WP, PE */
    movl %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $long_mode_entry

no_long_mode:
    movl $msg_no_lm, %esi
    movw $0x3f8, %dx
4:  lodsb
    testb %al, %al
    jz 5f
    outb %al, %dx
    jmp 4b
5:  cli
    hlt
    jmp 5b

    .code64
long_mode_entry:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $boot_stack_top, %rsp
    /* edi = magic, esi = info (zero-extended by the 32-bit moves above) */
    movl %edi, %edi
    movl %esi, %esi
    call x86_boot_main
6:  cli
    hlt
    jmp 6b

    .section .rodata
msg_no_lm:
    .asciz "bulkhead: this CPU has no long mode (x86-64); cannot boot\r\n"

    .balign 8
    .globl boot_gdt
boot_gdt:
    .quad 0
    .quad 0x00af9b000000ffff    /* 0x08: 64-bit code (accessed bit preset: GDT is read-only) */
    .quad 0x00cf93000000ffff    /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .section .bss
    .balign 4096
    .globl boot_pml4
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4 * 4096
    /* Unmapped once paging is set up: a boot-CPU stack overflow faults. */
    .balign 4096
    .globl boot_stack_guard
boot_stack_guard:
    .skip 4096
boot_stack:
    .skip 16384
    .globl boot_stack_top
boot_stack_top:
