/* Host environment for the partition and hypercall tests: a frame allocator
 * over an aligned buffer that stands in for host-physical memory (the
 * hypervisor maps memory 1:1, so a frame's address is its pointer), a
 * second buffer outside the allocator for fixed host addresses, printk
 * captured into a buffer, and stand-ins for the arch hooks and hv_end. */
#ifndef TEST_PARTITION_ENV_H
#define TEST_PARTITION_ENV_H

#include <setjmp.h>
#include <stdarg.h>
#include "check.h"
#include "hv/arch.h"
#include "hv/console.h"
#include "hv/format.h"
#include "hv/hv.h"
#include "hv/partition.h"
#include "mm/frame.h"
#include "mm/heap.h"

#define ENV_MEM_SIZE MiB(64)
#define ENV_FIXED_SIZE MiB(8)

static struct boot_info env_bi;
static struct frame_alloc env_fa;
static u8 *env_mem;     /* frame allocator memory */
static u8 *env_fixed;   /* memory for fixed host addresses (not in the allocator) */
static struct config env_cfg;

/* ---- printk capture */
static char con_buf[1 << 16];
static size_t con_len;

int vprintk(const char *fmt, va_list ap)
{
    char line[CONSOLE_LINE_MAX];
    int n = bh_vsnprintf(line, sizeof(line), fmt, ap);
    size_t l = strlen(line);
    if (con_len + l + 1 < sizeof(con_buf)) {
        memcpy(con_buf + con_len, line, l + 1);
        con_len += l;
    }
    if (getenv("PARTITION_TEST_VERBOSE"))
        fputs(line, stdout);
    return n;
}

int printk(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintk(fmt, ap);
    va_end(ap);
    return n;
}

static __unused void con_clear(void)
{
    con_len = 0;
    con_buf[0] = 0;
}

/* ---- arch hooks and hv_end */
unsigned arch_cpu_index(void)
{
    return 0;
}

/* A clock the tests move by hand (rate limits). */
static u64 env_time_us;
u64 arch_time_us(void)
{
    return env_time_us;
}

/* Runtime second-stage hooks: a record of what was mapped and unmapped.
 * The partition's tables "exist" once p->arch is set (tests set it). */
static int env_maps, env_unmaps, env_map_fail;
static u64 env_last_map_gpa, env_last_map_size, env_last_unmap_gpa, env_last_unmap_size;
static u32 env_last_map_flags;

static u64 env_ticks;
u64 arch_timestamp(void)
{
    return env_ticks += 10; /* every reading 10 ticks later */
}

static unsigned env_notifies, env_last_notify_part, env_last_notify_channel;
void arch_partition_notify(struct partition *p, u32 channel)
{
    env_notifies++;
    env_last_notify_part = p->index;
    env_last_notify_channel = channel;
}

/* arch_kick_cpu: counts its calls. With env_kick_cpu_reports the
 * kicked CPU (simulated) reports a quiescent state during the call; with
 * env_kick_sends it is an IPI that the CPU takes (arm64), without it none
 * is sent (x86-64: returns false). */
static unsigned env_kicks;
static bool env_kick_cpu_reports, env_kick_sends;
bool arch_kick_cpu(unsigned cpu)
{
    env_kicks++;
    if (env_kick_cpu_reports)
        epoch_quiescent(hv_epoch(), cpu);
    if (!env_kick_sends)
        return false;
    hv_epoch_kick_taken(cpu);
    return true;
}

u64 arch_timestamp_hz(void)
{
    return 1000;
}

bool arch_runtime_maps(void)
{
    return true;
}

bool arch_guest_range_ok(struct partition *p, u64 gpa, u64 size)
{
    (void)p;
    u64 limit = 1ULL << 39;
    return size <= limit && gpa <= limit - size &&
           !(gpa < 0x09001000ULL && 0x09000000ULL < gpa + size);
}

int arch_stage2_map(struct partition *p, const struct memslot *m)
{
    (void)p;
    if (env_map_fail) {
        env_map_fail--;
        return MEMSLOT_E_NOMEM;
    }
    env_maps++;
    env_last_map_gpa = m->gfn << PAGE_SHIFT;
    env_last_map_size = m->npages << PAGE_SHIFT;
    env_last_map_flags = m->flags;
    return MEMSLOT_OK;
}

