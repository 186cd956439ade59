/* Guest instruction fetch and MMIO MOV decoding (see insn.c). */
#ifndef BULKHEAD_INSN_H
#define BULKHEAD_INSN_H

#include "../../hv/partition.h"

struct guest_paging {
    u64 cr0, cr3, cr4, efer;
};

/* Read n bytes at guest linear address lin through the guest's paging. */
bool x86_guest_fetch(struct partition *p, const struct guest_paging *g, u64 lin, u8 *buf, u32 n);

/* Write n bytes at guest linear address lin (the guest's paging; the
 * partition's memslots decide what is writable). */
bool x86_guest_write(struct partition *p, const struct guest_paging *g, u64 lin, const void *src,
                     u32 n);

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
