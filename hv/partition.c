/* Partitions: memory, memslots, guest memory access, the guest console and
 * the fault policy (see partition.h). */
#include "partition.h"
#include "arch.h"
#include "hv.h"
#include "string.h"
#include "../mm/frame.h"
#include "../mm/heap.h"

struct partition partitions[PART_MAX];
u32 npartitions;

/* Backing of each shared-memory channel (one per channel, mapped into every
 * member). Owned ones are freed by partitions_destroy. */
static struct {
    u64 hpa;
    u64 size;
    bool owned;
} chan[CFG_MAX_CHANNELS];
static u32 nchan;

static const struct config *active_cfg;
static u32 running;              /* partitions not yet stopped (atomic) */
static spinlock_t fault_lock;    /* fault policy decisions, one at a time */

/* ------------------------------------------------------------ epochs */

static struct epoch_domain hv_epoch_domain;
static u32 hv_epoch_state; /* 0 = not set up, 1 = being set up, 2 = ready */

static unsigned epoch_cpu(void *ctx)
{
    (void)ctx;
    return arch_cpu_index();
}

static void epoch_assert(void *ctx, unsigned cpu, const char *what)
{
    (void)ctx;
    printk("bulkhead: epoch check failed on cpu %u: %s\n", cpu, what);
}

/* The epoch kick: the architecture's IPI (arch_kick_cpu). A CPU in a guest
 * or idle is in an extended quiescent state and is never waited for; one
 * running hypervisor code for longer than the wait loop's spin limit
 * (EPOCH_KICK_AFTER_DEFAULT) gets the IPI, which brings it back to the top
 * of its exit loop (a quiescent state) as soon as it enters the guest or an
 * idle wait again, and wakes it there. Without an IPI (arch_kick_cpu false)
 * the grace period just waits for that report. */
static u64 kick_ipis_sent, kick_ipis_taken;
/* One IPI in flight per CPU: an SGI already pending is not pended twice by
 * the interrupt controller, so a second one would only cost the bus. Set
 * when one is sent, cleared when the CPU takes it. */
static u32 kick_in_flight[MAX_CPUS];

static void epoch_kick(void *ctx, unsigned cpu)
{
    (void)ctx;
    if (cpu >= MAX_CPUS || __atomic_exchange_n(&kick_in_flight[cpu], 1, __ATOMIC_ACQ_REL))
        return;
    if (arch_kick_cpu(cpu))
        __atomic_fetch_add(&kick_ipis_sent, 1, __ATOMIC_RELAXED);
    else
        __atomic_store_n(&kick_in_flight[cpu], 0, __ATOMIC_RELEASE);
}

void hv_epoch_kick_taken(unsigned cpu)
{
    if (cpu < MAX_CPUS)
        __atomic_store_n(&kick_in_flight[cpu], 0, __ATOMIC_RELEASE);
    __atomic_fetch_add(&kick_ipis_taken, 1, __ATOMIC_RELAXED);
}

void hv_epoch_kick_stats(u64 *requested, u64 *sent, u64 *taken)
{
    struct epoch_domain *d = hv_epoch();
    u64 n = 0;
    for (u32 i = 0; i < d->nr_cpus; i++)
        n += __atomic_load_n(&d->cpu[i].kicks, __ATOMIC_RELAXED);
    *requested = n;
    *sent = __atomic_load_n(&kick_ipis_sent, __ATOMIC_RELAXED);
    *taken = __atomic_load_n(&kick_ipis_taken, __ATOMIC_RELAXED);
}

static const struct epoch_ops hv_epoch_ops = {
    .cpu_index = epoch_cpu,
    .kick = epoch_kick,
    .relax = NULL,
    .assert_fail = epoch_assert,
};

