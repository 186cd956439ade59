/* Host unit tests for the partition configuration parser and validator
 * (hv/config.c, hv/config_check.c). Configurations are built in memory with a
 * small FDT writer, which can also produce what dtc refuses to (duplicate
 * nodes and properties). The per-message cases over .dts fixtures are in
 * test/unit/configs (run through the host tool by a check). */
#include "check.h"
#include "hv/config.h"

/* ------------------------------------------------------------ FDT writer */

struct fdtw {
    u8 st[16384];
    u32 slen;
    char strs[4096];
    u32 strslen;
    u8 blob[24576];
    u32 size;
};

static void put32(u8 *p, u32 v)
{
    p[0] = (u8)(v >> 24);
    p[1] = (u8)(v >> 16);
    p[2] = (u8)(v >> 8);
    p[3] = (u8)v;
}

static void w_tok(struct fdtw *w, u32 t)
{
    put32(w->st + w->slen, t);
    w->slen += 4;
}

static void w_begin(struct fdtw *w, const char *name)
{
    w_tok(w, 1);
    size_t n = strlen(name) + 1;
    memcpy(w->st + w->slen, name, n);
    w->slen += (u32)n;
    while (w->slen % 4)
        w->st[w->slen++] = 0;
}

static void w_end(struct fdtw *w)
{
    w_tok(w, 2);
}

static u32 w_str(struct fdtw *w, const char *s)
{
    for (u32 i = 0; i < w->strslen;) {
        if (strcmp(w->strs + i, s) == 0)
            return i;
        i += (u32)strlen(w->strs + i) + 1;
    }
    u32 off = w->strslen;
    memcpy(w->strs + off, s, strlen(s) + 1);
    w->strslen += (u32)strlen(s) + 1;
    return off;
}

static void w_prop(struct fdtw *w, const char *name, const void *data, u32 len)
{
    w_tok(w, 3);
    w_tok(w, len);
    w_tok(w, w_str(w, name));
    memcpy(w->st + w->slen, data, len);
    w->slen += len;
    while (w->slen % 4)
        w->st[w->slen++] = 0;
}

static void w_str_prop(struct fdtw *w, const char *name, const char *s)
{
    w_prop(w, name, s, (u32)strlen(s) + 1);
}

static void w_cells(struct fdtw *w, const char *name, const u32 *v, u32 n)
{
    u8 buf[512];
    for (u32 i = 0; i < n; i++)
        put32(buf + 4 * i, v[i]);
    w_prop(w, name, buf, 4 * n);
}

static void w_u32(struct fdtw *w, const char *name, u32 v)
{
    w_cells(w, name, &v, 1);
}

static void w_u64(struct fdtw *w, const char *name, u64 v)
{
    u32 c[2] = { (u32)(v >> 32), (u32)v };
    w_cells(w, name, c, 2);
}

static const void *w_finish(struct fdtw *w)
{
    w_tok(w, 9);
    u32 off_rsv = 40, off_st = 56, off_strs = off_st + w->slen;
    w->size = off_strs + w->strslen;
    memset(w->blob, 0, sizeof(w->blob));
    put32(w->blob, FDT_MAGIC);
    put32(w->blob + 4, w->size);
    put32(w->blob + 8, off_st);
    put32(w->blob + 12, off_strs);
    put32(w->blob + 16, off_rsv);
    put32(w->blob + 20, 17);
    put32(w->blob + 24, 16);
    put32(w->blob + 32, w->strslen);
    put32(w->blob + 36, w->slen);
    memcpy(w->blob + off_st, w->st, w->slen);
    memcpy(w->blob + off_strs, w->strs, w->strslen);
    return w->blob;
}

static struct fdtw W;

static void w_start(void)
{
    memset(&W, 0, sizeof(W));
    w_begin(&W, "");
    w_str_prop(&W, "compatible", "bulkhead,config");
    w_u32(&W, "version", 1);
}

