/* Host tests of arm64 platform discovery (boot/arm64/dt.c): the QEMU virt
 * DTBs, a hand-written tree with /chosen multiboot,module nodes, and trees
 * built here with one thing wrong each, which must be refused with a message
 * naming the node and the property. */
#include "check.h"
#include "boot/arm64/dt.h"
#include "hv/cpio.h"

#include <stdint.h>

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *fh = fopen(path, "rb");
    if (!fh)
        return NULL;
    fseek(fh, 0, SEEK_END);
    long n = ftell(fh);
    fseek(fh, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    size_t got = fread(b, 1, (size_t)n, fh);
    fclose(fh);
    *len = got;
    return b;
}

/* ---- a tiny FDT writer for the crafted trees ---- */
struct w {
    uint8_t st[16384];
    size_t sl;
    char str[4096];
    size_t strl;
    uint8_t out[24576];
    size_t outl;
};

static void w32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void tok(struct w *w, uint32_t t)
{
    w32(w->st + w->sl, t);
    w->sl += 4;
}

static void begin(struct w *w, const char *name)
{
    tok(w, 1);
    size_t n = strlen(name) + 1;
    memcpy(w->st + w->sl, name, n);
    w->sl += n;
    while (w->sl % 4)
        w->st[w->sl++] = 0;
}

static void end(struct w *w)
{
    tok(w, 2);
}

static void prop(struct w *w, const char *name, const void *d, size_t len)
{
    size_t off = 0;
    while (off < w->strl && strcmp(w->str + off, name) != 0)
        off += strlen(w->str + off) + 1;
    if (off >= w->strl) {
        off = w->strl;
        memcpy(w->str + off, name, strlen(name) + 1);
        w->strl += strlen(name) + 1;
    }
    tok(w, 3);
    tok(w, (uint32_t)len);
    tok(w, (uint32_t)off);
    memcpy(w->st + w->sl, d, len);
    w->sl += len;
    while (w->sl % 4)
        w->st[w->sl++] = 0;
}

static void pstr(struct w *w, const char *name, const char *s)
{
    prop(w, name, s, strlen(s) + 1);
}

static void pcells(struct w *w, const char *name, int n, ...)
{
    uint8_t b[64];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        w32(b + 4 * i, va_arg(ap, uint32_t));
    va_end(ap);
    prop(w, name, b, 4 * (size_t)n);
}

static const uint8_t *finish(struct w *w, size_t *len)
{
    tok(w, 9);
    size_t off_rsv = 40, off_st = 56, off_str = off_st + w->sl;
    memset(w->out, 0, sizeof(w->out));
    w32(w->out, 0xd00dfeed);
    w32(w->out + 4, (uint32_t)(off_str + w->strl));
    w32(w->out + 8, (uint32_t)off_st);
    w32(w->out + 12, (uint32_t)off_str);
    w32(w->out + 16, (uint32_t)off_rsv);
    w32(w->out + 20, 17);
    w32(w->out + 24, 16);
    w32(w->out + 32, (uint32_t)w->strl);
    w32(w->out + 36, (uint32_t)w->sl);
    memcpy(w->out + off_st, w->st, w->sl);
    memcpy(w->out + off_str, w->str, w->strl);
    *len = off_str + w->strl;
    return w->out;
}

/* What to get wrong in the generated tree. */
enum fault {
    OK, NO_PSCI, F_PSCI_HVC, PSCI_BAD_METHOD, NO_MEMORY, BAD_MEM_REG, NO_GIC, NO_TIMER,
    TIMER_SPI, NO_CPUS, DUP_MPIDR, BOOT_CPU_MISSING, CPU_BAD_REG, BOOTARGS_LONG,
    BOOTARGS_UNTERMINATED, INITRD_HALF, INITRD_BACKWARDS, INITRD_OUTSIDE, INITRD_32BIT,
    MOD_OUTSIDE, MOD_NOMAP, INITRD_NOMAP, MOD_NONAME, MOD_BAD_REG, MOD_OVER_DTB, MOD_DUP_WITH_INITRD, TOO_MANY_GICR, MOD_NO_CELLS,
};

static struct w wb;

