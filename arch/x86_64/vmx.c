/* Intel VT-x: VMX on the CPUs that run partitions, EPT built from each
 * partition's memslots, the VMCS, and the VM-exit loop (CPUID, MSRs, port
 * I/O with a virtual 16550 per partition, HLT, PAUSE, VMCALL hypercalls,
 * XSETBV, control-register accesses, EPT violations, triple faults). Every
 * fault of a guest goes to the partition's fault policy; none stops the
 * hypervisor or another partition. */
#include "vmx.h"
#include "ept.h"
#include "x86guest.h"
#include "insn.h"
#include "vlapic.h"
#include "vrtc.h"
#include "vpic.h"
#include "vacpi.h"
#include "vioapic.h"
#include "passthru.h"
#include "vuart.h"
#include "../../hv/spinlock.h"
#include "../../hv/arch.h"
#include "../../hv/console.h"
#include "../../hv/epoch.h"
#include "../../hv/window.h"
#include "../../hv/format.h"
#include "../../hv/hypercall.h"
#include "../../hv/partition.h"
#include "../../hv/smp.h"
#include "../../hv/string.h"
#include "../../mm/frame.h"

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_PG (1ULL << 31)
#define CR4_VMXE (1ULL << 13)
#define CR4_OSXSAVE (1ULL << 18)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)


/* What the boot CPU found; every partition CPU must match. */
static struct {
    bool checked;
    bool usable;
    bool true_ctls;
    u32 pin, proc, proc2, exit, entry;
    u64 cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
    u64 ept_cap;
    u32 revision;
    bool intr_window;   /* interrupt-window exiting can be enabled */
    bool preempt;       /* VMX-preemption timer */
    bool hlt_state;     /* guest activity state HLT */
    u32 preempt_shift;  /* the preemption timer counts TSC >> preempt_shift */
    char missing[160];
} vmx;

static u64 vmxon_region[MAX_CPUS];

/* Adjust desired control bits to what the capability MSR allows; record the
 * ones that cannot be set. */
static u32 adjust(u32 msr, u32 desired, u32 required, char *missing, size_t mlen,
                  const char *const *names)
{
    u64 cap = rdmsr(msr);
    u32 must = (u32)cap, may = (u32)(cap >> 32);
    u32 r = (desired | must) & may;
    u32 lack = required & ~may;
    for (u32 b = 0; lack && b < 32; b++) {
        if (!(lack & (1u << b)))
            continue;
        size_t n = strlen(missing);
        bh_snprintf(missing + n, mlen - n, "%s%s", n ? ", " : "", names && names[b] ? names[b] : "a required VM-execution control");
    }
    return r;
}

static const char *const proc2_names[32] = {
    [1] = "EPT", [5] = "VPID", [7] = "unrestricted guest",
};
static const char *const proc_names[32] = {
    [7] = "HLT exiting", [11] = "RDPMC exiting", [25] = "I/O bitmaps", [28] = "MSR bitmaps", [31] = "secondary controls",
};
static const char *const exit_names[32] = { [9] = "64-bit host" };

/* Check VMX support once (on the boot CPU) and work out the controls. */
static bool vmx_check(char *why, size_t len)
{
    if (vmx.checked) {
        bh_snprintf(why, len, "%s", vmx.missing);
        return vmx.usable;
    }
    vmx.checked = true;
    u32 a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (!(c & (1u << 5))) {
        bh_snprintf(vmx.missing, sizeof(vmx.missing), "VMX (Intel VT-x)");
        goto out;
    }
    u64 basic = rdmsr(MSR_VMX_BASIC);
    vmx.revision = (u32)basic & 0x7fffffff;
    vmx.true_ctls = basic & (1ULL << 55);
    vmx.missing[0] = 0;
    u64 p = rdmsr(vmx.true_ctls ? MSR_VMX_TRUE_PROCBASED_CTLS : MSR_VMX_PROCBASED_CTLS);
    if (!((p >> 32) & PROC_SECONDARY)) {
        bh_snprintf(vmx.missing, sizeof(vmx.missing), "secondary controls (so no EPT and no unrestricted guest)");
        goto out;
    }
    vmx.pin = adjust(vmx.true_ctls ? MSR_VMX_TRUE_PINBASED_CTLS : MSR_VMX_PINBASED_CTLS,
                     PIN_EXT_INT_EXIT | PIN_NMI_EXIT | PIN_PREEMPT_TIMER, 0, vmx.missing,
                     sizeof(vmx.missing), NULL);
    u32 want = PROC_HLT_EXIT | PROC_RDPMC_EXIT | PROC_IO_BITMAPS | PROC_MSR_BITMAPS |
               PROC_PAUSE_EXIT | PROC_SECONDARY;
    vmx.proc = adjust(vmx.true_ctls ? MSR_VMX_TRUE_PROCBASED_CTLS : MSR_VMX_PROCBASED_CTLS, want,
                      PROC_HLT_EXIT | PROC_RDPMC_EXIT | PROC_IO_BITMAPS | PROC_MSR_BITMAPS |
                          PROC_SECONDARY,
                      vmx.missing, sizeof(vmx.missing), proc_names);
    /* The CR3 exits are needed only without EPT; clear them when allowed. */
    vmx.proc &= ~(PROC_CR3_LOAD_EXIT | PROC_CR3_STORE_EXIT) | (u32)p;
    vmx.intr_window = (p >> 32) & PROC_INTR_WINDOW;
    u32 want2 = PROC2_EPT | PROC2_VPID | PROC2_UNRESTRICTED | PROC2_RDTSCP | PROC2_INVPCID |
                PROC2_XSAVES | PROC2_PLE;
    vmx.proc2 = adjust(MSR_VMX_PROCBASED_CTLS2, want2, PROC2_EPT | PROC2_VPID | PROC2_UNRESTRICTED,
                       vmx.missing, sizeof(vmx.missing), proc2_names);
    /* PAUSE-loop exiting replaces an exit on every PAUSE when the CPU has it. */
    if (vmx.proc2 & PROC2_PLE)
        vmx.proc &= ~PROC_PAUSE_EXIT | (u32)p;
    u64 misc = rdmsr(MSR_VMX_MISC);
    vmx.preempt = vmx.pin & PIN_PREEMPT_TIMER;
    vmx.preempt_shift = (u32)misc & 31;
    vmx.hlt_state = misc & (1ULL << 6);
    vmx.exit = adjust(vmx.true_ctls ? MSR_VMX_TRUE_EXIT_CTLS : MSR_VMX_EXIT_CTLS,
                      EXIT_HOST_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER | EXIT_SAVE_PAT | EXIT_LOAD_PAT |
                          EXIT_ACK_INTR,
                      EXIT_HOST_64, vmx.missing, sizeof(vmx.missing), exit_names);
    vmx.entry = adjust(vmx.true_ctls ? MSR_VMX_TRUE_ENTRY_CTLS : MSR_VMX_ENTRY_CTLS,
                       ENTRY_LOAD_EFER | ENTRY_LOAD_PAT, 0, vmx.missing, sizeof(vmx.missing), NULL);
    if (!(vmx.exit & EXIT_LOAD_EFER) || !(vmx.entry & ENTRY_LOAD_EFER) || !(vmx.exit & EXIT_SAVE_EFER)) {
        size_t n = strlen(vmx.missing);
        bh_snprintf(vmx.missing + n, sizeof(vmx.missing) - n, "%sloading/saving EFER on VM entry/exit",
                    n ? ", " : "");
    }
    vmx.entry &= ~ENTRY_IA32E;
    vmx.cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0);
    vmx.cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
    vmx.cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0);
    vmx.cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);
    /* The EPT/VPID capability MSR exists only when EPT or VPID can be enabled. */
    u64 allowed2 = rdmsr(MSR_VMX_PROCBASED_CTLS2) >> 32;
    vmx.ept_cap = (allowed2 & (PROC2_EPT | PROC2_VPID)) ? rdmsr(MSR_VMX_EPT_VPID_CAP) : 0;
    if (!vmx.ept_cap)
        goto out; /* already reported missing EPT and VPID */
    if (!(vmx.ept_cap & (1ULL << 6)) || !(vmx.ept_cap & (1ULL << 14))) {
        size_t n = strlen(vmx.missing);
        bh_snprintf(vmx.missing + n, sizeof(vmx.missing) - n,
                    "%sEPT with a 4-level walk and write-back tables", n ? ", " : "");
    }
    if (!(vmx.ept_cap & (1ULL << 20)) || !(vmx.ept_cap & (1ULL << 32)) ||
        !(vmx.ept_cap & (3ULL << 25)) || !(vmx.ept_cap & (3ULL << 41))) {
        size_t n = strlen(vmx.missing);
        bh_snprintf(vmx.missing + n, sizeof(vmx.missing) - n, "%sINVEPT/INVVPID", n ? ", " : "");
    }
out:
    vmx.usable = vmx.missing[0] == 0;
    bh_snprintf(why, len, "%s", vmx.missing);
    return vmx.usable;
}

/* VMXON on the calling CPU. */
static bool vmx_cpu_on(u32 cpu, char *why, size_t len)
{
    if (vmxon_region[cpu])
        return true;
    u32 a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (!(c & (1u << 5))) {
        bh_snprintf(why, len, "this CPU reports no VMX");
        return false;
    }
    u64 fc = rdmsr(MSR_FEATURE_CONTROL);
    if (!(fc & 1)) {
        wrmsr(MSR_FEATURE_CONTROL, fc | 1 | 4); /* lock with VMX outside SMX on */
        fc = rdmsr(MSR_FEATURE_CONTROL);
    }
    if (!(fc & 4)) {
        bh_snprintf(why, len, "VMX is disabled by the firmware (IA32_FEATURE_CONTROL %#llx)",
                    (unsigned long long)fc);
        return false;
    }
    u64 cr0 = read_cr0();
    cr0 = (cr0 | vmx.cr0_fixed0) & vmx.cr0_fixed1;
    __asm__ volatile("mov %0, %%cr0" ::"r"(cr0));
    u64 cr4 = (read_cr4() | CR4_VMXE | vmx.cr4_fixed0) & vmx.cr4_fixed1;
    if (c & (1u << 26))
        cr4 |= CR4_OSXSAVE; /* guests may use XSETBV */
    write_cr4(cr4);
    u64 region = frame_alloc(1);
    if (!region) {
        bh_snprintf(why, len, "out of memory for the VMXON region");
        return false;
    }
    *(u32 *)(uintptr_t)region = vmx.revision;
    u8 fail;
    __asm__ volatile("vmxon %1; setna %0" : "=q"(fail) : "m"(region) : "cc", "memory");
    if (fail) {
        frame_free(region, 1);
        bh_snprintf(why, len, "VMXON failed");
        return false;
    }
    vmxon_region[cpu] = region;
    return true;
}

/* ---------------------------------------------------------------- EPT */

