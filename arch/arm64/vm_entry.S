/* Guest world switch for arm64 partitions (EL2 with VHE, guest at EL1).
 *
 * vm_enter(ctx) saves the hypervisor's callee-saved registers and stack
 * pointer in ctx, leaves ctx's address on the EL2 stack, loads the guest's
 * general registers, PC and PSTATE, and ERETs. Any exception from the guest
 * arrives at vm_vectors (VBAR_EL2 while the CPU runs a vCPU): the guest's
 * registers and the syndrome go back into ctx and vm_enter returns the kind
 * of exit. Exceptions taken at EL2 itself go to the hypervisor's usual
 * reporting vectors (el2_vectors). EL1 system registers are not switched:
 * every physical CPU runs one vCPU only. */
#include "arch/arm64/vm.h"

    .arch armv8.1-a
    .text

    .globl vm_enter
    .balign 16
vm_enter:
    stp     x19, x20, [x0, #VMCTX_HOST + 0]
    stp     x21, x22, [x0, #VMCTX_HOST + 16]
    stp     x23, x24, [x0, #VMCTX_HOST + 32]
    stp     x25, x26, [x0, #VMCTX_HOST + 48]
    stp     x27, x28, [x0, #VMCTX_HOST + 64]
    stp     x29, x30, [x0, #VMCTX_HOST + 80]
    mov     x1, sp
    str     x1, [x0, #VMCTX_HOST_SP]
    str     x0, [sp, #-16]!             /* ctx for the exit path */
    ldr     x1, [x0, #VMCTX_PC]
    msr     elr_el2, x1
    ldr     x1, [x0, #VMCTX_PSTATE]
    msr     spsr_el2, x1
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldp     x18, x19, [x0, #144]
    ldp     x20, x21, [x0, #160]
    ldp     x22, x23, [x0, #176]
    ldp     x24, x25, [x0, #192]
    ldp     x26, x27, [x0, #208]
    ldp     x28, x29, [x0, #224]
    ldr     x30, [x0, #240]
    ldp     x0, x1, [x0, #0]
    eret
    dsb     nsh
    isb

/* x1 = exit kind; guest x0/x1 on the stack above ctx's slot. */
vm_exit_common:
    ldr     x0, [sp, #16]               /* ctx */
    stp     x2, x3, [x0, #16]
    stp     x4, x5, [x0, #32]
    stp     x6, x7, [x0, #48]
    stp     x8, x9, [x0, #64]
    stp     x10, x11, [x0, #80]
    stp     x12, x13, [x0, #96]
    stp     x14, x15, [x0, #112]
    stp     x16, x17, [x0, #128]
    stp     x18, x19, [x0, #144]
    stp     x20, x21, [x0, #160]
    stp     x22, x23, [x0, #176]
    stp     x24, x25, [x0, #192]
    stp     x26, x27, [x0, #208]
    stp     x28, x29, [x0, #224]
    str     x30, [x0, #240]
    ldp     x2, x3, [sp], #16
    stp     x2, x3, [x0, #0]
    add     sp, sp, #16                 /* drop the ctx slot */
    mrs     x2, elr_el2
    str     x2, [x0, #VMCTX_PC]
    mrs     x2, spsr_el2
    str     x2, [x0, #VMCTX_PSTATE]
    mrs     x2, esr_el2
    str     x2, [x0, #VMCTX_ESR]
    mrs     x2, far_el2
    str     x2, [x0, #VMCTX_FAR]
    mrs     x2, hpfar_el2
    str     x2, [x0, #VMCTX_HPFAR]
    ldr     x2, [x0, #VMCTX_HOST_SP]
    mov     sp, x2
    ldp     x19, x20, [x0, #VMCTX_HOST + 0]
    ldp     x21, x22, [x0, #VMCTX_HOST + 16]
    ldp     x23, x24, [x0, #VMCTX_HOST + 32]
    ldp     x25, x26, [x0, #VMCTX_HOST + 48]
    ldp     x27, x28, [x0, #VMCTX_HOST + 64]
    ldp     x29, x30, [x0, #VMCTX_HOST + 80]
    mov     x0, x1
    ret

    .macro  to_el2_vector idx
    .balign 128
    b       el2_vectors + 128 * \idx
    .endm

    .macro  guest_exit kind
    .balign 128
    stp     x0, x1, [sp, #-16]!
    mov     x1, #\kind
    b       vm_exit_common
    .endm

    .section .text.vectors, "ax"
    .balign 2048
    .globl vm_vectors
vm_vectors:
    /* current EL with SP_EL0, current EL with SP_ELx: the hypervisor's own */
    to_el2_vector 0
    to_el2_vector 1
    to_el2_vector 2
    to_el2_vector 3
    to_el2_vector 4
    to_el2_vector 5
    to_el2_vector 6
    to_el2_vector 7
    /* lower EL, AArch64: the guest */
    guest_exit VM_EXIT_SYNC
    guest_exit VM_EXIT_IRQ
    guest_exit VM_EXIT_FIQ
    guest_exit VM_EXIT_SERROR
    /* lower EL, AArch32 */
    guest_exit VM_EXIT_AARCH32
    guest_exit VM_EXIT_AARCH32
    guest_exit VM_EXIT_AARCH32
    guest_exit VM_EXIT_AARCH32
