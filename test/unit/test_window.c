/* Runtime map changes through hypercalls (issue 13): channel windows changed
 * by a control partition, the balloon pool, doorbells; every argument check
 * and what reaches the second-stage hooks. */
#include "test_partition_env.h"
#include "hv/hypercall.h"

/* "ctl" (control, 1 vCPU): RAM at 0. "rd" (2 vCPUs): RAM at 0 (2 MiB), a pool
 * of 64 KiB at 32 MiB. Channel 0 "win" (16 KiB): ctl rw at 16 MiB, rd rw at
 * 16 MiB. Channel 1 "ro" (4 KiB): ctl rw at 20 MiB, rd r at 20 MiB. */
static struct partition *pc, *pr;
static int arch_token;

#define E(x) ((u64)(s64)(x))

static void setup(bool control)
{
    cfg_reset();
    struct cfg_partition *c = cfg_part("ctl", 0, 1);
    cfg_ram(c, 0, MiB(2));
    c->control = control;
    struct cfg_partition *r = cfg_part("rd", 1, 2);
    cfg_ram(r, 0, MiB(2));
    r->pool_guest = MiB(32);
    r->pool_size = KiB(64);
    struct cfg_channel *w = cfg_chan("win", KiB(16));
    cfg_member(w, 0, MiB(16), CFG_ACCESS_RW);
    cfg_member(w, 1, MiB(16), CFG_ACCESS_RW);
    struct cfg_channel *o = cfg_chan("ro", KiB(4));
    cfg_member(o, 0, MiB(20), CFG_ACCESS_RW);
    cfg_member(o, 1, MiB(20), CFG_ACCESS_R);
    if (!partitions_create(&env_cfg, &env_bi)) {
        printf("  partitions_create failed: %s\n", con_buf);
        exit(1);
    }
    pc = &partitions[0];
    pr = &partitions[1];
    pc->state = pr->state = PART_RUNNING;
    /* The second stage exists now: runtime changes reach the hooks. */
    pc->arch = pr->arch = &arch_token;
    env_maps = env_unmaps = env_map_fail = 0;
    con_clear();
}

static void teardown(void)
{
    pc->arch = pr->arch = NULL;
    partitions_destroy();
}

static s64 hc(struct partition *p, u64 nr, u64 a0, u64 a1, u64 a2, u64 a3)
{
    bool stop = true;
    s64 r = hypercall_dispatch(p, 0, nr, a0, a1, a2, a3, &stop);
    CHECK(!stop);
    return r;
}

/* What the hypervisor sees at gpa in p: host address or 0, and writability. */
static u64 host_at(struct partition *p, u64 gpa, bool write)
{
    epoch_read_lock(hv_epoch());
    void *ptr = guest_ptr(p, gpa, 1, write);
    epoch_read_unlock(hv_epoch());
    return (u64)(uintptr_t)ptr;
}

static void needs_control(void)
{
    setup(false);
    CHECK_EQ(hc(pc, HC_WIN_DETACH, 0, 1, 0, 0), E(HC_E_PERM));
    CHECK_EQ(hc(pc, HC_WIN_MOVE, 0, 1, MiB(24), 0), E(HC_E_PERM));
    CHECK_EQ(hc(pc, HC_FREE_FRAMES, 0, 0, 0, 0), E(HC_E_PERM));
    CHECK(host_at(pr, MiB(16), true) != 0);
    CHECK_EQ(env_maps + env_unmaps, 0);
    teardown();
}