static void w_memory(const char *node, u64 guest, u64 size)
{
    w_begin(&W, node);
    w_u64(&W, "guest-address", guest);
    w_u64(&W, "size", size);
    w_end(&W);
}

/* A partition with cpus <cpu>, kernel "hello", 1 MiB at guest 0. */
static void w_partition(const char *name, u32 cpu)
{
    w_begin(&W, name);
    w_u32(&W, "cpus", cpu);
    w_str_prop(&W, "kernel", "hello");
    w_memory("memory", 0, MiB(1));
    w_end(&W);
}

/* ------------------------------------------------------------ machine */

static struct boot_info BI;

static void machine(const char *arch, u32 ncpus, u64 mem)
{
    memset(&BI, 0, sizeof(BI));
    BI.arch = arch;
    u64 base = strcmp(arch, "arm64") == 0 ? 0x40000000ULL : 0x100000ULL;
    bi_add_mem(&BI, base, mem, MEM_USABLE);
    bi_add_reserved(&BI, base + MiB(1), MiB(2), "hypervisor");
    bi_add_module(&BI, base + MiB(8), 4096, "config", 6);
    bi_add_module(&BI, base + MiB(9), 4096, "hello", 5);
    BI.ncpus = ncpus;
    for (u32 i = 0; i < ncpus; i++)
        BI.cpus[i].hwid = i;
    if (strcmp(arch, "x86_64") == 0)
        bi_add_ioapic(&BI, 0xfec00000, 0, 0, 24);
}

static struct config CFG;
static struct cfg_error ERRS[64];
static struct cfg_errlist EL;
static char OUT[8192];

static u32 check_blob(const void *blob, size_t len)
{
    cfg_errlist_init(&EL, ERRS, ARRAY_SIZE(ERRS));
    u32 n = cfg_check(&CFG, blob, len, &BI, &EL);
    OUT[0] = 0;
    for (u32 i = 0; i < EL.n; i++) {
        char line[400];
        cfg_format_error(&EL.v[i], line, sizeof(line));
        strcat(OUT, line);
        strcat(OUT, "\n");
    }
    return n;
}

static u32 check_w(void)
{
    const void *b = w_finish(&W);
    return check_blob(b, W.size);
}

static void describe_line(void *ctx, const char *line)
{
    strcat((char *)ctx, line);
    strcat((char *)ctx, "\n");
}

/* ------------------------------------------------------------ tests */

static void build_demo(void)
{
    w_start();
    w_str_prop(&W, "arch", "x86_64");
    w_begin(&W, "hypervisor");
    w_str_prop(&W, "log-level", "debug");
    w_str_prop(&W, "console-prefix", "off");
    w_end(&W);
    w_begin(&W, "partitions");
    w_begin(&W, "hello");
    u32 cpus[2] = { 1, 2 };
    w_cells(&W, "cpus", cpus, 2);
    w_str_prop(&W, "kernel", "hello");
    w_str_prop(&W, "cmdline", "a=b");
    w_str_prop(&W, "console", "off");
    w_str_prop(&W, "fault-policy", "restart");
    w_u32(&W, "restart-limit", 5);
    /* x86: GSIs of the one 24-input I/O APIC; arm64: SPIs. */
    u32 irqs[2] = { 40, 41 };
    if (strcmp(BI.arch, "x86_64") == 0) {
        irqs[0] = 10;
        irqs[1] = 11;
    }
    w_cells(&W, "interrupts", irqs, 2);
    u32 ports[2] = { 0x2f8, 8 };
    w_cells(&W, "io-ports", ports, 2);
    w_memory("memory-low", 0, MiB(2));
    w_begin(&W, "memory-high");
    w_u64(&W, "guest-address", GiB(1));
    w_u32(&W, "size", (u32)MiB(1));
    w_u64(&W, "host-address", MiB(32));
    w_end(&W);
    w_begin(&W, "mmio@fe000000");
    w_u32(&W, "address", 0xfe000000u);
    w_u32(&W, "size", 0x1000);
    w_u32(&W, "guest-address", 0xd0000000u);
    w_end(&W);
    w_end(&W);
    w_partition("other", 3);
    w_end(&W);
    w_begin(&W, "channels");
    w_begin(&W, "ping");
    w_u32(&W, "size", 0x2000);
    w_begin(&W, "hello");
    w_u32(&W, "guest-address", 0x8000000);
    w_str_prop(&W, "access", "rw");
    w_end(&W);
    w_begin(&W, "other");
    w_u32(&W, "guest-address", 0x9000000);
    w_str_prop(&W, "access", "r");
    w_end(&W);
    w_end(&W);
    w_end(&W);
    w_end(&W);
}