static const uint8_t *gen(enum fault fault, size_t *len)
{
    struct w *w = &wb;
    memset(w, 0, sizeof(*w));
    begin(w, "");
    pcells(w, "#address-cells", 1, 2);
    pcells(w, "#size-cells", 1, 2);
    if (fault != NO_PSCI) {
        begin(w, "psci");
        prop(w, "compatible", "arm,psci-1.0\0arm,psci-0.2", 26);
        if (fault == PSCI_BAD_METHOD)
            pstr(w, "method", "svc");
        else
            pstr(w, "method", fault == F_PSCI_HVC ? "hvc" : "smc");
        end(w);
    }
    if (fault != NO_MEMORY) {
        begin(w, "memory@40000000");
        pstr(w, "device_type", "memory");
        if (fault == BAD_MEM_REG)
            pcells(w, "reg", 3, 0, 0x40000000, 0);
        else
            pcells(w, "reg", 4, 0, 0x40000000, 0, 0x20000000);
        end(w);
    }
    if (fault == INITRD_NOMAP || fault == MOD_NOMAP) {
        begin(w, "reserved-memory");
        pcells(w, "#address-cells", 1, 2);
        pcells(w, "#size-cells", 1, 2);
        prop(w, "ranges", "", 0);
        begin(w, "secmon@4e000000");
        pcells(w, "reg", 4, 0, 0x4e000000, 0, 0x200000);
        prop(w, "no-map", "", 0);
        end(w);
        end(w);
    }
    begin(w, "pl011@9000000");
    prop(w, "compatible", "arm,pl011\0arm,primecell", 24);
    pcells(w, "reg", 4, 0, 0x9000000, 0, 0x1000);
    end(w);
    if (fault != NO_GIC) {
        begin(w, "intc@8000000");
        pstr(w, "compatible", "arm,gic-v3");
        if (fault == TOO_MANY_GICR)
            pcells(w, "#redistributor-regions", 1, 9);
        pcells(w, "reg", 8, 0, 0x8000000, 0, 0x10000, 0, 0x80a0000, 0, 0xf60000);
        end(w);
    }
    if (fault != NO_TIMER) {
        begin(w, "timer");
        pstr(w, "compatible", "arm,armv8-timer");
        pcells(w, "interrupts", 12, 1, 13, 0x104, 1, 14, 0x104, 1, 11, 0x104,
               fault == TIMER_SPI ? 0 : 1, 10, 0x104);
        end(w);
    }
    if (fault != NO_CPUS) {
        begin(w, "cpus");
        pcells(w, "#address-cells", 1, 1);
        pcells(w, "#size-cells", 1, 0);
        for (uint32_t i = 0; i < 2; i++) {
            char nm[16];
            snprintf(nm, sizeof(nm), "cpu@%u", i);
            begin(w, nm);
            pstr(w, "device_type", "cpu");
            uint32_t mpidr = i;
            if (fault == DUP_MPIDR)
                mpidr = 1;
            if (fault == BOOT_CPU_MISSING)
                mpidr = i + 5;
            if (fault == CPU_BAD_REG && i == 1)
                pcells(w, "reg", 2, 0, 1);
            else
                pcells(w, "reg", 1, mpidr);
            pstr(w, "enable-method", "psci");
            end(w);
        }
        end(w);
    }
    begin(w, "chosen");
    if (fault != MOD_NO_CELLS) {
        pcells(w, "#address-cells", 1, 2);
        pcells(w, "#size-cells", 1, 2);
    }
    if (fault == BOOTARGS_LONG) {
        char big[400];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        pstr(w, "bootargs", big);
    } else if (fault == BOOTARGS_UNTERMINATED) {
        prop(w, "bootargs", "abc", 3);
    } else {
        pstr(w, "bootargs", "on_idle=poweroff");
    }
    pstr(w, "stdout-path", "/pl011@9000000");
    pstr(w, "u-boot,version", "2023.01");
    if (fault == INITRD_32BIT) {
        pcells(w, "linux,initrd-start", 1, 0x48000000);
        pcells(w, "linux,initrd-end", 1, 0x48000200);
    } else if (fault == INITRD_HALF) {
        pcells(w, "linux,initrd-start", 2, 0, 0x48000000);
    } else if (fault == INITRD_BACKWARDS) {
        pcells(w, "linux,initrd-start", 2, 0, 0x48000200);
        pcells(w, "linux,initrd-end", 2, 0, 0x48000000);
    } else if (fault == INITRD_OUTSIDE) {
        pcells(w, "linux,initrd-start", 2, 0, 0x7ffff000);
        pcells(w, "linux,initrd-end", 2, 0, 0x80001000);
    } else if (fault == INITRD_NOMAP) { /* inside /reserved-memory/secmon (no-map) */
        pcells(w, "linux,initrd-start", 2, 0, 0x4e001000);
        pcells(w, "linux,initrd-end", 2, 0, 0x4e001200);
    } else {
        pcells(w, "linux,initrd-start", 2, 0, 0x48000000);
        pcells(w, "linux,initrd-end", 2, 0, 0x48000200);
    }
    begin(w, "config@44000000");
    pstr(w, "compatible", "multiboot,module");
    pcells(w, "reg", 4, 0, 0x44000000, 0, 0x800);
    end(w);
    begin(w, "module@45000000");
    prop(w, "compatible", "multiboot,kernel\0multiboot,module", 34);
    if (fault == MOD_OUTSIDE)
        pcells(w, "reg", 4, 0, 0x5ffff000, 0, 0x2000);
    else if (fault == MOD_NOMAP)
        pcells(w, "reg", 4, 0, 0x4e100000, 0, 0x1000);
    else if (fault == MOD_BAD_REG)
        pcells(w, "reg", 3, 0, 0x45000000, 0);
    else if (fault == MOD_OVER_DTB)
        pcells(w, "reg", 4, 0, 0x4a000000, 0, 0x2000);
    else
        pcells(w, "reg", 4, 0, 0x45000000, 0, 0x10000);
    pstr(w, "bootargs", fault == MOD_NONAME ? "   " : fault == MOD_DUP_WITH_INITRD ? "alpha" : "rtos console=on");
    end(w);
    end(w);
    end(w);
    return finish(w, len);
}

