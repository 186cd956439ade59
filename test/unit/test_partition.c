/* Partitions: creation and destruction (RAM regions, shared channels,
 * fixed host addresses, memslots, frames given back), cleanup after failures,
 * guest memory access at every boundary, the guest console, the fault
 * policy, shutdown and the end of the hypervisor. */
#include "test_partition_env.h"

/* Fill every free frame so that zeroing by partitions_create shows. */
static void dirty_free_frames(void)
{
    for (u32 i = 0; i < env_fa.n; i++)
        memset((void *)(uintptr_t)env_fa.r[i].base, 0xaa, env_fa.r[i].end - env_fa.r[i].base);
}

static bool all_zero(u64 hpa, u64 size)
{
    const u8 *p = (const u8 *)(uintptr_t)hpa;
    for (u64 i = 0; i < size; i++)
        if (p[i])
            return false;
    return true;
}

static const struct memslot *slot_by_id(struct partition *p, u32 id)
{
    const struct memslot_set *s = memslot_current(&p->mem);
    for (u32 i = 0; s && i < s->nr; i++)
        if (s->slot[i].id == id)
            return &s->slot[i];
    return NULL;
}

static void check_slot(struct partition *p, const struct part_region *r, u32 flags)
{
    const struct memslot *m = slot_by_id(p, r->slot_id);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_EQ(m->gfn << PAGE_SHIFT, r->gpa);
    CHECK_EQ(m->npages << PAGE_SHIFT, r->size);
    CHECK_EQ(m->hfn << PAGE_SHIFT, r->hpa);
    CHECK_EQ(m->flags, flags);
}

static void create_one_partition(void)
{
    cfg_reset();
    struct cfg_partition *a = cfg_part("alpha", 2, 2);
    cfg_ram(a, 0, MiB(4));
    cfg_ram(a, 0x10000000, 0x3000);
    snprintf(a->ramdisk, sizeof(a->ramdisk), "initrd");
    dirty_free_frames();
    u64 free0 = env_fa.free_bytes;
    con_clear();

    CHECK(partitions_create(&env_cfg, &env_bi));
    CHECK_STR(con_buf, "");
    CHECK_EQ(npartitions, 1);
    CHECK_EQ(partitions_running(), 1);
    struct partition *p = &partitions[0];
    CHECK_EQ(p->index, 0);
    CHECK_STR(p->name, "alpha");
    CHECK(p->cfg == &env_cfg.partitions[0]);
    CHECK_EQ(p->state, PART_CREATED);
    CHECK(p->kernel == &env_bi.mod[0]);
    CHECK(p->ramdisk == &env_bi.mod[1]);
    CHECK_EQ(p->nregions, 2);
    CHECK_EQ(p->ram_bytes, MiB(4) + 0x3000);
    CHECK_EQ(env_fa.free_bytes, free0 - MiB(4) - 0x3000);

    struct part_region *r0 = find_region(p, 0), *r1 = find_region(p, 0x10000000);
    CHECK(r0 && r1);
    if (r0 && r1) {
        CHECK_EQ(r0->kind, PART_RAM);
        CHECK_EQ(r0->size, MiB(4));
        CHECK(r0->owned && r0->writable);
        CHECK_EQ(r0->hpa % MiB(2), 0);      /* a multiple of 2 MiB: 2 MiB aligned */
        CHECK(in_env_mem(r0->hpa, r0->size));
        CHECK(all_zero(r0->hpa, r0->size));
        CHECK_EQ(r1->kind, PART_RAM);
        CHECK_EQ(r1->size, 0x3000);
        CHECK(r1->owned && r1->writable);
        CHECK_EQ(r1->hpa % PAGE_SIZE, 0);
        CHECK(in_env_mem(r1->hpa, r1->size));
        CHECK(all_zero(r1->hpa, r1->size));
        CHECK(r1->hpa + r1->size <= r0->hpa || r0->hpa + r0->size <= r1->hpa);
        CHECK(r0->slot_id != r1->slot_id);
        check_slot(p, r0, MEMSLOT_F_EXEC);
        check_slot(p, r1, MEMSLOT_F_EXEC);
    }
    const struct memslot_set *s = memslot_current(&p->mem);
    CHECK(s && s->nr == 2);
    CHECK(p->mem.epoch == hv_epoch());

    u32 v = 99;
    CHECK(partition_of_cpu(2, &v) == p);
    CHECK_EQ(v, 0);
    CHECK(partition_of_cpu(3, &v) == p);
    CHECK_EQ(v, 1);
    v = 99;
    CHECK(partition_of_cpu(0, &v) == NULL);
    CHECK(partition_of_cpu(4, &v) == NULL);
    CHECK_EQ(v, 99);

    /* A second create while partitions exist is refused, changes nothing. */
    con_clear();
    CHECK(!partitions_create(&env_cfg, &env_bi));
    CHECK_STR(con_buf, "partitions: already created\n");
    CHECK_EQ(npartitions, 1);

    partitions_destroy();
    CHECK_EQ(npartitions, 0);
    CHECK_EQ(partitions_running(), 0);
    CHECK_EQ(env_fa.free_bytes, free0);
    /* Again: nothing leaks over cycles. */
    for (int i = 0; i < 3; i++) {
        CHECK(partitions_create(&env_cfg, &env_bi));
        partitions_destroy();
    }
    CHECK_EQ(env_fa.free_bytes, free0);
}

