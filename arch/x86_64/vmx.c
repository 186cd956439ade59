/* Intel VT-x: VMX on the CPUs that run partitions, EPT built from each
 * partition's memslots, the VMCS, and the VM-exit loop (CPUID, MSRs, port
 * I/O with a virtual 16550 per partition, HLT, PAUSE, VMCALL hypercalls,
 * XSETBV, control-register accesses, EPT violations, triple faults). Every
 * fault of a guest goes to the partition's fault policy; none stops the
 * hypervisor or another partition. */
#include "vmx.h"
#include "x86guest.h"
#include "../../hv/arch.h"
#include "../../hv/console.h"
#include "../../hv/epoch.h"
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

#define EPT_R 1ULL
#define EPT_W 2ULL
#define EPT_X 4ULL
#define EPT_WB (6ULL << 3)
#define EPT_LARGE (1ULL << 7)
#define EPT_ADDR 0x000ffffffffff000ULL

/* What the boot CPU found; every partition CPU must match. */
static struct {
    bool checked;
    bool usable;
    bool true_ctls;
    u32 pin, proc, proc2, exit, entry;
    u64 cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
    u64 ept_cap;
    u32 revision;
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
                     PIN_EXT_INT_EXIT | PIN_NMI_EXIT, 0, vmx.missing, sizeof(vmx.missing), NULL);
    u32 want = PROC_HLT_EXIT | PROC_RDPMC_EXIT | PROC_IO_BITMAPS | PROC_MSR_BITMAPS |
               PROC_PAUSE_EXIT | PROC_SECONDARY;
    vmx.proc = adjust(vmx.true_ctls ? MSR_VMX_TRUE_PROCBASED_CTLS : MSR_VMX_PROCBASED_CTLS, want,
                      PROC_HLT_EXIT | PROC_RDPMC_EXIT | PROC_IO_BITMAPS | PROC_MSR_BITMAPS |
                          PROC_SECONDARY,
                      vmx.missing, sizeof(vmx.missing), proc_names);
    /* The CR3 exits are needed only without EPT; clear them when allowed. */
    vmx.proc &= ~(PROC_CR3_LOAD_EXIT | PROC_CR3_STORE_EXIT) | (u32)p;
    u32 want2 = PROC2_EPT | PROC2_VPID | PROC2_UNRESTRICTED | PROC2_RDTSCP | PROC2_INVPCID | PROC2_XSAVES;
    vmx.proc2 = adjust(MSR_VMX_PROCBASED_CTLS2, want2, PROC2_EPT | PROC2_VPID | PROC2_UNRESTRICTED,
                       vmx.missing, sizeof(vmx.missing), proc2_names);
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
    u64 *ept_pml4;
    u64 eptp;
    u16 vpid;
    u8 *io_bitmap;     /* 2 pages: ports 0-0x7fff, 0x8000-0xffff */
    u8 *msr_bitmap;    /* 1 page */
    u8 port_logged[8192];
    u32 ept_tables;    /* pages used by the EPT */
    u64 ept_page[512]; /* those pages, to free them */
    struct guest_boot boot;
    /* virtual 16550 registers */
    u8 uart_ier, uart_lcr, uart_mcr, uart_scr, uart_dll, uart_dlm;
};

static struct x86_part xparts[PART_MAX];

static u64 *ept_new_table(struct x86_part *xp)
{
    if (xp->ept_tables >= ARRAY_SIZE(xp->ept_page))
        return NULL;
    u64 pa = frame_alloc(1);
    if (!pa)
        return NULL;
    xp->ept_page[xp->ept_tables++] = pa;
    return (u64 *)(uintptr_t)pa;
}