static void detach_attach(void)
{
    setup(true);
    u64 h = host_at(pr, MiB(16), true);
    CHECK(h != 0);
    CHECK_EQ(h, host_at(pc, MiB(16), true)); /* one backing */
    CHECK_EQ(hc(pc, HC_WIN_DETACH, 0, 1, 0, 0), 0);
    CHECK_EQ(env_unmaps, 1);
    CHECK_EQ(env_last_unmap_gpa, MiB(16));
    CHECK_EQ(env_last_unmap_size, KiB(16));
    CHECK_EQ(host_at(pr, MiB(16), false), 0);
    CHECK(host_at(pc, MiB(16), true) != 0); /* the other member keeps it */
    /* Detached: detach, move, protect find no window; ring neither. */
    CHECK_EQ(hc(pc, HC_WIN_DETACH, 0, 1, 0, 0), E(HC_E_NOENT));
    CHECK_EQ(hc(pc, HC_WIN_MOVE, 0, 1, MiB(24), 0), E(HC_E_NOENT));
    CHECK_EQ(hc(pc, HC_WIN_PROTECT, 0, 1, HC_ACCESS_R, 0), E(HC_E_NOENT));
    CHECK_EQ(hc(pr, HC_DOORBELL_RING, 0, 0, 0, 0), E(HC_E_NOENT));
    /* Attach somewhere else, read-only. */
    CHECK_EQ(hc(pc, HC_WIN_ATTACH, 0, 1, MiB(40), HC_ACCESS_R), 0);
    CHECK_EQ(env_maps, 1);
    CHECK_EQ(env_last_map_gpa, MiB(40));
    CHECK_EQ(env_last_map_size, KiB(16));
    CHECK(env_last_map_flags & MEMSLOT_F_RO);
    CHECK_EQ(host_at(pr, MiB(40), false), h);
    CHECK_EQ(host_at(pr, MiB(40), true), 0);
    CHECK_EQ(host_at(pr, MiB(16), false), 0);
    CHECK_EQ(hc(pc, HC_WIN_ATTACH, 0, 1, MiB(44), HC_ACCESS_R), E(HC_E_EXIST));
    CHECK_EQ(pr->slot_changes, 2);
    CHECK_STR(con_buf, "");
    teardown();
}

static void move_protect(void)
{
    setup(true);
    u64 h = host_at(pr, MiB(16), true);
    CHECK_EQ(hc(pc, HC_WIN_MOVE, 0, 1, MiB(24), 0), 0);
    /* Old range unmapped (and flushed) before the new one is mapped. */
    CHECK_EQ(env_unmaps, 1);
    CHECK_EQ(env_last_unmap_gpa, MiB(16));
    CHECK_EQ(env_maps, 1);
    CHECK_EQ(env_last_map_gpa, MiB(24));
    CHECK_EQ(host_at(pr, MiB(24) + 5, true), h + 5);
    CHECK_EQ(host_at(pr, MiB(16), false), 0);
    /* Same address: nothing changes. */
    CHECK_EQ(hc(pc, HC_WIN_MOVE, 0, 1, MiB(24), 0), 0);
    CHECK_EQ(env_maps + env_unmaps, 2);
    CHECK_EQ(hc(pc, HC_WIN_PROTECT, 0, 1, HC_ACCESS_R, 0), 0);
    CHECK_EQ(host_at(pr, MiB(24), true), 0);
    CHECK_EQ(host_at(pr, MiB(24), false), h);
    CHECK(env_last_map_flags & MEMSLOT_F_RO);
    CHECK_EQ(hc(pc, HC_WIN_PROTECT, 0, 1, HC_ACCESS_RW, 0), 0);
    CHECK_EQ(host_at(pr, MiB(24), true), h);
    CHECK(!(env_last_map_flags & MEMSLOT_F_RO));
    /* A failed map puts the old mapping back: nothing changed. */
    env_map_fail = 1;
    CHECK_EQ(hc(pc, HC_WIN_MOVE, 0, 1, MiB(28), 0), E(HC_E_NOMEM));
    CHECK_EQ(host_at(pr, MiB(24), true), h);
    CHECK_EQ(host_at(pr, MiB(28), false), 0);
    CHECK_EQ(env_last_map_gpa, MiB(24));
    env_map_fail = 1;
    CHECK_EQ(hc(pc, HC_WIN_ATTACH, 1, 1, MiB(20), HC_ACCESS_R), E(HC_E_EXIST));
    CHECK_EQ(hc(pc, HC_WIN_DETACH, 1, 1, 0, 0), 0);
    CHECK_EQ(hc(pc, HC_WIN_ATTACH, 1, 1, MiB(20), HC_ACCESS_R), E(HC_E_NOMEM));
    CHECK_EQ(host_at(pr, MiB(20), false), 0);
    CHECK_EQ(hc(pc, HC_WIN_ATTACH, 1, 1, MiB(20), HC_ACCESS_R), 0);
    CHECK(host_at(pr, MiB(20), false) != 0);
    teardown();
}