static void test_valid_config_fields(void)
{
    machine("x86_64", 4, MiB(256));
    build_demo();
    /* Parsed in full, pass-through MMIO, GSIs and ports included: valid. */
    u32 n = check_w();
    CHECK_EQ(n, 0);
    CHECK_STR(OUT, "");
    CHECK_EQ(CFG.version, 1);
    CHECK_STR(CFG.arch, "x86_64");
    CHECK_EQ(CFG.log_level, CFG_LOG_DEBUG);
    CHECK(!CFG.console_prefix);
    CHECK_EQ(CFG.npartitions, 2);
    const struct cfg_partition *p = &CFG.partitions[0];
    CHECK_STR(p->name, "hello");
    CHECK_EQ(p->ncpus, 2);
    CHECK_EQ(p->cpus[0], 1);
    CHECK_EQ(p->cpus[1], 2);
    CHECK_STR(p->kernel, "hello");
    CHECK_STR(p->ramdisk, "");
    CHECK_STR(p->cmdline, "a=b");
    CHECK_EQ(p->boot, CFG_BOOT_MULTIBOOT); /* the x86_64 default */
    CHECK(!p->console);
    CHECK_EQ(p->fault, CFG_FAULT_RESTART);
    CHECK_EQ(p->restart_limit, 5);
    CHECK_EQ(p->nirqs, 2);
    CHECK_EQ(p->irqs[1], 11);
    CHECK_EQ(p->nports, 1);
    CHECK_EQ(p->ports[0].base, 0x2f8);
    CHECK_EQ(p->ports[0].count, 8);
    CHECK_EQ(p->nregions, 2);
    CHECK_EQ(p->regions[0].size, MiB(2));
    CHECK(!p->regions[0].fixed);
    CHECK_EQ(p->regions[1].guest, GiB(1));
    CHECK(p->regions[1].fixed);
    CHECK_EQ(p->regions[1].host, MiB(32));
    CHECK_EQ(p->nmmio, 1);
    CHECK_EQ(p->mmio[0].host, 0xfe000000u);
    CHECK_EQ(p->mmio[0].guest, 0xd0000000u);
    const struct cfg_partition *o = &CFG.partitions[1];
    CHECK(o->console); /* default on */
    CHECK_EQ(o->fault, CFG_FAULT_HALT);
    CHECK_EQ(CFG.nchannels, 1);
    const struct cfg_channel *c = &CFG.channels[0];
    CHECK_STR(c->name, "ping");
    CHECK_EQ(c->size, 0x2000);
    CHECK(!c->fixed);
    CHECK_EQ(c->nmembers, 2);
    CHECK_EQ(c->members[0].partition, 0);
    CHECK_EQ(c->members[0].access, CFG_ACCESS_RW);
    CHECK_EQ(c->members[1].partition, 1);
    CHECK_EQ(c->members[1].guest, 0x9000000);
    CHECK_EQ(c->members[1].access, CFG_ACCESS_R);

    static char desc[4096];
    desc[0] = 0;
    cfg_describe(&CFG, describe_line, desc);
    CHECK_CONTAINS(desc, "2 partitions, 1 channel\n");
    CHECK_CONTAINS(desc, "partition hello: cpus 1,2; memory 3 MiB; kernel hello (multiboot); "
                         "console off; on fault restart (at most 5 times)\n");
    CHECK_CONTAINS(desc, "  memory: guest 0x40000000-0x400fffff (1 MiB), host fixed at 0x2000000\n");
    CHECK_CONTAINS(desc, "  mmio: host 0xfe000000-0xfe000fff at guest 0xd0000000\n");
    CHECK_CONTAINS(desc, "  interrupts: 10 11\n");
    CHECK_CONTAINS(desc, "  io-ports: 0x2f8-0x2ff\n");
    CHECK_CONTAINS(desc, "partition other: cpus 3; memory 1 MiB; kernel hello (multiboot); "
                         "console on; on fault halt\n");
    CHECK_CONTAINS(desc, "channel ping: 8 KiB, host allocated at boot; members: "
                         "hello@0x8000000(rw) other@0x9000000(r)\n");
}

