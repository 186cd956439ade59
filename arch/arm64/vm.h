/* arm64 partitions: the guest world switch (vm_entry.S), stage-2 tables
 * (stage2.c), the virtual PL011 (vpl011.c), the Image loader and the
 * partition's device tree (guest_image.c), and the vCPU exit loop (vm.c). */
#ifndef BULKHEAD_ARM64_VM_H
#define BULKHEAD_ARM64_VM_H

/* struct vm_ctx offsets, shared with vm_entry.S */
#define VMCTX_X 0
#define VMCTX_PC 248
#define VMCTX_PSTATE 256
#define VMCTX_HOST_SP 264
#define VMCTX_HOST 272 /* x19..x30 */
#define VMCTX_ESR 368
#define VMCTX_FAR 376
#define VMCTX_HPFAR 384
#define VMCTX_SIZE 392

/* vm_enter() return values: the vector that ended the guest run. */
#define VM_EXIT_SYNC 0
#define VM_EXIT_IRQ 1
#define VM_EXIT_FIQ 2
#define VM_EXIT_SERROR 3
#define VM_EXIT_AARCH32 4 /* anything from a lower EL in AArch32 */

#ifndef __ASSEMBLY__
#include "../../hv/partition.h"
#include "../../hv/spinlock.h"

struct vm_ctx {
    u64 x[31];
    u64 pc;      /* ELR_EL2 */
    u64 pstate;  /* SPSR_EL2 */
    u64 host_sp;
    u64 host[12];
    u64 esr, far, hpfar;
};
_Static_assert(sizeof(struct vm_ctx) == VMCTX_SIZE, "vm_ctx layout");

/* Run the guest in ctx until it exits; returns VM_EXIT_*. EL1 system
 * registers are not switched: each physical CPU runs one vCPU only. */
u64 vm_enter(struct vm_ctx *ctx);
extern char vm_vectors[];

/* arch/arm64/debug.c: MDCR_EL2/CPTR_EL2 for a partition's vCPU on this CPU
 * (returns the MDCR_EL2 value); emulate a trapped debug, trace or PMU
 * register access (false when esr is not one). */
u64 a64_debug_setup(bool pmu_passthrough);
bool a64_debug_sysreg(struct vm_ctx *ctx, u64 esr);

/* Guest-physical layout the hypervisor adds to every partition. */
#define VPL011_GPA 0x09000000ULL
#define VPL011_SIZE 0x1000ULL
#define VPL011_INTID 33 /* SPI 1, as on QEMU virt */
/* The virtual GICv3 (QEMU virt's layout): distributor, then one 128 KiB
 * redistributor (RD_base and SGI_base frames) per vCPU. */
#define VGICD_GPA CFG_ARM64_VGICD_GPA
#define VGICD_SIZE CFG_ARM64_VGICD_SIZE
#define VGICR_GPA CFG_ARM64_VGICR_GPA
#define VGICR_STRIDE CFG_ARM64_VGICR_STRIDE
#define VGIC_NIRQ 96 /* SGIs, PPIs and SPIs 32..95 */
/* Channel c's doorbell interrupt (SPI, edge): INTIDs 64..79. */
#define DOORBELL_INTID(c) (CFG_ARM64_DOORBELL_INTID + (c))
_Static_assert(CFG_ARM64_DOORBELL_INTID >= 34 && /* above the PL011's */
               CFG_ARM64_DOORBELL_INTID + CFG_MAX_CHANNELS <= VGIC_NIRQ, "doorbell INTIDs");

/* Physical interrupts the hypervisor uses (gic.c). */
#define GIC_KICK_SGI 1
#define GIC_EPOCH_SGI 2 /* the epoch kick (arch_kick_cpu), counted apart */
#define GIC_MAINT_PPI 25
#define GIC_VTIMER_PPI 27
#define GIC_SPURIOUS 1023

/* HCR_EL2 bits */
#define HCR_VM (1ULL << 0)
#define HCR_SWIO (1ULL << 1)
#define HCR_FMO (1ULL << 3)
#define HCR_IMO (1ULL << 4)
#define HCR_AMO (1ULL << 5)
#define HCR_FB (1ULL << 9)
#define HCR_BSU_IS (1ULL << 10)
#define HCR_TWI (1ULL << 13)
#define HCR_TWE (1ULL << 14)
#define HCR_TSC (1ULL << 19)
#define HCR_TGE (1ULL << 27)
#define HCR_RW64 (1ULL << 31)
#define HCR_E2H (1ULL << 34)
#define HCR_APK (1ULL << 40)
#define HCR_API (1ULL << 41)