struct x86_part {
    struct ept ept;
    u64 eptp;
    u16 vpid;
    u8 *io_bitmap;     /* 2 pages: ports 0-0x7fff, 0x8000-0xffff */
    u8 *msr_bitmap;    /* 1 page */
    u8 port_logged[8192];
    u32 ept_gen;       /* atomic: bumped by every runtime EPT removal (shootdown) */
    struct guest_boot boot;
    struct vrtc rtc;   /* virtual CMOS RTC at ports 0x70/0x71 */
    struct vpic pic;   /* masked 8259 pair */
    struct vioapic ioapic;
    spinlock_t ioapic_lock;   /* the I/O APIC and the virtual UART */
    struct vuart uart; /* virtual 16550 at 0x3f8 (with the console on) */
    u32 reset_gen;     /* atomic: bumped when the partition restarts (several vCPUs) */
    u32 msr_logged[32];
    u32 msr_logged_n;
    bool s5;           /* the guest wrote SLP_TYP=S5 with SLP_EN */
};

static struct x86_part xparts[PART_MAX];

static u64 ept_alloc_page(void)
{
    return frame_alloc(1);
}

static void ept_free_page(u64 pa)
{
    frame_free(pa, 1);
}

static void invept_all(struct x86_part *xp)
{
    struct {
        u64 eptp, zero;
    } desc = { xp->eptp, 0 };
    u64 type = (vmx.ept_cap & (1ULL << 25)) ? 1 : 2;
    __asm__ volatile("invept %0, %1" ::"m"(desc), "r"(type) : "cc", "memory");
    struct {
        u64 vpid, addr;
    } vdesc = { xp->vpid, 0 };
    type = (vmx.ept_cap & (1ULL << 41)) ? 1 : 2;
    __asm__ volatile("invvpid %0, %1" ::"m"(vdesc), "r"(type) : "cc", "memory");
}

/* Build the EPT from the partition's current memslot set. */
static bool ept_build(struct partition *p, struct x86_part *xp, char *err, size_t len)
{
    ept_free(&xp->ept);
    xp->ept.has1g = vmx.ept_cap & (1ULL << 17);
    xp->ept.has2m = vmx.ept_cap & (1ULL << 16);
    xp->ept.alloc_page = ept_alloc_page;
    xp->ept.free_page = ept_free_page;
    if (!ept_init(&xp->ept)) {
        bh_snprintf(err, len, "out of memory for EPT tables");
        return false;
    }
    epoch_read_lock(hv_epoch());
    const struct memslot_set *s = memslot_current(&p->mem);
    bool ok = true;
    for (u32 i = 0; s && i < s->nr && ok; i++) {
        const struct memslot *m = &s->slot[i];
        u64 perm = EPT_R;
        if (!(m->flags & MEMSLOT_F_RO))
            perm |= EPT_W;
        if (m->flags & MEMSLOT_F_EXEC)
            perm |= EPT_X;
        u64 mt = (m->flags & MEMSLOT_F_DEVICE) ? EPT_UC_IPAT : EPT_WB;
        ok = ept_map(&xp->ept, m->gfn << PAGE_SHIFT, m->hfn << PAGE_SHIFT,
                     m->npages << PAGE_SHIFT, perm, mt);
    }
    epoch_read_unlock(hv_epoch());
    if (!ok) {
        bh_snprintf(err, len, "out of memory for EPT tables");
        ept_free(&xp->ept);
        return false;
    }
    xp->eptp = (u64)(uintptr_t)xp->ept.pml4 | 6 | (3 << 3);
    return true;
}

/* ---------------------------------------------------------------- vCPU */

struct vcpu {
    struct partition *p;
    struct x86_part *xp;
    u32 cpu;
    u32 index;          /* vCPU number in the partition = its APIC ID */
    u64 vmcs;
    struct vmx_regs regs;
    bool launched;
    bool wait_sipi;     /* after INIT (and at start for vCPUs other than 0) */
    bool soft_halt;     /* halted, without the HLT activity state */
    bool parked;        /* HLT with interrupts off: only INIT or NMI wakes it */
    bool input;         /* vCPU 0 of the console.input partition: polls the console UART */
    u64 input_at;       /* TSC of its last look */
    u32 proc;           /* current primary controls */
    u32 seen_gen;       /* atomic: the reset_gen this vCPU has acted on */
    u64 exits;
    u32 in_guest;       /* atomic: between the EPT check and the VM exit */
    u32 ept_seen;       /* atomic: the xp->ept_gen flushed before the last entry */
    struct vlapic lapic;
};

static struct vcpu vcpus[MAX_CPUS];

/* ------------------------------------------------ runtime EPT changes
 *
 * Called by arch/x86_64/runtime_map.c with the partition's memslot writer
 * lock held: nothing else changes its EPT then (ept_build runs only before
 * the partition starts). Table pages stay until the partition is destroyed,
 * so mapping a range that was just unmapped never allocates. */

static u64 slot_perm(u32 flags)
{
    u64 perm = EPT_R;
    if (!(flags & MEMSLOT_F_RO))
        perm |= EPT_W;
    if (flags & MEMSLOT_F_EXEC)
        perm |= EPT_X;
    return perm;
}

bool x86_ept_map(struct partition *p, const struct memslot *m)
{
    struct x86_part *xp = p->arch;
    if (!xp || !xp->ept.pml4)
        return false;
    u64 mt = (m->flags & MEMSLOT_F_DEVICE) ? EPT_UC_IPAT : EPT_WB;
    return ept_map(&xp->ept, m->gfn << PAGE_SHIFT, m->hfn << PAGE_SHIFT,
                   m->npages << PAGE_SHIFT, slot_perm(m->flags), mt);
}

void x86_ept_clear(struct partition *p, u64 gpa, u64 size)
{
    struct x86_part *xp = p->arch;
    if (xp)
        ept_clear(&xp->ept, gpa, size);
}

static bool gen_before(u32 a, u32 b)
{
    return (s32)(a - b) < 0;
}

/* Every CPU that runs p stops using translations of entries cleared before
 * this call: this CPU invalidates directly; a CPU in guest mode is sent the
 * kick IPI (the hypervisor runs with interrupts off, so the IPI makes it
 * leave guest mode, or makes the next entry exit at once), and its run loop
 * does INVEPT (single context) before its next entry and acknowledges by
 * storing the generation. Returns once every such CPU acknowledged or is
 * outside guest mode (it then flushes before entering again). */
void x86_ept_shootdown(struct partition *p)
{
    struct x86_part *xp = p->arch;
    if (!xp || !xp->ept.pml4)
        return;
#ifdef BH_TEST_NO_EPT_SHOOTDOWN
    /* Only in the build of the check x86-memslot-no-shootdown
     * (test/checks): no invalidation at all, which x86-vmx-memslot must
     * catch. */
    return;
#endif
    u32 gen = __atomic_add_fetch(&xp->ept_gen, 1, __ATOMIC_SEQ_CST);
    u32 self = arch_cpu_index();
    if (vmxon_region[self])
        invept_all(xp); /* in VMX operation: a hypercall from a partition */
    for (u32 i = 0; i < p->cfg->ncpus; i++) {
        u32 cpu = p->cfg->cpus[i];
        struct vcpu *v = &vcpus[cpu];
        if (cpu == self || v->p != p)
            continue;
        bool kicked = false;
        while (__atomic_load_n(&v->in_guest, __ATOMIC_SEQ_CST) &&
               gen_before(__atomic_load_n(&v->ept_seen, __ATOMIC_ACQUIRE), gen)) {
            if (!kicked) {
                x86_kick_cpu(cpu);
                kicked = true;
            }
            arch_cpu_relax();
        }
    }
}

/* Before a VM entry (in_guest already set): flush when a shootdown passed. */
static void ept_check_entry(struct vcpu *v)
{
    u32 g = __atomic_load_n(&v->xp->ept_gen, __ATOMIC_SEQ_CST);
    if (g != __atomic_load_n(&v->ept_seen, __ATOMIC_RELAXED)) {
        invept_all(v->xp);
        __atomic_store_n(&v->ept_seen, g, __ATOMIC_RELEASE);
    }
}

bool arch_partition_prepare(struct partition *p, char *err, size_t errlen)
{
    if (!vmx_check(err, errlen)) {
        char why[200];
        bh_snprintf(why, sizeof(why), "%s", err);
        bh_snprintf(err, errlen, "this CPU cannot run partitions: missing %s", why);
        return false;
    }
    /* Pass-through interrupts arrive as external-interrupt exits whose
     * vector the CPU acknowledged: fail closed without that. */
    if (p->cfg->nirqs && !(vmx.exit & EXIT_ACK_INTR)) {
        bh_snprintf(err, errlen, "interrupts cannot be passed through: this CPU cannot "
                                 "acknowledge interrupts on VM exit");
        return false;
    }
    if (!x86_passthru_prepare(p, err, errlen))
        return false;
    struct x86_part *xp = &xparts[p->index];
    memset(xp, 0, sizeof(*xp));
    p->arch = xp;
    xp->vpid = (u16)(p->index + 1);
    u64 io = frame_alloc(2), msr = frame_alloc(1);
    if (!io || !msr) {
        bh_snprintf(err, errlen, "out of memory for I/O and MSR bitmaps");
        return false;
    }
    xp->io_bitmap = (u8 *)(uintptr_t)io;
    xp->msr_bitmap = (u8 *)(uintptr_t)msr;
    memset(xp->io_bitmap, 0xff, 2 * PAGE_SIZE);
    memset(xp->msr_bitmap, 0xff, PAGE_SIZE);
    /* Granted port ranges go straight to the hardware. */
    for (u32 i = 0; i < p->cfg->nports; i++)
        for (u32 port = p->cfg->ports[i].base;
             port < p->cfg->ports[i].base + p->cfg->ports[i].count && port < 0x10000; port++)
            xp->io_bitmap[port / 8] &= (u8) ~(1u << (port % 8));
    /* MSRs the host never uses itself: the guest owns them outright on its CPU. */
    static const u32 passthrough_msrs[] = { 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,
                                            0xc0000102, 0xc0000103 };
    for (u32 i = 0; i < ARRAY_SIZE(passthrough_msrs); i++) {
        u32 m = passthrough_msrs[i] & 0x1fff;
        xp->msr_bitmap[1024 + m / 8] &= (u8) ~(1u << (m % 8));        /* read, high range */
        xp->msr_bitmap[3072 + m / 8] &= (u8) ~(1u << (m % 8));        /* write, high range */
    }
    /* Every vCPU's state exists before any of them runs, so that an IPI
     * (INIT, SIPI) sent early is not lost. vCPU 0 starts at the entry
     * point, the others wait for a SIPI (SDM 8.4). */
    vrtc_host_init();
    for (u32 i = 0; i < p->cfg->ncpus; i++) {
        struct vcpu *v = &vcpus[p->cfg->cpus[i]];
        u64 vmcs = v->vmcs;
        memset(v, 0, sizeof(*v));
        v->vmcs = vmcs;
        v->p = p;
        v->xp = xp;
        v->cpu = p->cfg->cpus[i];
        v->index = i;
        v->wait_sipi = i != 0;
        v->input = i == 0 && con_input_is(p);
        vlapic_reset(&v->lapic, i, i == 0);
    }
    return ept_build(p, xp, err, errlen);
}