static void test_same_config_other_machines(void)
{
    /* The demo needs CPUs 1-3: a 2-CPU machine rejects the two it lacks ... */
    machine("x86_64", 2, MiB(256));
    build_demo();
    CHECK_EQ(check_w(), 2);
    CHECK_CONTAINS(OUT, "config: /partitions/hello: cpus: CPU 2 is not present (the machine has 2 "
                        "CPUs: indexes 0-1)\n");
    CHECK_CONTAINS(OUT, "config: /partitions/other: cpus: CPU 3 is not present");
    /* ... and arm64 rejects the x86-only parts. */
    machine("arm64", 4, MiB(256));
    build_demo();
    check_w();
    CHECK_CONTAINS(OUT, "config: /: arch: the configuration is for x86_64 but this machine is arm64");
    CHECK_CONTAINS(OUT, "config: /partitions/hello: io-ports: I/O ports exist only on x86_64");
    CHECK(!strstr(OUT, "interrupts")); /* 40 and 41 are SPIs: fine on arm64 too */
    CHECK_CONTAINS(OUT, "config: /partitions/hello/memory-high: host-address: host range "
                        "0x2000000-0x20fffff is not usable RAM");
}

static void test_arm64_default_protocol(void)
{
    machine("arm64", 2, MiB(256));
    w_start();
    w_begin(&W, "partitions");
    w_partition("a", 1);
    w_end(&W);
    w_end(&W);
    CHECK_EQ(check_w(), 0);
    CHECK_EQ(CFG.partitions[0].boot, CFG_BOOT_LINUX_IMAGE);
}

/* Five problems, a list that keeps two: the rest are counted, not lost. */
static void test_error_limit_and_count(void)
{
    machine("x86_64", 2, MiB(256));
    w_start();
    w_begin(&W, "partitions");
    w_begin(&W, "a");
    w_u32(&W, "cpus", 7);             /* 1: not present */
    w_str_prop(&W, "kernel", "nope"); /* 2: no such module */
    w_str_prop(&W, "colour", "red");  /* 3: unknown property */
    w_memory("memory", 0x800, MiB(1)); /* 4: misaligned */
    w_end(&W);
    w_end(&W);
    w_begin(&W, "extra"); /* 5: unknown node */
    w_end(&W);
    w_end(&W);
    const void *b = w_finish(&W);
    struct cfg_error two[2];
    cfg_errlist_init(&EL, two, 2);
    u32 n = cfg_check(&CFG, b, W.size, &BI, &EL);
    CHECK_EQ(n, 5);
    CHECK_EQ(EL.n, 2);
    CHECK_EQ(EL.dropped, 3);
    CHECK_EQ(cfg_error_count(&EL), 5);
    /* With room for all of them, all five are there. */
    CHECK_EQ(check_blob(b, W.size), 5);
    CHECK_EQ(EL.n, 5);
    CHECK_EQ(EL.dropped, 0);
    CHECK_CONTAINS(OUT, "config: /partitions/a: cpus: CPU 7 is not present");
    CHECK_CONTAINS(OUT, "config: /partitions/a: kernel: no boot module named 'nope' (loaded: config, hello)");
    CHECK_CONTAINS(OUT, "config: /partitions/a: colour: unknown property");
    CHECK_CONTAINS(OUT, "config: /partitions/a/memory: guest-address: address 0x800 is not a multiple of 4 KiB");
    CHECK_CONTAINS(OUT, "config: /extra: unknown node");
    /* A list with no room at all still counts. */
    cfg_errlist_init(&EL, NULL, 0);
    CHECK_EQ(cfg_check(&CFG, b, W.size, &BI, &EL), 5);
    CHECK_EQ(EL.dropped, 5);
}