/* A 512-byte initrd holding one file "alpha". */
static uint8_t initrd[512];
static void make_initrd(void)
{
    char h[200];
    size_t l = 0;
    int n = snprintf(h, sizeof(h), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 1,
                     0100644, 0, 0, 1, 0, 5, 0, 0, 0, 0, 6, 0);
    memcpy(initrd, h, (size_t)n);
    l = 110;
    memcpy(initrd + l, "alpha", 6);
    l = 116;
    memcpy(initrd + l, "hello", 5);
    l = 124;
    n = snprintf(h, sizeof(h), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 0, 0, 0,
                 0, 1, 0, 0, 0, 0, 0, 0, 11, 0);
    memcpy(initrd + l, h, (size_t)n);
    memcpy(initrd + l + 110, "TRAILER!!!", 11);
}

static struct boot_info bi;
static struct dt_platform plat;
static char err[256];

static bool run(const uint8_t *blob, size_t len, u64 boot_mpidr, bool modules)
{
    struct fdt f;
    memset(&bi, 0, sizeof(bi));
    err[0] = 0;
    CHECK_EQ(fdt_open(&f, blob, len), 0);
    bi_add_reserved(&bi, 0x40200000, 0x100000, "hypervisor");
    if (!dt_parse_platform(&f, 0x4a000000, boot_mpidr, &plat, &bi, err, sizeof(err)))
        return false;
    if (modules && !dt_collect_modules(&f, &plat, initrd, &bi, err, sizeof(err)))
        return false;
    return true;
}

static void test_qemu_virt_4cpu(void)
{
    size_t len;
    uint8_t *b = read_file("test/fuzz/corpus/fdt/qemu-virt-4cpu.dtb", &len);
    CHECK(b != NULL);
    if (!b)
        return;
    /* Boot on the third CPU: it must come first in bi->cpus. */
    CHECK(run(b, len, 2, false));
    CHECK(plat.have_uart && plat.uart_from_stdout);
    CHECK_EQ(plat.uart_base, 0x9000000);
    CHECK(plat.have_gic);
    CHECK_EQ(plat.gicd_base, 0x8000000);
    CHECK_EQ(plat.ngicr, 1);
    CHECK_EQ(plat.gicr_base[0], 0x80a0000);
    CHECK(plat.have_timer);
    CHECK_EQ(plat.timer_hyp_ppi, 26);
    CHECK_EQ(plat.psci, PSCI_SMC);
    CHECK_EQ(plat.ncpus, 4);
    CHECK_EQ(bi.ncpus, 4);
    CHECK_EQ(bi.cpus[0].hwid, 2);
    CHECK(bi.cpus[0].boot);
    CHECK_EQ(bi.cpus[1].hwid, 0);
    CHECK_EQ(bi.cpus[3].hwid, 3);
    CHECK(!bi.cpus[1].boot);
    CHECK_EQ(bi.nmem, 1);
    CHECK_EQ(bi.mem[0].base, 0x40000000);
    CHECK_EQ(bi.mem[0].size, 0x20000000);
    CHECK_STR(bi.cmdline, "on_idle=poweroff");
    CHECK_STR(bi.loader_name, "");
    CHECK(plat.have_initrd);
    CHECK_EQ(plat.initrd_start, 0x48000000);
    CHECK_EQ(plat.initrd_end, 0x480003a0);
    free(b);
}

