/* Partitions: the arch-neutral side of running guests.
 *
 * partitions_create() turns the validated configuration into partitions:
 * guest RAM regions (allocated from the frame allocator, or pinned at fixed
 * host addresses), shared-memory channel windows, one memslot per region, the
 * kernel/ramdisk modules. The architecture then builds its second-stage
 * tables from the memslots (arch_partition_prepare), loads the guest per its
 * boot protocol (arch_partition_load) and runs each vCPU on the physical CPU
 * the partition owns for it (arch_vcpu_run).
 *
 * A fault (access outside the slots, triple fault, unhandled exit) is
 * reported in one line and handled per the partition's fault policy: halt, or
 * restart with a fresh memory image up to restart-limit times. Restarting
 * reuses the partition's frames, so it never leaks any. The hypervisor and
 * every other partition keep running. When the last partition has stopped
 * the hypervisor ends (hv_end: power-off or halt per on_idle=). */
#ifndef BULKHEAD_PARTITION_H
#define BULKHEAD_PARTITION_H

#include "config.h"
#include "console.h"
#include "spinlock.h"
#include "ratelimit.h"
#include "../mm/memslot.h"

#define PART_MAX CFG_MAX_PARTITIONS
#define PART_MAX_REGIONS (CFG_MAX_REGIONS + CFG_MAX_CHANNELS)
#define PART_CON_LINE 200 /* a guest console line longer than this is split */

enum part_state {
    PART_CREATED = 0,  /* memory and slots set up, not started */
    PART_RUNNING,
    PART_HALTED,       /* stopped by the fault policy (or restart limit reached) */
    PART_SHUTDOWN,     /* the guest asked to stop (shutdown hypercall) */
};

enum part_region_kind { PART_RAM = 0, PART_CHANNEL };

struct part_region {
    u64 gpa;
    u64 size;
    u64 hpa;
    u32 slot_id;       /* memslot id */
    u8 kind;           /* enum part_region_kind */
    bool owned;        /* frames allocated by partitions_create (freed on destroy) */
    bool writable;
    bool attached;     /* channel window: mapped now (runtime: HC_WIN_*) */
    bool max_rw;       /* channel window: the configuration allows read-write */
    u16 channel;       /* channel index for PART_CHANNEL */
    u8 member;         /* member index in the channel for PART_CHANNEL */
};

/* Slot ids: regions use their index; pool ranges POOL_SLOT_BASE + page. */
#define POOL_SLOT_BASE 0x10000u
#define PART_MAX_SLOTS 64  /* memslots per partition (regions, windows, mmio, pool ranges) */

struct partition {
    u32 index;
    const struct cfg_partition *cfg;
    const char *name;
    u32 state;                         /* enum part_state (atomic) */
    u32 restarts;                      /* restarts done so far */
    u64 exit_code;                     /* from the shutdown hypercall */
    u32 nregions;
    struct part_region region[PART_MAX_REGIONS];
    u64 ram_bytes;                     /* total of the RAM regions */
    const struct boot_module *kernel;
    const struct boot_module *ramdisk; /* NULL when none */
    struct memslot_part mem;
    spinlock_t con_lock;
    u32 con_len;
    bool con_split;                    /* the last line was split for length */
    char con_line[PART_CON_LINE];
    u64 con_dropped;                   /* bytes dropped with the console off */
    u32 stopped;                       /* partition_stopped ran (atomic) */
    struct ratelimit msg_rl;           /* hypervisor messages the guest triggers */
    u32 win_lock;                      /* window/pool changes (epoch_lock_quiescent) */
    u64 pool_gpa, pool_size, pool_hpa; /* balloon pool; size 0 = none */
    u32 doorbell[CFG_MAX_CHANNELS];    /* pending ring mask by member index (atomic) */
    u64 slot_changes;                  /* runtime map changes made (statistics) */
    u64 change_ticks, gp_count, gp_ticks, unmap_ticks; /* their cost (arch_timestamp) */
    void *arch;                        /* arch-private state (EPT/stage-2 root, vCPUs) */
};

extern struct partition partitions[PART_MAX];
extern u32 npartitions;

/* The epoch domain of all physical CPUs (grace periods for memslot sets).
 * It sets itself up on first use for MAX_CPUS CPU slots: slots of CPUs that
 * never go online (epoch_cpu_online) stay OFFLINE and never delay a grace
 * period, so the real CPU count is not needed. partitions_epoch_init(n) may
 * be called before the first hv_epoch() to size it for n CPUs instead; later
 * calls change nothing. A CPU still ACTIVE after the wait loop's spin limit
 * gets the epoch kick (arch_kick_cpu, at most one in flight per CPU); the
 * arch reports each one CPU cpu takes with hv_epoch_kick_taken(cpu).
 * hv_epoch_kick_stats: kicks the wait loops requested (all CPUs), IPIs sent,
 * IPIs taken, since boot. */
struct epoch_domain *hv_epoch(void);
void partitions_epoch_init(u32 ncpus);
void hv_epoch_kick_taken(unsigned cpu);
void hv_epoch_kick_stats(u64 *requested, u64 *sent, u64 *taken);

