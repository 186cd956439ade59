/* x86 guest linear accesses for emulated INS/OUTS (arch/x86_64/insn.c): the
 * guest's own paging decides, with the checks the CPU makes (present, R/W,
 * U/S combined over the levels, CR0.WP), and a refused access is a page
 * fault for the guest with the CPU's error code, not a fault of the
 * partition; page tables outside the partition's memory are. */
#include "test_partition_env.h"
#include "arch/x86_64/insn.h"

static struct partition *pp;

#define PML4 0x10000u
#define PDPT 0x11000u
#define PD 0x12000u
#define PT 0x13000u
#define P 1u
#define RW 2u
#define US 4u

static void put64(u64 gpa, u64 v)
{
    CHECK(guest_write(pp, gpa, &v, 8));
}

static void setup(void)
{
    cfg_reset();
    struct cfg_partition *c = cfg_part("g", 0, 1);
    cfg_ram(c, 0, MiB(2));
    if (!partitions_create(&env_cfg, &env_bi)) {
        printf("  partitions_create failed: %s\n", con_buf);
        exit(1);
    }
    pp = &partitions[0];
    /* IA-32e: linear 0x400000 -> 0x100000 user rw; 0x401000 -> 0x101000
     * supervisor rw; 0x402000 -> 0x102000 user read-only; 0x403000 absent. */
    put64(PML4, PDPT | P | RW | US);
    put64(PDPT, PD | P | RW | US);
    put64(PD + 2 * 8, PT | P | RW | US);
    put64(PT + 0 * 8, 0x100000 | P | RW | US);
    put64(PT + 1 * 8, 0x101000 | P | RW);
    put64(PT + 2 * 8, 0x102000 | P | US);
    put64(PT + 3 * 8, 0);
}

static const struct guest_paging long_mode = {
    .cr0 = (1ULL << 31) | 1, .cr3 = PML4, .cr4 = 1ULL << 5, .efer = (1ULL << 10) | (1ULL << 8)};

static int acc(const struct guest_paging *g, u64 lin, u32 n, u32 how, u64 *flin, u32 *pfec)
{
    u32 buf = 0x5a5a5a5a;
    *flin = 0;
    *pfec = 0xffff;
    return x86_guest_access(pp, g, lin, &buf, n, how, flin, pfec);
}

static void user_supervisor_rw(void)
{
    setup();
    u64 flin;
    u32 pfec, got = 0;
    /* A user write to a user page lands at its guest-physical address. */
    CHECK_EQ(acc(&long_mode, 0x400010, 4, X86_ACC_USER | X86_ACC_WRITE, &flin, &pfec), X86_WALK_OK);
    CHECK(guest_read(pp, 0x100010, &got, 4));
    CHECK_EQ(got, 0x5a5a5a5a);
    /* User read of a supervisor page: protection fault, U/S set, P set. */
    CHECK_EQ(acc(&long_mode, 0x401000, 4, X86_ACC_USER, &flin, &pfec), X86_WALK_PF);
    CHECK_EQ(pfec, 5);
    CHECK_EQ(flin, 0x401000);
    /* The kernel may. */
    CHECK_EQ(acc(&long_mode, 0x401000, 4, 0, &flin, &pfec), X86_WALK_OK);
    /* User write to a read-only page. */
    CHECK_EQ(acc(&long_mode, 0x402008, 2, X86_ACC_USER | X86_ACC_WRITE, &flin, &pfec), X86_WALK_PF);
    CHECK_EQ(pfec, 7);
    /* Supervisor write to it: allowed with CR0.WP clear, a fault with WP. */
    CHECK_EQ(acc(&long_mode, 0x402008, 2, X86_ACC_WRITE, &flin, &pfec), X86_WALK_OK);
    struct guest_paging wp = long_mode;
    wp.cr0 |= 1ULL << 16;
    CHECK_EQ(acc(&wp, 0x402008, 2, X86_ACC_WRITE, &flin, &pfec), X86_WALK_PF);
    CHECK_EQ(pfec, 3);
    /* Not present: P clear in the error code. */
    CHECK_EQ(acc(&long_mode, 0x403004, 1, 0, &flin, &pfec), X86_WALK_PF);
    CHECK_EQ(pfec, 0);
    CHECK_EQ(flin, 0x403004);
    /* A user element across into the supervisor page faults at the page
     * boundary, and the check alone moves nothing. */
    CHECK_EQ(x86_guest_check(pp, &long_mode, 0x400ffe, 4, X86_ACC_USER, &flin, &pfec), X86_WALK_PF);
    CHECK_EQ(flin, 0x401000);
    CHECK_EQ(pfec, 5);
    CHECK_EQ(x86_guest_check(pp, &long_mode, 0x400ff0, 16, X86_ACC_USER, &flin, &pfec), X86_WALK_OK);
    /* A directory entry without U/S takes it away from everything below. */
    put64(PD + 2 * 8, PT | P | RW);
    CHECK_EQ(acc(&long_mode, 0x400000, 4, X86_ACC_USER, &flin, &pfec), X86_WALK_PF);
    CHECK_EQ(pfec, 5);
    partitions_destroy();
}

