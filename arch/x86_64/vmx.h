/* Intel VT-x: VMCS field encodings, control bits, exit reasons, and the
 * per-vCPU state. Encodings and bit positions are from the Intel SDM vol. 3. */
#ifndef BULKHEAD_VMX_H
#define BULKHEAD_VMX_H

#include "x86.h"

/* 16-bit fields */
#define VMCS_VPID 0x0000
#define GUEST_ES_SEL 0x0800
#define GUEST_CS_SEL 0x0802
#define GUEST_SS_SEL 0x0804
#define GUEST_DS_SEL 0x0806
#define GUEST_FS_SEL 0x0808
#define GUEST_GS_SEL 0x080a
#define GUEST_LDTR_SEL 0x080c
#define GUEST_TR_SEL 0x080e
#define HOST_ES_SEL 0x0c00
#define HOST_CS_SEL 0x0c02
#define HOST_SS_SEL 0x0c04
#define HOST_DS_SEL 0x0c06
#define HOST_FS_SEL 0x0c08
#define HOST_GS_SEL 0x0c0a
#define HOST_TR_SEL 0x0c0c
/* 64-bit fields */
#define IO_BITMAP_A 0x2000
#define IO_BITMAP_B 0x2002
#define MSR_BITMAP 0x2004
#define EPT_POINTER 0x201a
#define GUEST_PHYS_ADDR 0x2400
#define VMCS_LINK_PTR 0x2800
#define GUEST_DEBUGCTL 0x2802
#define GUEST_PAT 0x2804
#define GUEST_EFER 0x2806
#define HOST_PAT 0x2c00
#define HOST_EFER 0x2c02
/* 32-bit fields */
#define PIN_CONTROLS 0x4000
#define PROC_CONTROLS 0x4002
#define EXCEPTION_BITMAP 0x4004
#define PF_ERR_MASK 0x4006
#define PF_ERR_MATCH 0x4008
#define CR3_TARGET_COUNT 0x400a
#define EXIT_CONTROLS 0x400c
#define EXIT_MSR_STORE_COUNT 0x400e
#define EXIT_MSR_LOAD_COUNT 0x4010
#define ENTRY_CONTROLS 0x4012
#define ENTRY_MSR_LOAD_COUNT 0x4014
#define ENTRY_INTR_INFO 0x4016
#define ENTRY_EXC_ERROR 0x4018
#define ENTRY_INSN_LEN 0x401a
#define PROC_CONTROLS2 0x401e
#define VM_INSN_ERROR 0x4400
#define EXIT_REASON 0x4402
#define EXIT_INTR_INFO 0x4404
#define EXIT_INTR_ERROR 0x4406
#define IDT_VECTORING_INFO 0x4408
#define EXIT_INSN_LEN 0x440c
#define EXIT_INSN_INFO 0x440e
#define GUEST_ES_LIMIT 0x4800
#define GUEST_CS_LIMIT 0x4802
#define GUEST_SS_LIMIT 0x4804
#define GUEST_DS_LIMIT 0x4806
#define GUEST_FS_LIMIT 0x4808
#define GUEST_GS_LIMIT 0x480a
#define GUEST_LDTR_LIMIT 0x480c
#define GUEST_TR_LIMIT 0x480e
#define GUEST_GDTR_LIMIT 0x4810
#define GUEST_IDTR_LIMIT 0x4812
#define GUEST_ES_AR 0x4814
#define GUEST_CS_AR 0x4816
#define GUEST_SS_AR 0x4818
#define GUEST_DS_AR 0x481a
#define GUEST_FS_AR 0x481c
#define GUEST_GS_AR 0x481e
#define GUEST_LDTR_AR 0x4820
#define GUEST_TR_AR 0x4822
#define GUEST_INTERRUPTIBILITY 0x4824
#define GUEST_ACTIVITY 0x4826
#define GUEST_SYSENTER_CS 0x482a
#define GUEST_PREEMPT_TIMER 0x482e
#define PLE_GAP 0x4020
#define PLE_WINDOW 0x4022
#define IDT_VECTORING_ERROR 0x440a
#define HOST_SYSENTER_CS 0x4c00
/* natural-width fields */
#define CR0_MASK 0x6000
#define CR4_MASK 0x6002
#define CR0_SHADOW 0x6004
#define CR4_SHADOW 0x6006
#define EXIT_QUALIFICATION 0x6400
#define GUEST_LINEAR_ADDR 0x640a
#define GUEST_CR0 0x6800
#define GUEST_CR3 0x6802
#define GUEST_CR4 0x6804
#define GUEST_ES_BASE 0x6806
#define GUEST_CS_BASE 0x6808
#define GUEST_SS_BASE 0x680a
#define GUEST_DS_BASE 0x680c
#define GUEST_FS_BASE 0x680e
#define GUEST_GS_BASE 0x6810
#define GUEST_LDTR_BASE 0x6812
#define GUEST_TR_BASE 0x6814
#define GUEST_GDTR_BASE 0x6816
#define GUEST_IDTR_BASE 0x6818
#define GUEST_DR7 0x681a
#define GUEST_RSP 0x681c
#define GUEST_RIP 0x681e
#define GUEST_RFLAGS 0x6820
#define GUEST_PENDING_DBG 0x6822
#define GUEST_SYSENTER_ESP 0x6824
#define GUEST_SYSENTER_EIP 0x6826
#define HOST_CR0 0x6c00
#define HOST_CR3 0x6c02
#define HOST_CR4 0x6c04
#define HOST_FS_BASE 0x6c06
#define HOST_GS_BASE 0x6c08
#define HOST_TR_BASE 0x6c0a
#define HOST_GDTR_BASE 0x6c0c
#define HOST_IDTR_BASE 0x6c0e
#define HOST_SYSENTER_ESP 0x6c10
#define HOST_SYSENTER_EIP 0x6c12
#define HOST_RSP 0x6c14
#define HOST_RIP 0x6c16