static void test_format_error(void)
{
    struct cfg_error e = { 0, "/partitions/a", "cpus", "CPU 1 is listed twice" };
    char buf[200];
    cfg_format_error(&e, buf, sizeof(buf));
    CHECK_STR(buf, "config: /partitions/a: cpus: CPU 1 is listed twice");
    e.prop[0] = 0;
    cfg_format_error(&e, buf, sizeof(buf));
    CHECK_STR(buf, "config: /partitions/a: CPU 1 is listed twice");
    char small[10];
    int n = cfg_format_error(&e, small, sizeof(small));
    CHECK_EQ(strlen(small), 9);
    CHECK(n > 9);
}

static void test_not_a_config(void)
{
    machine("x86_64", 2, MiB(256));
    u8 junk[64];
    memset(junk, 0x5a, sizeof(junk));
    CHECK_EQ(check_blob(junk, sizeof(junk)), 1);
    CHECK_STR(OUT, "config: /: not a valid device tree blob: bad magic (not a flattened device tree): "
                   "magic (offset 0x0) is 0x5a5a5a5a, expected 0xd00dfeed\n");
    CHECK(!cfg_is_config_blob(junk, sizeof(junk)));

    w_start();
    w_begin(&W, "partitions");
    w_partition("a", 1);
    w_end(&W);
    w_end(&W);
    const void *b = w_finish(&W);
    CHECK(cfg_is_config_blob(b, W.size));
    CHECK_EQ(check_blob(b, W.size - 8), 1); /* truncated */
    CHECK_CONTAINS(OUT, "config: /: not a valid device tree blob: blob truncated");
    CHECK(!cfg_is_config_blob(b, W.size - 8));

    /* Another device tree (no bulkhead,config) is not taken for a configuration. */
    memset(&W, 0, sizeof(W));
    w_begin(&W, "");
    w_str_prop(&W, "compatible", "linux,dummy-virt");
    w_end(&W);
    b = w_finish(&W);
    CHECK(!cfg_is_config_blob(b, W.size));
    check_blob(b, W.size);
    CHECK_CONTAINS(OUT, "config: /: compatible: does not contain \"bulkhead,config\"\n");
    CHECK_CONTAINS(OUT, "config: /: version: missing (required: <1>)\n");
    CHECK_CONTAINS(OUT, "config: /: no /partitions node");
}

/* dtc merges duplicates; a hand-made blob can still have them. */
static void test_duplicates_in_raw_blob(void)
{
    machine("x86_64", 4, MiB(256));
    w_start();
    w_u32(&W, "version", 1);
    w_begin(&W, "partitions");
    w_partition("a", 1);
    w_partition("a", 2);
    w_end(&W);
    w_end(&W);
    check_w();
    CHECK_CONTAINS(OUT, "config: /: version: property given twice\n");
    CHECK_CONTAINS(OUT, "config: /partitions/a: duplicate node: a sibling has the same name\n");
    CHECK_EQ(CFG.npartitions, 1);
}