void arch_stage2_unmap(struct partition *p, u64 gpa, u64 size)
{
    (void)p;
    env_unmaps++;
    env_last_unmap_gpa = gpa;
    env_last_unmap_size = size;
}

static jmp_buf hv_end_jmp;
static bool hv_end_armed;
static int hv_end_calls;
static char hv_end_why[128];

void hv_end(const char *why)
{
    hv_end_calls++;
    snprintf(hv_end_why, sizeof(hv_end_why), "%s", why);
    if (hv_end_armed)
        longjmp(hv_end_jmp, 1);
    printf("  hv_end(\"%s\") called unexpectedly\n", why);
    abort();
}

/* ---- memory */
static void env_init(void)
{
    /* The pinned ("fixed") area is the top of the allocator's memory: a pinned
     * range must be free RAM, and first-fit allocation leaves the top alone. */
    env_mem = aligned_alloc(MiB(2), ENV_MEM_SIZE + ENV_FIXED_SIZE);
    if (!env_mem) {
        printf("out of host memory\n");
        exit(2);
    }
    env_fixed = env_mem + ENV_MEM_SIZE;
    memset(&env_bi, 0, sizeof(env_bi));
    bi_add_mem(&env_bi, (u64)(uintptr_t)env_mem, ENV_MEM_SIZE + ENV_FIXED_SIZE, MEM_USABLE);
    char err[256];
    if (frame_init(&env_fa, &env_bi, err, sizeof(err)) != FRAME_OK) {
        printf("frame_init: %s\n", err);
        exit(2);
    }
    frames_init_global(&env_fa);
    /* The heap keeps the pages it carved into blocks; carve one page of
     * every size class now so that later frame counts are exact. */
    for (int c = HEAP_MIN_SHIFT; c <= HEAP_MAX_SHIFT; c++)
        kfree(kmalloc((size_t)1 << c), (size_t)1 << c);
    /* This CPU runs hypervisor code: ACTIVE in the epoch domain, so the
     * debug checks of read-side sections apply. */
    epoch_cpu_online(hv_epoch(), 0);
}

static void env_fini(void)
{
    free(env_mem);
}

static __unused bool in_env_mem(u64 a, u64 size)
{
    u64 b = (u64)(uintptr_t)env_mem;
    return a >= b && a + size <= b + ENV_MEM_SIZE;
}

static __unused u64 fixed_addr(u64 off)
{
    return (u64)(uintptr_t)env_fixed + off;
}

/* ---- configuration and modules */
static void cfg_reset(void)
{
    memset(&env_cfg, 0, sizeof(env_cfg));
    env_cfg.version = 1;
    env_cfg.console_prefix = true;
    memset(&env_bi.mod, 0, sizeof(env_bi.mod));
    env_bi.nmod = 0;
    const char *k = "kernel";
    bi_add_module(&env_bi, 0x1000, 0x100, k, strlen(k));
    const char *r = "initrd";
    bi_add_module(&env_bi, 0x2000, 0x100, r, strlen(r));
}

static struct cfg_partition *cfg_part(const char *name, u32 cpu0, u32 ncpus)
{
    struct cfg_partition *p = &env_cfg.partitions[env_cfg.npartitions++];
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->ncpus = ncpus;
    for (u32 i = 0; i < ncpus; i++)
        p->cpus[i] = (u8)(cpu0 + i);
    snprintf(p->kernel, sizeof(p->kernel), "kernel");
    p->console = true;
    p->fault = CFG_FAULT_HALT;
    return p;
}

static struct cfg_region *cfg_ram(struct cfg_partition *p, u64 guest, u64 size)
{
    struct cfg_region *r = &p->regions[p->nregions++];
    r->guest = guest;
    r->size = size;
    return r;
}

static __unused struct cfg_channel *cfg_chan(const char *name, u64 size)
{
    struct cfg_channel *c = &env_cfg.channels[env_cfg.nchannels++];
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->size = size;
    return c;
}

static __unused void cfg_member(struct cfg_channel *c, u32 part, u64 guest, enum cfg_access acc)
{
    struct cfg_member *m = &c->members[c->nmembers++];
    m->partition = part;
    m->guest = guest;
    m->access = acc;
}

static __unused struct part_region *find_region(struct partition *p, u64 gpa)
{
    for (u32 i = 0; i < p->nregions; i++)
        if (p->region[i].gpa == gpa)
            return &p->region[i];
    return NULL;
}

#endif
