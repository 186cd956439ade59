/* Guest instruction fetch and MMIO MOV decoding (see insn.c). */
#ifndef BULKHEAD_INSN_H
#define BULKHEAD_INSN_H

#include "../../hv/partition.h"

struct guest_paging {
    u64 cr0, cr3, cr4, efer;
};

/* Read n bytes at guest linear address lin through the guest's paging. */
bool x86_guest_fetch(struct partition *p, const struct guest_paging *g, u64 lin, u8 *buf, u32 n);

/* A data access of n bytes at guest linear address lin through the guest's
 * paging, with the CPU's permission checks: acc is X86_ACC_WRITE (buf is the
 * source; else the destination) and X86_ACC_USER (CPL 3). Returns
 * X86_WALK_OK; X86_WALK_PF when the CPU would raise a page fault at
 * *fault_lin with error code *pfec (bytes before it were transferred); or
 * X86_WALK_OUTSIDE when the page tables or the data lie outside the
 * partition's memory. */
#define X86_ACC_WRITE 1u
#define X86_ACC_USER 2u
enum { X86_WALK_OK = 0, X86_WALK_PF = 1, X86_WALK_OUTSIDE = 2 };
/* The same checks for every page of [lin, lin + n) without moving a byte,
 * so an access with side effects elsewhere (a port read) happens only when
 * the memory side will not fault. */
int x86_guest_check(struct partition *p, const struct guest_paging *g, u64 lin, u32 n, u32 acc,
                    u64 *fault_lin, u32 *pfec);
int x86_guest_access(struct partition *p, const struct guest_paging *g, u64 lin, void *buf, u32 n,
                     u32 acc, u64 *fault_lin, u32 *pfec);

struct mmio_insn {
    u8 len;     /* instruction length */
    u8 size;    /* operand size in bytes */
    bool write; /* store to memory */
    int reg;    /* register number (REX.R included) or -1 for an immediate */
    u64 imm;
};

/* Decode MOV r/m,reg (0x89), MOV reg,r/m (0x8b), MOV r/m,imm (0xc7 /0) and
 * MOV with moffs (0xa1/0xa3) from b[0..n). long_mode: 64-bit code segment;
 * def32: default operand/address size 32 (CS.D) outside 64-bit mode. */
bool x86_decode_mmio_mov(const u8 *b, u32 n, bool long_mode, bool def32, struct mmio_insn *out,
                         char *why, size_t wlen);

#endif