/* Fixed memory over a module inside a reserved initrd: one error (the module). */
static void test_module_inside_reserved_initrd(void)
{
    machine("arm64", 2, MiB(256));
    bi_add_reserved(&BI, 0x48000000, MiB(1), "initrd");
    bi_add_module(&BI, 0x48000200, 0x100, "extra", 5);
    w_start();
    w_begin(&W, "partitions");
    w_begin(&W, "a");
    w_u32(&W, "cpus", 1);
    w_str_prop(&W, "kernel", "hello");
    w_begin(&W, "memory");
    w_u32(&W, "guest-address", 0x40000000);
    w_u32(&W, "size", 0x1000);
    w_u32(&W, "host-address", 0x48000000);
    w_end(&W);
    w_end(&W);
    w_end(&W);
    w_end(&W);
    CHECK_EQ(check_w(), 1);
    CHECK_STR(OUT, "config: /partitions/a/memory: host-address: host range 0x48000000-0x48000fff "
                   "overlaps boot module 'extra' at 0x48000200-0x480002ff\n");
    /* Elsewhere in the initrd it is the initrd that is reported. */
    W.size = 0;
    w_start();
    w_begin(&W, "partitions");
    w_begin(&W, "a");
    w_u32(&W, "cpus", 1);
    w_str_prop(&W, "kernel", "hello");
    w_begin(&W, "memory");
    w_u32(&W, "guest-address", 0x40000000);
    w_u32(&W, "size", 0x1000);
    w_u32(&W, "host-address", 0x48010000);
    w_end(&W);
    w_end(&W);
    w_end(&W);
    w_end(&W);
    CHECK_EQ(check_w(), 1);
    CHECK_STR(OUT, "config: /partitions/a/memory: host-address: host range 0x48010000-0x48010fff "
                   "overlaps initrd at 0x48000000-0x480fffff\n");
}

static void test_host_memory_across_adjacent_ranges(void)
{
    machine("x86_64", 2, MiB(16));  /* usable 0x100000-0x10fffff */
    bi_add_mem(&BI, 0x1100000, MiB(16), MEM_USABLE);
    w_start();
    w_begin(&W, "partitions");
    w_begin(&W, "a");
    w_u32(&W, "cpus", 1);
    w_str_prop(&W, "kernel", "hello");
    w_begin(&W, "memory");
    w_u32(&W, "guest-address", 0);
    w_u32(&W, "size", (u32)MiB(2));
    w_u32(&W, "host-address", 0x1000000);
    w_end(&W);
    w_end(&W);
    w_end(&W);
    w_end(&W);
    CHECK_EQ(check_w(), 0);
    CHECK_STR(OUT, "");
    /* Past the end of RAM it is not. */
    machine("x86_64", 2, MiB(16));
    CHECK_EQ(check_w(), 1);
    CHECK_CONTAINS(OUT, "host range 0x1000000-0x11fffff is not usable RAM");
}

static void test_mmio_over_hypervisor(void)
{
    machine("x86_64", 2, MiB(256));
    w_start();
    w_begin(&W, "partitions");
    w_begin(&W, "a");
    w_u32(&W, "cpus", 1);
    w_str_prop(&W, "kernel", "hello");
    w_memory("memory", 0, MiB(1));
    w_begin(&W, "mmio");
    w_u32(&W, "address", 0x200000);
    w_u32(&W, "size", 0x1000);
    w_u32(&W, "guest-address", 0x10000000);
    w_end(&W);
    w_end(&W);
    w_end(&W);
    w_end(&W);
    CHECK_EQ(check_w(), 1);
    CHECK_CONTAINS(OUT, "config: /partitions/a/mmio: address: device range 0x200000-0x200fff "
                        "overlaps hypervisor at 0x200000-0x3fffff\n");
}

static void test_limits_exact(void)
{
    /* 16 partitions and 8 regions are fine; one more of each is not. */
    machine("x86_64", 64, GiB(4));
    w_start();
    w_begin(&W, "partitions");
    for (u32 i = 0; i < CFG_MAX_PARTITIONS; i++) {
        char name[8];
        snprintf(name, sizeof(name), "p%u", i);
        w_begin(&W, name);
        w_u32(&W, "cpus", i);
        w_str_prop(&W, "kernel", "hello");
        for (u32 r = 0; r < CFG_MAX_REGIONS; r++) {
            char rn[16];
            snprintf(rn, sizeof(rn), "memory-%u", r);
            w_memory(rn, r * MiB(1), MiB(1));
        }
        w_end(&W);
    }
    w_end(&W);
    w_end(&W);
    CHECK_EQ(check_w(), 0);
    CHECK_EQ(CFG.npartitions, CFG_MAX_PARTITIONS);
    CHECK_EQ(CFG.partitions[15].nregions, CFG_MAX_REGIONS);
}