enum vcpu_state { VCPU_OFF = 0, VCPU_ON_PENDING, VCPU_ON };
enum part_req { REQ_NONE = 0, REQ_STOP, REQ_RESTART };

#define VPL011_RX_FIFO 32
struct vpl011 {
    u32 cr, lcr_h, ibrd, fbrd, ifls, imsc, ris, dmacr, ilpr;
    u8 rx[VPL011_RX_FIFO];  /* console input (console.input=) */
    u32 rx_head, rx_count;
};

struct vgic_cpu {
    u32 enabled, group, icfgr1; /* SGIs and PPIs */
    u8 prio[32];
    u32 waker;
    /* Pending and active state not in the list registers; interrupts
     * 0..VGIC_NIRQ-1 (SPIs routed to this vCPU). */
    u64 pend[VGIC_NIRQ / 64 + 1], act[VGIC_NIRQ / 64 + 1];
    /* What the owner loaded at its last entry (other vCPUs' reads). */
    u64 lr_pend[VGIC_NIRQ / 64 + 1], lr_act[VGIC_NIRQ / 64 + 1];
    /* Clears posted by other vCPUs, applied at the owner's next sync. */
    u64 clr_pend[VGIC_NIRQ / 64 + 1], clr_act[VGIC_NIRQ / 64 + 1];
    /* Forwarded physical interrupts (PPI 27, pass-through SPIs) acknowledged
     * and left active for the guest to deactivate through the hardware bit. */
    u64 hw_act[VGIC_NIRQ / 64 + 1];
    u32 lr_used;             /* owner only */
    bool hcr_more;           /* owner only: NPIE set in ICH_HCR_EL2 */
    bool kick;
    u64 timer_irqs, sgis_received;
};

struct vgic {
    spinlock_t lock;
    u32 nvcpus;
    u32 pcpu[CFG_MAX_CPUS];
    u32 ctlr;
    u64 enabled[VGIC_NIRQ / 64 + 1], group[VGIC_NIRQ / 64 + 1], line[VGIC_NIRQ / 64 + 1];
    u64 hw_spi[VGIC_NIRQ / 64 + 1]; /* the partition's pass-through SPIs */
    u32 icfgr[VGIC_NIRQ / 16];
    u8 prio[VGIC_NIRQ];
    u64 route[VGIC_NIRQ];
    struct vgic_cpu cpu[CFG_MAX_CPUS];
};

struct a64_vcpu {
    u32 state;        /* enum vcpu_state (atomic) */
    u64 entry, ctx_id;/* for ON_PENDING */
    u32 cpu;          /* physical CPU */
};

struct a64_part {
    /* stage 2 */
    u64 *root;        /* start-level table */
    u64 vttbr;
    u16 vmid;
    u32 ntables;
    u64 tables[256];  /* table pages, to free them */
    u64 root_saved[512];
    bool blocked;     /* root entries cleared to force every vCPU out */
    /* boot */
    u64 entry, dtb, dtb_size, image_base, image_end, initrd, initrd_size;
    /* vCPUs and partition-wide requests */
    spinlock_t lock;
    u32 nvcpus;
    struct a64_vcpu vcpu[CFG_MAX_CPUS];
    u32 req;          /* enum part_req (atomic) */
    bool req_counted; /* restart is a fault-policy restart (counted) or a SYSTEM_RESET */
    u32 arrived;      /* vCPUs parked for the request */
    u32 gen;          /* bumped when a request has been carried out */
    bool finished;    /* stopped for good */
    /* virtual UART */
    spinlock_t uart_lock;
    struct vpl011 uart;
    /* interrupts and timer */
    struct vgic vgic;
    u32 bells;        /* channels whose doorbell SPI is to be raised (atomic) */
    u64 cntvoff;      /* CNTVOFF_EL2: the counter at the partition's (re)start */
};