static void epoch_setup(u32 ncpus)
{
    u32 expect = 0;
    if (__atomic_compare_exchange_n(&hv_epoch_state, &expect, 1, false, __ATOMIC_ACQUIRE,
                                    __ATOMIC_ACQUIRE)) {
        epoch_init(&hv_epoch_domain, ncpus, &hv_epoch_ops, NULL);
        __atomic_store_n(&hv_epoch_state, 2, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(&hv_epoch_state, __ATOMIC_ACQUIRE) != 2)
        arch_cpu_relax();
}

void partitions_epoch_init(u32 ncpus)
{
    epoch_setup(ncpus ? ncpus : MAX_CPUS);
}

struct epoch_domain *hv_epoch(void)
{
    if (__atomic_load_n(&hv_epoch_state, __ATOMIC_ACQUIRE) != 2)
        epoch_setup(MAX_CPUS);
    return &hv_epoch_domain;
}

/* ------------------------------------------------------------ creation */

static void *slot_alloc(void *ctx, size_t bytes)
{
    (void)ctx;
    return kmalloc(bytes);
}

static void slot_free(void *ctx, void *ptr, size_t bytes)
{
    (void)ctx;
    kfree(ptr, bytes);
}

/* Second-stage hooks: before arch_partition_prepare the tables do not exist
 * yet (they are built from the slots), so there is nothing to change. */
static int slot_map(void *ctx, const struct memslot *m)
{
    struct partition *p = ctx;
    return p->arch ? arch_stage2_map(p, m) : MEMSLOT_OK;
}

static void slot_unmap(void *ctx, u64 gpa, u64 size)
{
    struct partition *p = ctx;
    if (!p->arch)
        return;
    u64 t0 = arch_timestamp();
    arch_stage2_unmap(p, gpa, size);
    p->unmap_ticks += arch_timestamp() - t0;
}

/* epoch_synchronize, timed for the runtime-change statistics (under the
 * partition's writer lock, so plain updates do). */
static void slot_sync(void *ctx)
{
    struct partition *p = ctx;
    u64 t0 = arch_timestamp();
    epoch_synchronize(hv_epoch());
    p->gp_ticks += arch_timestamp() - t0;
    p->gp_count++;
}

static const struct memslot_ops slot_ops = {
    .alloc = slot_alloc,
    .free = slot_free,
    .unmap = slot_unmap,
    .map = slot_map,
    .synchronize = slot_sync,
};

u64 partition_channel_hpa(u32 c)
{
    return c < nchan ? chan[c].hpa : 0;
}

static inline void *hpa_ptr(u64 hpa)
{
    return (void *)(uintptr_t)hpa;
}

static u64 pages_of(u64 size)
{
    return ALIGN_UP(size, PAGE_SIZE) >> PAGE_SHIFT;
}

/* Contiguous frames, 2 MiB aligned when the size is a multiple of 2 MiB (so
 * second-stage tables can use large pages), else page aligned; taken under
 * the frame allocator's lock. */
static u64 alloc_backing(u64 size)
{
    u64 align = IS_ALIGNED(size, MiB(2)) ? MiB(2) : PAGE_SIZE;
    if (!frames_global() || size == 0)
        return 0;
    return frame_alloc_aligned(pages_of(size), align);
}

static struct part_region *add_region(struct partition *p)
{
    if (p->nregions >= PART_MAX_REGIONS)
        return NULL;
    struct part_region *r = &p->region[p->nregions++];
    memset(r, 0, sizeof(*r));
    r->slot_id = p->nregions - 1;
    return r;
}

static bool create_ram(struct partition *p, u32 i)
{
    const struct cfg_region *cr = &p->cfg->regions[i];
    struct part_region *r = add_region(p);
    if (!r) {
        printk("partition %s: memory region %u (guest 0x%llx, size 0x%llx): too many regions\n",
               p->name, i, (unsigned long long)cr->guest, (unsigned long long)cr->size);
        return false;
    }
    r->kind = PART_RAM;
    r->gpa = cr->guest;
    r->size = cr->size;
    r->writable = true;
    if (cr->fixed) {
        /* Pinned: the frames must still be free, never something the
         * hypervisor already uses (its tables, stacks, another partition). */
        if (!frame_claim(cr->host, pages_of(cr->size))) {
            p->nregions--;
            printk("partition %s: memory region %u (guest 0x%llx, size 0x%llx): host-address "
                   "0x%llx is not entirely free memory (in use by the hypervisor or another "
                   "partition, reserved, or not RAM)\n",
                   p->name, i, (unsigned long long)cr->guest, (unsigned long long)cr->size,
                   (unsigned long long)cr->host);
            return false;
        }
        r->hpa = cr->host;
        r->owned = true; /* claimed from the allocator: given back on destroy */
    } else {
        r->hpa = alloc_backing(cr->size);
        if (!r->hpa) {
            p->nregions--; /* nothing to free */
            printk("partition %s: memory region %u (guest 0x%llx, size 0x%llx): out of memory\n",
                   p->name, i, (unsigned long long)cr->guest, (unsigned long long)cr->size);
            return false;
        }
        r->owned = true;
    }
    memset(hpa_ptr(r->hpa), 0, r->size);
    p->ram_bytes += r->size;
    int err = memslot_create(&p->mem, r->slot_id, r->gpa, r->size, r->hpa, MEMSLOT_F_EXEC);
    if (err) {
        printk("partition %s: memory region %u (guest 0x%llx, size 0x%llx, host 0x%llx): "
               "memslot: %s\n",
               p->name, i, (unsigned long long)r->gpa, (unsigned long long)r->size,
               (unsigned long long)r->hpa, memslot_strerror(err));
        return false;
    }
    return true;
}

static bool create_channel(const struct config *cfg, u32 c)
{
    const struct cfg_channel *cc = &cfg->channels[c];
    u64 hpa;
    if (cc->fixed) {
        hpa = cc->host;
        if (!frame_claim(hpa, pages_of(cc->size))) {
            printk("channel %s (size 0x%llx): host-address 0x%llx is not entirely free memory "
                   "(in use by the hypervisor or a partition, reserved, or not RAM)\n",
                   cc->name, (unsigned long long)cc->size, (unsigned long long)hpa);
            return false;
        }
    } else {
        hpa = alloc_backing(cc->size);
        if (!hpa) {
            printk("channel %s (size 0x%llx): out of memory\n", cc->name,
                   (unsigned long long)cc->size);
            return false;
        }
    }
    chan[c].hpa = hpa;
    chan[c].size = cc->size;
    chan[c].owned = true; /* allocated or claimed: given back on destroy */
    nchan = c + 1;
    memset(hpa_ptr(hpa), 0, cc->size);

    for (u32 m = 0; m < cc->nmembers; m++) {
        const struct cfg_member *cm = &cc->members[m];
        if (cm->partition >= npartitions) {
            printk("channel %s: member %u: no partition %u\n", cc->name, m, cm->partition);
            return false;
        }
        struct partition *p = &partitions[cm->partition];
        struct part_region *r = add_region(p);
        if (!r) {
            printk("partition %s: channel %s (guest 0x%llx): too many regions\n", p->name,
                   cc->name, (unsigned long long)cm->guest);
            return false;
        }
        r->kind = PART_CHANNEL;
        r->gpa = cm->guest;
        r->size = cc->size;
        r->hpa = hpa;
        r->owned = false; /* the backing is freed once, with the channel */
        r->writable = cm->access == CFG_ACCESS_RW;
        r->max_rw = r->writable;
        r->attached = true;
        r->channel = (u16)c;
        r->member = (u8)m;
        u32 flags = MEMSLOT_F_SHARED | (r->writable ? 0 : MEMSLOT_F_RO);
        int err = memslot_create(&p->mem, r->slot_id, r->gpa, r->size, r->hpa, flags);
        if (err) {
            printk("partition %s: channel %s (guest 0x%llx, size 0x%llx, host 0x%llx): "
                   "memslot: %s\n",
                   p->name, cc->name, (unsigned long long)r->gpa, (unsigned long long)r->size,
                   (unsigned long long)r->hpa, memslot_strerror(err));
            return false;
        }
    }
    return true;
}

static bool create_one(const struct config *cfg, const struct boot_info *bi, u32 i)
{
    struct partition *p = &partitions[i];
    memset(p, 0, sizeof(*p));
    p->index = i;
    p->cfg = &cfg->partitions[i];
    p->name = p->cfg->name;
    p->state = PART_CREATED;
    memslot_part_init(&p->mem, hv_epoch(), &slot_ops, p, PART_MAX_SLOTS);
    npartitions = i + 1;

    p->kernel = bi_find_module(bi, p->cfg->kernel);
    if (!p->kernel) {
        printk("partition %s: kernel module \"%s\" not found\n", p->name, p->cfg->kernel);
        return false;
    }
    if (p->cfg->ramdisk[0]) {
        p->ramdisk = bi_find_module(bi, p->cfg->ramdisk);
        if (!p->ramdisk) {
            printk("partition %s: ramdisk module \"%s\" not found\n", p->name,
                   p->cfg->ramdisk);
            return false;
        }
    }
    for (u32 r = 0; r < p->cfg->nregions; r++)
        if (!create_ram(p, r))
            return false;
    /* Pass-through MMIO: device slots (never executable, never reachable
     * through guest_ptr), ids after the regions'. Whether the architecture
     * wires them (and the interrupts) is arch_partition_prepare's call; it
     * refuses what it cannot give, so nothing runs half-configured. */
    for (u32 m = 0; m < p->cfg->nmmio; m++) {
        const struct cfg_mmio *cm = &p->cfg->mmio[m];
        int err = memslot_create(&p->mem, PART_MAX_REGIONS + m, cm->guest, cm->size, cm->host,
                                 MEMSLOT_F_DEVICE);
        if (err) {
            printk("partition %s: mmio range %u (guest 0x%llx, size 0x%llx, host 0x%llx): "
                   "memslot: %s\n",
                   p->name, m, (unsigned long long)cm->guest, (unsigned long long)cm->size,
                   (unsigned long long)cm->host, memslot_strerror(err));
            return false;
        }
    }
    if (p->cfg->pool_size) {
        /* Set aside for the partition, mapped only by HC_POOL_TAKE. */
        p->pool_hpa = alloc_backing(p->cfg->pool_size);
        if (!p->pool_hpa) {
            printk("partition %s: pool (guest 0x%llx, size 0x%llx): out of memory\n", p->name,
                   (unsigned long long)p->cfg->pool_guest,
                   (unsigned long long)p->cfg->pool_size);
            return false;
        }
        p->pool_gpa = p->cfg->pool_guest;
        p->pool_size = p->cfg->pool_size;
        memset(hpa_ptr(p->pool_hpa), 0, p->pool_size);
    }
    return true;
}

bool partitions_create(const struct config *cfg, const struct boot_info *bi)
{
    if (npartitions || nchan) {
        printk("partitions: already created\n");
        return false;
    }
    if (cfg->npartitions > PART_MAX || cfg->nchannels > CFG_MAX_CHANNELS) {
        printk("partitions: too many partitions or channels\n");
        return false;
    }
    (void)hv_epoch();
    for (u32 i = 0; i < cfg->npartitions; i++)
        if (!create_one(cfg, bi, i))
            goto fail;
    for (u32 c = 0; c < cfg->nchannels; c++)
        if (!create_channel(cfg, c))
            goto fail;
    active_cfg = cfg;
    __atomic_store_n(&running, npartitions, __ATOMIC_RELEASE);
    return true;
fail:
    partitions_destroy();
    return false;
}

void partitions_destroy(void)
{
    for (u32 i = 0; i < npartitions; i++) {
        struct partition *p = &partitions[i];
        memslot_part_destroy(&p->mem);
        for (u32 r = 0; r < p->nregions; r++)
            if (p->region[r].owned)
                frame_free(p->region[r].hpa, pages_of(p->region[r].size));
        if (p->pool_hpa)
            frame_free(p->pool_hpa, pages_of(p->pool_size));
        memset(p, 0, sizeof(*p));
    }
    for (u32 c = 0; c < nchan; c++)
        if (chan[c].owned)
            frame_free(chan[c].hpa, pages_of(chan[c].size));
    memset(chan, 0, sizeof(chan));
    nchan = 0;
    npartitions = 0;
    active_cfg = NULL;
    __atomic_store_n(&running, 0, __ATOMIC_RELEASE);
}

struct partition *partition_of_cpu(u32 cpu, u32 *vcpu)
{
    for (u32 i = 0; i < npartitions; i++) {
        const struct cfg_partition *c = partitions[i].cfg;
        for (u32 v = 0; v < c->ncpus; v++) {
            if (c->cpus[v] == cpu) {
                if (vcpu)
                    *vcpu = v;
                return &partitions[i];
            }
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ guest memory */

void *guest_ptr(struct partition *p, u64 gpa, u64 len, bool write)
{
    if (len && gpa + len < gpa)
        return NULL; /* wraps */
    struct epoch_domain *d = p->mem.epoch;
    void *ptr = NULL;
    epoch_read_lock(d);
    const struct memslot *m = memslot_lookup(&p->mem, NULL, gpa);
    if (m && !(m->flags & MEMSLOT_F_DEVICE) && !(write && (m->flags & MEMSLOT_F_RO))) {
        u64 off = gpa - (m->gfn << PAGE_SHIFT);
        u64 bytes = m->npages << PAGE_SHIFT;
        if (len <= bytes - off)
            ptr = hpa_ptr((m->hfn << PAGE_SHIFT) + off);
    }
    epoch_read_unlock(d);
    return ptr;
}

bool guest_read(struct partition *p, u64 gpa, void *dst, u64 len)
{
    const void *src = guest_ptr(p, gpa, len, false);
    if (!src)
        return false;
    memcpy(dst, src, len);
    return true;
}

bool guest_write(struct partition *p, u64 gpa, const void *src, u64 len)
{
    void *dst = guest_ptr(p, gpa, len, true);
    if (!dst)
        return false;
    memcpy(dst, src, len);
    return true;
}

void partition_reset_memory(struct partition *p)
{
    for (u32 i = 0; i < p->nregions; i++)
        if (p->region[i].kind == PART_RAM)
            memset(hpa_ptr(p->region[i].hpa), 0, p->region[i].size);
}

/* ------------------------------------------------------------ console */

static bool prefix_on(void)
{
    return !active_cfg || active_cfg->console_prefix;
}

/* con_lock held. An empty line is printed only when `empty` (a '\n'). */
static void con_flush_locked(struct partition *p, bool empty)
{
    if (p->con_len == 0 && !empty)
        return;
    if (prefix_on()) {
        if (p->con_len)
            printk("[%s] %.*s\n", p->name, (int)p->con_len, p->con_line);
        else
            printk("[%s]\n", p->name);
    } else {
        printk("%.*s\n", (int)p->con_len, p->con_line);
    }
    p->con_len = 0;
}

void partition_console_putc(struct partition *p, char c)
{
    if (!p->cfg->console) {
        __atomic_fetch_add(&p->con_dropped, 1, __ATOMIC_RELAXED);
        return;
    }
    u8 b = (u8)c;
    if (b == '\r')
        return;
    spin_lock(&p->con_lock);
    if (b == '\n') {
        /* A newline right after a line split for length ends that line. */
        if (!(p->con_len == 0 && p->con_split))
            con_flush_locked(p, true);
        p->con_split = false;
    } else {
        /* Only printable ASCII and tab reach the hypervisor console: no
         * escape sequences, no C1 controls (0x80-0x9f, e.g. 8-bit CSI). */
        if ((b < 0x20 && b != '\t') || b >= 0x7f)
            b = '?';
        p->con_line[p->con_len++] = (char)b;
        p->con_split = false;
        if (p->con_len >= PART_CON_LINE) {
            con_flush_locked(p, false);
            p->con_split = true;
        }
    }
    spin_unlock(&p->con_lock);
}

void partition_console_write(struct partition *p, const char *s, u64 len)
{
    for (u64 i = 0; i < len; i++)
        partition_console_putc(p, s[i]);
}

void partition_console_flush(struct partition *p)
{
    spin_lock(&p->con_lock);
    con_flush_locked(p, false);
    p->con_split = false;
    spin_unlock(&p->con_lock);
}

void part_printk(struct partition *p, const char *fmt, ...)
{
    u32 resumed;
    if (!ratelimit_take(&p->msg_rl, arch_time_us(), &resumed))
        return;
    if (resumed)
        printk("partition %s: %u message%s suppressed (rate limit)\n", p->name, resumed,
               resumed == 1 ? "" : "s");
    va_list ap;
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
}

static void report_suppressed(struct partition *p)
{
    u32 n = ratelimit_drain(&p->msg_rl);
    if (n)
        printk("partition %s: %u message%s suppressed (rate limit)\n", p->name, n,
               n == 1 ? "" : "s");
}

/* ------------------------------------------------------------ fault policy */

static u32 state_of(struct partition *p)
{
    return __atomic_load_n(&p->state, __ATOMIC_ACQUIRE);
}

static void set_state(struct partition *p, u32 s)
{
    __atomic_store_n(&p->state, s, __ATOMIC_RELEASE);
}

enum part_action partition_fault(struct partition *p, const char *reason, u64 ip, u64 gpa,
                                 bool has_gpa)
{
    partition_console_flush(p);
    spin_lock(&fault_lock);
    if (has_gpa)
        part_printk(p, "partition %s: fault: %s, rip 0x%llx, gpa 0x%llx\n", p->name, reason,
                    (unsigned long long)ip, (unsigned long long)gpa);
    else
        part_printk(p, "partition %s: fault: %s, rip 0x%llx\n", p->name, reason,
                    (unsigned long long)ip);
    enum part_action act = PART_ACT_STOP;
    u32 st = state_of(p);
    if (st == PART_HALTED || st == PART_SHUTDOWN) {
        /* Already stopping (another vCPU got there first). */
    } else if (p->cfg->fault != CFG_FAULT_RESTART) {
        set_state(p, PART_HALTED);
        printk("partition %s: halted (fault policy: halt)\n", p->name);
    } else if (p->restarts < p->cfg->restart_limit) {
        p->restarts++;
        part_printk(p, "partition %s: restarting (restart %u of %u)\n", p->name, p->restarts,
                    p->cfg->restart_limit);
        act = PART_ACT_RESTART;
    } else {
        set_state(p, PART_HALTED);
        printk("partition %s: halted: restart limit %u reached\n", p->name,
               p->cfg->restart_limit);
    }
    spin_unlock(&fault_lock);
    return act;
}

void partition_shutdown(struct partition *p, u64 code)
{
    partition_console_flush(p);
    p->exit_code = code;
    set_state(p, PART_SHUTDOWN);
    printk("partition %s: shut down by the guest, exit code %llu\n", p->name,
           (unsigned long long)code);
}

void partition_stopped(struct partition *p)
{
    partition_console_flush(p);
    if (__atomic_exchange_n(&p->stopped, 1, __ATOMIC_ACQ_REL))
        return; /* counted already */
    report_suppressed(p);
    u32 st = state_of(p);
    if (st == PART_CREATED || st == PART_RUNNING)
        set_state(p, PART_HALTED);
    if (__atomic_sub_fetch(&running, 1, __ATOMIC_ACQ_REL) == 0)
        hv_end("all partitions have stopped");
}

u32 partitions_running(void)
{
    return __atomic_load_n(&running, __ATOMIC_ACQUIRE);
}