static void bad_window_args(void)
{
    setup(true);
    /* No such channel / partition; a partition that is not a member. */
    CHECK_EQ(hc(pc, HC_WIN_DETACH, 2, 1, 0, 0), E(HC_E_NOENT));
    CHECK_EQ(hc(pc, HC_WIN_DETACH, CFG_MAX_CHANNELS, 1, 0, 0), E(HC_E_NOENT));
    CHECK_EQ(hc(pc, HC_WIN_DETACH, ~0ULL, 1, 0, 0), E(HC_E_NOENT));
    CHECK_EQ(hc(pc, HC_WIN_DETACH, 0, 2, 0, 0), E(HC_E_NOENT));
    CHECK_EQ(hc(pc, HC_WIN_DETACH, 0, ~0ULL, 0, 0), E(HC_E_NOENT));
    /* Access values; rw beyond what the configuration gives the member. */
    CHECK_EQ(hc(pc, HC_WIN_PROTECT, 0, 1, 0, 0), E(HC_E_INVAL));
    CHECK_EQ(hc(pc, HC_WIN_PROTECT, 0, 1, 2, 0), E(HC_E_INVAL));
    CHECK_EQ(hc(pc, HC_WIN_PROTECT, 0, 1, 7, 0), E(HC_E_INVAL));
    CHECK_EQ(hc(pc, HC_WIN_PROTECT, 1, 1, HC_ACCESS_RW, 0), E(HC_E_PERM));
    CHECK_EQ(hc(pc, HC_WIN_PROTECT, 1, 1, HC_ACCESS_R, 0), 0); /* unchanged, fine */
    /* Move targets: misaligned, overlapping RAM / the pool / another window,
     * beyond the guest space, over the virtual UART. */
    CHECK_EQ(hc(pc, HC_WIN_MOVE, 0, 1, MiB(24) + 1, 0), E(HC_E_INVAL));
    CHECK_EQ(hc(pc, HC_WIN_MOVE, 0, 1, MiB(24) + 0x800, 0), E(HC_E_INVAL));
    CHECK_EQ(hc(pc, HC_WIN_MOVE, 0, 1, MiB(2) - KiB(4), 0), E(HC_E_BUSY));
    CHECK_EQ(hc(pc, HC_WIN_MOVE, 0, 1, MiB(32) - KiB(8), 0), E(HC_E_BUSY));
    CHECK_EQ(hc(pc, HC_WIN_MOVE, 0, 1, MiB(32) + KiB(60), 0), E(HC_E_BUSY));
    CHECK_EQ(hc(pc, HC_WIN_MOVE, 0, 1, MiB(20) - KiB(4), 0), E(HC_E_BUSY));
    CHECK_EQ(hc(pc, HC_WIN_MOVE, 0, 1, 1ULL << 39, 0), E(HC_E_RANGE));
    CHECK_EQ(hc(pc, HC_WIN_MOVE, 0, 1, (1ULL << 39) - KiB(8), 0), E(HC_E_RANGE));
    CHECK_EQ(hc(pc, HC_WIN_MOVE, 0, 1, ~0ULL & ~0xfffULL, 0), E(HC_E_RANGE));
    CHECK_EQ(hc(pc, HC_WIN_MOVE, 0, 1, 1ULL << 48, 0), E(HC_E_RANGE));
    CHECK_EQ(hc(pc, HC_WIN_MOVE, 0, 1, 0x09000000ULL - KiB(4), 0), E(HC_E_RANGE));
    CHECK_EQ(hc(pc, HC_WIN_DETACH, 0, 1, 0, 0), 0);
    CHECK_EQ(hc(pc, HC_WIN_ATTACH, 0, 1, MiB(24), 0), E(HC_E_INVAL));
    CHECK_EQ(hc(pc, HC_WIN_ATTACH, 0, 1, MiB(24), 5), E(HC_E_INVAL));
    CHECK_EQ(hc(pc, HC_WIN_ATTACH, 0, 1, MiB(1), HC_ACCESS_RW), E(HC_E_BUSY));
    CHECK_EQ(hc(pc, HC_WIN_ATTACH, 0, 1, 1ULL << 40, HC_ACCESS_RW), E(HC_E_RANGE));
    /* A control partition changes its own window like any other. */
    CHECK_EQ(hc(pc, HC_WIN_MOVE, 0, 0, MiB(24), 0), 0);
    CHECK(host_at(pc, MiB(24), true) != 0);
    /* Nothing above reached the tables except the three good calls. */
    CHECK_EQ(env_unmaps, 2);
    CHECK_EQ(env_maps, 1);
    CHECK_STR(con_buf, "");
    teardown();
}