static void two_partitions_and_channels(void)
{
    cfg_reset();
    struct cfg_partition *a = cfg_part("a", 0, 1);
    cfg_ram(a, 0, MiB(2));
    struct cfg_partition *b = cfg_part("b", 1, 3);
    cfg_ram(b, MiB(16), MiB(2));
    struct cfg_channel *ring = cfg_chan("ring", KiB(64));
    cfg_member(ring, 0, 0x8000000, CFG_ACCESS_RW);
    cfg_member(ring, 1, 0x9000000, CFG_ACCESS_R);
    struct cfg_channel *pinned = cfg_chan("pinned", MiB(2));
    pinned->fixed = true;
    pinned->host = fixed_addr(MiB(2));
    cfg_member(pinned, 1, 0xa000000, CFG_ACCESS_RW);
    cfg_member(pinned, 0, 0xb000000, CFG_ACCESS_R);
    memset(env_fixed + MiB(2), 0x77, MiB(2));
    dirty_free_frames();
    u64 free0 = env_fa.free_bytes;
    con_clear();

    CHECK(partitions_create(&env_cfg, &env_bi));
    CHECK_STR(con_buf, "");
    CHECK_EQ(npartitions, 2);
    CHECK_EQ(partitions_running(), 2);
    CHECK_EQ(env_fa.free_bytes, free0 - 2 * MiB(2) - KiB(64) - MiB(2)); /* + the pinned channel */
    struct partition *pa = &partitions[0], *pb = &partitions[1];
    CHECK_EQ(pa->nregions, 3);
    CHECK_EQ(pb->nregions, 3);
    CHECK_EQ(pa->ram_bytes, MiB(2));
    CHECK_EQ(pb->ram_bytes, MiB(2));

    struct part_region *ra = find_region(pa, 0), *rb = find_region(pb, MiB(16));
    struct part_region *ca = find_region(pa, 0x8000000), *cb = find_region(pb, 0x9000000);
    struct part_region *fa_ = find_region(pa, 0xb000000), *fb = find_region(pb, 0xa000000);
    CHECK(ra && rb && ca && cb && fa_ && fb);
    if (!(ra && rb && ca && cb && fa_ && fb)) {
        partitions_destroy();
        return;
    }
    CHECK(ra->hpa != rb->hpa);
    CHECK(ra->hpa + ra->size <= rb->hpa || rb->hpa + rb->size <= ra->hpa);
    CHECK_EQ(ca->kind, PART_CHANNEL);
    CHECK_EQ(cb->kind, PART_CHANNEL);
    CHECK_EQ(ca->channel, 0);
    CHECK_EQ(cb->channel, 0);
    CHECK_EQ(ca->hpa, cb->hpa);
    CHECK(in_env_mem(ca->hpa, KiB(64)));
    CHECK(all_zero(ca->hpa, KiB(64)));
    CHECK_EQ(ca->size, KiB(64));
    CHECK(ca->writable);
    CHECK(!cb->writable);
    CHECK(!ca->owned && !cb->owned);
    check_slot(pa, ra, MEMSLOT_F_EXEC);
    check_slot(pb, rb, MEMSLOT_F_EXEC);
    check_slot(pa, ca, MEMSLOT_F_SHARED);
    check_slot(pb, cb, MEMSLOT_F_SHARED | MEMSLOT_F_RO);
    /* The pinned channel: its fixed host address, zeroed, not from the allocator. */
    CHECK_EQ(fb->hpa, fixed_addr(MiB(2)));
    CHECK_EQ(fa_->hpa, fixed_addr(MiB(2)));
    CHECK_EQ(fa_->channel, 1);
    CHECK(all_zero(fb->hpa, MiB(2)));
    check_slot(pb, fb, MEMSLOT_F_SHARED);
    check_slot(pa, fa_, MEMSLOT_F_SHARED | MEMSLOT_F_RO);

    /* What one member writes the other reads; the read-only member cannot write. */
    CHECK(guest_write(pa, 0x8000010, "hello", 6));
    char buf[8] = "";
    CHECK(guest_read(pb, 0x9000010, buf, 6));
    CHECK_STR(buf, "hello");
    CHECK(!guest_write(pb, 0x9000010, "x", 1));
    CHECK(guest_write(pb, 0xa000000 + MiB(2) - 3, "pq", 3));
    CHECK(guest_read(pa, 0xb000000 + MiB(2) - 3, buf, 3));
    CHECK_STR(buf, "pq");
    CHECK(!guest_write(pa, 0xb000000, "x", 1));
    /* A partition's RAM is not visible at the other's addresses. */
    CHECK(guest_ptr(pb, 0, 1, false) == NULL);
    CHECK(guest_ptr(pa, MiB(16), 1, false) == NULL);

    u32 v = 99;
    CHECK(partition_of_cpu(0, &v) == pa);
    CHECK_EQ(v, 0);
    CHECK(partition_of_cpu(3, &v) == pb);
    CHECK_EQ(v, 2);
    CHECK(partition_of_cpu(4, &v) == NULL);

    partitions_destroy();
    CHECK_EQ(env_fa.free_bytes, free0);
}