/* Capability MSRs */
#define MSR_VMX_PINBASED_CTLS 0x481
#define MSR_VMX_EXIT_CTLS 0x483
#define MSR_VMX_ENTRY_CTLS 0x484
#define MSR_VMX_MISC 0x485
#define MSR_VMX_CR0_FIXED0 0x486
#define MSR_VMX_CR0_FIXED1 0x487
#define MSR_VMX_CR4_FIXED0 0x488
#define MSR_VMX_CR4_FIXED1 0x489
#define MSR_VMX_TRUE_PINBASED_CTLS 0x48d
#define MSR_VMX_TRUE_EXIT_CTLS 0x48f
#define MSR_VMX_TRUE_ENTRY_CTLS 0x490

/* Control bits */
#define PIN_EXT_INT_EXIT (1u << 0)
#define PIN_NMI_EXIT (1u << 3)
#define PROC_HLT_EXIT (1u << 7)
#define PROC_RDPMC_EXIT (1u << 11)
#define PROC_CR3_LOAD_EXIT (1u << 15)
#define PROC_CR3_STORE_EXIT (1u << 16)
#define PROC_IO_BITMAPS (1u << 25)
#define PROC_MSR_BITMAPS (1u << 28)
#define PROC_PAUSE_EXIT (1u << 30)
#define PROC_SECONDARY (1u << 31)
#define PROC2_EPT (1u << 1)
#define PROC2_RDTSCP (1u << 3)
#define PROC2_VPID (1u << 5)
#define PROC2_UNRESTRICTED (1u << 7)
#define PROC2_INVPCID (1u << 12)
#define PROC2_XSAVES (1u << 20)
#define PROC2_PLE (1u << 10)
#define PROC_INTR_WINDOW (1u << 2)
#define PIN_PREEMPT_TIMER (1u << 6)
#define EXIT_HOST_64 (1u << 9)
#define EXIT_ACK_INTR (1u << 15)
#define EXIT_SAVE_PAT (1u << 18)
#define EXIT_LOAD_PAT (1u << 19)
#define EXIT_SAVE_EFER (1u << 20)
#define EXIT_LOAD_EFER (1u << 21)
#define ENTRY_IA32E (1u << 9)
#define ENTRY_LOAD_PAT (1u << 14)
#define ENTRY_LOAD_EFER (1u << 15)

/* Exit reasons */
#define EXIT_EXCEPTION 0
#define EXIT_EXT_INT 1
#define EXIT_TRIPLE_FAULT 2
#define EXIT_INIT 3
#define EXIT_SIPI 4
#define EXIT_CPUID 10
#define EXIT_GETSEC 11
#define EXIT_HLT 12
#define EXIT_INVD 13
#define EXIT_INVLPG 14
#define EXIT_RDPMC 15
#define EXIT_RDTSC 16
#define EXIT_VMCALL 18
#define EXIT_VMCLEAR 19
#define EXIT_VMXOFF 26
#define EXIT_VMXON 27
#define EXIT_CR_ACCESS 28
#define EXIT_DR_ACCESS 29
#define EXIT_IO 30
#define EXIT_RDMSR 31
#define EXIT_WRMSR 32
#define EXIT_BAD_GUEST_STATE 33
#define EXIT_MSR_LOADING 34
#define EXIT_MWAIT 36
#define EXIT_MONITOR 39
#define EXIT_PAUSE 40
#define EXIT_MACHINE_CHECK 41
#define EXIT_EPT_VIOLATION 48
#define EXIT_EPT_MISCONFIG 49
#define EXIT_INVEPT 50
#define EXIT_RDTSCP 51
#define EXIT_INVVPID 53
#define EXIT_WBINVD 54
#define EXIT_XSETBV 55
#define EXIT_INTR_WINDOW 7
#define EXIT_PREEMPT_TIMER 52

/* Guest general registers saved/restored around VM entry (order matters: vmx_entry.S). */
struct vmx_regs {
    u64 rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
    u64 cr2;
};

int vmx_enter(struct vmx_regs *regs, u64 launched); /* 0 = VM exit, else entry failed */

static inline bool vmwrite(u64 field, u64 value)
{
    u8 fail;
    __asm__ volatile("vmwrite %2, %1; setna %0" : "=q"(fail) : "r"(field), "rm"(value) : "cc", "memory");
    return !fail;
}

static inline u64 vmread(u64 field)
{
    u64 v = 0;
    __asm__ volatile("vmread %1, %0" : "=rm"(v) : "r"(field) : "cc");
    return v;
}

#endif