static void pool(void)
{
    setup(true);
    u64 free0 = frames_global()->free_bytes;
    CHECK_EQ(host_at(pr, MiB(32), false), 0); /* starts given back */
    CHECK_EQ(hc(pc, HC_POOL_TAKE, 0, KiB(4), 0, 0), E(HC_E_NOENT)); /* ctl has no pool */
    CHECK_EQ(hc(pr, HC_POOL_TAKE, 0, KiB(16), 0, 0), 0);
    u64 h = host_at(pr, MiB(32), true);
    CHECK(h != 0);
    CHECK_EQ(host_at(pr, MiB(32) + KiB(16), false), 0);
    memset((void *)(uintptr_t)h, 0xa5, KiB(16));
    /* Overlapping takes; bad offsets and sizes. */
    CHECK_EQ(hc(pr, HC_POOL_TAKE, KiB(12), KiB(8), 0, 0), E(HC_E_BUSY));
    CHECK_EQ(hc(pr, HC_POOL_TAKE, 0x800, KiB(4), 0, 0), E(HC_E_INVAL));
    CHECK_EQ(hc(pr, HC_POOL_TAKE, KiB(16), 0x10, 0, 0), E(HC_E_INVAL));
    CHECK_EQ(hc(pr, HC_POOL_TAKE, KiB(16), 0, 0, 0), E(HC_E_INVAL));
    CHECK_EQ(hc(pr, HC_POOL_TAKE, KiB(64), KiB(4), 0, 0), E(HC_E_INVAL));
    CHECK_EQ(hc(pr, HC_POOL_TAKE, KiB(60), KiB(8), 0, 0), E(HC_E_INVAL));
    CHECK_EQ(hc(pr, HC_POOL_TAKE, KiB(4), ~0ULL & ~0xfffULL, 0, 0), E(HC_E_INVAL));
    /* Give back: exactly a taken range. */
    CHECK_EQ(hc(pr, HC_POOL_GIVE, KiB(4), KiB(4), 0, 0), E(HC_E_NOENT));
    CHECK_EQ(hc(pr, HC_POOL_GIVE, 0, KiB(8), 0, 0), E(HC_E_NOENT));
    CHECK_EQ(hc(pr, HC_POOL_GIVE, KiB(16), KiB(4), 0, 0), E(HC_E_NOENT));
    CHECK_EQ(hc(pr, HC_POOL_GIVE, 0, KiB(16), 0, 0), 0);
    CHECK_EQ(env_last_unmap_gpa, MiB(32));
    CHECK_EQ(env_last_unmap_size, KiB(16));
    CHECK_EQ(host_at(pr, MiB(32), false), 0);
    CHECK_EQ(hc(pr, HC_POOL_GIVE, 0, KiB(16), 0, 0), E(HC_E_NOENT));
    /* Taken again: zeroed. */
    CHECK_EQ(hc(pr, HC_POOL_TAKE, 0, KiB(64), 0, 0), 0);
    const u8 *b = (const u8 *)(uintptr_t)host_at(pr, MiB(32), false);
    int nonzero = 0;
    for (u64 i = 0; b && i < KiB(16); i++)
        nonzero += b[i] != 0;
    CHECK(b != NULL);
    CHECK_EQ(nonzero, 0);
    CHECK_EQ(hc(pr, HC_POOL_GIVE, 0, KiB(64), 0, 0), 0);
    /* Many small ranges: the slot limit is an error, not a crash. */
    s64 last = 0;
    u32 taken = 0;
    for (u32 i = 0; i < 16; i++) {
        last = hc(pr, HC_POOL_TAKE, i * KiB(4), KiB(4), 0, 0);
        if (last)
            break;
        taken++;
    }
    CHECK_EQ(last, 0);
    CHECK_EQ(taken, 16);
    for (u32 i = 0; i < taken; i++)
        CHECK_EQ(hc(pr, HC_POOL_GIVE, i * KiB(4), KiB(4), 0, 0), 0);
    CHECK_EQ(frames_global()->free_bytes, free0);
    CHECK_STR(con_buf, "");
    teardown();
}