static void test_no_cpus_known(void)
{
    machine("x86_64", 0, MiB(256));
    w_start();
    w_begin(&W, "partitions");
    w_partition("a", 0);
    w_end(&W);
    w_end(&W);
    CHECK_EQ(check_w(), 1);
    CHECK_STR(OUT, "config: /partitions/a: cpus: CPU 0 is not present (no CPUs are known)\n");
}

static void test_64bit_values(void)
{
    machine("x86_64", 2, GiB(8));
    bi_add_mem(&BI, 0x100000000ULL, GiB(4), MEM_USABLE);
    w_start();
    w_begin(&W, "partitions");
    w_begin(&W, "a");
    w_u32(&W, "cpus", 1);
    w_str_prop(&W, "kernel", "hello");
    w_begin(&W, "memory");
    w_u64(&W, "guest-address", 0x800000000ULL);
    w_u64(&W, "size", GiB(2));
    w_u64(&W, "host-address", 0x140000000ULL);
    w_end(&W);
    w_end(&W);
    w_end(&W);
    w_end(&W);
    CHECK_EQ(check_w(), 0);
    CHECK_STR(OUT, "");
    CHECK_EQ(CFG.partitions[0].regions[0].guest, 0x800000000ULL);
    CHECK_EQ(CFG.partitions[0].regions[0].host, 0x140000000ULL);
    CHECK_EQ(CFG.partitions[0].regions[0].size, GiB(2));
}

/* Issue 12 item 3: a property after a child node (dtc never writes one, a
 * hand-made blob can) is refused with its offset instead of being ignored. */
static void test_property_after_child(void)
{
    machine("x86_64", 4, MiB(256));
    w_start();
    w_begin(&W, "partitions");
    w_begin(&W, "a");
    w_u32(&W, "cpus", 1);
    w_str_prop(&W, "kernel", "hello");
    w_memory("memory", 0, MiB(1));
    w_u32(&W, "restart-limit", 3); /* after the memory child */
    w_end(&W);
    w_end(&W);
    w_end(&W);
    CHECK_EQ(check_w(), 1);
    CHECK_CONTAINS(OUT, "config: /: not a valid device tree blob: malformed structure block: "
                        "property after a child node (properties must come first) (token at offset 0x");
}

/* Issue 12 items 3 and 5: strings where numbers belong (and the reverse)
 * are named by type; configuration text is printed escaped. */