/* stage2.c */
u64 stage2_vtcr(void);
bool stage2_build(struct partition *p, struct a64_part *ap, char *err, size_t len);
void stage2_flush(struct a64_part *ap);
void stage2_block(struct a64_part *ap);
void stage2_unblock(struct a64_part *ap);
/* Walk the tables for ipa (the tests' and the fault report's view). */
bool stage2_lookup(struct a64_part *ap, u64 ipa, u64 *pa, u64 *desc);

/* vpl011.c */
void vpl011_reset(struct vpl011 *u);
/* Returns the value read (write: 0). */
u32 vpl011_access(struct partition *p, struct vpl011 *u, u64 off, bool write, u32 val);
bool vpl011_irq_line(const struct vpl011 *u);
bool vpl011_rx_push(struct vpl011 *u, u8 c);

/* gic.c: the physical GICv3 at EL2 */
bool gic_cpu_init(u32 cpu, char *err, size_t len);
void gic_cpu_off(u32 cpu);
u32 gic_ack(void);
u32 gic_hyp_timer_ppi(void);
void gic_drop(u32 intid);
void gic_deactivate(u32 intid);
void gic_kick(u32 cpu);
bool gic_send_sgi(u32 cpu, u32 sgi);
u32 gic_spi_lines(void);
void gic_spi_route(u32 intid, u32 cpu);
void gic_spi_enable(u32 intid, bool on);
void gic_spi_deactivate(u32 intid);

/* vgic.c */
void vgic_reset(struct vgic *g, u32 nvcpus, const u32 *pcpus);
void vgic_cpu_reset(struct vgic *g, u32 vcpu);
void vgic_hw_reset(void);
void vgic_hw_off(void);
void vgic_sync_slow(struct vgic *g, u32 me);
void vgic_flush_slow(struct vgic *g, u32 me);
#define VGIC_NW (VGIC_NIRQ / 64 + 1)
/* After an exit. Nothing to do (the common case for an exit without
 * interrupt traffic): no list register in use, nothing posted, no device
 * line high, nothing forwarded. A post racing with this check comes with a
 * kick, so the vCPU exits again and sees it. lr_pend/lr_act are only set
 * together with lr_used. */
static inline void vgic_sync(struct vgic *g, u32 me)
{
    const struct vgic_cpu *c = &g->cpu[me];
    u64 work = c->lr_used;
    for (u32 w = 0; w < VGIC_NW; w++)
        work |= __atomic_load_n(&c->clr_pend[w], __ATOMIC_RELAXED) |
                __atomic_load_n(&c->clr_act[w], __ATOMIC_RELAXED) |
                __atomic_load_n(&g->line[w], __ATOMIC_RELAXED) | c->hw_act[w];
    if (work)
        vgic_sync_slow(g, me);
}
/* Before an entry: nothing pending or active, no list register to load. */
static inline void vgic_flush(struct vgic *g, u32 me)
{
    struct vgic_cpu *c = &g->cpu[me];
    u64 work = 0;
    for (u32 w = 0; w < VGIC_NW; w++)
        work |= __atomic_load_n(&c->pend[w], __ATOMIC_RELAXED) |
                __atomic_load_n(&c->act[w], __ATOMIC_RELAXED);
    if (work || c->hcr_more) /* also to switch NPIE off */
        vgic_flush_slow(g, me);
}
bool vgic_pending(struct vgic *g, u32 me);
void vgic_raise(struct vgic *g, u32 intid, u32 me);
u32 vgic_spi_vcpu(const struct vgic *g, u32 intid, u32 nvcpus);
void vgic_timer_fired(struct vgic *g, u32 me);
void vgic_hw_fired(struct vgic *g, u32 me, u32 intid);
bool vgic_is_hw_spi(const struct vgic *g, u32 intid);
void vgic_set_line(struct vgic *g, u32 intid, bool high, u32 me);
void vgic_sgi(struct vgic *g, u32 me, u64 val, bool group0);
bool vgic_owns(const struct vgic *g, u64 ipa);
u64 vgic_mmio(struct vgic *g, u32 me, u64 ipa, u32 size, bool write, u64 val);

/* guest_image.c: the partition's device tree at ap->dtb */
bool guest_image_load(struct partition *p, struct a64_part *ap, char *err, size_t len);

/* vm.c */
struct a64_part *a64_part_of(struct partition *p);
#endif
#endif
