/* Guest instruction fetch (through the guest's own page tables) and the
 * decoding of the MOV forms guests use for 32-bit MMIO registers, so that
 * trapped device pages (the xAPIC page) can be emulated. Encodings from the
 * Intel SDM vol. 2 (ModR/M, SIB, REX); page-table formats from vol. 3, 4.3-4.5. */
#include "insn.h"
#include "../../hv/format.h"
#include "../../hv/string.h"

#define PTE_P 1ULL
#define PTE_PS (1ULL << 7)
#define ADDR_MASK 0x000ffffffffff000ULL

static bool rd64(struct partition *p, u64 gpa, u64 *v)
{
    return guest_read(p, gpa, v, 8);
}

#define PTE_RW (1ULL << 1)
#define PTE_US (1ULL << 2)

/* Linear -> guest-physical through the guest's paging, with the permission
 * checks the CPU would make for a data access (acc: X86_ACC_WRITE,
 * X86_ACC_USER). Returns X86_WALK_OK, X86_WALK_PF (a page fault the CPU would
 * raise: *pfec is its error code) or X86_WALK_OUTSIDE (the guest's page
 * tables lie outside the partition's memory). R/W and U/S are combined over
 * every level (SDM vol. 3, 4.6); supervisor writes honour CR0.WP. */
static int walk(struct partition *p, const struct guest_paging *g, u64 lin, u64 *gpa, u32 acc,
                u32 *pfec)
{
    bool write = acc & X86_ACC_WRITE, user = acc & X86_ACC_USER;
    *pfec = (write ? 2u : 0u) | (user ? 4u : 0u);
    if (!(g->cr0 & (1ULL << 31))) {
        *gpa = lin & 0xffffffffULL;
        return X86_WALK_OK;
    }
    bool rw = true, us = true;
    bool pae = g->cr4 & (1ULL << 5);
    if (!pae) { /* two levels of 32-bit entries, 4 MiB pages with PSE */
        u32 pde, pte;
        if (!guest_read(p, (g->cr3 & 0xfffff000ULL) + ((lin >> 22) & 1023) * 4, &pde, 4))
            return X86_WALK_OUTSIDE;
        if (!(pde & 1))
            return X86_WALK_PF;
        rw = pde & PTE_RW;
        us = pde & PTE_US;
        if ((pde & PTE_PS) && (g->cr4 & (1ULL << 4))) {
            *gpa = (pde & 0xffc00000u) + (lin & 0x3fffff);
        } else {
            if (!guest_read(p, (pde & 0xfffff000u) + ((lin >> 12) & 1023) * 4, &pte, 4))
                return X86_WALK_OUTSIDE;
            if (!(pte & 1))
                return X86_WALK_PF;
            rw = rw && (pte & PTE_RW);
            us = us && (pte & PTE_US);
            *gpa = (pte & 0xfffff000u) + (lin & 0xfff);
        }
    } else {
        u64 e;
        int level;
        u64 table;
        if (g->efer & (1ULL << 10)) { /* IA-32e: 4 levels */
            table = g->cr3 & ADDR_MASK;
            level = 3;
        } else { /* PAE: the PDPTE (no R/W, U/S there), then 2 levels */
            if (!rd64(p, (g->cr3 & 0xffffffe0ULL) + ((lin >> 30) & 3) * 8, &e))
                return X86_WALK_OUTSIDE;
            if (!(e & PTE_P))
                return X86_WALK_PF;
            table = e & ADDR_MASK;
            level = 1;
        }
        *gpa = 0;
        for (; level >= 0; level--) {
            unsigned idx = (lin >> (12 + 9 * level)) & 511;
            if (!rd64(p, table + idx * 8, &e))
                return X86_WALK_OUTSIDE;
            if (!(e & PTE_P))
                return X86_WALK_PF;
            rw = rw && (e & PTE_RW);
            us = us && (e & PTE_US);
            if (level > 0 && (e & PTE_PS)) {
                u64 size = 1ULL << (12 + 9 * level);
                *gpa = (e & ADDR_MASK & ~(size - 1)) + (lin & (size - 1));
                break;
            }
            table = e & ADDR_MASK;
            if (level == 0)
                *gpa = table + (lin & 0xfff);
        }
    }
    /* Present from here on: a refused access is a protection fault. */
    bool wp = g->cr0 & (1ULL << 16);
    if ((user && !us) || (write && !rw && (user || wp))) {
        *pfec |= 1u;
        return X86_WALK_PF;
    }
    return X86_WALK_OK;
}

bool x86_guest_fetch(struct partition *p, const struct guest_paging *g, u64 lin, u8 *buf, u32 n)
{
    while (n) {
        u64 gpa;
        u32 pfec;
        if (walk(p, g, lin, &gpa, 0, &pfec) != X86_WALK_OK)
            return false;
        u32 chunk = (u32)(PAGE_SIZE - (lin & (PAGE_SIZE - 1)));
        if (chunk > n)
            chunk = n;
        if (!guest_read(p, gpa, buf, chunk))
            return false;
        buf += chunk;
        lin += chunk;
        n -= chunk;
    }
    return true;
}