static void fixed_ram(void)
{
    cfg_reset();
    struct cfg_partition *a = cfg_part("pinned", 0, 1);
    struct cfg_region *r = cfg_ram(a, MiB(1), MiB(2));
    r->fixed = true;
    r->host = fixed_addr(0);
    cfg_ram(a, MiB(8), MiB(1));
    memset(env_fixed, 0x55, MiB(2));
    u64 free0 = env_fa.free_bytes;

    CHECK(partitions_create(&env_cfg, &env_bi));
    struct partition *p = &partitions[0];
    struct part_region *f = find_region(p, MiB(1)), *o = find_region(p, MiB(8));
    CHECK(f && o);
    if (f && o) {
        CHECK_EQ(f->hpa, fixed_addr(0));
        CHECK(f->owned); /* claimed from the allocator, given back on destroy */
        CHECK(all_zero(f->hpa, MiB(2)));
        check_slot(p, f, MEMSLOT_F_EXEC);
        CHECK(o->owned);
        CHECK_EQ(o->hpa % PAGE_SIZE, 0);
    }
    CHECK_EQ(p->ram_bytes, MiB(3));
    CHECK_EQ(env_fa.free_bytes, free0 - MiB(1) - MiB(2));
    CHECK(guest_ptr(p, MiB(1) + 5, 1, true) == (void *)(env_fixed + 5));
    partitions_destroy();
    CHECK_EQ(env_fa.free_bytes, free0);

    /* A pinned range that overlaps memory already handed out is refused. */
    cfg_reset();
    u64 used = frame_alloc(1);
    struct cfg_partition *b = cfg_part("alias", 0, 1);
    struct cfg_region *rb = cfg_ram(b, 0, MiB(2));
    rb->fixed = true;
    rb->host = ALIGN_DOWN(used, MiB(2));
    free0 = env_fa.free_bytes;
    con_clear();
    CHECK(!partitions_create(&env_cfg, &env_bi));
    CHECK_CONTAINS(con_buf, "partition alias: memory region 0 (guest 0x0, size 0x200000): host-address");
    CHECK_CONTAINS(con_buf, "is not entirely free memory");
    CHECK_EQ(env_fa.free_bytes, free0);
    CHECK_EQ(npartitions, 0);
    frame_free(used, 1);
}

/* Leave only `left` bytes (one contiguous 2 MiB aligned tail) free. */
static u64 squeeze(u64 left, u64 *npages)
{
    *npages = (env_fa.free_bytes - left) >> PAGE_SHIFT;
    u64 a = frame_alloc_range(&env_fa, *npages, PAGE_SIZE, 0);
    if (!a)
        printf("  squeeze failed\n");
    return a;
}