/* Create every partition of cfg. On failure print what is wrong (naming the
 * partition and region) and return false; nothing is left allocated.
 * RAM regions and channel backings are zeroed, fixed host ranges included.
 * Allocated ranges are 2 MiB aligned when their size is a multiple of 2 MiB.
 * A channel's backing is allocated once and mapped into every member (its
 * regions have owned = false; the backing is freed with the partitions).
 * Run it while no other CPU allocates frames (boot): it takes aligned ranges
 * from frames_global() directly. Refused when partitions exist already. */
bool partitions_create(const struct config *cfg, const struct boot_info *bi);
/* Release everything partitions_create allocated (used by tests). */
void partitions_destroy(void);

/* Which partition owns physical CPU `cpu`, and its vCPU index there. */
struct partition *partition_of_cpu(u32 cpu, u32 *vcpu);

/* Guest memory through the memslots. The range must lie in one RAM or channel
 * slot (and be writable for a write): a range crossing into an adjacent slot,
 * touching a gap or a device slot, or wrapping past 2^64 gives NULL / false;
 * len 0 is fine at a mapped address. Call only from a CPU that is ACTIVE in
 * the epoch domain (e.g. in the exit handler); like a slot, the pointer is
 * good until the CPU's next quiescent state, guest entry or idle wait. */
void *guest_ptr(struct partition *p, u64 gpa, u64 len, bool write);
bool guest_read(struct partition *p, u64 gpa, void *dst, u64 len);
bool guest_write(struct partition *p, u64 gpa, const void *src, u64 len);

/* Zero the partition's own RAM (not the shared channels) for a fresh start. */
void partition_reset_memory(struct partition *p);

/* Guest console: characters are gathered per partition into lines, each
 * printed whole as "[name] text" ("text" alone with console-prefix off).
 * '\r' is dropped, bytes other than printable ASCII and '\t' print as '?',
 * a line longer than PART_CON_LINE is split. With the partition's console
 * off, bytes are dropped and counted in con_dropped. flush prints a pending
 * partial line (fault, shutdown and partition_stopped flush first). */
void partition_console_putc(struct partition *p, char c);
void partition_console_write(struct partition *p, const char *s, u64 len);
void partition_console_flush(struct partition *p);
/* printk for messages a guest can trigger (PSCI calls, ports, traps, faults,
 * restarts): rate-limited per partition (hv/ratelimit.h), so a guest cannot
 * flood the console; "partition NAME: N messages suppressed" comes before
 * the next line that goes out, or when the partition stops. */
void part_printk(struct partition *p, const char *fmt, ...) __printf(2, 3);

enum part_action { PART_ACT_STOP = 0, PART_ACT_RESTART = 1 };
/* Report a fault ("partition NAME: fault: REASON, rip ..., gpa ...") and apply
 * the fault policy. RESTART: the caller resets memory, reloads the guest and
 * enters it again. STOP: the partition is halted; the caller stops its vCPU. */
enum part_action partition_fault(struct partition *p, const char *reason, u64 ip, u64 gpa,
                                 bool has_gpa);
/* The guest asked to stop with an exit code: one line, state SHUTDOWN. The
 * caller stops the partition's vCPUs and then calls partition_stopped. */
void partition_shutdown(struct partition *p, u64 code);
/* Mark the partition stopped for good (after partition_fault STOP or
 * shutdown); when it is the last one running, end the hypervisor. */
void partition_stopped(struct partition *p);
/* Partitions not yet stopped. */
u32 partitions_running(void);

/* Host frame base of channel c (0 when there is none). */
u64 partition_channel_hpa(u32 c);

/* Arch hooks. */
/* Runtime second-stage changes (windows, pool). arch_runtime_maps: false on
 * an arch that cannot change a running partition's map yet (the hypercalls
 * then return HC_E_NOSYS). arch_guest_range_ok: the range lies inside the
 * guest-physical space the partition's tables cover and clear of devices the
 * hypervisor emulates for it. arch_stage2_map: map the slot (before it is
 * published); on failure nothing stays mapped and MEMSLOT_E_NOMEM comes back;
 * mapping a range that was just unmapped never fails. arch_stage2_unmap:
 * remove the range and, before returning, flush the TLB entries of every CPU
 * that runs the partition. Both are called with the partition's memslot
 * writer lock held, and only once arch_partition_prepare has run. */
bool arch_runtime_maps(void);
/* A doorbell of channel `channel` was rung for p, whose pending mask for it
 * was empty (hv/window.c): raise p's doorbell interrupt for that channel
 * (arm64: SPI CFG_ARM64_DOORBELL_INTID + channel in its virtual GIC, waking
 * the vCPU it is routed to). Called from another partition's CPU; it must
 * only post and wake. x86-64: nothing (doorbells are polled only until the
 * virtual LAPIC lands). */
void arch_partition_notify(struct partition *p, u32 channel);
bool arch_guest_range_ok(struct partition *p, u64 gpa, u64 size);
int arch_stage2_map(struct partition *p, const struct memslot *m);
void arch_stage2_unmap(struct partition *p, u64 gpa, u64 size);
bool arch_partition_prepare(struct partition *p, char *err, size_t errlen);
/* Load the kernel into (zeroed) guest memory per the boot protocol and set up
 * the boot vCPU's entry state. false + err on a bad image. */
bool arch_partition_load(struct partition *p, char *err, size_t errlen);
/* Run vCPU `vcpu` of p on this CPU until it stops for good. */
void arch_vcpu_run(struct partition *p, u32 vcpu);

#endif
