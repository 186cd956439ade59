/* arm64 entry: the Linux arm64 Image header, the primary and secondary CPU
 * entry points, the switch to the MMU, and the EL2 exception vectors.
 *
 * Entered per the Linux arm64 boot protocol: MMU off, x0 = physical address
 * of the DTB, at any 2 MiB-aligned load address. Until the MMU is on, only
 * PC-relative addressing is used (adr/adrp), so the code runs wherever it was
 * loaded; literal-pool loads (ldr =sym) give link-time virtual addresses and
 * are used only to jump into the mapped image. */
#include "arch/arm64/arm64.h"

    .arch armv8.1-a

    .section .text.head, "ax"
    .globl _start
_start:
    b       primary_entry           /* code0 */
    .long   0                       /* code1 */
    .quad   0                       /* text_offset */
    .quad   __image_size            /* image_size: whole image including bss */
    .quad   0xa                     /* flags: little-endian, 4 KiB pages, anywhere */
    .quad   0                       /* res2 */
    .quad   0                       /* res3 */
    .quad   0                       /* res4 */
    .ascii  "ARM\x64"               /* magic */
    .long   0                       /* res5: no PE header */

primary_entry:
    msr     daifset, #0xf
    mov     x19, x0                 /* DTB physical address */
    adrp    x20, __image_start      /* load address of the image */
    adrp    x1, boot_stack_top
    add     x1, x1, :lo12:boot_stack_top
    mov     sp, x1

    mrs     x0, CurrentEL
    ubfx    x2, x0, #2, #2
    cmp     x2, #2
    b.eq    1f
    mov     x0, #EARLY_NOT_EL2
    mov     x1, x19
    bl      arm64_early_refuse
1:
    mrs     x2, id_aa64mmfr1_el1
    ubfx    x2, x2, #8, #4          /* VH */
    cbnz    x2, 2f
    mov     x0, #EARLY_NO_VHE
    mov     x1, x19
    mrs     x2, id_aa64mmfr1_el1
    bl      arm64_early_refuse
2:
    /* VHE on: from here EL2 uses the EL2&0 regime with two VA ranges.
     * HCR_EL2 gets a known value (E2H, EL1 is AArch64), nothing left over
     * from the firmware. */
    mov     x0, #HCR_RW
    orr     x0, x0, #(1 << HCR_E2H_SHIFT)
    msr     hcr_el2, x0
    isb
    ldr     x0, =SCTLR_MMU_OFF
    msr     sctlr_el2, x0
    isb

    /* Clear bss (the boot stack lives there too: nothing is on it yet). */
    adrp    x0, __bss_start
    adrp    x1, __bss_end
3:  cmp     x0, x1
    b.hs    4f
    stp     xzr, xzr, [x0], #16
    b       3b
4:
    mov     x0, x20
    mov     x1, x19
    bl      arm64_early_mmu
    cbz     x0, 5f
    mov     x1, x19
    mov     x2, #0
    bl      arm64_early_refuse
5:
    /* Drop any stale cache lines over data and bss: they were written with
     * the MMU (and so the caches) off. */
    adrp    x0, __data_start
    adrp    x1, __image_end
    mrs     x3, ctr_el0
    ubfx    x3, x3, #16, #4         /* DminLine: log2(words) */
    mov     x2, #4
    lsl     x2, x2, x3
6:  cmp     x0, x1
    b.hs    7f
    dc      ivac, x0
    add     x0, x0, x2
    b       6b
7:  dsb     sy

    adrp    x0, arm64_mmu
    add     x0, x0, :lo12:arm64_mmu
    ldr     x1, =primary_high
    b       mmu_on

primary_high:
    /* Running at the link address now. */
    adrp    x0, boot_stack_top
    add     x0, x0, :lo12:boot_stack_top
    mov     sp, x0
    adrp    x0, el2_vectors
    add     x0, x0, :lo12:el2_vectors
    msr     vbar_el2, x0
    adrp    x0, percpu
    add     x0, x0, :lo12:percpu
    msr     tpidr_el2, x0
    isb
    mov     x0, x19
    mov     x1, x20
    bl      arm64_boot_main
    b       arm64_halt_loop

/* Secondary CPUs enter here through PSCI CPU_ON: MMU off, x0 = context id =
 * the logical CPU index. */
    .globl secondary_entry