static void vmcs_host_state(u32 cpu)
{
    vmwrite(HOST_CR0, read_cr0());
    vmwrite(HOST_CR3, read_cr3());
    vmwrite(HOST_CR4, read_cr4());
    vmwrite(HOST_CS_SEL, 0x08);
    vmwrite(HOST_SS_SEL, 0x10);
    vmwrite(HOST_DS_SEL, 0x10);
    vmwrite(HOST_ES_SEL, 0x10);
    vmwrite(HOST_FS_SEL, 0);
    vmwrite(HOST_GS_SEL, 0);
    vmwrite(HOST_TR_SEL, x86_tr_selector(cpu));
    vmwrite(HOST_FS_BASE, 0);
    vmwrite(HOST_GS_BASE, rdmsr(MSR_GS_BASE));
    vmwrite(HOST_TR_BASE, x86_tss_base(cpu));
    vmwrite(HOST_GDTR_BASE, x86_gdt_base());
    vmwrite(HOST_IDTR_BASE, x86_idt_base());
    vmwrite(HOST_SYSENTER_CS, 0);
    vmwrite(HOST_SYSENTER_ESP, 0);
    vmwrite(HOST_SYSENTER_EIP, 0);
    vmwrite(HOST_EFER, rdmsr(MSR_EFER));
    if (vmx.exit & EXIT_LOAD_PAT)
        vmwrite(HOST_PAT, rdmsr(0x277));
    extern char vmx_exit[];
    vmwrite(HOST_RIP, (u64)(uintptr_t)vmx_exit);
}

static u64 guest_cr0(u64 shadow)
{
    u64 fixed0 = vmx.cr0_fixed0 & ~(CR0_PE | CR0_PG); /* unrestricted guest */
    return (shadow | fixed0) & vmx.cr0_fixed1;
}

/* CR0 bits the guest cannot change without an exit: the fixed ones, and PE
 * and PG, whose transitions move the guest between real, protected and long
 * mode. For these bits CR0_SHADOW is exactly what the guest last wrote. */
static u64 cr0_mask(void)
{
    return vmx.cr0_fixed0 | ~vmx.cr0_fixed1 | CR0_NE | CR0_PE | CR0_PG;
}

static u64 guest_cr4(u64 shadow)
{
    return (shadow | vmx.cr4_fixed0) & vmx.cr4_fixed1;
}

static void set_seg(u32 sel_f, u32 base_f, u32 limit_f, u32 ar_f, u16 sel, u64 base, u32 limit,
                    u32 ar)
{
    vmwrite(sel_f, sel);
    vmwrite(base_f, base);
    vmwrite(limit_f, limit);
    vmwrite(ar_f, ar);
}

/* Guest state for a 32-bit protected-mode entry (multiboot v1 and PVH). */
static void vmcs_guest_entry_state(struct vcpu *v)
{
    const struct guest_boot *gb = &v->xp->boot;
    vmwrite(GUEST_CR0, guest_cr0(CR0_PE | CR0_ET));
    vmwrite(CR0_SHADOW, CR0_PE | CR0_ET);
    vmwrite(CR0_MASK, cr0_mask());
    vmwrite(GUEST_CR4, guest_cr4(0));
    vmwrite(CR4_SHADOW, 0);
    vmwrite(CR4_MASK, vmx.cr4_fixed0 | ~vmx.cr4_fixed1 | CR4_VMXE);
    vmwrite(GUEST_CR3, 0);
    const u32 code = 0xc09b, data = 0xc093;
    set_seg(GUEST_CS_SEL, GUEST_CS_BASE, GUEST_CS_LIMIT, GUEST_CS_AR, 0x10, 0, 0xffffffff, code);
    set_seg(GUEST_DS_SEL, GUEST_DS_BASE, GUEST_DS_LIMIT, GUEST_DS_AR, 0x18, 0, 0xffffffff, data);
    set_seg(GUEST_ES_SEL, GUEST_ES_BASE, GUEST_ES_LIMIT, GUEST_ES_AR, 0x18, 0, 0xffffffff, data);
    set_seg(GUEST_SS_SEL, GUEST_SS_BASE, GUEST_SS_LIMIT, GUEST_SS_AR, 0x18, 0, 0xffffffff, data);
    set_seg(GUEST_FS_SEL, GUEST_FS_BASE, GUEST_FS_LIMIT, GUEST_FS_AR, 0x18, 0, 0xffffffff, data);
    set_seg(GUEST_GS_SEL, GUEST_GS_BASE, GUEST_GS_LIMIT, GUEST_GS_AR, 0x18, 0, 0xffffffff, data);
    set_seg(GUEST_LDTR_SEL, GUEST_LDTR_BASE, GUEST_LDTR_LIMIT, GUEST_LDTR_AR, 0, 0, 0, 0x10000);
    set_seg(GUEST_TR_SEL, GUEST_TR_BASE, GUEST_TR_LIMIT, GUEST_TR_AR, 0, 0, 0xff, 0x8b);
    vmwrite(GUEST_GDTR_BASE, 0);
    vmwrite(GUEST_GDTR_LIMIT, 0);
    vmwrite(GUEST_IDTR_BASE, 0);
    vmwrite(GUEST_IDTR_LIMIT, 0);
    vmwrite(GUEST_DR7, 0x400);
    vmwrite(GUEST_RSP, 0);
    vmwrite(GUEST_RIP, gb->entry);
    vmwrite(GUEST_RFLAGS, 0x2);
    vmwrite(GUEST_PENDING_DBG, 0);
    vmwrite(GUEST_INTERRUPTIBILITY, 0);
    vmwrite(GUEST_ACTIVITY, 0);
    vmwrite(GUEST_SYSENTER_CS, 0);
    vmwrite(GUEST_SYSENTER_ESP, 0);
    vmwrite(GUEST_SYSENTER_EIP, 0);
    vmwrite(GUEST_DEBUGCTL, 0);
    vmwrite(GUEST_EFER, 0);
    if (vmx.entry & ENTRY_LOAD_PAT)
        vmwrite(GUEST_PAT, 0x0007040600070406ULL);
    vmwrite(VMCS_LINK_PTR, ~0ULL);
    vmwrite(ENTRY_CONTROLS, vmx.entry & ~ENTRY_IA32E);
    vmwrite(ENTRY_INTR_INFO, 0);
    memset(&v->regs, 0, sizeof(v->regs));
    v->regs.rax = gb->eax;
    v->regs.rbx = gb->ebx;
}

static bool vmcs_setup(struct vcpu *v, char *err, size_t len)
{
    if (!v->vmcs) {
        v->vmcs = frame_alloc(1);
        if (!v->vmcs) {
            bh_snprintf(err, len, "out of memory for the VMCS");
            return false;
        }
    }
    *(u32 *)(uintptr_t)v->vmcs = vmx.revision;
    u8 fail;
    __asm__ volatile("vmclear %1; setna %0" : "=q"(fail) : "m"(v->vmcs) : "cc", "memory");
    if (!fail)
        __asm__ volatile("vmptrld %1; setna %0" : "=q"(fail) : "m"(v->vmcs) : "cc", "memory");
    if (fail) {
        bh_snprintf(err, len, "VMCLEAR/VMPTRLD failed");
        return false;
    }
    v->launched = false;
    vmwrite(PIN_CONTROLS, vmx.pin);
    vmwrite(PROC_CONTROLS, vmx.proc);
    v->proc = vmx.proc;
    if (vmx.proc2 & PROC2_PLE) { /* the defaults KVM uses: gap 128, window 4096 TSC ticks */
        vmwrite(PLE_GAP, 128);
        vmwrite(PLE_WINDOW, 4096);
    }
    vmwrite(PROC_CONTROLS2, vmx.proc2);
    vmwrite(EXIT_CONTROLS, vmx.exit);
    vmwrite(EXCEPTION_BITMAP, 0);
    vmwrite(PF_ERR_MASK, 0);
    vmwrite(PF_ERR_MATCH, 0);
    vmwrite(CR3_TARGET_COUNT, 0);
    vmwrite(EXIT_MSR_STORE_COUNT, 0);
    vmwrite(EXIT_MSR_LOAD_COUNT, 0);
    vmwrite(ENTRY_MSR_LOAD_COUNT, 0);
    vmwrite(IO_BITMAP_A, (u64)(uintptr_t)v->xp->io_bitmap);
    vmwrite(IO_BITMAP_B, (u64)(uintptr_t)v->xp->io_bitmap + PAGE_SIZE);
    vmwrite(MSR_BITMAP, (u64)(uintptr_t)v->xp->msr_bitmap);
    vmwrite(EPT_POINTER, v->xp->eptp);
    vmwrite(VMCS_VPID, v->xp->vpid);
    vmcs_host_state(v->cpu);
    vmcs_guest_entry_state(v);
    return true;
}

/* ---------------------------------------------------------------- exits */

enum exit_action { X_RESUME, X_STOP, X_RESTART };

static void skip_insn(void)
{
    vmwrite(GUEST_RIP, vmread(GUEST_RIP) + vmread(EXIT_INSN_LEN));
    /* An instruction that completes ends STI/MOV SS blocking. */
    u64 intr = vmread(GUEST_INTERRUPTIBILITY);
    if (intr & 3)
        vmwrite(GUEST_INTERRUPTIBILITY, intr & ~3ULL);
}

static void inject_gp(void)
{
    vmwrite(ENTRY_INTR_INFO, 13 | (3u << 8) | (1u << 11) | (1u << 31));
    vmwrite(ENTRY_EXC_ERROR, 0);
}

static void inject_ud(void)
{
    vmwrite(ENTRY_INTR_INFO, 6 | (3u << 8) | (1u << 31));
}

static u64 *gpr(struct vcpu *v, unsigned n)
{
    switch (n) {
    case 0: return &v->regs.rax;
    case 1: return &v->regs.rcx;
    case 2: return &v->regs.rdx;
    case 3: return &v->regs.rbx;
    case 5: return &v->regs.rbp;
    case 6: return &v->regs.rsi;
    case 7: return &v->regs.rdi;
    case 8: return &v->regs.r8;
    case 9: return &v->regs.r9;
    case 10: return &v->regs.r10;
    case 11: return &v->regs.r11;
    case 12: return &v->regs.r12;
    case 13: return &v->regs.r13;
    case 14: return &v->regs.r14;
    case 15: return &v->regs.r15;
    default: return NULL; /* rsp lives in the VMCS */
    }
}

static u64 get_gpr(struct vcpu *v, unsigned n)
{
    u64 *r = gpr(v, n);
    return r ? *r : vmread(GUEST_RSP);
}

static void set_gpr(struct vcpu *v, unsigned n, u64 val)
{
    u64 *r = gpr(v, n);
    if (r)
        *r = val;
    else
        vmwrite(GUEST_RSP, val);
}

static enum exit_action fault(struct vcpu *v, const char *reason, u64 gpa, bool has_gpa)
{
    part_printk(v->p, "partition %s: vCPU %u at the fault: cr0 %#llx cr3 %#llx cr4 %#llx efer %#llx "
           "rax %#llx rcx %#llx rdx %#llx\n",
           v->p->name, v->index, (unsigned long long)vmread(CR0_SHADOW),
           (unsigned long long)vmread(GUEST_CR3),
           (unsigned long long)((vmread(GUEST_CR4) & ~vmread(CR4_MASK)) |
                                (vmread(CR4_SHADOW) & vmread(CR4_MASK))),
           (unsigned long long)vmread(GUEST_EFER), (unsigned long long)v->regs.rax,
           (unsigned long long)v->regs.rcx, (unsigned long long)v->regs.rdx);
    return partition_fault(v->p, reason, vmread(GUEST_RIP), gpa, has_gpa) == PART_ACT_RESTART
               ? X_RESTART
               : X_STOP;
}

static void handle_cpuid(struct vcpu *v)
{
    u32 leaf = (u32)v->regs.rax, sub = (u32)v->regs.rcx;
    u32 a, b, c, d;
    if (leaf >= 0x40000000 && leaf <= 0x400000ff) {
        a = b = c = d = 0;
        if (leaf == 0x40000000) {
            a = 0x40000010;
            memcpy(&b, "Bulk", 4);
            memcpy(&c, "head", 4);
            memcpy(&d, "HV\0\0", 4);
        } else if (leaf == 0x40000001) {
            a = HC_ABI_VERSION;
            b = v->p->index;
        } else if (leaf == 0x40000010) {
            /* TSC and APIC-timer frequency in kHz (the leaf VMware and KVM use) */
            a = b = (u32)x86_tsc_khz();
        }
    } else {
        cpuid(leaf, sub, &a, &b, &c, &d);
        if (leaf == 1) {
            c &= ~(1u << 5);   /* no VMX inside a partition */
            c |= 1u << 31;     /* running under a hypervisor */
            c |= 1u << 21;     /* x2APIC (the virtual local APIC has it) */
            /* TSC-deadline mode works only with the preemption timer. */
            c = vmx.preempt ? c | (1u << 24) : c & ~(1u << 24);
            /* OSXSAVE reflects the guest's CR4, not the hypervisor's. */
            c = (vmread(GUEST_CR4) & CR4_OSXSAVE) ? c | (1u << 27) : c & ~(1u << 27);
            c &= ~(1u << 3);   /* no MONITOR/MWAIT: MWAIT would idle the CPU unseen */
            d &= ~((1u << 7) | (1u << 14)); /* no machine-check architecture */
            d |= 1u << 9;      /* a local APIC */
            b = (b & 0x0000ffff) | (v->p->cfg->ncpus << 16) | (v->lapic.id << 24);
        } else if (leaf == 7 && sub == 0) {
            /* OSPKE reflects the guest's CR4.PKE. */
            c = (vmread(GUEST_CR4) & (1ULL << 22)) ? c | (1u << 4) : c & ~(1u << 4);
        } else if (leaf == 0xb || leaf == 0x1f) {
            d = v->lapic.id; /* x2APIC ID */
        } else if (leaf == 0x15) {
            /* TSC = crystal (ECX Hz) * EBX / EAX: the measured TSC rate, as the
             * crystal when it fits (so the APIC timer, which counts TSC ticks,
             * runs at the crystal rate a kernel assumes), else a 1 kHz crystal. */
            u64 khz = x86_tsc_khz();
            a = 1;
            if (khz * 1000 <= 0xffffffffULL) {
                b = 1;
                c = (u32)(khz * 1000);
            } else {
                b = (u32)khz;
                c = 1000;
            }
            d = 0;
        } else if (leaf == 0xd && sub == 1) {
            a &= ~(1u << 3); /* no XSAVES: IA32_XSS stays the hypervisor's (0) */
        } else if (leaf == 0x16) {
            a = b = (u32)(x86_tsc_khz() / 1000); /* base and maximum MHz */
            c = 0;
            d = 0;
        }
    }
    v->regs.rax = a;
    v->regs.rbx = b;
    v->regs.rcx = c;
    v->regs.rdx = d;
    skip_insn();
}

/* MSRs a guest may use; everything else gets #GP. */
static bool msr_read(struct vcpu *v, u32 msr, u64 *val)
{
    switch (msr) {
    case 0xc0000080: *val = vmread(GUEST_EFER); return true;
    case 0xc0000100: *val = vmread(GUEST_FS_BASE); return true;
    case 0xc0000101: *val = vmread(GUEST_GS_BASE); return true;
    case 0x174: *val = vmread(GUEST_SYSENTER_CS); return true;
    case 0x175: *val = vmread(GUEST_SYSENTER_ESP); return true;
    case 0x176: *val = vmread(GUEST_SYSENTER_EIP); return true;
    case 0x277: *val = (vmx.entry & ENTRY_LOAD_PAT) ? vmread(GUEST_PAT) : 0x0007040600070406ULL; return true;
    case 0x10: *val = rdmsr(0x10); return true; /* TSC */
    case 0x1a0: *val = 1; return true;          /* MISC_ENABLE: fast strings */
    case 0x179: *val = 0; return true;          /* MCG_CAP: no banks (MCE is hidden) */
    case 0x8b: *val = 0; return true;           /* BIOS_SIGN_ID: no microcode revision */
    case 0x17a: *val = 0; return true;          /* MCG_STATUS */
    default: return vlapic_owns_msr(msr) && vlapic_rdmsr(&v->lapic, msr, val);
    }
}

static bool canonical(u64 a)
{
    u64 top = a >> 47;
    return top == 0 || top == 0x1ffff;
}

static bool pat_valid(u64 pat)
{
    for (int i = 0; i < 8; i++) {
        u8 t = (u8)(pat >> (i * 8));
        if (t == 2 || t == 3 || t > 7)
            return false;
    }
    return true;
}

static bool msr_write(struct vcpu *v, u32 msr, u64 val)
{
    if ((msr == 0xc0000100 || msr == 0xc0000101 || msr == 0x175 || msr == 0x176) &&
        !canonical(val))
        return false;
    if (msr == 0x277 && !pat_valid(val))
        return false;
    switch (msr) {
    case 0xc0000080: {
        u64 allowed = (1ULL << 0) | EFER_LME | EFER_LMA | (1ULL << 11); /* SCE, LME, LMA, NXE */
        if (val & ~allowed)
            return false;
        /* LMA follows LME and CR0.PG; the guest cannot set it directly, and
         * LME cannot change while paging is on. */
        u64 cur = vmread(GUEST_EFER);
        if (((val ^ cur) & EFER_LME) && (vmread(GUEST_CR0) & CR0_PG))
            return false;
        val = (val & ~EFER_LMA) | (cur & EFER_LMA);
        vmwrite(GUEST_EFER, val);
        return true;
    }
    case 0xc0000100: vmwrite(GUEST_FS_BASE, val); return true;
    case 0xc0000101: vmwrite(GUEST_GS_BASE, val); return true;
    case 0x174: vmwrite(GUEST_SYSENTER_CS, val); return true;
    case 0x175: vmwrite(GUEST_SYSENTER_ESP, val); return true;
    case 0x176: vmwrite(GUEST_SYSENTER_EIP, val); return true;
    case 0x277:
        if (vmx.entry & ENTRY_LOAD_PAT)
            vmwrite(GUEST_PAT, val);
        return true;
    case 0x17a: return val == 0;
    case 0x8b: return true;   /* BIOS_SIGN_ID: a write only asks to refresh it */
    case 0x1a0: return true;  /* MISC_ENABLE: the guest cannot change the CPU's */
    default: return vlapic_owns_msr(msr) && vlapic_wrmsr(&v->lapic, msr, val);
    }
}

/* Console input (console.input=NAME, hv/console.c): vCPU 0 of that
 * partition moves what the hypervisor's console UART received into the
 * virtual 16550 (vuart.c; a byte that finds its receive FIFO full is
 * dropped with LSR.OE, as on a real UART) at VM exits at most every 0.5 ms
 * (a UART read costs about a microsecond on real hardware; at 115200 baud
 * 0.5 ms is under 6 bytes, well within the UART's FIFO), and at least every
 * 10 ms while the guest halts (preemption timer). */
#define INPUT_POLL_MAX 64 /* bytes per poll: a flooded UART cannot hold the CPU */

static void poll_input(struct vcpu *v)
{
    u64 now = rdtsc();
    if (now - v->input_at < x86_tsc_khz() / 2)
        return;
    v->input_at = now;
    int c = con_getc();
    if (c < 0)
        return;
    struct x86_part *xp = v->xp;
    spin_lock(&xp->ioapic_lock);
    for (u32 n = 1;; n++) {
        vuart_rx_push(&xp->uart, (u8)c);
        if (n == INPUT_POLL_MAX || (c = con_getc()) < 0)
            break;
    }
    vioapic_set_irq(&xp->ioapic, v->p, 4, vuart_irq_line(&xp->uart));
    spin_unlock(&xp->ioapic_lock);
}

/* One port access of a guest (IN/OUT and each element of INS/OUTS): the
 * virtual 16550, the virtual CMOS RTC, or an ungranted port (reads
 * all-ones, writes dropped, reported once per port). */
static u32 port_access(struct vcpu *v, u16 port, unsigned size, bool in, u32 val)
{
    u32 mask = size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffu;
    if (port >= 0x3f8 && port <= 0x3ff && v->p->cfg->console) {
        /* The virtual 16550: output goes to the console line by line,
         * input comes from poll_input; its interrupt output is IRQ 4. */
        struct x86_part *xp = v->xp;
        u8 tx = 0;
        spin_lock(&xp->ioapic_lock);
        u32 r = vuart_io(&xp->uart, port - 0x3f8u, in, (u8)val, &tx);
        vioapic_set_irq(&xp->ioapic, v->p, 4, vuart_irq_line(&xp->uart));
        spin_unlock(&xp->ioapic_lock);
        if (!in && r)
            partition_console_putc(v->p, (char)tx);
        return in ? r & mask : 0;
    }
    if ((port == 0x70 || port == 0x71) && size == 1)
        return vrtc_io(&v->xp->rtc, port, in, (u8)val);
    if ((port == 0x20 || port == 0x21 || port == 0xa0 || port == 0xa1) && size == 1)
        return vpic_io(&v->xp->pic, port, in, (u8)val);
    if (port == VACPI_SLEEP_CTL && size == 1) {
        /* ACPI sleep control: SLP_EN (bit 5) with SLP_TYP (bits 4:2) = S5 */
        if (!in && (val & 0x20) && ((val >> 2) & 7) == VACPI_S5_TYPE)
            v->xp->s5 = true;
        return 0;
    }
    if (port == VACPI_SLEEP_STS && size == 1)
        return 0x80; /* WAK_STS */
    struct x86_part *xp = v->xp;
    if (!(xp->port_logged[port / 8] & (1u << (port % 8)))) {
        xp->port_logged[port / 8] |= (u8)(1u << (port % 8));
        part_printk(v->p, "partition %s: %s of port %#x is not granted: %s (reported once per "
                    "port)\n",
                    v->p->name, in ? "read" : "write", port, in ? "reads all-ones" : "write dropped");
    }
    return mask;
}

static void guest_paging_now(struct guest_paging *g)
{
    g->cr0 = vmread(GUEST_CR0);
    g->cr3 = vmread(GUEST_CR3);
    g->cr4 = vmread(GUEST_CR4);
    g->efer = vmread(GUEST_EFER);
}

/* INS/OUTS, with or without REP: each element goes through port_access.
 * At most 4096 elements per exit; a longer REP resumes at the same
 * instruction (RCX and the index register are updated), so interrupts can
 * come in between as on hardware. */
static enum exit_action handle_string_io(struct vcpu *v, u64 q, u16 port, unsigned size, bool in)
{
    bool rep = q & 32;
    u32 info = (u32)vmread(EXIT_INSN_INFO);
    unsigned asz = (info >> 7) & 7;
    u64 amask = asz == 0 ? 0xffffULL : asz == 1 ? 0xffffffffULL : ~0ULL;
    u64 count = rep ? (v->regs.rcx & amask) : 1;
    if (!count) {
        skip_insn();
        return X_RESUME;
    }
    u64 n = count > 4096 ? 4096 : count;
    bool down = vmread(GUEST_RFLAGS) & (1u << 10);
    u64 lin = vmread(GUEST_LINEAR_ADDR);
    struct guest_paging g;
    guest_paging_now(&g);
    /* CPL from SS.DPL: a ring-3 INS/OUTS gets the user-mode page checks. */
    u32 acc = (((vmread(GUEST_SS_AR) >> 5) & 3) == 3 ? X86_ACC_USER : 0) | (in ? X86_ACC_WRITE : 0);
    u64 i = 0;
    for (; i < n; i++) {
        u32 val = 0, pfec = 0;
        u64 flin = 0;
        /* The memory side is checked before the port is touched, as the CPU
         * faults before the I/O of an element whose memory access faults. */
        int r = x86_guest_check(v->p, &g, lin, size, acc, &flin, &pfec);
        if (r == X86_WALK_OK) {
            if (in) {
                val = port_access(v, port, size, true, 0);
                r = x86_guest_access(v->p, &g, lin, &val, size, acc, &flin, &pfec);
            } else {
                r = x86_guest_access(v->p, &g, lin, &val, size, acc, &flin, &pfec);
                if (r == X86_WALK_OK)
                    port_access(v, port, size, false, val);
            }
        }
        if (r == X86_WALK_OUTSIDE)
            return fault(v, in ? "INS into memory outside the partition"
                               : "OUTS from memory outside the partition", flin, false);
        if (r == X86_WALK_PF) {
            /* A page fault for the guest, at this element: the ones before it
             * are done (registers below), the instruction is not skipped. */
            v->regs.cr2 = flin;
            vmwrite(ENTRY_EXC_ERROR, pfec);
            vmwrite(ENTRY_INTR_INFO, 14 | (3u << 8) | (1u << 11) | (1u << 31));
            break;
        }
        lin += down ? -(u64)size : size;
    }
    bool faulted = i < n;
    n = i;
    u64 *idx = in ? &v->regs.rdi : &v->regs.rsi;
    u64 moved = n * size;
    *idx = (*idx & ~amask) | ((down ? *idx - moved : *idx + moved) & amask);
    if (rep)
        v->regs.rcx = (v->regs.rcx & ~amask) | ((count - n) & amask);
    if (!faulted && (!rep || count == n))
        skip_insn();
    return X_RESUME;
}

static enum exit_action handle_io(struct vcpu *v, u64 q)
{
    unsigned size = (unsigned)(q & 7) + 1;
    bool in = q & 8;
    bool string = q & 16;
    u16 port = (u16)(q >> 16);
    enum exit_action act = X_RESUME;
    if (string) {
        act = handle_string_io(v, q, port, size, in);
    } else {
        u32 mask = size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffu;
        u32 result = port_access(v, port, size, in, (u32)v->regs.rax & mask);
        if (in)
            v->regs.rax = size == 4 ? result : (v->regs.rax & ~(u64)mask) | result;
        skip_insn();
    }
    if (v->xp->s5) {
        v->xp->s5 = false;
        part_printk(v->p, "partition %s: ACPI S5 (soft off) through the sleep control register\n",
               v->p->name);
        partition_shutdown(v->p, 0);
        return X_STOP;
    }
    return act;
}

static enum exit_action handle_cr(struct vcpu *v, u64 q)
{
    unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
    if (type == 0 && cr == 0) {
        u64 val = get_gpr(v, reg);
        u64 efer = vmread(GUEST_EFER);
        if ((val & CR0_PG) && !(val & CR0_PE)) {
            inject_gp();
            return X_RESUME;
        }
        u64 old = vmread(CR0_SHADOW);
        bool pg_on = (val & CR0_PG) && !(old & CR0_PG);
        bool pg_off = !(val & CR0_PG) && (old & CR0_PG);
        if (pg_on && (efer & EFER_LME)) {
            vmwrite(GUEST_EFER, efer | EFER_LMA);
            vmwrite(ENTRY_CONTROLS, vmread(ENTRY_CONTROLS) | ENTRY_IA32E);
        } else if (pg_off && (efer & EFER_LMA)) {
            vmwrite(GUEST_EFER, efer & ~EFER_LMA);
            vmwrite(ENTRY_CONTROLS, vmread(ENTRY_CONTROLS) & ~ENTRY_IA32E);
        }
        vmwrite(CR0_SHADOW, val);
        vmwrite(GUEST_CR0, guest_cr0(val));
        skip_insn();
        return X_RESUME;
    }
    if (type == 0 && cr == 4) {
        u64 val = get_gpr(v, reg);
        if (val & CR4_VMXE) {
            inject_gp(); /* no nested VMX */
            return X_RESUME;
        }
        vmwrite(CR4_SHADOW, val);
        vmwrite(GUEST_CR4, guest_cr4(val));
        skip_insn();
        return X_RESUME;
    }
    if (type == 0 && cr == 3) {
        vmwrite(GUEST_CR3, get_gpr(v, reg));
        skip_insn();
        return X_RESUME;
    }
    if (type == 1 && cr == 3) {
        set_gpr(v, reg, vmread(GUEST_CR3));
        skip_insn();
        return X_RESUME;
    }
    /* CLTS never exits (TS is not in the CR0 mask). */
    if (type == 3) { /* LMSW sets PE (it cannot clear it) and MP/EM/TS */
        u64 src = (q >> 16) & 0xffff, mask = cr0_mask();
        u64 cur = (vmread(GUEST_CR0) & ~mask) | (vmread(CR0_SHADOW) & mask);
        u64 val = (cur & ~0xeULL) | (src & 0xe) | ((cur | src) & 1);
        vmwrite(CR0_SHADOW, val);
        vmwrite(GUEST_CR0, guest_cr0(val));
        skip_insn();
        return X_RESUME;
    }
    char why[64];
    bh_snprintf(why, sizeof(why), "unhandled control-register access (CR%u, type %u)", cr, type);
    return fault(v, why, 0, false);
}

static enum exit_action handle_vmcall(struct vcpu *v)
{
    /* Only the guest kernel (CPL 0) may call the hypervisor. */
    u32 ss_ar = (u32)vmread(GUEST_SS_AR);
    bool real_mode = !(vmread(CR0_SHADOW) & CR0_PE);
    skip_insn();
    if (!real_mode && ((ss_ar >> 5) & 3) != 0) {
        v->regs.rax = (u64)(s64)HC_E_PERM;
        return X_RESUME;
    }
    bool stop = false;
    s64 r = hypercall_dispatch(v->p, 0, v->regs.rax, v->regs.rbx, v->regs.rcx, v->regs.rdx,
                               v->regs.rsi, &stop);
    v->regs.rax = (u64)r;
    return stop ? X_STOP : X_RESUME;
}

static enum exit_action handle_xsetbv(struct vcpu *v)
{
    u32 idx = (u32)v->regs.rcx;
    u64 val = (v->regs.rdx << 32) | (u32)v->regs.rax;
    u32 a, b, c, d;
    cpuid(0xd, 0, &a, &b, &c, &d);
    u64 supported = ((u64)d << 32) | a;
    /* XCR0 rules (SDM vol. 1, 13.3): x87 always on; AVX needs SSE; the three
     * AVX-512 bits together and only with AVX; the two MPX bits together; the
     * two AMX bits together; nothing the CPU does not support. Anything else
     * would raise #GP in the hypervisor itself. */
    u64 avx512 = val & 0xe0, mpx = val & 0x18, amx = val & 0x60000;
    if (idx != 0 || !(val & 1) || (val & ~supported) || ((val & 4) && !(val & 2)) ||
        (avx512 && (avx512 != 0xe0 || !(val & 4))) || (mpx && mpx != 0x18) ||
        (amx && amx != 0x60000) || !(read_cr4() & CR4_OSXSAVE)) {
        inject_gp();
        return X_RESUME;
    }
    __asm__ volatile("xsetbv" ::"c"(0), "a"((u32)val), "d"((u32)(val >> 32)));
    skip_insn();
    return X_RESUME;
}

/* A guest access to its xAPIC page or the I/O APIC: fetch and decode the
 * MOV, emulate it. */