static void slot_limit(void)
{
    setup(true);
    /* Fill the slot array with pool pages of a larger pool. */
    teardown();
    cfg_reset();
    struct cfg_partition *c = cfg_part("solo", 0, 1);
    cfg_ram(c, 0, MiB(2));
    c->pool_guest = MiB(64);
    c->pool_size = MiB(1);
    if (!partitions_create(&env_cfg, &env_bi)) {
        printf("  partitions_create failed: %s\n", con_buf);
        exit(1);
    }
    struct partition *p = &partitions[0];
    p->arch = &arch_token;
    u32 ok = 0;
    s64 r = 0;
    for (u32 i = 0; i < 256 && r == 0; i++) {
        r = hc(p, HC_POOL_TAKE, i * KiB(4), KiB(4), 0, 0);
        ok += r == 0;
    }
    CHECK_EQ(r, E(HC_E_NOSPC));
    CHECK_EQ(ok, PART_MAX_SLOTS - 1); /* one slot is the RAM */
    p->arch = NULL;
    partitions_destroy();
}

static void doorbells(void)
{
    setup(true);
    unsigned n0 = env_notifies;
    CHECK_EQ(hc(pr, HC_DOORBELL_POLL, 0, 0, 0, 0), 0);
    CHECK_EQ(hc(pc, HC_DOORBELL_RING, 0, 0, 0, 0), 1);
    /* The interrupt: once, for the rung partition and channel. */
    CHECK_EQ(env_notifies - n0, 1);
    CHECK_EQ(env_last_notify_part, pr->index);
    CHECK_EQ(env_last_notify_channel, 0);
    CHECK_EQ(hc(pc, HC_DOORBELL_RING, 0, 0, 0, 0), 1);
    CHECK_EQ(env_notifies - n0, 1); /* pending mask not empty: no second one */
    CHECK_EQ(hc(pr, HC_DOORBELL_POLL, 1, 0, 0, 0), 0);     /* other channel */
    CHECK_EQ(hc(pr, HC_DOORBELL_POLL, 0, 0, 0, 0), 1u << 0); /* member 0 rang */
    CHECK_EQ(hc(pr, HC_DOORBELL_POLL, 0, 0, 0, 0), 0);     /* cleared */
    CHECK_EQ(hc(pc, HC_DOORBELL_POLL, 0, 0, 0, 0), 0);     /* not to itself */
    CHECK_EQ(hc(pc, HC_DOORBELL_RING, 0, 0, 0, 0), 1);     /* polled: notified again */
    CHECK_EQ(env_notifies - n0, 2);
    CHECK_EQ(hc(pr, HC_DOORBELL_POLL, 0, 0, 0, 0), 1u << 0);
    CHECK_EQ(hc(pr, HC_DOORBELL_RING, 1, 0, 0, 0), 1);
    CHECK_EQ(env_notifies - n0, 3);
    CHECK_EQ(env_last_notify_part, pc->index);
    CHECK_EQ(env_last_notify_channel, 1);
    CHECK_EQ(hc(pc, HC_DOORBELL_POLL, 1, 0, 0, 0), 1u << 1);
    CHECK_EQ(hc(pr, HC_DOORBELL_RING, 2, 0, 0, 0), E(HC_E_NOENT));
    CHECK_EQ(hc(pr, HC_DOORBELL_RING, ~0ULL, 0, 0, 0), E(HC_E_NOENT));
    CHECK_EQ(hc(pr, HC_DOORBELL_POLL, 99, 0, 0, 0), E(HC_E_NOENT));
    CHECK_EQ(env_notifies - n0, 3); /* bad calls notify nobody */
    /* A detached member neither rings nor is rung. */
    CHECK_EQ(hc(pc, HC_WIN_DETACH, 0, 1, 0, 0), 0);
    CHECK_EQ(hc(pc, HC_DOORBELL_RING, 0, 0, 0, 0), 0);
    CHECK_EQ(hc(pr, HC_DOORBELL_POLL, 0, 0, 0, 0), E(HC_E_NOENT));
    teardown();
}