static bool ept_map_one(struct x86_part *xp, u64 gpa, u64 hpa, int level, u64 perm, u64 memtype)
{
    u64 *t = xp->ept_pml4;
    for (int l = 3; l > level; l--) {
        unsigned idx = (gpa >> (12 + 9 * l)) & 511;
        if (!(t[idx] & 7)) {
            u64 *n = ept_new_table(xp);
            if (!n)
                return false;
            t[idx] = (u64)(uintptr_t)n | EPT_R | EPT_W | EPT_X;
        }
        t = (u64 *)(uintptr_t)(t[idx] & EPT_ADDR);
    }
    unsigned idx = (gpa >> (12 + 9 * level)) & 511;
    t[idx] = hpa | perm | memtype | (level > 0 ? EPT_LARGE : 0);
    return true;
}

/* Map [gpa, gpa+size) -> hpa with the largest pages alignment allows. */
static bool ept_map(struct x86_part *xp, u64 gpa, u64 hpa, u64 size, u64 perm, u64 memtype)
{
    bool has1g = vmx.ept_cap & (1ULL << 17), has2m = vmx.ept_cap & (1ULL << 16);
    while (size) {
        int level = 0;
        if (has1g && IS_ALIGNED(gpa | hpa, GiB(1)) && size >= GiB(1))
            level = 2;
        else if (has2m && IS_ALIGNED(gpa | hpa, MiB(2)) && size >= MiB(2))
            level = 1;
        u64 step = 1ULL << (12 + 9 * level);
        if (!ept_map_one(xp, gpa, hpa, level, perm, memtype))
            return false;
        gpa += step;
        hpa += step;
        size -= step;
    }
    return true;
}

static void ept_free(struct x86_part *xp)
{
    for (u32 i = 0; i < xp->ept_tables; i++)
        frame_free(xp->ept_page[i], 1);
    xp->ept_tables = 0;
    xp->ept_pml4 = NULL;
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
    ept_free(xp);
    xp->ept_pml4 = ept_new_table(xp);
    if (!xp->ept_pml4) {
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
        u64 mt = (m->flags & MEMSLOT_F_DEVICE) ? 0 : EPT_WB;
        ok = ept_map(xp, m->gfn << PAGE_SHIFT, m->hfn << PAGE_SHIFT, m->npages << PAGE_SHIFT,
                     perm, mt);
    }
    epoch_read_unlock(hv_epoch());
    if (!ok) {
        bh_snprintf(err, len, "out of memory for EPT tables");
        ept_free(xp);
        return false;
    }
    xp->eptp = (u64)(uintptr_t)xp->ept_pml4 | 6 | (3 << 3);
    return true;
}

bool arch_partition_prepare(struct partition *p, char *err, size_t errlen)
{
    /* Fail closed: pass-through devices are validated but not wired on
     * x86_64 yet, and a partition must not run without what it was given. */
    if (p->cfg->nmmio || p->cfg->nirqs) {
        bh_snprintf(err, errlen,
                    "pass-through MMIO ranges and interrupts are not supported on x86_64 yet "
                    "(the configuration gives it %u and %u); remove them",
                    p->cfg->nmmio, p->cfg->nirqs);
        return false;
    }
    if (!vmx_check(err, errlen)) {
        char why[200];
        bh_snprintf(why, sizeof(why), "%s", err);
        bh_snprintf(err, errlen, "this CPU cannot run partitions: missing %s", why);
        return false;
    }
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
                                            0xc0000102 };
    for (u32 i = 0; i < ARRAY_SIZE(passthrough_msrs); i++) {
        u32 m = passthrough_msrs[i] & 0x1fff;
        xp->msr_bitmap[1024 + m / 8] &= (u8) ~(1u << (m % 8));        /* read, high range */
        xp->msr_bitmap[3072 + m / 8] &= (u8) ~(1u << (m % 8));        /* write, high range */
    }
    return ept_build(p, xp, err, errlen);
}

/* ---------------------------------------------------------------- vCPU */

struct vcpu {
    struct partition *p;
    struct x86_part *xp;
    u32 cpu;
    u64 vmcs;
    struct vmx_regs regs;
    bool launched;
    u64 exits;
};