static enum exit_action handle_apic_mmio(struct vcpu *v, u64 gpa, bool ioapic)
{
    struct guest_paging g = { vmread(GUEST_CR0), vmread(GUEST_CR3), vmread(GUEST_CR4),
                              vmread(GUEST_EFER) };
    u32 cs_ar = (u32)vmread(GUEST_CS_AR);
    bool lm = (g.efer & EFER_LMA) && (cs_ar & (1u << 13));
    u64 lin = vmread(GUEST_CS_BASE) + vmread(GUEST_RIP);
    if (!lm)
        lin &= 0xffffffffULL;
    u8 b[15];
    u32 n = sizeof(b);
    if (!x86_guest_fetch(v->p, &g, lin, b, n)) {
        n = (u32)(PAGE_SIZE - (lin & (PAGE_SIZE - 1))); /* up to the end of the page */
        if (n > sizeof(b) || !x86_guest_fetch(v->p, &g, lin, b, n))
            return fault(v, ioapic ? "I/O APIC access from an instruction that cannot be fetched"
                                   : "local APIC access from an instruction that cannot be fetched",
                         gpa, true);
    }
    struct mmio_insn in;
    char why[96], msg[160];
    const char *dev = ioapic ? "I/O APIC" : "local APIC";
    if (!x86_decode_mmio_mov(b, n, lm, cs_ar & (1u << 14), &in, why, sizeof(why))) {
        bh_snprintf(msg, sizeof(msg), "%s access not emulated: %s", dev, why);
        return fault(v, msg, gpa, true);
    }
    if (in.size != 4 || (gpa & 3)) {
        bh_snprintf(msg, sizeof(msg), "%s access of %u bytes at offset %#llx (only "
                    "aligned 32-bit accesses are allowed)", dev, in.size,
                    (unsigned long long)(gpa & 0xfff));
        return fault(v, msg, gpa, true);
    }
    u32 val = in.write ? (u32)(in.reg < 0 ? in.imm : get_gpr(v, (unsigned)in.reg)) : 0;
    bool ok;
    if (ioapic) {
        spin_lock(&v->xp->ioapic_lock);
        ok = vioapic_mmio(&v->xp->ioapic, v->p, (u32)(gpa & 0xfff), in.write, &val);
        spin_unlock(&v->xp->ioapic_lock);
    } else {
        ok = vlapic_mmio(&v->lapic, (u32)(gpa & 0xfff), in.write, &val);
    }
    if (!ok) {
        bh_snprintf(msg, sizeof(msg), "%s %s at unaligned offset %#llx",
                    ioapic ? "I/O APIC" : "local APIC", in.write ? "write" : "read",
                    (unsigned long long)(gpa & 0xfff));
        return fault(v, msg, gpa, true);
    }
    if (!in.write)
        set_gpr(v, (unsigned)in.reg, val); /* a 32-bit load zero-extends */
    vmwrite(GUEST_RIP, vmread(GUEST_RIP) + in.len);
    u64 intr = vmread(GUEST_INTERRUPTIBILITY);
    if (intr & 3)
        vmwrite(GUEST_INTERRUPTIBILITY, intr & ~3ULL);
    return X_RESUME;
}

/* outside-access = "abort" (docs/config.md): a data read or write outside
 * the partition's memory, or against its permissions (a write to a
 * read-only window), is not performed and the vCPU gets #GP(0) at the
 * faulting instruction (RIP not advanced, so the guest's handler sees the
 * access's RIP). Not for instruction fetches, the guest's own page-table
 * walks or accesses without a linear address, nor during event delivery
 * (IDT-vectoring information valid: the IDT, the handler's stack or a
 * gate): those would only loop into #GP, #DF or a triple fault, so they go
 * to the fault policy with the reason named. Reported once per partition. */
static u32 abort_reported[PART_MAX];

static bool inject_outside_abort(struct vcpu *v, u64 q, u64 gpa, bool permission,
                                 char *why, size_t len)
{
    if (!v->p->cfg->outside_abort)
        return false;
    const char *not_done = NULL;
    if (vmread(IDT_VECTORING_INFO) & (1u << 31))
        not_done = "an access during event delivery";
    else if (q & 4)
        not_done = "an instruction fetch";
    else if (!(q & (1u << 7)) || !(q & (1u << 8)))
        not_done = "the guest's own page-table walk";
    if (not_done) {
        bh_snprintf(why + strlen(why), len - strlen(why),
                    " (outside-access \"abort\" injects #GP(0) for data accesses only, not for "
                    "%s)",
                    not_done);
        return false;
    }
    /* The exit dropped NMI blocking for an IRET that faulted: the IRET is
     * not completed, so the blocking stays (SDM 27.2.3). */
    if (q & (1u << 12))
        vmwrite(GUEST_INTERRUPTIBILITY, vmread(GUEST_INTERRUPTIBILITY) | 8);
    /* #GP(0); no error code in real mode (unrestricted guest, CR0.PE clear). */
    bool pe = vmread(GUEST_CR0) & 1;
    vmwrite(ENTRY_INTR_INFO, 13 | (3u << 8) | (pe ? 1u << 11 : 0) | (1u << 31));
    vmwrite(ENTRY_EXC_ERROR, 0);
    if (!__atomic_fetch_add(&abort_reported[v->p->index], 1, __ATOMIC_RELAXED))
        printk("partition %s: vCPU %u: %s %s (gpa %#llx, rip %#llx): #GP(0) injected "
               "(outside-access \"abort\"; reported once)\n",
               v->p->name, v->index, (q & 2) ? "write" : "read",
               permission ? "against its permissions" : "outside its memory",
               (unsigned long long)gpa, (unsigned long long)vmread(GUEST_RIP));
    return true;
}

static enum exit_action handle_ept_violation(struct vcpu *v, u64 q)
{
    u64 gpa = vmread(GUEST_PHYS_ADDR);
    if (vlapic_xapic_mode(&v->lapic) && (gpa & ~0xfffULL) == vlapic_mmio_base(&v->lapic))
        return handle_apic_mmio(v, gpa, false);
    if ((gpa & ~0xfffULL) == VACPI_IOAPIC_BASE)
        return handle_apic_mmio(v, gpa, true);
    const char *what = (q & 4) ? "instruction fetch" : (q & 2) ? "write" : "read";
    char why[224];
    bool permission = q & 0x38;
    if (!permission)
        bh_snprintf(why, sizeof(why), "EPT violation: %s outside the partition's memory", what);
    else
        bh_snprintf(why, sizeof(why), "EPT violation: %s not permitted (%s%s%s mapping)", what,
                    (q & 8) ? "r" : "-", (q & 16) ? "w" : "-", (q & 32) ? "x" : "-");
    if (inject_outside_abort(v, q, gpa, permission, why, sizeof(why)))
        return X_RESUME;
    return fault(v, why, gpa, true);
}