secondary_entry:
    msr     daifset, #0xf
    mov     x19, x0
    mrs     x0, CurrentEL
    ubfx    x0, x0, #2, #2
    cmp     x0, #2
    b.ne    arm64_halt_loop         /* PSCI starts us at the caller's EL (EL2); else park */
    mov     x0, #HCR_RW
    orr     x0, x0, #(1 << HCR_E2H_SHIFT)
    msr     hcr_el2, x0
    isb
    ldr     x0, =SCTLR_MMU_OFF
    msr     sctlr_el2, x0
    isb
    adrp    x0, arm64_mmu
    add     x0, x0, :lo12:arm64_mmu
    ldr     x1, =secondary_high
    b       mmu_on

secondary_high:
    adrp    x0, arm64_cpu_stack
    add     x0, x0, :lo12:arm64_cpu_stack
    ldr     x1, [x0, x19, lsl #3]
    mov     sp, x1
    adrp    x0, el2_vectors
    add     x0, x0, :lo12:el2_vectors
    msr     vbar_el2, x0
    isb
    mov     x0, x19
    bl      arm64_secondary_main
    b       arm64_halt_loop

    .globl arm64_halt_loop
arm64_halt_loop:
    msr     daifset, #0xf
8:  wfi
    b       8b

    .ltorg

/* The switch itself: identity-mapped, so the instruction after the SCTLR
 * write is fetched through the new tables. x0 = struct arm64_mmu_regs (PA),
 * x1 = where to continue (virtual). */
    .section .text.idmap, "ax"
mmu_on:
    ldr     x2, [x0, #MMU_MAIR]
    msr     mair_el2, x2
    ldr     x2, [x0, #MMU_TCR]
    msr     tcr_el2, x2
    ldr     x2, [x0, #MMU_TTBR0]
    msr     ttbr0_el2, x2
    ldr     x2, [x0, #MMU_TTBR1]
    msr     ttbr1_el2, x2
    isb
    tlbi    alle2
    dsb     nsh
    isb
    ldr     x2, [x0, #MMU_SCTLR]
    msr     sctlr_el2, x2
    isb
    ic      iallu
    dsb     nsh
    isb
    br      x1

/* EL2 exception vectors: every entry saves the registers and reports. */
    .section .text.vectors, "ax"
    .balign 2048
    .globl el2_vectors
el2_vectors:
    /* Before anything is pushed: can the frame be written? A stack that ran
     * into its guard page cannot take it (the push would fault again and
     * again): switch to the CPU's emergency stack instead. The scratch
     * registers (TPIDR_EL0, TPIDRRO_EL0, SP_EL0, PAR_EL1) belong to the
     * guest of this CPU, which never runs again after an EL2 exception. */
    .irp idx, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    .balign 128
    msr     tpidr_el0, x0
    sub     x0, sp, #272
    at      s1e2w, x0
    isb
    mrs     x0, par_el1
    tbnz    x0, #0, 1f
    mrs     x0, tpidr_el0
    sub     sp, sp, #272
    stp     x0, x1, [sp, #0]
    mov     x0, #\idx
    b       exc_common
1:  mov     x0, #\idx
    b       stack_overflow
    .endr

/* x0 = vector index; the interrupted x0 is in TPIDR_EL0. The emergency
 * stack is emerg_stacks + (cpu index + 1) * 4096 (cpu index from the
 * percpu structure TPIDR_EL2 points at; SP itself does the arithmetic). */
stack_overflow:
    msr     tpidrro_el0, x1
    mov     x1, sp
    msr     sp_el0, x1
    mrs     x1, tpidr_el2
    ldr     w1, [x1, #8]
    and     x1, x1, #63
    add     x1, x1, #1
    lsl     x1, x1, #12
    mov     sp, x1
    adrp    x1, emerg_stacks
    add     x1, x1, :lo12:emerg_stacks
    add     sp, sp, x1
    sub     sp, sp, #272
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x2, sp_el0
    stp     x30, x2, [sp, #240]
    mrs     x2, tpidr_el0
    mrs     x3, tpidrro_el0
    stp     x2, x3, [sp, #0]
    mov     x1, x0
    mov     x0, sp
    bl      arm64_stack_overflow
    b       arm64_halt_loop

exc_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    add     x2, sp, #272
    stp     x30, x2, [sp, #240]
    mov     x1, x0
    mov     x0, sp
    bl      arm64_exception
    b       arm64_halt_loop

    .section .bss.boot_stack, "aw", %nobits
    /* Unmapped once the MMU is on: a boot-CPU stack overflow faults. */
    .balign 4096
    .globl boot_stack_guard
boot_stack_guard:
    .space  4096
boot_stack:
    .space  16384
boot_stack_top:
