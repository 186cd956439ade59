/* Debug, trace and PMU registers of arm64 partitions (issue 12).
 *
 * By default a partition reaches none of them: MDCR_EL2 traps the debug
 * registers (TDA, TDOSA, TDRA), the PMU (TPM, TPMCR), the statistical
 * profiling and trace-filter controls (TPMS, TTRF), CPTR_EL2.TTA traps the
 * trace unit, and the hardware breakpoints and watchpoints are cleared, so a
 * guest can neither arm a breakpoint or watchpoint on hypervisor addresses
 * nor make a counter count at EL2. Trapped accesses are emulated as
 * read-as-zero / write-ignored (MDSCR_EL1 keeps what the guest wrote, with
 * no effect on the hardware), so kernels that touch them at boot carry on.
 *
 * With `pmu = "on"` in its configuration a partition gets the PMU itself
 * (all counters, HPMN = PMCR_EL0.N), with counting at EL2 prohibited (HPMD,
 * and HCCD for the cycle counter) where the CPU implements those controls. */
#include "vm.h"
#include "arm64.h"
#include "../../hv/arch.h"
#include "../../hv/smp.h"

#define MDCR_TPMCR (1ULL << 5)
#define MDCR_TPM (1ULL << 6)
#define MDCR_TDA (1ULL << 9)
#define MDCR_TDOSA (1ULL << 10)
#define MDCR_TDRA (1ULL << 11)
#define MDCR_TPMS (1ULL << 14)
#define MDCR_HPMD (1ULL << 17)
#define MDCR_TTRF (1ULL << 19)
#define MDCR_HCCD (1ULL << 23)
#define CPTR_E2H_TTA (1ULL << 28)

/* What the guest last wrote to MDSCR_EL1 (one vCPU per physical CPU). */
static u64 mdscr_shadow[MAX_CPUS];

#define CLEAR(kind, n)                                                       \
    case n:                                                                  \
        __asm__ volatile("msr " #kind #n "_el1, xzr");                        \
        break

/* Disarm breakpoint n (DBGBCR<n>_EL1) or watchpoint n (DBGWCR<n>_EL1). */
static void clear_bcr(u32 n)
{
    switch (n) {
    CLEAR(dbgbcr, 0); CLEAR(dbgbcr, 1); CLEAR(dbgbcr, 2); CLEAR(dbgbcr, 3);
    CLEAR(dbgbcr, 4); CLEAR(dbgbcr, 5); CLEAR(dbgbcr, 6); CLEAR(dbgbcr, 7);
    CLEAR(dbgbcr, 8); CLEAR(dbgbcr, 9); CLEAR(dbgbcr, 10); CLEAR(dbgbcr, 11);
    CLEAR(dbgbcr, 12); CLEAR(dbgbcr, 13); CLEAR(dbgbcr, 14); CLEAR(dbgbcr, 15);
    default: break;
    }
}

static void clear_wcr(u32 n)
{
    switch (n) {
    CLEAR(dbgwcr, 0); CLEAR(dbgwcr, 1); CLEAR(dbgwcr, 2); CLEAR(dbgwcr, 3);
    CLEAR(dbgwcr, 4); CLEAR(dbgwcr, 5); CLEAR(dbgwcr, 6); CLEAR(dbgwcr, 7);
    CLEAR(dbgwcr, 8); CLEAR(dbgwcr, 9); CLEAR(dbgwcr, 10); CLEAR(dbgwcr, 11);
    CLEAR(dbgwcr, 12); CLEAR(dbgwcr, 13); CLEAR(dbgwcr, 14); CLEAR(dbgwcr, 15);
    default: break;
    }
}

u64 a64_debug_setup(bool pmu_passthrough)
{
    u64 dfr0 = sysreg_read(id_aa64dfr0_el1);
    u32 pmuver = (u32)(dfr0 >> 8) & 0xf;
    bool pmu = pmuver != 0 && pmuver != 0xf;
    u64 mdcr = MDCR_TDA | MDCR_TDOSA | MDCR_TDRA | MDCR_TPMS | MDCR_TTRF;
    if (pmu) {
        mdcr |= (sysreg_read(pmcr_el0) >> 11) & 0x1f; /* HPMN = N: every counter */
        if (pmuver >= 4)
            mdcr |= MDCR_HPMD; /* PMUv3p1 */
        if (pmuver >= 6)
            mdcr |= MDCR_HCCD; /* PMUv3p5 */
    }
    if (!pmu_passthrough) {
        mdcr |= MDCR_TPM | MDCR_TPMCR;
        if (pmu) {
            /* Nothing counts for a partition that was not given the PMU. */
            sysreg_write(pmcntenclr_el0, ~0ULL);
            sysreg_write(pmcr_el0, 0);
        }
    }
    sysreg_write(mdcr_el2, mdcr);
    sysreg_write(cptr_el2, sysreg_read(cptr_el2) | CPTR_E2H_TTA);
    /* No breakpoint or watchpoint is left armed: the guest cannot arm one. */
    sysreg_write(mdscr_el1, 0);
    u32 brps = (u32)(dfr0 >> 12) & 0xf, wrps = (u32)(dfr0 >> 20) & 0xf;
    for (u32 i = 0; i <= brps; i++)
        clear_bcr(i);
    for (u32 i = 0; i <= wrps; i++)
        clear_wcr(i);
    isb();
    mdscr_shadow[arch_cpu_index()] = 0;
    return mdcr;
}

/* ESR ISS of a trapped MSR/MRS (EC 0x18). */
#define ISS_OP0(e) (((e) >> 20) & 3)
#define ISS_OP2(e) (((e) >> 17) & 7)
#define ISS_OP1(e) (((e) >> 14) & 7)
#define ISS_CRN(e) (((e) >> 10) & 15)
#define ISS_RT(e) (((e) >> 5) & 31)
#define ISS_CRM(e) (((e) >> 1) & 15)
#define ISS_READ(e) ((e) & 1)

static bool is_pmu(u64 esr)
{
    u32 op1 = ISS_OP1(esr), crn = ISS_CRN(esr), crm = ISS_CRM(esr);
    if (ISS_OP0(esr) != 3)
        return false;
    /* PMCR_EL0 ... PMOVSSET_EL0, PMUSERENR_EL0 (op1 3), PMINTEN*_EL1 and
     * PMMIR_EL1 (op1 0): CRn 9, CRm 12-14. SPE (PMS*, PMB*): CRn 9, CRm 9-10. */
    if (crn == 9 && (op1 == 3 || op1 == 0) && ((crm >= 12 && crm <= 14) || crm == 9 || crm == 10))
        return true;
    /* PMEVCNTR<n>_EL0, PMEVTYPER<n>_EL0, PMCCFILTR_EL0: op1 3, CRn 14, CRm 8-15
     * (CRm 0-3 are the generic timer). */
    return crn == 14 && op1 == 3 && crm >= 8;
}

static bool is_trfcr(u64 esr)
{
    /* TRFCR_EL1: op0 3, op1 0, CRn 1, CRm 2, op2 1. */
    return ISS_OP0(esr) == 3 && ISS_OP1(esr) == 0 && ISS_CRN(esr) == 1 && ISS_CRM(esr) == 2 &&
           ISS_OP2(esr) == 1;
}

static bool is_mdscr(u64 esr)
{
    /* MDSCR_EL1: op0 2, op1 0, CRn 0, CRm 2, op2 2. */
    return ISS_OP0(esr) == 2 && ISS_OP1(esr) == 0 && ISS_CRN(esr) == 0 && ISS_CRM(esr) == 2 &&
           ISS_OP2(esr) == 2;
}

bool a64_debug_sysreg(struct vm_ctx *ctx, u64 esr)
{
    /* op0 2: debug and trace-unit registers; op0 3: the PMU, SPE, TRFCR. */
    if (ISS_OP0(esr) != 2 && !is_pmu(esr) && !is_trfcr(esr))
        return false;
    u32 rt = ISS_RT(esr);
    u64 *slot = &mdscr_shadow[arch_cpu_index()];
    if (ISS_READ(esr)) {
        if (rt != 31)
            ctx->x[rt] = is_mdscr(esr) ? *slot : 0;
    } else if (is_mdscr(esr)) {
        *slot = rt == 31 ? 0 : ctx->x[rt];
    }
    ctx->pc += 4;
    return true;
}