static void outside_and_unpaged(void)
{
    setup();
    u64 flin;
    u32 pfec;
    /* Page tables outside the partition: its fault, not the guest's. */
    struct guest_paging far = long_mode;
    far.cr3 = MiB(64);
    CHECK_EQ(acc(&far, 0x400000, 4, 0, &flin, &pfec), X86_WALK_OUTSIDE);
    /* Data outside the partition through a valid mapping. */
    put64(PT + 4 * 8, MiB(512) | P | RW | US);
    CHECK_EQ(acc(&long_mode, 0x404000, 4, X86_ACC_USER | X86_ACC_WRITE, &flin, &pfec),
             X86_WALK_OUTSIDE);
    /* Paging off: linear is physical. */
    struct guest_paging flat = {.cr0 = 1};
    u32 got = 0;
    CHECK_EQ(acc(&flat, 0x1000, 4, X86_ACC_WRITE, &flin, &pfec), X86_WALK_OK);
    CHECK(guest_read(pp, 0x1000, &got, 4));
    CHECK_EQ(got, 0x5a5a5a5a);
    partitions_destroy();
}

static void legacy_32bit(void)
{
    setup();
    u64 flin;
    u32 pfec;
    /* Two-level 32-bit paging with PSE: a 4 MiB supervisor page at 4 MiB. */
    u32 pde = 0x000000 | P | RW | (1u << 7);
    CHECK(guest_write(pp, 0x20000 + 1 * 4, &pde, 4));
    struct guest_paging g = {.cr0 = (1ULL << 31) | 1, .cr3 = 0x20000, .cr4 = 1ULL << 4};
    CHECK_EQ(acc(&g, 0x400100, 4, 0, &flin, &pfec), X86_WALK_OK);
    CHECK_EQ(acc(&g, 0x400100, 4, X86_ACC_USER, &flin, &pfec), X86_WALK_PF);
    CHECK_EQ(pfec, 5);
    partitions_destroy();
}

/* The MMIO MOV decoder: every refusal names its reason, also when the
 * bytes end inside the instruction (a fetch that stopped at a page the
 * guest's tables do not map, or that another vCPU changed under it). */
static bool dec(const u8 *b, u32 n, bool lm, struct mmio_insn *in, char *why)
{
    memset(why, 0x55, 96); /* no NUL: an unset reason would show */
    why[95] = 0;
    return x86_decode_mmio_mov(b, n, lm, true, in, why, 96);
}

static void decode_refusals_say_why(void)
{
    struct mmio_insn in;
    char why[96];
    static const u8 mov_load[] = { 0x8b, 0x04, 0x85, 0, 0, 0, 0 }; /* mov eax, [eax*4+0] */
    CHECK(dec(mov_load, sizeof(mov_load), false, &in, why));
    CHECK_EQ(in.len, 7);
    CHECK_EQ(in.size, 4);
    CHECK(!in.write);
    static const u8 mov_imm[] = { 0xc7, 0x40, 0x10, 1, 2, 3, 4 }; /* mov dword [eax+0x10], imm */
    CHECK(dec(mov_imm, sizeof(mov_imm), false, &in, why));
    CHECK_EQ(in.len, 7);
    CHECK_EQ(in.imm, 0x04030201);
    /* every prefix of these is too short: each must say so */
    for (u32 n = 1; n < sizeof(mov_load); n++) {
        CHECK(!dec(mov_load, n, false, &in, why));
        CHECK_STR(why, "instruction too long");
    }
    for (u32 n = 1; n < sizeof(mov_imm); n++) {
        CHECK(!dec(mov_imm, n, false, &in, why));
        CHECK_STR(why, "instruction too long");
    }
    static const u8 lock_or[] = { 0xf0, 0x83, 0x08, 0x00 };
    CHECK(!dec(lock_or, sizeof(lock_or), false, &in, why));
    CHECK_STR(why, "opcode 0xf0 is not an emulated MMIO access");
    static const u8 rep_stos[] = { 0xf3, 0xab };
    CHECK(!dec(rep_stos, sizeof(rep_stos), false, &in, why));
    CHECK_STR(why, "opcode 0xf3 is not an emulated MMIO access");
    static const u8 c7_not_mov[] = { 0xc7, 0x08, 0, 0, 0, 0 };
    CHECK(!dec(c7_not_mov, sizeof(c7_not_mov), false, &in, why));
    CHECK_STR(why, "opcode 0xc7 /1 is not a MOV");
    static const u8 reg_form[] = { 0x89, 0xc0 };
    CHECK(!dec(reg_form, sizeof(reg_form), false, &in, why));
    CHECK_STR(why, "register operand in an MMIO access");
    static const u8 prefixes_only[] = { 0x3e, 0x3e, 0x66 };
    CHECK(!dec(prefixes_only, sizeof(prefixes_only), false, &in, why));
    CHECK_STR(why, "instruction too long");
}

int main(void)
{
    env_init();
    RUN(decode_refusals_say_why);
    RUN(user_supervisor_rw);
    RUN(outside_and_unpaged);
    RUN(legacy_32bit);
    env_fini();
    return CHECK_DONE();
}