static void test_qemu_virt_1cpu_no_initrd(void)
{
    size_t len;
    uint8_t *b = read_file("test/fuzz/corpus/fdt/qemu-virt-1cpu.dtb", &len);
    CHECK(b != NULL);
    if (!b)
        return;
    CHECK(run(b, len, 0, true));
    CHECK_EQ(bi.ncpus, 1);
    CHECK(!plat.have_initrd);
    CHECK_EQ(bi.nmod, 0);
    CHECK_EQ(bi.mem[0].size, 0x10000000);
    CHECK(!bi_check(&bi, err, sizeof(err)));
    CHECK_CONTAINS(err, "no boot modules");
    free(b);
}

static void test_hand_written_tree(void)
{
    size_t len;
    uint8_t *b = read_file("test/fuzz/corpus/fdt/chosen-modules.dtb", &len);
    CHECK(b != NULL);
    if (!b)
        return;
    CHECK(run(b, len, 0x100, true));
    if (err[0])
        printf("  %s\n", err);
    /* Two memory ranges from one node; the empty one and the disabled one are skipped. */
    CHECK_EQ(bi.nmem, 2);
    CHECK_EQ(bi.mem[1].base, 0x60000000);
    /* Reserved: hypervisor, DTB, two memreserve entries, /reserved-memory/secmon
     * (the "size"-only pool is not), the initrd, two modules. */
    CHECK_EQ(bi.nrsv, 8);
    CHECK_STR(bi.rsv[1].what, "device tree");
    CHECK_EQ(bi.rsv[2].base, 0x40000000);
    CHECK_STR(bi.rsv[2].what, "dtb memreserve");
    CHECK_EQ(bi.rsv[3].base, 0x5ff00000);
    CHECK_STR(bi.rsv[4].what, "secmon@4e000000");
    CHECK_EQ(bi.rsv[4].size, 0x200000);
    CHECK_STR(bi.rsv[5].what, "initrd");
    /* secmon is no-map: kept out of the hypervisor's own mappings. */
    CHECK_EQ(plat.nnomap, 1);
    CHECK_EQ(plat.nomap_base[0], 0x4e000000);
    CHECK_EQ(plat.nomap_size[0], 0x200000);
    /* The UART comes from stdout-path through the serial0 alias. */
    CHECK(plat.uart_from_stdout);
    CHECK_EQ(plat.uart_base, 0x9000000);
    CHECK_EQ(plat.ngicr, 2);
    CHECK_EQ(plat.gicr_base[1], 0x9a0000);
    CHECK_EQ(plat.timer_hyp_ppi, 26);
    /* CPUs: the boot one (0x100) first, the disabled one left out. */
    CHECK_EQ(bi.ncpus, 3);
    CHECK_EQ(bi.cpus[0].hwid, 0x100);
    CHECK_EQ(bi.cpus[2].hwid, 0x10000);
    CHECK(plat.cpu_psci[0] && !plat.cpu_psci[2]);
    /* Modules: "alpha" from the initrd, then the /chosen nodes in order. */
    CHECK_EQ(bi.nmod, 3);
    CHECK_STR(bi.mod[0].name, "alpha");
    CHECK_EQ(bi.mod[0].base, 0x48000000 + 116);
    CHECK_EQ(bi.mod[0].size, 5);
    CHECK_STR(bi.mod[1].name, "config"); /* no bootargs: node name without @unit */
    CHECK_EQ(bi.mod[1].base, 0x44000000);
    CHECK_EQ(bi.mod[1].size, 0x800);
    CHECK_STR(bi.mod[2].name, "rtos");   /* first word of bootargs */
    CHECK_STR(bi.mod[2].args, "console=on quiet");
    CHECK_EQ(bi.mod[2].size, 0x10000);
    CHECK_STR(bi.cmdline, "on_idle=poweroff log=debug");
    CHECK(bi_check(&bi, err, sizeof(err)));
    free(b);
}