static void free_frames_and_stats(void)
{
    setup(true);
    CHECK_EQ(hc(pc, HC_FREE_FRAMES, 0, 0, 0, 0), frames_global()->free_bytes >> 12);
    struct bh_map_stats st0, st1;
    memset(&st0, 0xee, sizeof(st0));
    CHECK_EQ(hc(pc, HC_MAP_STATS, 1, 0x1000, sizeof(st0), 0), sizeof(st0));
    CHECK(guest_read(pc, 0x1000, &st0, sizeof(st0)));
    CHECK_EQ(st0.changes, 0);
    CHECK_EQ(st0.tick_hz, 1000);
    CHECK_EQ(hc(pc, HC_WIN_PROTECT, 0, 1, HC_ACCESS_R, 0), 0);
    CHECK_EQ(hc(pc, HC_MAP_STATS, 1, 0x1000, 4096, 0), sizeof(st1)); /* bigger: clipped */
    CHECK(guest_read(pc, 0x1000, &st1, sizeof(st1)));
    CHECK_EQ(st1.changes, 1);
    CHECK_EQ(st1.grace_periods - st0.grace_periods, 2); /* the slot-less set, then the new one */
    CHECK_EQ(st1.gp_ticks - st0.gp_ticks, 20);
    CHECK(st1.change_ticks > st1.gp_ticks - st0.gp_ticks);
    CHECK_EQ(st1.unmap_ticks - st0.unmap_ticks, 10); /* one unmap */
    /* Bad arguments. */
    CHECK_EQ(hc(pc, HC_MAP_STATS, 2, 0x1000, sizeof(st0), 0), E(HC_E_NOENT));
    CHECK_EQ(hc(pc, HC_MAP_STATS, 1, 0x1000, BH_MAP_STATS_V1_SIZE - 1, 0), E(HC_E_INVAL));
    /* A version-1 buffer (48 bytes) gets exactly those: the kick counters
     * after it stay untouched. */
    memset(&st1, 0xee, sizeof(st1));
    CHECK(guest_write(pc, 0x1000, &st1, sizeof(st1)));
    CHECK_EQ(hc(pc, HC_MAP_STATS, 1, 0x1000, BH_MAP_STATS_V1_SIZE, 0), BH_MAP_STATS_V1_SIZE);
    CHECK(guest_read(pc, 0x1000, &st1, sizeof(st1)));
    CHECK_EQ(st1.changes, 1);
    CHECK_EQ(st1.kick_requests, 0xeeeeeeeeeeeeeeeeULL);
    CHECK_EQ(hc(pc, HC_MAP_STATS, 1, MiB(2) - 8, sizeof(st0), 0), E(HC_E_FAULT));
    CHECK_EQ(hc(pc, HC_MAP_STATS, 1, MiB(3), sizeof(st0), 0), E(HC_E_FAULT)); /* a gap */
    CHECK_EQ(hc(pr, HC_MAP_STATS, 1, 0x1000, sizeof(st0), 0), E(HC_E_PERM));
    teardown();
}

int main(void)
{
    env_init();
    RUN(needs_control);
    RUN(detach_attach);
    RUN(move_protect);
    RUN(bad_window_args);
    RUN(pool);
    RUN(slot_limit);
    RUN(doorbells);
    RUN(free_frames_and_stats);
    env_fini();
    return CHECK_DONE();
}