int x86_guest_check(struct partition *p, const struct guest_paging *g, u64 lin, u32 n, u32 acc,
                    u64 *fault_lin, u32 *pfec)
{
    u64 end = lin + n;
    for (u64 at = lin; n && at < end; at = (at & ~(u64)(PAGE_SIZE - 1)) + PAGE_SIZE) {
        u64 gpa;
        int r = walk(p, g, at, &gpa, acc, pfec);
        if (r != X86_WALK_OK) {
            *fault_lin = at;
            return r;
        }
    }
    return X86_WALK_OK;
}

int x86_guest_access(struct partition *p, const struct guest_paging *g, u64 lin, void *buf, u32 n,
                     u32 acc, u64 *fault_lin, u32 *pfec)
{
    u8 *b = buf;
    while (n) {
        u64 gpa;
        int r = walk(p, g, lin, &gpa, acc, pfec);
        if (r != X86_WALK_OK) {
            *fault_lin = lin;
            return r;
        }
        u32 chunk = (u32)(PAGE_SIZE - (lin & (PAGE_SIZE - 1)));
        if (chunk > n)
            chunk = n;
        bool ok = (acc & X86_ACC_WRITE) ? guest_write(p, gpa, b, chunk)
                                        : guest_read(p, gpa, b, chunk);
        if (!ok) {
            *fault_lin = lin;
            return X86_WALK_OUTSIDE;
        }
        b += chunk;
        lin += chunk;
        n -= chunk;
    }
    return X86_WALK_OK;
}

bool x86_decode_mmio_mov(const u8 *b, u32 n, bool long_mode, bool def32, struct mmio_insn *out,
                         char *why, size_t wlen)
{
    u32 i = 0;
    bool opsize = false, addrsize = false;
    u8 rex = 0;
    memset(out, 0, sizeof(*out));
    for (; i < n; i++) {
        u8 c = b[i];
        if (c == 0x66)
            opsize = true;
        else if (c == 0x67)
            addrsize = true;
        else if (c == 0x26 || c == 0x2e || c == 0x36 || c == 0x3e || c == 0x64 || c == 0x65)
            ;
        else
            break;
    }
    if (long_mode && i < n && (b[i] & 0xf0) == 0x40)
        rex = b[i++];
    if (i >= n) {
        bh_snprintf(why, wlen, "instruction too long");
        return false;
    }
    bool addr32 = long_mode ? true : (def32 != addrsize);
    if (!addr32) {
        bh_snprintf(why, wlen, "16-bit addressing is not emulated");
        return false;
    }
    u32 osz = (rex & 8) ? 8 : (opsize ? (def32 || long_mode ? 2 : 4) : (def32 || long_mode ? 4 : 2));
    u8 op = b[i++];
    if (op == 0xa1 || op == 0xa3) { /* mov eax, moffs / mov moffs, eax */
        u32 alen = long_mode ? (addrsize ? 4 : 8) : 4;
        out->len = (u8)(i + alen);
        out->write = op == 0xa3;
        out->size = (u8)osz;
        out->reg = 0;
        if (out->len > n) {
            bh_snprintf(why, wlen, "instruction too long");
            return false;
        }
        return true;
    }
    if (op != 0x89 && op != 0x8b && op != 0xc7) {
        bh_snprintf(why, wlen, "opcode %#x is not an emulated MMIO access", op);
        return false;
    }
    if (i >= n) {
        bh_snprintf(why, wlen, "instruction too long");
        return false;
    }
    u8 modrm = b[i++];
    u32 mod = modrm >> 6, reg = ((modrm >> 3) & 7) | ((rex & 4) ? 8 : 0), rm = modrm & 7;
    if (mod == 3) {
        bh_snprintf(why, wlen, "register operand in an MMIO access");
        return false;
    }
    if (rm == 4) { /* SIB */
        if (i >= n) {
            bh_snprintf(why, wlen, "instruction too long");
            return false;
        }
        u8 sib = b[i++];
        if (mod == 0 && (sib & 7) == 5)
            i += 4;
    } else if (mod == 0 && rm == 5) {
        i += 4; /* disp32 (RIP-relative in 64-bit mode) */
    }
    if (mod == 1)
        i += 1;
    else if (mod == 2)
        i += 4;
    out->size = (u8)osz;
    if (op == 0xc7) {
        if (((modrm >> 3) & 7) != 0) {
            bh_snprintf(why, wlen, "opcode 0xc7 /%u is not a MOV", (modrm >> 3) & 7);
            return false;
        }
        u32 isz = osz == 2 ? 2 : 4;
        if (i + isz > n) {
            bh_snprintf(why, wlen, "instruction too long");
            return false;
        }
        u32 imm = 0;
        memcpy(&imm, b + i, isz);
        out->imm = osz == 8 ? (u64)(s64)(s32)imm : imm;
        i += isz;
        out->reg = -1;
        out->write = true;
    } else {
        out->reg = (int)reg;
        out->write = op == 0x89;
    }
    if (i > n) {
        bh_snprintf(why, wlen, "instruction too long");
        return false;
    }
    out->len = (u8)i;
    return true;
}
