/* Entry of the arm64 test guests, with a Linux arm64 Image header so the
 * hypervisor loads them as it would load Linux. Entered at EL1, MMU off,
 * x0 = the partition's device tree. vCPUs started by PSCI CPU_ON come in at
 * secondary_entry with x0 = the context id (their vCPU index). */
    .section .text.head, "ax"
    .globl _start
_start:
    b       primary                 /* code0 */
    .long   0                       /* code1 */
    .quad   0                       /* text_offset */
    .quad   __image_size            /* image_size, bss included */
    .quad   0xa                     /* little-endian, 4 KiB pages, anywhere */
    .quad   0, 0, 0
    .ascii  "ARM\x64"
    .long   0

primary:
    mov     x19, x0
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    str     xzr, [x1], #8
    b       1b
2:  adrp    x1, stacks
    add     x1, x1, :lo12:stacks
    add     sp, x1, #4096
    mov     x0, x19
    bl      guest_main
    /* exit code in w0: Bulkhead's shutdown hypercall */
    mov     x1, x0
    movz    x0, #0xc600, lsl #16
    add     x0, x0, #3
    hvc     #0
3:  wfi
    b       3b

    .globl secondary_entry
secondary_entry:
    mov     x19, x0
    adrp    x1, stacks
    add     x1, x1, :lo12:stacks
    and     x2, x0, #15             /* stack page (index & 15) + 1: page 0 is vCPU 0's */
    add     x2, x2, #1
    lsl     x2, x2, #12
    add     sp, x1, x2
    add     sp, sp, #4096
    mov     x0, x19
    bl      secondary_main
    /* PSCI CPU_OFF */
    movz    x0, #0x8400, lsl #16
    add     x0, x0, #2
    hvc     #0
4:  wfi
    b       4b

    .weak   secondary_main
secondary_main:
    ret

    .bss
    .balign 4096
    .globl stacks
stacks:
    .space  4096 * 17

/* Optional EL1 vectors (guests that want to see an exception the hypervisor
 * injects install them with set_vectors()): a synchronous exception from
 * EL1h is counted, its ESR kept in last_esr, and the faulting instruction
 * skipped. An IRQ calls irq_handler(). Anything else parks the vCPU. */
    .text
    .balign 2048
    .globl guest_vectors
guest_vectors:
    .rept 4
    .balign 128
    b       .
    .endr
    .balign 128                     /* current EL with SP_ELx, synchronous */
    stp     x0, x1, [sp, #-16]!
    b       sync_el1h
    .balign 128                     /* current EL with SP_ELx, IRQ */
    b       irq_entry
    .rept 10
    .balign 128
    b       .
    .endr

/* Also per vCPU (MPIDR Aff0 & 15): vcpu_exc[] counts, vcpu_esr[] and
 * vcpu_far[] keep the last syndrome and fault address. */
sync_el1h:
    stp     x2, x3, [sp, #-16]!
    mrs     x2, mpidr_el1
    and     x2, x2, #15
    lsl     x2, x2, #3
    adrp    x1, vcpu_exc
    add     x1, x1, :lo12:vcpu_exc
    ldr     x3, [x1, x2]
    add     x3, x3, #1
    str     x3, [x1, x2]
    adrp    x1, vcpu_esr
    add     x1, x1, :lo12:vcpu_esr
    mrs     x3, esr_el1
    str     x3, [x1, x2]
    adrp    x1, vcpu_far
    add     x1, x1, :lo12:vcpu_far
    mrs     x3, far_el1
    str     x3, [x1, x2]
    ldp     x2, x3, [sp], #16
    mrs     x0, esr_el1
    adrp    x1, last_esr
    str     x0, [x1, :lo12:last_esr]
    adrp    x1, exceptions
    ldr     x0, [x1, :lo12:exceptions]
    add     x0, x0, #1
    str     x0, [x1, :lo12:exceptions]
    mrs     x0, elr_el1
    add     x0, x0, #4
    msr     elr_el1, x0
    ldp     x0, x1, [sp], #16
    eret

/* IRQ from EL1h: caller-saved registers around irq_handler() (weak: a
 * guest without one parks the vCPU). */
irq_entry:
    sub     sp, sp, #192
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x29, [sp, #144]
    mrs     x0, elr_el1
    mrs     x1, spsr_el1
    stp     x30, x0, [sp, #160]
    str     x1, [sp, #176]
    bl      irq_handler
    ldr     x1, [sp, #176]
    ldp     x30, x0, [sp, #160]
    msr     spsr_el1, x1
    msr     elr_el1, x0
    ldp     x18, x29, [sp, #144]
    ldp     x16, x17, [sp, #128]
    ldp     x14, x15, [sp, #112]
    ldp     x12, x13, [sp, #96]
    ldp     x10, x11, [sp, #80]
    ldp     x8, x9, [sp, #64]
    ldp     x6, x7, [sp, #48]
    ldp     x4, x5, [sp, #32]
    ldp     x2, x3, [sp, #16]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #192
    eret

    .weak   irq_handler
irq_handler:
    b       .

    .bss
    .balign 8
    .globl last_esr, exceptions, vcpu_exc, vcpu_esr, vcpu_far
vcpu_exc:
    .space  8 * 16
vcpu_esr:
    .space  8 * 16
vcpu_far:
    .space  8 * 16
last_esr:
    .quad   0
exceptions:
    .quad   0