static void allocation_failure_cleanup(void)
{
    u64 n, chunk = squeeze(MiB(5), &n);
    CHECK(chunk != 0);
    u64 free0 = env_fa.free_bytes;

    /* The third RAM region does not fit. */
    cfg_reset();
    struct cfg_partition *a = cfg_part("first", 0, 1);
    cfg_ram(a, 0, MiB(2));
    struct cfg_partition *b = cfg_part("second", 1, 1);
    cfg_ram(b, 0, MiB(2));
    cfg_ram(b, 0x40000000, MiB(4));
    struct cfg_channel *c = cfg_chan("ring", KiB(4));
    cfg_member(c, 0, MiB(4), CFG_ACCESS_RW);
    cfg_member(c, 1, MiB(4), CFG_ACCESS_RW);
    con_clear();
    CHECK(!partitions_create(&env_cfg, &env_bi));
    CHECK_STR(con_buf, "partition second: memory region 1 (guest 0x40000000, size 0x400000): "
                       "out of memory\n");
    CHECK_EQ(npartitions, 0);
    CHECK_EQ(partitions_running(), 0);
    CHECK_EQ(env_fa.free_bytes, free0);

    /* RAM fits, the channel does not. */
    env_cfg.partitions[1].nregions = 1;
    c->size = MiB(2);
    con_clear();
    CHECK(!partitions_create(&env_cfg, &env_bi));
    CHECK_STR(con_buf, "channel ring (size 0x200000): out of memory\n");
    CHECK_EQ(npartitions, 0);
    CHECK_EQ(env_fa.free_bytes, free0);

    /* Smaller channel: everything fits, and goes back. */
    c->size = KiB(4);
    con_clear();
    CHECK(partitions_create(&env_cfg, &env_bi));
    CHECK_STR(con_buf, "");
    CHECK_EQ(env_fa.free_bytes, free0 - MiB(4) - KiB(4));
    partitions_destroy();
    CHECK_EQ(env_fa.free_bytes, free0);

    CHECK(frame_free_range(&env_fa, chunk, n));
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void memslot_failure_cleanup(void)
{
    u64 free0 = env_fa.free_bytes;

    /* Overlapping guest ranges (the validator refuses these; the core still
     * must not leave anything behind). */
    cfg_reset();
    struct cfg_partition *a = cfg_part("ovl", 0, 1);
    cfg_ram(a, 0, MiB(2));
    cfg_ram(a, MiB(1), MiB(2));
    con_clear();
    CHECK(!partitions_create(&env_cfg, &env_bi));
    CHECK(starts_with(con_buf, "partition ovl: memory region 1 (guest 0x100000, size 0x200000, "
                               "host 0x"));
    CHECK(strstr(con_buf, "): memslot: range overlaps another slot\n") != NULL);
    CHECK(strchr(con_buf, '\n') == con_buf + strlen(con_buf) - 1); /* one line */
    CHECK_EQ(npartitions, 0);
    CHECK_EQ(env_fa.free_bytes, free0);

    /* Misaligned size. */
    env_cfg.partitions[0].regions[1].guest = MiB(4);
    env_cfg.partitions[0].regions[1].size = 0x1800;
    con_clear();
    CHECK(!partitions_create(&env_cfg, &env_bi));
    CHECK_CONTAINS(con_buf, "partition ovl: memory region 1 (guest 0x400000, size 0x1800, host 0x");
    CHECK_CONTAINS(con_buf, "memslot: address or size not page aligned\n");
    CHECK_EQ(env_fa.free_bytes, free0);

    /* A channel window over a member's RAM. */
    cfg_reset();
    a = cfg_part("a", 0, 1);
    cfg_ram(a, 0, MiB(2));
    struct cfg_partition *b = cfg_part("b", 1, 1);
    cfg_ram(b, 0, MiB(2));
    struct cfg_channel *c = cfg_chan("ring", KiB(8));
    cfg_member(c, 0, MiB(2), CFG_ACCESS_RW);
    cfg_member(c, 1, KiB(8), CFG_ACCESS_R);
    con_clear();
    CHECK(!partitions_create(&env_cfg, &env_bi));
    CHECK(starts_with(con_buf, "partition b: channel ring (guest 0x2000, size 0x2000, host 0x"));
    CHECK_CONTAINS(con_buf, "): memslot: range overlaps another slot\n");
    CHECK_EQ(npartitions, 0);
    CHECK_EQ(env_fa.free_bytes, free0);

    /* A kernel module that is not there. */
    cfg_reset();
    a = cfg_part("a", 0, 1);
    cfg_ram(a, 0, MiB(2));
    b = cfg_part("b", 1, 1);
    cfg_ram(b, 0, MiB(2));
    snprintf(b->kernel, sizeof(b->kernel), "nothere");
    con_clear();
    CHECK(!partitions_create(&env_cfg, &env_bi));
    CHECK_STR(con_buf, "partition b: kernel module \"nothere\" not found\n");
    CHECK_EQ(env_fa.free_bytes, free0);
    snprintf(b->kernel, sizeof(b->kernel), "kernel");
    snprintf(b->ramdisk, sizeof(b->ramdisk), "nord");
    con_clear();
    CHECK(!partitions_create(&env_cfg, &env_bi));
    CHECK_STR(con_buf, "partition b: ramdisk module \"nord\" not found\n");
    CHECK_EQ(env_fa.free_bytes, free0);
    CHECK_EQ(npartitions, 0);
}

static void guest_access_boundaries(void)
{
    cfg_reset();
    struct cfg_partition *a = cfg_part("a", 0, 1);
    cfg_ram(a, 0, MiB(2));
    cfg_ram(a, MiB(2), MiB(1));         /* adjacent to the first */
    cfg_ram(a, 0x1000000, KiB(64));     /* after a gap */
    struct cfg_partition *b = cfg_part("b", 1, 1);
    cfg_ram(b, 0, MiB(2));
    struct cfg_channel *c = cfg_chan("ro", KiB(4));
    cfg_member(c, 0, 0x2000000, CFG_ACCESS_R);
    cfg_member(c, 1, 0x2000000, CFG_ACCESS_RW);
    CHECK(partitions_create(&env_cfg, &env_bi));
    struct partition *p = &partitions[0], *q = &partitions[1];
    struct part_region *r0 = find_region(p, 0);
    CHECK(r0 != NULL);
    if (!r0) {
        partitions_destroy();
        return;
    }
    con_clear();

    char buf[16];
    /* Inside, first and last byte of a slot, whole slot. */
    CHECK(guest_write(p, 0x100, "abc", 4));
    CHECK(guest_read(p, 0x100, buf, 4));
    CHECK_STR(buf, "abc");
    CHECK(guest_ptr(p, 0x1234, 1, false) == (void *)(uintptr_t)(r0->hpa + 0x1234));
    CHECK(guest_ptr(p, 0, 1, true) != NULL);
    CHECK(guest_write(p, MiB(2) - 1, "z", 1));
    CHECK(guest_ptr(p, MiB(2) - 4, 4, true) == (void *)(uintptr_t)(r0->hpa + MiB(2) - 4));
    CHECK(guest_ptr(p, 0, MiB(2), true) != NULL);
    CHECK(guest_ptr(p, 0, MiB(2) + 1, false) == NULL);
    CHECK(guest_ptr(p, MiB(3) - 1, 1, true) != NULL);
    CHECK(guest_ptr(p, 0x1000000 + KiB(64) - 8, 8, true) != NULL);
    /* Crossing into the adjacent slot is refused. */
    CHECK(guest_ptr(p, MiB(2) - 2, 4, false) == NULL);
    memset(buf, 0x11, sizeof(buf));
    CHECK(!guest_read(p, MiB(2) - 2, buf, 4));
    CHECK_EQ((u8)buf[0], 0x11); /* a refused read leaves dst alone */
    CHECK(!guest_write(p, MiB(2) - 2, "abcd", 4));
    /* Crossing the end into the gap; the gap itself. */
    CHECK(guest_ptr(p, MiB(3) - 2, 4, false) == NULL);
    CHECK(guest_ptr(p, 0x1000000 + KiB(64) - 8, 9, false) == NULL);
    CHECK(guest_ptr(p, MiB(3), 1, false) == NULL);
    CHECK(guest_ptr(p, 0x1000000 - 1, 2, false) == NULL);
    CHECK(guest_ptr(p, 0x1000000 - 1, 1, false) == NULL);
    CHECK(!guest_read(p, MiB(5), buf, 1));
    /* Length 0: fine at a valid address, refused in a gap. */
    CHECK(guest_ptr(p, 0x100, 0, true) != NULL);
    CHECK(guest_ptr(p, MiB(3), 0, false) == NULL);
    CHECK(guest_read(p, MiB(2) - 1, buf, 0));
    /* Wrapping and far-away addresses. */
    CHECK(guest_ptr(p, UINT64_MAX - 1, 4, false) == NULL);
    CHECK(guest_ptr(p, UINT64_MAX, 1, false) == NULL);
    CHECK(guest_ptr(p, 0x100, UINT64_MAX, false) == NULL);
    CHECK(guest_ptr(p, 0x100, 0 - (u64)0x100, false) == NULL); /* ends exactly at 2^64 */
    CHECK(guest_ptr(p, 0x100, 0 - (u64)0xf0, false) == NULL);  /* wraps to 0x10 */
    CHECK(guest_ptr(p, 1ULL << 63, 1, false) == NULL);
    CHECK(guest_ptr(p, 0x1000000 + (1ULL << 52), 1, false) == NULL);
    /* Read-only channel: reads fine, writes refused; the other member writes. */
    CHECK(guest_write(q, 0x2000000 + 100, "shared", 7));
    CHECK(guest_read(p, 0x2000000 + 100, buf, 7));
    CHECK_STR(buf, "shared");
    CHECK(!guest_write(p, 0x2000000 + 100, "x", 1));
    CHECK(guest_ptr(p, 0x2000000, 0, true) == NULL);
    CHECK(guest_ptr(p, 0x2000000, KiB(4), false) != NULL);
    CHECK(guest_ptr(p, 0x2000000, KiB(4) + 1, false) == NULL);
    CHECK_STR(buf, "shared");
    /* The reads above ran in read-side sections on an ACTIVE CPU. */
    CHECK_STR(con_buf, "");

    /* Fresh start: RAM zeroed, the channel kept. */
    partition_reset_memory(p);
    CHECK(all_zero(r0->hpa, MiB(2)));
    CHECK(guest_read(p, 0x100, buf, 4));
    CHECK_EQ(buf[0], 0);
    CHECK(guest_read(p, MiB(2) - 1, buf, 1));
    CHECK_EQ(buf[0], 0);
    CHECK(guest_read(p, 0x2000000 + 100, buf, 7));
    CHECK_STR(buf, "shared");
    partitions_destroy();
}

/* ---- console */

static void console_lines(void)
{
    cfg_reset();
    struct cfg_partition *a = cfg_part("web", 0, 1);
    cfg_ram(a, 0, MiB(2));
    struct cfg_partition *b = cfg_part("rtos", 1, 1);
    cfg_ram(b, 0, MiB(2));
    CHECK(partitions_create(&env_cfg, &env_bi));
    struct partition *p = &partitions[0], *q = &partitions[1];

    con_clear();
    partition_console_write(p, "hello\n", 6);
    CHECK_STR(con_buf, "[web] hello\n");

    con_clear();
    partition_console_write(p, "a\r\nb\n", 5);
    CHECK_STR(con_buf, "[web] a\n[web] b\n");

    /* Partial lines from two partitions do not mix. */
    con_clear();
    partition_console_write(p, "one", 3);
    partition_console_write(q, "two\n", 4);
    partition_console_putc(p, ' ');
    partition_console_write(p, "more\n", 5);
    CHECK_STR(con_buf, "[rtos] two\n[web] one more\n");

    /* Control characters become '?', tab stays; no escape sequence gets
     * through (ESC, BEL, NUL, DEL, 8-bit CSI, other bytes >= 0x80). */
    con_clear();
    static const char ctl[] = "x\x1b[31mred\a\ttab\x7f\x9b" "2J\0end\xc3\xa9\n";
    partition_console_write(p, ctl, sizeof(ctl) - 1);
    CHECK_STR(con_buf, "[web] x?[31mred?\ttab??2J?end??\n");

    /* Empty line. */
    con_clear();
    partition_console_putc(p, '\n');
    CHECK_STR(con_buf, "[web]\n");

    /* Long lines are split at PART_CON_LINE characters. */
    char longl[2 * PART_CON_LINE + 51];
    memset(longl, 'a', sizeof(longl) - 1);
    longl[PART_CON_LINE - 1] = 'B';         /* last of the first piece */
    longl[PART_CON_LINE] = 'C';             /* first of the second */
    longl[sizeof(longl) - 1] = '\n';
    con_clear();
    partition_console_write(p, longl, sizeof(longl));
    char want[3 * PART_CON_LINE];
    int n = snprintf(want, sizeof(want), "[web] %.*s\n[web] %.*s\n[web] %.*s\n", PART_CON_LINE,
                     longl, PART_CON_LINE, longl + PART_CON_LINE, 50, longl + 2 * PART_CON_LINE);
    CHECK(n > 0 && n < (int)sizeof(want));
    CHECK_STR(con_buf, want);
    /* Exactly a full line, then '\n': one line, no empty line after it. */
    con_clear();
    partition_console_write(p, longl, PART_CON_LINE);
    partition_console_putc(p, '\n');
    partition_console_write(p, "next\n", 5);
    snprintf(want, sizeof(want), "[web] %.*s\n[web] next\n", PART_CON_LINE, longl);
    CHECK_STR(con_buf, want);
    /* But a second '\n' is an empty line. */
    con_clear();
    partition_console_write(p, longl, PART_CON_LINE);
    partition_console_write(p, "\n\n", 2);
    snprintf(want, sizeof(want), "[web] %.*s\n[web]\n", PART_CON_LINE, longl);
    CHECK_STR(con_buf, want);

    /* Explicit flush prints a pending partial line once. */
    con_clear();
    partition_console_write(p, "partial", 7);
    CHECK_STR(con_buf, "");
    partition_console_flush(p);
    partition_console_flush(p);
    CHECK_STR(con_buf, "[web] partial\n");

    /* Console off: nothing printed, bytes counted. */
    env_cfg.partitions[1].console = false;
    con_clear();
    partition_console_write(q, "secret\n", 7);
    partition_console_flush(q);
    CHECK_STR(con_buf, "");
    CHECK_EQ(q->con_dropped, 7);
    CHECK_EQ(p->con_dropped, 0);

    /* console-prefix off: the text alone. */
    env_cfg.console_prefix = false;
    con_clear();
    partition_console_write(p, "plain\n", 6);
    CHECK_STR(con_buf, "plain\n");
    env_cfg.console_prefix = true;
    partitions_destroy();
}

/* ---- fault policy, shutdown, the end */

static void fault_halt(void)
{
    cfg_reset();
    struct cfg_partition *a = cfg_part("probe", 0, 1);
    cfg_ram(a, 0, MiB(2));
    struct cfg_partition *b = cfg_part("beat", 1, 1);
    cfg_ram(b, 0, MiB(2));
    CHECK(partitions_create(&env_cfg, &env_bi));
    struct partition *p = &partitions[0];
    p->state = PART_RUNNING;
    partitions[1].state = PART_RUNNING;

    con_clear();
    partition_console_write(p, "about to", 8);
    CHECK_EQ(partition_fault(p, "EPT violation (write)", 0x1234, 0x40000000, true), PART_ACT_STOP);
    CHECK_STR(con_buf, "[probe] about to\n"
                       "partition probe: fault: EPT violation (write), rip 0x1234, gpa 0x40000000\n"
                       "partition probe: halted (fault policy: halt)\n");
    CHECK_EQ(p->state, PART_HALTED);
    CHECK_EQ(p->restarts, 0);
    /* A second vCPU faulting afterwards: reported, stopped, no policy line. */
    con_clear();
    CHECK_EQ(partition_fault(p, "triple fault", 0, 0, false), PART_ACT_STOP);
    CHECK_STR(con_buf, "partition probe: fault: triple fault, rip 0x0\n");
    con_clear();
    partition_stopped(p);
    CHECK_EQ(partitions_running(), 1);
    CHECK_EQ(partitions[1].state, PART_RUNNING);
    CHECK_STR(con_buf, "");
    partitions_destroy();
}

static void fault_restart_limit(void)
{
    cfg_reset();
    struct cfg_partition *a = cfg_part("tf", 0, 1);
    cfg_ram(a, 0, MiB(2));
    a->fault = CFG_FAULT_RESTART;
    a->restart_limit = 3;
    cfg_part("other", 1, 1);
    cfg_ram(&env_cfg.partitions[1], 0, MiB(2));
    CHECK(partitions_create(&env_cfg, &env_bi));
    struct partition *p = &partitions[0];
    p->state = PART_RUNNING;

    for (u32 i = 1; i <= 3; i++) {
        con_clear();
        CHECK_EQ(partition_fault(p, "triple fault", 0xfff0, 0, false), PART_ACT_RESTART);
        char want[200];
        snprintf(want, sizeof(want),
                 "partition tf: fault: triple fault, rip 0xfff0\n"
                 "partition tf: restarting (restart %u of 3)\n", i);
        CHECK_STR(con_buf, want);
        CHECK_EQ(p->restarts, i);
        CHECK_EQ(p->state, PART_RUNNING);
    }
    con_clear();
    CHECK_EQ(partition_fault(p, "triple fault", 0xfff0, 0x1000, true), PART_ACT_STOP);
    CHECK_STR(con_buf, "partition tf: fault: triple fault, rip 0xfff0, gpa 0x1000\n"
                       "partition tf: halted: restart limit 3 reached\n");
    CHECK_EQ(p->restarts, 3);
    CHECK_EQ(p->state, PART_HALTED);
    CHECK_EQ(partitions_running(), 2); /* until the arch says it stopped */
    partition_stopped(p);
    CHECK_EQ(partitions_running(), 1);
    partitions_destroy();
}

static void shutdown_and_end(void)
{
    cfg_reset();
    struct cfg_partition *a = cfg_part("a", 0, 1);
    cfg_ram(a, 0, MiB(2));
    struct cfg_partition *b = cfg_part("b", 1, 1);
    cfg_ram(b, 0, MiB(2));
    CHECK(partitions_create(&env_cfg, &env_bi));
    struct partition *p = &partitions[0], *q = &partitions[1];
    p->state = q->state = PART_RUNNING;
    hv_end_calls = 0;

    con_clear();
    partition_console_write(p, "bye", 3);
    partition_shutdown(p, 7);
    CHECK_STR(con_buf, "[a] bye\npartition a: shut down by the guest, exit code 7\n");
    CHECK_EQ(p->state, PART_SHUTDOWN);
    CHECK_EQ(p->exit_code, 7);
    partition_stopped(p);
    CHECK_EQ(partitions_running(), 1);
    partition_stopped(p); /* counted once */
    CHECK_EQ(partitions_running(), 1);
    CHECK_EQ(p->state, PART_SHUTDOWN);
    CHECK_EQ(hv_end_calls, 0);

    con_clear();
    CHECK_EQ(partition_fault(q, "unhandled exit 48", 0x100, 0, false), PART_ACT_STOP);
    partition_console_write(q, "unfinished", 10);
    hv_end_armed = true;
    if (setjmp(hv_end_jmp) == 0) {
        partition_stopped(q);
        CHECK(!"hv_end was not called");
    }
    hv_end_armed = false;
    CHECK_EQ(hv_end_calls, 1);
    CHECK_STR(hv_end_why, "all partitions have stopped");
    CHECK_EQ(partitions_running(), 0);
    CHECK_CONTAINS(con_buf, "partition b: halted (fault policy: halt)\n[b] unfinished\n");
    partitions_destroy();
}

/* A partition the arch stops without a fault or shutdown (e.g. a bad image)
 * ends up halted and counted. */
static void stopped_without_reason(void)
{
    cfg_reset();
    struct cfg_partition *a = cfg_part("a", 0, 1);
    cfg_ram(a, 0, MiB(2));
    struct cfg_partition *b = cfg_part("b", 1, 1);
    cfg_ram(b, 0, MiB(2));
    CHECK(partitions_create(&env_cfg, &env_bi));
    partition_stopped(&partitions[1]);
    CHECK_EQ(partitions[1].state, PART_HALTED);
    CHECK_EQ(partitions[0].state, PART_CREATED);
    CHECK_EQ(partitions_running(), 1);
    partitions_destroy();
}

/* Pass-through MMIO becomes a device memslot (never executable, not reachable
 * through guest_ptr); whether the arch wires it is arch_partition_prepare's
 * call (x86_64 refuses, arm64 maps it). */
static void passthrough_slots(void)
{
    cfg_reset();
    struct cfg_partition *a = cfg_part("dev", 0, 1);
    cfg_ram(a, 0, MiB(2));
    a->nmmio = 1;
    a->mmio[0] = (struct cfg_mmio){ 0x10000000, 0x20000000, 0x2000, 0 };
    a->nirqs = 1;
    a->irqs[0] = 40;
    u64 free0 = env_fa.free_bytes;
    CHECK(partitions_create(&env_cfg, &env_bi));
    struct partition *p = &partitions[0];
    const struct memslot_set *set = memslot_current(&p->mem);
    CHECK(set != NULL);
    const struct memslot *m = set ? memslot_set_find(set, 0x20001000ULL >> 12) : NULL;
    CHECK(m != NULL);
    if (m) {
        CHECK_EQ(m->hfn, 0x10000000ULL >> 12);
        CHECK_EQ(m->npages, 2);
        CHECK_EQ(m->flags, MEMSLOT_F_DEVICE);
    }
    CHECK(guest_ptr(p, 0x20000000, 4, false) == NULL);
    CHECK(set ? memslot_set_find(set, 0x20002000ULL >> 12) == NULL : false);
    partitions_destroy();
    CHECK_EQ(env_fa.free_bytes, free0);
}

static unsigned count_lines(const char *buf, const char *needle)
{
    unsigned n = 0;
    for (const char *q = buf; (q = strstr(q, needle)); q += strlen(needle))
        n++;
    return n;
}

/* Issue 12 item 2: guest-triggered messages are rate-limited per partition
 * (token bucket: RL_BURST at once, RL_PER_SEC a second), the count of what
 * was dropped comes before the next line or when the partition stops, and
 * one partition's flood does not eat another's budget. */
static void message_rate_limit(void)
{
    cfg_reset();
    cfg_part("flood", 0, 1);
    cfg_ram(&env_cfg.partitions[0], 0, MiB(2));
    cfg_part("calm", 1, 1);
    cfg_ram(&env_cfg.partitions[1], 0, MiB(2));
    CHECK(partitions_create(&env_cfg, &env_bi));
    struct partition *p = &partitions[0], *q = &partitions[1];
    p->state = q->state = PART_RUNNING;
    env_time_us = 5000000;
    con_clear();
    for (u32 i = 0; i < 1000; i++)
        part_printk(p, "partition flood: port %#x\n", i);
    CHECK_EQ(count_lines(con_buf, "partition flood: port "), RL_BURST);
    CHECK_EQ(count_lines(con_buf, "suppressed"), 0);
    /* The neighbour still has its whole budget. */
    con_clear();
    part_printk(q, "partition calm: hello\n");
    CHECK_STR(con_buf, "partition calm: hello\n");
    /* Half a second later: RL_PER_SEC / 2 tokens; the first line that goes
     * out is preceded by the count. */
    env_time_us += 500000;
    con_clear();
    for (u32 i = 0; i < 100; i++)
        part_printk(p, "partition flood: again %u\n", i);
    char want[100];
    snprintf(want, sizeof(want), "partition flood: %u messages suppressed (rate limit)\n"
             "partition flood: again 0\n", 1000 - RL_BURST);
    CHECK(strncmp(con_buf, want, strlen(want)) == 0);
    CHECK_EQ(count_lines(con_buf, "partition flood: again "), RL_PER_SEC / 2);
    /* The clock going backwards (another CPU's TSC) gives nothing extra. */
    env_time_us -= 100000;
    con_clear();
    part_printk(p, "partition flood: backwards\n");
    CHECK_STR(con_buf, "");
    /* Stopping reports what is left. */
    con_clear();
    partition_stopped(p);
    snprintf(want, sizeof(want), "partition flood: %u messages suppressed (rate limit)\n",
             100 - RL_PER_SEC / 2 + 1);
    CHECK_STR(con_buf, want);
    /* A long quiet time refills the bucket to RL_BURST, no more. */
    env_time_us += 3600ULL * 1000000;
    con_clear();
    for (u32 i = 0; i < RL_BURST + 5; i++)
        part_printk(q, "partition calm: %u\n", i);
    CHECK_EQ(count_lines(con_buf, "partition calm: "), RL_BURST);
    partitions_destroy();
}

/* A grace period that finds a CPU ACTIVE past the spin limit asks for the
 * epoch kick (hv/partition.c's ops->kick -> arch_kick_cpu) and counts it. */
static void epoch_kick_ipi(void)
{
    struct epoch_domain *d = hv_epoch();
    u64 r0, s0, t0, r1, s1, t1;
    hv_epoch_kick_stats(&r0, &s0, &t0);
    unsigned k0 = env_kicks;
    env_kick_cpu_reports = true;
    /* No IPI (x86-64): requested and the hook called, nothing sent. */
    env_kick_sends = false;
    epoch_cpu_online(d, 1); /* ACTIVE with an old report from here on */
    epoch_synchronize(d);
    hv_epoch_kick_stats(&r1, &s1, &t1);
    CHECK_EQ(env_kicks - k0, 1);
    CHECK_EQ(r1 - r0, 1);
    CHECK_EQ(s1 - s0, 0);
    CHECK_EQ(t1 - t0, 0);
    /* The IPI (arm64): sent and taken once per grace period. */
    env_kick_sends = true;
    epoch_synchronize(d);
    epoch_synchronize(d);
    hv_epoch_kick_stats(&r1, &s1, &t1);
    CHECK_EQ(env_kicks - k0, 3);
    CHECK_EQ(r1 - r0, 3);
    CHECK_EQ(s1 - s0, 2);
    CHECK_EQ(t1 - t0, 2);
    /* A CPU in an extended quiescent state is not kicked. */
    epoch_enter_eqs(d, 1);
    epoch_synchronize(d);
    CHECK_EQ(env_kicks - k0, 3);
    epoch_cpu_offline(d, 1);
    env_kick_cpu_reports = env_kick_sends = false;
}

int main(void)
{
    env_init();
    RUN(create_one_partition);
    RUN(two_partitions_and_channels);
    RUN(fixed_ram);
    RUN(allocation_failure_cleanup);
    RUN(memslot_failure_cleanup);
    RUN(guest_access_boundaries);
    RUN(console_lines);
    RUN(fault_halt);
    RUN(fault_restart_limit);
    RUN(shutdown_and_end);
    RUN(stopped_without_reason);
    RUN(passthrough_slots);
    RUN(message_rate_limit);
    RUN(epoch_kick_ipi);
    env_fini();
    return CHECK_DONE();
}