static void test_generated_ok(void)
{
    size_t len;
    const uint8_t *b = gen(OK, &len);
    CHECK(run(b, len, 0, true));
    if (err[0])
        printf("  %s\n", err);
    CHECK_EQ(bi.nmod, 3);
    CHECK_STR(bi.loader_name, "U-Boot 2023.01");
    b = gen(INITRD_32BIT, &len);
    CHECK(run(b, len, 0, true));
    CHECK_EQ(plat.initrd_end, 0x48000200);
    CHECK_EQ(bi.nmod, 3);
}

static void expect_fail(enum fault fault, bool modules, const char *msg1, const char *msg2)
{
    size_t len;
    const uint8_t *b = gen(fault, &len);
    bool ok = run(b, len, 0, modules);
    if (ok)
        printf("  fault %d accepted\n", fault);
    CHECK(!ok);
    CHECK_CONTAINS(err, msg1);
    if (msg2)
        CHECK_CONTAINS(err, msg2);
}

static void test_generated_faults(void)
{
    expect_fail(NO_PSCI, false, "no PSCI node", NULL);
    expect_fail(PSCI_BAD_METHOD, false, "/psci", "method \"svc\"");
    expect_fail(NO_MEMORY, false, "no memory node", NULL);
    expect_fail(BAD_MEM_REG, false, "/memory@40000000", "'reg'");
    expect_fail(NO_GIC, false, "no GICv3", NULL);
    expect_fail(TOO_MANY_GICR, false, "/intc@8000000", "9 redistributor regions");
    expect_fail(NO_TIMER, false, "arm,armv8-timer", NULL);
    expect_fail(TIMER_SPI, false, "/timer", "not a PPI");
    expect_fail(NO_CPUS, false, "no /cpus", NULL);
    expect_fail(DUP_MPIDR, false, "/cpus/cpu@1", "listed twice");
    expect_fail(BOOT_CPU_MISSING, false, "boot CPU (MPIDR 0)", "not listed");
    expect_fail(CPU_BAD_REG, false, "/cpus/cpu@1", "'reg'");
    expect_fail(BOOTARGS_LONG, false, "/chosen", "'bootargs' is 399 bytes");
    expect_fail(BOOTARGS_UNTERMINATED, false, "/chosen", "not NUL-terminated");
    expect_fail(INITRD_HALF, false, "initrd-start and linux,initrd-end", NULL);
    expect_fail(INITRD_BACKWARDS, false, "initrd ends", "before it starts");
    expect_fail(INITRD_OUTSIDE, true, "initrd", "outside mapped memory");
    expect_fail(INITRD_NOMAP, true, "initrd (0x4e001000-0x4e001200)", "no-map reserved region");
    expect_fail(MOD_OUTSIDE, true, "/chosen/module@45000000", "outside mapped memory");
    expect_fail(MOD_NOMAP, true, "/chosen/module@45000000", "no-map reserved region");
    expect_fail(MOD_NONAME, true, "/chosen/module@45000000", "no name");
    expect_fail(MOD_BAD_REG, true, "/chosen/module@45000000", "'reg'");
    /* Without #address-cells/#size-cells in /chosen the defaults (2, 1) apply
     * and 4-cell regs no longer parse. */
    expect_fail(MOD_NO_CELLS, true, "/chosen/config@44000000", "exactly one <address size>");
    expect_fail(MOD_OVER_DTB, true, "/chosen/module@45000000", "overlaps the device tree");
    /* A name used by the initrd and a node is caught by bi_check. */
    size_t len;
    const uint8_t *b = gen(MOD_DUP_WITH_INITRD, &len);
    CHECK(run(b, len, 0, true));
    CHECK(!bi_check(&bi, err, sizeof(err)));
    CHECK_CONTAINS(err, "'alpha' is used twice");
    /* The hvc conduit is parsed; refusing it at EL2 is the arch code's job. */
    b = gen(F_PSCI_HVC, &len);
    CHECK(run(b, len, 0, true));
    CHECK_EQ(plat.psci, PSCI_HVC);
}

static void test_corrupt_initrd(void)
{
    size_t len;
    const uint8_t *b = gen(OK, &len);
    initrd[3] = 'X';
    CHECK(!run(b, len, 0, true));
    CHECK_CONTAINS(err, "initrd at 0x48000000 (512 bytes)");
    CHECK_CONTAINS(err, "bad magic");
    make_initrd();
    initrd[124 + 110] = 'X'; /* the trailer's name: now an entry of mode 0 */
    CHECK(!run(b, len, 0, true));
    CHECK_CONTAINS(err, "'XRAILER!!!' (at offset 124) is not a regular file");
    make_initrd();
    initrd[124] = 0; /* no trailer at all, zeros to the end */
    memset(initrd + 124, 0, sizeof(initrd) - 124);
    CHECK(!run(b, len, 0, true));
    CHECK_CONTAINS(err, "without a TRAILER!!!");
    make_initrd();
}