/* The first #GP for each MSR number (up to 32 of them) is reported. */
static void msr_refused(struct vcpu *v, u32 msr, bool write)
{
    struct x86_part *xp = v->xp;
    /* Every vCPU of the partition comes here: the count is claimed with a
     * compare-and-swap so that two vCPUs can never push it (and the index)
     * past the array. */
    u32 n = __atomic_load_n(&xp->msr_logged_n, __ATOMIC_ACQUIRE);
    for (;;) {
        for (u32 i = 0; i < n && i < ARRAY_SIZE(xp->msr_logged); i++)
            if (__atomic_load_n(&xp->msr_logged[i], __ATOMIC_RELAXED) == msr)
                return;
        if (n >= ARRAY_SIZE(xp->msr_logged))
            return;
        if (__atomic_compare_exchange_n(&xp->msr_logged_n, &n, n + 1, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            break;
    }
    __atomic_store_n(&xp->msr_logged[n], msr, __ATOMIC_RELAXED);
    part_printk(v->p, "partition %s: vCPU %u: %s of MSR %#x is not emulated: #GP (reported once "
                "per MSR)\n",
           v->p->name, v->index, write ? "WRMSR" : "RDMSR", msr);
}

static enum exit_action handle_exit(struct vcpu *v)
{
    u32 reason = (u32)vmread(EXIT_REASON);
    u64 q = vmread(EXIT_QUALIFICATION);
    v->exits++;
    if (reason & (1u << 31)) {
        char why[80];
        bh_snprintf(why, sizeof(why), "VM entry failed (exit reason %u, qualification %#llx)",
                    reason & 0xffff, (unsigned long long)q);
        return fault(v, why, 0, false);
    }
    /* An event whose delivery the exit interrupted is delivered again. */
    u32 idt = (u32)vmread(IDT_VECTORING_INFO);
    if (idt & (1u << 31)) {
        vmwrite(ENTRY_INTR_INFO, idt & ~(1u << 12));
        if (idt & (1u << 11))
            vmwrite(ENTRY_EXC_ERROR, vmread(IDT_VECTORING_ERROR));
        vmwrite(ENTRY_INSN_LEN, vmread(EXIT_INSN_LEN));
    }
    switch (reason & 0xffff) {
    case EXIT_EXCEPTION: {
        u32 info = (u32)vmread(EXIT_INTR_INFO);
        if ((info & (1u << 31)) && ((info >> 8) & 7) == 2)
            return X_RESUME; /* an NMI while the guest ran: nothing to do with it */
        return fault(v, "unexpected exception exit", 0, false);
    }
    case EXIT_CPUID:
        handle_cpuid(v);
        return X_RESUME;
    case EXIT_IO:
        return handle_io(v, q);
    case EXIT_RDMSR: {
        u64 val;
        if (msr_read(v, (u32)v->regs.rcx, &val)) {
            v->regs.rax = (u32)val;
            v->regs.rdx = val >> 32;
            skip_insn();
        } else {
            msr_refused(v, (u32)v->regs.rcx, false);
            inject_gp();
        }
        return X_RESUME;
    }
    case EXIT_WRMSR: {
        u64 val = (v->regs.rdx << 32) | (u32)v->regs.rax;
        if (msr_write(v, (u32)v->regs.rcx, val)) {
            skip_insn();
        } else {
            msr_refused(v, (u32)v->regs.rcx, true);
            inject_gp();
        }
        return X_RESUME;
    }
    case EXIT_HLT:
        skip_insn();
        if (!(vmread(GUEST_RFLAGS) & (1u << 9))) {
            if (v->p->cfg->ncpus == 1) {
                part_printk(v->p, "partition %s: the guest halted with interrupts disabled; nothing can "
                       "wake it\n",
                       v->p->name);
                return fault(v, "HLT with interrupts disabled", 0, false);
            }
            v->parked = true; /* an NMI or INIT (from another vCPU) may still wake it */
        }
        /* Wait for an interrupt: in the HLT activity state (woken by the
         * preemption timer or a kick from another CPU) or in the exit loop. */
        if (vmx.hlt_state && (vmx.preempt || !v->input))
            vmwrite(GUEST_ACTIVITY, 1);
        else
            v->soft_halt = true;
        return X_RESUME;
    case EXIT_PAUSE: /* PAUSE-loop exiting (or every PAUSE without it) */
        skip_insn();
        return X_RESUME;
    case EXIT_INTR_WINDOW:
    case EXIT_PREEMPT_TIMER:
        return X_RESUME; /* the entry path injects and re-arms */
    case EXIT_RDPMC:
        inject_gp(); /* the PMU is the hypervisor's: no counter is given */
        return X_RESUME;
    case EXIT_VMCALL:
        return handle_vmcall(v);
    case EXIT_XSETBV:
        return handle_xsetbv(v);
    case EXIT_CR_ACCESS:
        return handle_cr(v, q);
    case EXIT_EPT_VIOLATION:
        return handle_ept_violation(v, q);
    case EXIT_TRIPLE_FAULT:
        return fault(v, "triple fault", 0, false);
    case EXIT_EPT_MISCONFIG:
        return fault(v, "EPT misconfiguration", vmread(GUEST_PHYS_ADDR), true);
    case EXIT_VMCLEAR ... EXIT_VMXON:
    case EXIT_INVEPT:
    case EXIT_INVVPID:
        inject_ud(); /* no nested virtualization */
        return X_RESUME;
    case EXIT_WBINVD:
    case EXIT_INVD:
        skip_insn();
        return X_RESUME;
    case EXIT_EXT_INT:
        /* Acknowledged on exit; the hypervisor takes no interrupts itself.
         * The epoch kick is counted as taken here (hv/partition.h): the run
         * loop goes on to its quiescent state. */
        if (vmx.exit & EXIT_ACK_INTR)
            x86_passthru_irq((u32)vmread(EXIT_INTR_INFO)); /* before the EOI: masks a level pin */
        x86_lapic_eoi();
        if ((vmx.exit & EXIT_ACK_INTR) && (vmread(EXIT_INTR_INFO) & 0x800000ffu) == (0x80000000u | X86_EPOCH_VECTOR))
            hv_epoch_kick_taken(v->cpu);
        return X_RESUME;
    case EXIT_BAD_GUEST_STATE:
        return fault(v, "invalid guest state at VM entry", 0, false);
    default: {
        char why[64];
        bh_snprintf(why, sizeof(why), "unhandled VM exit (reason %u)", reason & 0xffff);
        return fault(v, why, 0, false);
    }
    }
}

static u64 free_at_start[PART_MAX];

/* Load (or reload after a restart) the guest image and prepare the vCPU. */
static bool start_guest(struct vcpu *v, bool restart)
{
    char err[160];
    if (restart) {
        /* Same frames, fresh contents: nothing is allocated for a restart;
         * the pool is given back first, so the count is as at the first start. */
        partition_reset_memory(v->p);
        pool_reset(v->p);
        part_printk(v->p, "partition %s: restart %u: hypervisor free memory %llu KiB, as at the first "
               "start (%llu KiB)\n",
               v->p->name, v->p->restarts, (unsigned long long)(frames_global()->free_bytes >> 10),
               (unsigned long long)(free_at_start[v->p->index] >> 10));
        memset(v->xp->port_logged, 0, sizeof(v->xp->port_logged));
    }
    /* ACPI tables at 0xe0000 first: a kernel image loaded over them wins. */
    u8 *acpi = guest_ptr(v->p, VACPI_BASE, VACPI_MAX, true);
    bool have_acpi = acpi && vacpi_build(acpi, VACPI_MAX, VACPI_BASE, v->p->cfg->ncpus, true);
    if (!have_acpi && !restart)
        printk("partition %s: no RAM at %#llx for ACPI tables: the guest gets none\n",
               v->p->name, (unsigned long long)VACPI_BASE);
    vrtc_reset(&v->xp->rtc);
    vpic_reset(&v->xp->pic);
    vioapic_reset(&v->xp->ioapic, v->p->cfg->ncpus);
    x86_passthru_reset(v->p, &v->xp->ioapic);
    vuart_reset(&v->xp->uart);
    if (!arch_partition_load(v->p, err, sizeof(err))) {
        printk("partition %s: cannot load its kernel '%s': %s\n", v->p->name, v->p->cfg->kernel,
               err);
        return false;
    }
    /* PVH: the start information's rsdp_paddr (offset 32) points at them. */
    if (have_acpi && v->p->cfg->boot == CFG_BOOT_PVH) {
        u64 rsdp = VACPI_BASE;
        guest_write(v->p, v->xp->boot.ebx + 32, &rsdp, 8);
    }
    /* MSRs the guest owns directly and XCR0 start clean on every (re)start. */
    static const u32 owned[] = { 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000102,
                                 0xc0000103 };
    u32 xa, xb, xc, xd;
    cpuid(0x80000001, 0, &xa, &xb, &xc, &xd);
    for (u32 i = 0; i < ARRAY_SIZE(owned); i++)
        if (owned[i] != 0xc0000103 || (xd & (1u << 27))) /* TSC_AUX exists with RDTSCP */
            wrmsr(owned[i], 0);
    if (read_cr4() & CR4_OSXSAVE)
        __asm__ volatile("xsetbv" ::"c"(0), "a"(1), "d"(0));
    if (!vmcs_setup(v, err, sizeof(err))) {
        printk("partition %s: %s\n", v->p->name, err);
        return false;
    }
    invept_all(v->xp);
    if (!restart)
        free_at_start[v->p->index] = frames_global()->free_bytes;
    return true;
}

/* ---------------------------------------------------------------- interrupts */

/* INIT-SIPI state (SDM 9.1.1, table 9-1): real mode at vector << 12. */
static void vcpu_sipi_state(struct vcpu *v, u32 vector)
{
    vmcs_guest_entry_state(v);
    u64 cr0 = 0x60000010ULL; /* CD, NW, ET */
    vmwrite(CR0_SHADOW, cr0);
    vmwrite(GUEST_CR0, guest_cr0(cr0));
    const u32 code = 0x9b, data = 0x93;
    set_seg(GUEST_CS_SEL, GUEST_CS_BASE, GUEST_CS_LIMIT, GUEST_CS_AR, (u16)(vector << 8),
            (u64)vector << 12, 0xffff, code);
    set_seg(GUEST_DS_SEL, GUEST_DS_BASE, GUEST_DS_LIMIT, GUEST_DS_AR, 0, 0, 0xffff, data);
    set_seg(GUEST_ES_SEL, GUEST_ES_BASE, GUEST_ES_LIMIT, GUEST_ES_AR, 0, 0, 0xffff, data);
    set_seg(GUEST_SS_SEL, GUEST_SS_BASE, GUEST_SS_LIMIT, GUEST_SS_AR, 0, 0, 0xffff, data);
    set_seg(GUEST_FS_SEL, GUEST_FS_BASE, GUEST_FS_LIMIT, GUEST_FS_AR, 0, 0, 0xffff, data);
    set_seg(GUEST_GS_SEL, GUEST_GS_BASE, GUEST_GS_LIMIT, GUEST_GS_AR, 0, 0, 0xffff, data);
    vmwrite(GUEST_GDTR_LIMIT, 0xffff);
    vmwrite(GUEST_IDTR_LIMIT, 0xffff);
    vmwrite(GUEST_RIP, 0);
    memset(&v->regs, 0, sizeof(v->regs));
    u32 a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    v->regs.rdx = a; /* family/model/stepping, as after a reset */
}

static struct vcpu *vcpu_of_lapic(struct vlapic *l)
{
    return (struct vcpu *)(void *)((char *)l - offsetof(struct vcpu, lapic));
}

static void deliver(struct partition *p, struct vcpu *self, u32 shorthand, u32 dest, bool logical,
                    bool x2, u32 mode, u32 vec, bool level);

/* An IPI from the guest's ICR to the partition's vCPUs (never further). */
void x86_vlapic_send(struct vlapic *from, u32 dest, u32 icr)
{
    struct vcpu *self = vcpu_of_lapic(from);
    u32 shorthand = (icr >> 18) & 3, mode = (icr >> 8) & 7, vec = icr & 0xff;
    bool logical = icr & (1u << 11), x2 = vlapic_x2apic_mode(from);
    if (mode == 5 && (icr & (1u << 15)) && !(icr & (1u << 14)))
        return; /* INIT level de-assert: no effect on these APICs */
    deliver(self->p, self, shorthand, dest, logical, x2, mode, vec, false);
}

/* An interrupt from the partition's I/O APIC (8-bit xAPIC destination). */
void x86_vioapic_deliver(void *owner, u32 dest, bool logical, u32 mode, u32 vector, bool level)
{
    struct partition *p = owner;
    u32 cpu = arch_cpu_index();
    struct vcpu *self = vcpus[cpu].p == p ? &vcpus[cpu] : NULL;
    deliver(p, self, 0, dest, logical, false, mode, vector, level);
}

/* The guest EOIed a level-triggered vector: EOI broadcast to its I/O APIC. */
void x86_vlapic_eoi_level(struct vlapic *l, u32 vec)
{
    struct vcpu *v = vcpu_of_lapic(l);
    spin_lock(&v->xp->ioapic_lock);
    vioapic_eoi(&v->xp->ioapic, v->p, vec);
    spin_unlock(&v->xp->ioapic_lock);
}

/* A host interrupt on pass-through pin `pin` of p (passthru.c): for a
 * level entry the line is asserted until the guest's EOI, for an edge
 * entry it is one pulse. */
void x86_vioapic_line(struct partition *p, u32 pin)
{
    struct x86_part *xp = p->arch;
    if (!xp || pin >= VIOAPIC_PINS)
        return;
    spin_lock(&xp->ioapic_lock);
    vioapic_set_irq(&xp->ioapic, p, pin, true);
    if (!(xp->ioapic.redir[pin] & (1ULL << 15)))
        vioapic_set_irq(&xp->ioapic, p, pin, false);
    spin_unlock(&xp->ioapic_lock);
}

/* The physical CPU of the vCPU an I/O APIC destination names (8-bit xAPIC
 * physical or logical); vCPU 0's when none matches. */
u32 x86_vioapic_target_cpu(struct partition *p, u32 dest, bool logical)
{
    for (u32 i = 0; i < p->cfg->ncpus; i++) {
        struct vcpu *t = &vcpus[p->cfg->cpus[i]];
        if (t->p == p && vlapic_match(&t->lapic, dest, logical, false))
            return t->cpu;
    }
    return p->cfg->cpus[0];
}

static void deliver(struct partition *p, struct vcpu *self, u32 shorthand, u32 dest, bool logical,
                    bool x2, u32 mode, u32 vec, bool level)
{
    for (u32 i = 0; i < p->cfg->ncpus; i++) {
        struct vcpu *t = &vcpus[p->cfg->cpus[i]];
        bool hit = shorthand == 1   ? t == self
                   : shorthand == 2 ? true
                   : shorthand == 3 ? t != self
                                    : vlapic_match(&t->lapic, dest, logical, x2);
        if (!hit)
            continue;
        switch (mode) {
        case 0: /* fixed */
        case 1: /* lowest priority: delivered like fixed to each target */
            vlapic_post_trig(&t->lapic, vec, level);
            break;
        case 4: __atomic_store_n(&t->lapic.nmi_pending, 1, __ATOMIC_RELEASE); break;
        case 5: __atomic_store_n(&t->lapic.init_pending, 1, __ATOMIC_RELEASE); break;
        case 6: __atomic_store_n(&t->lapic.sipi, 0x100 | vec, __ATOMIC_RELEASE); break;
        default: continue; /* SMI and reserved modes: dropped */
        }
        if (t != self)
            x86_kick_cpu(t->cpu);
    }
}

static void set_proc(struct vcpu *v, u32 proc)
{
    if (proc != v->proc) {
        vmwrite(PROC_CONTROLS, proc);
        v->proc = proc;
    }
}

/* Work before each VM entry: INIT and SIPI, the APIC timer, injection of
 * the highest pending interrupt (or interrupt-window exiting when the guest
 * cannot take it yet), and the preemption timer for the next timer event.
 * Returns false while the vCPU has nothing to run (waiting for a SIPI, or
 * halted without the HLT activity state): the caller loops. */
static bool vcpu_prepare_entry(struct vcpu *v)
{
    struct vlapic *l = &v->lapic;
    if (__atomic_exchange_n(&l->init_pending, 0, __ATOMIC_ACQ_REL)) {
        u64 base = l->base;
        vlapic_reset(l, v->index, base & APIC_BASE_BSP);
        l->base = base & ~APIC_BASE_X2APIC; /* INIT leaves xAPIC mode (SDM 11.12.5.1) */
        __atomic_store_n(&l->sipi, 0, __ATOMIC_RELEASE);
        v->wait_sipi = true;
        v->parked = v->soft_halt = false;
    }
    if (v->wait_sipi) {
        u32 sipi = __atomic_exchange_n(&l->sipi, 0, __ATOMIC_ACQ_REL);
        if (!sipi) {
            if (!vmx.hlt_state)
                return false;
            /* Sleep in the guest's HLT state: a kick (host IPI) ends it with
             * an external-interrupt exit. RFLAGS.IF is set because Bochs
             * wakes a halted guest only then; nothing is injected here. */
            vmwrite(GUEST_RFLAGS, 0x202);
            vmwrite(GUEST_ACTIVITY, 1);
            vmwrite(GUEST_PREEMPT_TIMER, 0xffffffffu);
            vmwrite(ENTRY_INTR_INFO, 0);
            set_proc(v, v->proc & ~PROC_INTR_WINDOW);
            return true;
        }
        v->wait_sipi = false;
        vcpu_sipi_state(v, sipi & 0xff);
        part_printk(v->p, "partition %s: vCPU %u started by SIPI at %#x\n", v->p->name, v->index,
               (sipi & 0xff) << 12);
    }
    u64 now = rdtsc();
    vlapic_timer_check(l, now);
    bool injecting = vmread(ENTRY_INTR_INFO) & (1u << 31);
    u64 intr = vmread(GUEST_INTERRUPTIBILITY);
    bool want_window = false;
    if (!injecting && __atomic_load_n(&l->nmi_pending, __ATOMIC_ACQUIRE) && !(intr & 0xb)) {
        __atomic_store_n(&l->nmi_pending, 0, __ATOMIC_RELEASE);
        vmwrite(ENTRY_INTR_INFO, 2 | (2u << 8) | (1u << 31));
        injecting = true;
        v->parked = v->soft_halt = false;
        vmwrite(GUEST_ACTIVITY, 0);
    }
    int vec = vlapic_pending(l);
    if (vec >= 0 && !v->parked) {
        if (!injecting && (vmread(GUEST_RFLAGS) & (1u << 9)) && !(intr & 3)) {
            vlapic_accept(l, (u32)vec);
            vmwrite(ENTRY_INTR_INFO, (u32)vec | (1u << 31));
            v->soft_halt = false;
            vmwrite(GUEST_ACTIVITY, 0);
            want_window = vlapic_pending(l) >= 0;
        } else {
            want_window = true;
        }
    }
    if (vmx.intr_window)
        set_proc(v, want_window ? v->proc | PROC_INTR_WINDOW : v->proc & ~PROC_INTR_WINDOW);
    if (v->soft_halt || (v->parked && !vmx.hlt_state))
        return false;
    if (vmx.preempt) {
        u64 next = vlapic_next_event(l), ticks = 0xffffffffu;
        if (next)
            ticks = next > now ? (next - now) >> vmx.preempt_shift : 0;
        /* A vCPU halted with interrupts off looks for an NMI or INIT every
         * 10 ms too, in case a kick cannot wake it (Bochs needs guest IF=1);
         * the console-input vCPU looks at the console UART as often. */
        if ((v->parked || v->input) && ticks > ((x86_tsc_khz() * 10) >> vmx.preempt_shift))
            ticks = (x86_tsc_khz() * 10) >> vmx.preempt_shift;
        vmwrite(GUEST_PREEMPT_TIMER, ticks > 0xffffffffu ? 0xffffffffu : ticks);
    }
    return true;
}

/* Doorbells (docs/hypercalls.md): vec in vCPU 0's IRR, its CPU kicked out
 * of guest mode or its HLT so the entry path injects it. */
void x86_doorbell_post(struct partition *p, u32 vec)
{
    if (!p->cfg->ncpus)
        return;
    u32 cpu = p->cfg->cpus[0];
    struct vcpu *t = &vcpus[cpu];
    if (t->p != p || t->index != 0)
        return;
    vlapic_post(&t->lapic, vec);
    if (cpu != arch_cpu_index())
        x86_kick_cpu(cpu);
}

/* Whether CPU cpu runs a vCPU of a partition that has not stopped (it then
 * takes an epoch kick at its next VM exit or entry). */
bool x86_cpu_runs_vcpu(u32 cpu)
{
    struct partition *p = cpu < MAX_CPUS ? vcpus[cpu].p : NULL;
    return p && !__atomic_load_n(&p->stopped, __ATOMIC_ACQUIRE);
}

/* After vCPU 0's LAPIC reset (restart): a ring left unpolled is raised again. */
static void doorbells_repost(struct vcpu *v)
{
    for (u32 c = 0; c < CFG_MAX_CHANNELS; c++)
        if (__atomic_load_n(&v->p->doorbell[c], __ATOMIC_ACQUIRE))
            vlapic_post(&v->lapic, CFG_X86_DOORBELL_VECTOR + c);
}

static void kick_others(struct vcpu *v)
{
    for (u32 i = 0; i < v->p->cfg->ncpus; i++)
        if (v->p->cfg->cpus[i] != v->cpu)
            x86_kick_cpu(v->p->cfg->cpus[i]);
}

/* Restart of a partition with several vCPUs (fault policy "restart"): the
 * vCPUs other than 0 go back to waiting for a SIPI and say so; vCPU 0 waits
 * until they all have (none is then inside the guest's code or touching its
 * memory), then zeroes the memory and reloads the image. false: vCPU 0 could
 * not reload it, or the partition stopped meanwhile. */
static bool vcpu_restart(struct vcpu *v)
{
    struct partition *p = v->p;
    u32 gen = __atomic_load_n(&v->xp->reset_gen, __ATOMIC_ACQUIRE);
    vlapic_reset(&v->lapic, v->index, v->index == 0);
    v->parked = v->soft_halt = false;
    vmwrite(ENTRY_INTR_INFO, 0);
    if (v->index != 0) {
        v->wait_sipi = true;
        __atomic_store_n(&v->seen_gen, gen, __ATOMIC_RELEASE);
        return true;
    }
    struct epoch_domain *ep = hv_epoch();
    for (u32 i = 1; i < p->cfg->ncpus; i++) {
        struct vcpu *t = &vcpus[p->cfg->cpus[i]];
        /* At or past gen: another vCPU's fault may have bumped reset_gen
         * again after this one read it, and that vCPU may have acted on the
         * newer value already (this vCPU then restarts once more). */
        while ((s32)(__atomic_load_n(&t->seen_gen, __ATOMIC_ACQUIRE) - gen) < 0) {
            if (__atomic_load_n(&p->stopped, __ATOMIC_ACQUIRE))
                return false;
            epoch_quiescent(ep, v->cpu);
            arch_cpu_relax();
        }
    }
    __atomic_store_n(&v->seen_gen, gen, __ATOMIC_RELEASE);
    doorbells_repost(v);
    return start_guest(v, true);
}

void arch_vcpu_run(struct partition *p, u32 index)
{
    u32 cpu = arch_cpu_index();
    struct vcpu *v = &vcpus[cpu];
    char err[200];
    if (v->p != p || v->index != index) {
        printk("partition %s: cpu %u has no state for vCPU %u\n", p->name, cpu, index);
        return;
    }
    v->launched = false;
    if (!vmx_check(err, sizeof(err)) || !vmx_cpu_on(cpu, err, sizeof(err))) {
        printk("partition %s: cpu %u cannot run it: %s\n", p->name, cpu, err);
        partition_fault(p, "no VMX on its CPU", 0, 0, false);
        partition_stopped(p);
        kick_others(v);
        return;
    }
    if (index == 0) {
        if (!start_guest(v, false)) {
            partition_stopped(p);
            kick_others(v);
            return;
        }
        part_printk(p, "partition %s: started on cpu %u (%s entry at %#llx)\n", p->name, cpu,
               cfg_boot_protocol_name(p->cfg->boot), (unsigned long long)v->xp->boot.entry);
    } else {
        if (!vmcs_setup(v, err, sizeof(err))) {
            printk("partition %s: vCPU %u: %s\n", p->name, index, err);
            partition_stopped(p);
            kick_others(v);
            return;
        }
        if (read_cr4() & CR4_OSXSAVE)
            __asm__ volatile("xsetbv" ::"c"(0), "a"(1), "d"(0));
        printk("partition %s: vCPU %u on cpu %u waits for INIT-SIPI-SIPI\n", p->name, index, cpu);
    }
    struct epoch_domain *ep = hv_epoch();
    for (;;) {
        if (__atomic_load_n(&p->stopped, __ATOMIC_ACQUIRE))
            return;
        if (__atomic_load_n(&v->xp->reset_gen, __ATOMIC_ACQUIRE) != v->seen_gen) {
            if (!vcpu_restart(v)) {
                partition_stopped(p);
                kick_others(v);
                return;
            }
            continue;
        }
        if (v->input)
            poll_input(v);
        if (!vcpu_prepare_entry(v)) {
            /* Nothing to run without the HLT activity state: poll. */
            epoch_quiescent(ep, cpu);
            arch_cpu_relax();
            continue;
        }
        epoch_enter_eqs(ep, cpu);
        __atomic_store_n(&v->in_guest, 1, __ATOMIC_SEQ_CST);
        ept_check_entry(v);
        int rc = vmx_enter(&v->regs, v->launched);
        __atomic_store_n(&v->in_guest, 0, __ATOMIC_RELEASE);
        epoch_exit_eqs(ep, cpu);
        enum exit_action act;
        if (rc) {
            bh_snprintf(err, sizeof(err), "VM%s failed (VM-instruction error %llu)",
                        v->launched ? "RESUME" : "LAUNCH",
                        (unsigned long long)vmread(VM_INSN_ERROR));
            act = fault(v, err, 0, false);
        } else {
            v->launched = true;
            act = handle_exit(v);
        }
        if (act == X_RESTART && p->cfg->ncpus > 1) {
            /* Every vCPU resets itself at the top of its loop; vCPU 0 reloads
             * the image once the others have. */
            __atomic_add_fetch(&v->xp->reset_gen, 1, __ATOMIC_ACQ_REL);
            kick_others(v);
            continue;
        }
        if (act == X_RESTART) {
            vlapic_reset(&v->lapic, v->index, true);
            v->parked = v->soft_halt = false;
            doorbells_repost(v);
            if (!start_guest(v, true))
                act = X_STOP;
        }
        if (act == X_STOP) {
            partition_stopped(p);
            kick_others(v);
            return;
        }
        epoch_quiescent(ep, cpu);
    }
}

struct guest_boot *x86_part_boot(struct partition *p)
{
    return &xparts[p->index].boot;
}