static struct vcpu vcpus[MAX_CPUS];

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
            a = 0x40000001;
            memcpy(&b, "Bulk", 4);
            memcpy(&c, "head", 4);
            memcpy(&d, "HV\0\0", 4);
        } else if (leaf == 0x40000001) {
            a = HC_ABI_VERSION;
            b = v->p->index;
        }
    } else {
        cpuid(leaf, sub, &a, &b, &c, &d);
        if (leaf == 1) {
            c &= ~(1u << 5);   /* no VMX inside a partition */
            c |= 1u << 31;     /* running under a hypervisor */
            b = (b & 0x00ffffff) | (0u << 24); /* initial APIC ID 0 */
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
    default: return false;
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
    default: return false;
    }
}

/* Virtual 16550 at 0x3f8-0x3ff: output goes to the console line by line. */
static u32 uart_io(struct vcpu *v, u16 port, bool in, u32 val)
{
    struct x86_part *xp = v->xp;
    unsigned reg = port - 0x3f8;
    bool dlab = xp->uart_lcr & 0x80;
    if (!in) {
        switch (reg) {
        case 0:
            if (dlab)
                xp->uart_dll = (u8)val;
            else
                partition_console_putc(v->p, (char)val);
            break;
        case 1:
            if (dlab)
                xp->uart_dlm = (u8)val;
            else
                xp->uart_ier = (u8)val & 0x0f;
            break;
        case 3: xp->uart_lcr = (u8)val; break;
        case 4: xp->uart_mcr = (u8)val; break;
        case 7: xp->uart_scr = (u8)val; break;
        default: break;
        }
        return 0;
    }
    switch (reg) {
    case 0: return dlab ? xp->uart_dll : 0;
    case 1: return dlab ? xp->uart_dlm : xp->uart_ier;
    case 2: return 0xc1;       /* FIFOs on, no interrupt pending */
    case 3: return xp->uart_lcr;
    case 4: return xp->uart_mcr;
    case 5: return 0x60;       /* transmitter empty, nothing received */
    case 6: return 0xb0;       /* DCD, DSR, CTS */
    default: return xp->uart_scr;
    }
}