static void test_truncated_real_dtb_is_never_misread(void)
{
    /* Platform parsing of every prefix that still opens (none should) and of
     * byte-flipped copies: no crash, no read outside the blob (ASan). */
    size_t len;
    uint8_t *b = read_file("test/fuzz/corpus/fdt/qemu-virt-4cpu.dtb", &len);
    if (!b)
        return;
    uint8_t *c = malloc(len);
    uint32_t x = 12345;
    int opened = 0;
    for (int i = 0; i < 3000; i++) {
        memcpy(c, b, len);
        for (int j = 0; j < 3; j++) {
            x = x * 1103515245 + 12345;
            c[(x >> 8) % len] ^= (uint8_t)(1u << ((x >> 4) & 7));
        }
        struct fdt f;
        if (fdt_open(&f, c, len) != 0)
            continue;
        opened++;
        memset(&bi, 0, sizeof(bi));
        if (dt_parse_platform(&f, 0x48000000, 0, &plat, &bi, err, sizeof(err))) {
            struct dt_platform p2 = plat;
            p2.have_initrd = false; /* the initrd is not in this process */
            dt_collect_modules(&f, &p2, NULL, &bi, err, sizeof(err));
        }
    }
    CHECK(opened > 100);
    free(c);
    free(b);
}

static void test_range_subtract(void)
{
    u64 ob[32], oe[32];
    u64 hb1[] = { 0x2000 }, he1[] = { 0x3000 };
    CHECK_EQ(range_subtract(0x1000, 0x5000, hb1, he1, 1, ob, oe, 32), 2);
    CHECK_EQ(ob[0], 0x1000);
    CHECK_EQ(oe[0], 0x2000);
    CHECK_EQ(ob[1], 0x3000);
    CHECK_EQ(oe[1], 0x5000);
    CHECK_EQ(range_subtract(0x1000, 0x5000, NULL, NULL, 0, ob, oe, 32), 1);
    CHECK_EQ(range_subtract(0x1000, 0x5000, hb1, he1, 1, ob, oe, 1), -1);
    u64 hb2[] = { 0x0 }, he2[] = { UINT64_MAX };
    CHECK_EQ(range_subtract(0x1000, 0x5000, hb2, he2, 1, ob, oe, 32), 0);
    /* Random holes against a page bitmap. */
    uint32_t x = 99;
    for (int iter = 0; iter < 5000; iter++) {
        u64 hb[8], he[8];
        u32 nh = (x = x * 1103515245 + 12345) % 9;
        for (u32 i = 0; i < nh; i++) {
            x = x * 1103515245 + 12345;
            hb[i] = (x >> 4) % 64;
            x = x * 1103515245 + 12345;
            he[i] = hb[i] + (x >> 4) % 20; /* may be empty */
        }
        u64 b = (x >> 8) % 16, e = b + (x >> 12) % 48;
        int n = range_subtract(b, e, hb, he, nh, ob, oe, 32);
        CHECK(n >= 0);
        bool want[80] = { false }, got[80] = { false };
        for (u64 p = b; p < e; p++) {
            want[p] = true;
            for (u32 i = 0; i < nh; i++)
                if (p >= hb[i] && p < he[i])
                    want[p] = false;
        }
        for (int k = 0; k < n; k++) {
            CHECK(ob[k] < oe[k]);
            if (k)
                CHECK(ob[k] > oe[k - 1]); /* separated by a non-empty hole */
            for (u64 p = ob[k]; p < oe[k] && p < 80; p++)
                got[p] = true;
        }
        int bad = memcmp(want, got, sizeof(want)) != 0;
        CHECK(!bad);
        if (bad)
            break;
    }
}

int main(void)
{
    make_initrd();
    RUN(test_qemu_virt_4cpu);
    RUN(test_qemu_virt_1cpu_no_initrd);
    RUN(test_hand_written_tree);
    RUN(test_generated_ok);
    RUN(test_generated_faults);
    RUN(test_corrupt_initrd);
    RUN(test_truncated_real_dtb_is_never_misread);
    RUN(test_range_subtract);
    return CHECK_DONE();
}