static void test_types_and_escaping(void)
{
    machine("x86_64", 4, MiB(256));
    w_start();
    w_begin(&W, "partitions");
    w_begin(&W, "a");
    w_str_prop(&W, "cpus", "one");
    w_u32(&W, "kernel", 7);
    w_begin(&W, "memory");
    w_u32(&W, "guest-address", 0);
    w_str_prop(&W, "size", "big");
    w_end(&W);
    w_end(&W);
    w_begin(&W, "b\x1b[2J");
    w_u32(&W, "cpus", 2);
    w_str_prop(&W, "kernel", "he\x1bllo");
    w_memory("memory", 0, MiB(1));
    w_end(&W);
    w_end(&W);
    w_end(&W);
    check_w();
    CHECK_CONTAINS(OUT, "config: /partitions/a: cpus: expected 32-bit cells (a list of CPU indexes), "
                        "found the string \"one\"\n");
    CHECK_CONTAINS(OUT, "config: /partitions/a: kernel: expected a string, found 1 32-bit cell (first <0x7>)\n");
    CHECK_CONTAINS(OUT, "config: /partitions/a/memory: size: expected a number (one or two 32-bit "
                        "cells), found the string \"big\"\n");
    /* The node name and the module name reach the output escaped. */
    CHECK_CONTAINS(OUT, "config: /partitions/b\\x1b[2J: partition name 'b\\x1b[2J' has '\\x1b'");
    CHECK_CONTAINS(OUT, "kernel: module name 'he\\x1bllo' has byte 0x1b at 2");
    CHECK(strchr(OUT, 0x1b) == NULL);

    /* A command line with a newline and ESC cannot forge a line. */
    w_start();
    w_begin(&W, "partitions");
    w_begin(&W, "a");
    w_u32(&W, "cpus", 1);
    w_str_prop(&W, "kernel", "hello");
    w_str_prop(&W, "cmdline", "quiet\nconfig: forged\x1b[2J\\");
    w_memory("memory", 0, MiB(1));
    w_end(&W);
    w_end(&W);
    w_end(&W);
    CHECK_EQ(check_w(), 0);
    char desc[4096] = "";
    cfg_describe(&CFG, describe_line, desc);
    CHECK_CONTAINS(desc, "  cmdline: quiet\\x0aconfig: forged\\x1b[2J\\\\\n");
    CHECK(strchr(desc, 0x1b) == NULL);
}

/* Issue 12 item 1: reserved ports and the partition's virtual UART. */
static void test_port_policy(void)
{
    machine("x86_64", 4, MiB(256));
    bi_add_reserved_ports(&BI, 0xcf8, 8, "PCI configuration space (0xcf8-0xcff)");
    w_start();
    w_begin(&W, "partitions");
    w_begin(&W, "a");
    w_u32(&W, "cpus", 1);
    w_str_prop(&W, "kernel", "hello");
    u32 ports[6] = { 0xcfc, 4, 0x3fc, 2, 0x2f8, 8 };
    w_cells(&W, "io-ports", ports, 6);
    w_memory("memory", 0, MiB(1));
    w_end(&W);
    w_begin(&W, "b");
    w_u32(&W, "cpus", 2);
    w_str_prop(&W, "kernel", "hello");
    w_str_prop(&W, "console", "off");
    u32 ports_b[2] = { 0x3f8, 4 };
    w_cells(&W, "io-ports", ports_b, 2);
    w_memory("memory", 0, MiB(1));
    w_end(&W);
    w_end(&W);
    w_end(&W);
    CHECK_EQ(check_w(), 2);
    CHECK_CONTAINS(OUT, "config: /partitions/a: io-ports: ports 0xcfc-0xcff include PCI configuration "
                        "space (0xcf8-0xcff): the hypervisor keeps those ports, they are never granted\n");
    CHECK_CONTAINS(OUT, "config: /partitions/a: io-ports: ports 0x3fc-0x3fd overlap the partition's "
                        "virtual 16550 UART at 0x3f8-0x3ff (console is on)\n");
    /* b has its console off: no virtual UART, and this machine model keeps no COM1. */
    CHECK(strstr(OUT, "/partitions/b") == NULL);
    CHECK(!bi_add_reserved_ports(&BI, 0xfff0, 0x20, "beyond"));
    CHECK(!bi_add_reserved_ports(&BI, 0x10, 0, "empty"));
}

int main(void)
{
    RUN(test_valid_config_fields);
    RUN(test_same_config_other_machines);
    RUN(test_arm64_default_protocol);
    RUN(test_error_limit_and_count);
    RUN(test_format_error);
    RUN(test_not_a_config);
    RUN(test_duplicates_in_raw_blob);
    RUN(test_module_inside_reserved_initrd);
    RUN(test_host_memory_across_adjacent_ranges);
    RUN(test_mmio_over_hypervisor);
    RUN(test_limits_exact);
    RUN(test_no_cpus_known);
    RUN(test_64bit_values);
    RUN(test_property_after_child);
    RUN(test_types_and_escaping);
    RUN(test_port_policy);
    return CHECK_DONE();
}