static enum exit_action handle_io(struct vcpu *v, u64 q)
{
    unsigned size = (unsigned)(q & 7) + 1;
    bool in = q & 8;
    bool string = q & 16;
    u16 port = (u16)(q >> 16);
    if (string) {
        char why[80];
        bh_snprintf(why, sizeof(why), "string I/O (ins/outs) on port %#x is not emulated", port);
        return fault(v, why, 0, false);
    }
    u32 mask = size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffu;
    u32 val = (u32)v->regs.rax & mask;
    u32 result = mask;
    if (port >= 0x3f8 && port <= 0x3ff && v->p->cfg->console) {
        result = uart_io(v, port, in, val) & mask;
    } else {
        struct x86_part *xp = v->xp;
        if (!(xp->port_logged[port / 8] & (1u << (port % 8)))) {
            xp->port_logged[port / 8] |= (u8)(1u << (port % 8));
            part_printk(v->p, "partition %s: %s of port %#x is not granted: %s (reported once per port)\n",
                   v->p->name, in ? "read" : "write", port,
                   in ? "reads all-ones" : "write dropped");
        }
    }
    if (in)
        v->regs.rax = size == 4 ? result : (v->regs.rax & ~(u64)mask) | result;
    skip_insn();
    return X_RESUME;
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

static enum exit_action handle_ept_violation(struct vcpu *v, u64 q)
{
    u64 gpa = vmread(GUEST_PHYS_ADDR);
    const char *what = (q & 4) ? "instruction fetch" : (q & 2) ? "write" : "read";
    char why[96];
    if (!(q & 0x38))
        bh_snprintf(why, sizeof(why), "EPT violation: %s outside the partition's memory", what);
    else
        bh_snprintf(why, sizeof(why), "EPT violation: %s not permitted (%s%s%s mapping)", what,
                    (q & 8) ? "r" : "-", (q & 16) ? "w" : "-", (q & 32) ? "x" : "-");
    return fault(v, why, gpa, true);
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
            inject_gp();
        }
        return X_RESUME;
    }
    case EXIT_WRMSR: {
        u64 val = (v->regs.rdx << 32) | (u32)v->regs.rax;
        if (msr_write(v, (u32)v->regs.rcx, val))
            skip_insn();
        else
            inject_gp();
        return X_RESUME;
    }
    case EXIT_HLT:
        skip_insn();
        if (!(vmread(GUEST_RFLAGS) & (1u << 9))) {
            part_printk(v->p, "partition %s: the guest halted with interrupts disabled; nothing can wake "
                   "it\n",
                   v->p->name);
            return fault(v, "HLT with interrupts disabled", 0, false);
        }
        /* No virtual interrupt source exists yet: let it run again. */
        return X_RESUME;
    case EXIT_PAUSE:
        skip_insn();
        return X_RESUME;
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
        /* Acknowledged on exit; the hypervisor takes no interrupts itself. */
        x86_lapic_eoi();
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
        /* Same frames, fresh contents: nothing is allocated for a restart. */
        part_printk(v->p, "partition %s: restart %u: hypervisor free memory %llu KiB, as at the first "
               "start (%llu KiB)\n",
               v->p->name, v->p->restarts, (unsigned long long)(frames_global()->free_bytes >> 10),
               (unsigned long long)(free_at_start[v->p->index] >> 10));
        partition_reset_memory(v->p);
        memset(v->xp->port_logged, 0, sizeof(v->xp->port_logged));
    }
    if (!arch_partition_load(v->p, err, sizeof(err))) {
        printk("partition %s: cannot load its kernel '%s': %s\n", v->p->name, v->p->cfg->kernel,
               err);
        return false;
    }
    /* MSRs the guest owns directly and XCR0 start clean on every (re)start. */
    static const u32 owned[] = { 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000102 };
    for (u32 i = 0; i < ARRAY_SIZE(owned); i++)
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

void arch_vcpu_run(struct partition *p, u32 index)
{
    u32 cpu = arch_cpu_index();
    struct vcpu *v = &vcpus[cpu];
    char err[200];
    if (index != 0) {
        printk("partition %s: cpu %u holds vCPU %u, which x86 guests start themselves (not "
               "supported yet); it stays idle\n",
               p->name, cpu, index);
        return;
    }
    memset(v, 0, sizeof(*v));
    v->p = p;
    v->xp = p->arch;
    v->cpu = cpu;
    if (!vmx_check(err, sizeof(err)) || !vmx_cpu_on(cpu, err, sizeof(err))) {
        printk("partition %s: cpu %u cannot run it: %s\n", p->name, cpu, err);
        partition_fault(p, "no VMX on its CPU", 0, 0, false);
        partition_stopped(p);
        return;
    }
    if (!start_guest(v, false)) {
        partition_stopped(p);
        return;
    }
    part_printk(p, "partition %s: started on cpu %u (%s entry at %#llx)\n", p->name, cpu,
           cfg_boot_protocol_name(p->cfg->boot), (unsigned long long)v->xp->boot.entry);
    struct epoch_domain *ep = hv_epoch();
    for (;;) {
        epoch_enter_eqs(ep, cpu);
        int rc = vmx_enter(&v->regs, v->launched);
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
        if (act == X_RESTART) {
            if (!start_guest(v, true))
                act = X_STOP;
        }
        if (act == X_STOP) {
            partition_stopped(p);
            return;
        }
        epoch_quiescent(ep, cpu);
    }
}

struct guest_boot *x86_part_boot(struct partition *p)
{
    return &xparts[p->index].boot;
}
