/* Host tests of the device-tree reader (hv/fdt.c): crafted and malformed
 * blobs, real QEMU virt DTBs, and a cross-check of every result against
 * libfdt on the same blobs (test/fuzz/fdt_xcheck.h). Built with ASan+UBSan and
 * with fdt_rename.h forced in, so hv/fdt.c and libfdt can share the binary. */
#include "check.h"
#include "hv/fdt.h"
#include "test/fuzz/fdt_xcheck.h"
#include "test/fuzz/libfdt_shim.h"

#include <stdint.h>

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *fh = fopen(path, "rb");
    if (!fh)
        return NULL;
    fseek(fh, 0, SEEK_END);
    long n = ftell(fh);
    fseek(fh, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n ? (size_t)n : 1);
    if (fread(b, 1, (size_t)n, fh) != (size_t)n) {
        free(b);
        fclose(fh);
        return NULL;
    }
    fclose(fh);
    *len = (size_t)n;
    return b;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A small tree built with libfdt's sequential-write API. */
static size_t build_sample(uint8_t *buf, int size)
{
    uint32_t reg[4] = { 0, __builtin_bswap32(0x40000000), 0, __builtin_bswap32(0x1000000) };
    lf_create(buf, size);
    lf_add_reservemap_entry(buf, 0x40000000, 0x1000);
    lf_add_reservemap_entry(buf, 0x7ff00000, 0x100000);
    lf_finish_reservemap(buf);
    lf_begin_node(buf, "");
    lf_property_u32(buf, "#address-cells", 2);
    lf_property_u32(buf, "#size-cells", 2);
    lf_property(buf, "compatible", "vendor,board\0vendor,soc", 24);
    lf_begin_node(buf, "memory@40000000");
    lf_property_string(buf, "device_type", "memory");
    lf_property(buf, "reg", reg, sizeof(reg));
    lf_end_node(buf);
    lf_begin_node(buf, "soc");
    lf_property_u32(buf, "#address-cells", 1);
    lf_property_u32(buf, "#size-cells", 0);
    lf_begin_node(buf, "uart@1000");
    lf_property(buf, "compatible", "arm,pl011\0arm,primecell", 24);
    lf_property_u32(buf, "reg", 0x1000);
    lf_property(buf, "empty", NULL, 0);
    lf_end_node(buf);
    lf_begin_node(buf, "uart@2000");
    lf_property(buf, "compatible", "arm,pl011", 10);
    lf_property_u32(buf, "reg", 0x2000);
    lf_property_string(buf, "status", "disabled");
    lf_end_node(buf);
    lf_end_node(buf);
    lf_begin_node(buf, "chosen");
    lf_property_string(buf, "bootargs", "on_idle=poweroff");
    lf_property(buf, "unterminated", "abc", 3);
    lf_property(buf, "u64", "\0\0\0\1\0\0\0\2", 8);
    lf_end_node(buf);
    lf_end_node(buf);
    lf_finish(buf);
    return (size_t)lf_totalsize(buf);
}

static uint8_t sample[4096];
static size_t sample_len;

static void expect_xcheck(const uint8_t *b, size_t len, const char *what)
{
    int rc, only;
    const char *m = fdt_xcheck(b, len, &rc, &only);
    if (m)
        printf("  %s: %s\n", what, m);
    CHECK(m == NULL);
}

static void test_sample_accepted_and_matches_libfdt(void)
{
    struct fdt f;
    CHECK_EQ(fdt_open(&f, sample, sample_len), 0);
    CHECK_EQ(fdt_num_rsv(&f), 2);
    u64 a, s;
    CHECK(fdt_get_rsv(&f, 1, &a, &s));
    CHECK_EQ(a, 0x7ff00000);
    CHECK_EQ(s, 0x100000);
    CHECK(!fdt_get_rsv(&f, 2, &a, &s));
    expect_xcheck(sample, sample_len, "sample");
}

static void test_lookups(void)
{
    struct fdt f;
    CHECK_EQ(fdt_open(&f, sample, sample_len), 0);
    int soc = fdt_path(&f, "/soc");
    CHECK(soc > 0);
    CHECK_EQ(fdt_path(&f, "/soc/uart"), fdt_path(&f, "/soc/uart@1000"));
    CHECK_EQ(fdt_path(&f, "/soc/uart@2000"), fdt_subnode(&f, soc, "uart@2000"));
    CHECK_EQ(fdt_path(&f, "/soc/uart@3000"), FDT_E_NOTFOUND);
    CHECK_EQ(fdt_path(&f, "soc"), FDT_E_NOTFOUND);
    CHECK_EQ(fdt_path(&f, "/"), fdt_root(&f));
    CHECK_EQ(fdt_path(&f, "//soc//"), soc);
    int u = fdt_path(&f, "/soc/uart@2000");
    CHECK_EQ(fdt_parent(&f, u), soc);
    CHECK_EQ(fdt_parent(&f, fdt_root(&f)), FDT_E_NOTFOUND);
    char path[64];
    fdt_node_path(&f, u, path, sizeof(path));
    CHECK_STR(path, "/soc/uart@2000");
    /* A buffer too small is still terminated and never overrun. */
    char small[6];
    memset(small, 'x', sizeof(small));
    fdt_node_path(&f, u, small, sizeof(small));
    CHECK_EQ(small[5], 0);
    CHECK_EQ(fdt_address_cells(&f, soc), 1);
    CHECK_EQ(fdt_size_cells(&f, soc), 0);
    u64 addr, size;
    CHECK(fdt_get_reg(&f, u, 0, &addr, &size));
    CHECK_EQ(addr, 0x2000);
    CHECK_EQ(size, 0);
    CHECK(!fdt_get_reg(&f, u, 1, &addr, &size));
    int mem = fdt_path(&f, "/memory");
    CHECK(fdt_get_reg(&f, mem, 0, &addr, &size));
    CHECK_EQ(addr, 0x40000000);
    CHECK_EQ(size, 0x1000000);
    CHECK(!fdt_get_reg(&f, fdt_root(&f), 0, &addr, &size));

    int first = fdt_find_compatible(&f, -1, "arm,pl011");
    CHECK_EQ(first, fdt_path(&f, "/soc/uart@1000"));
    CHECK_EQ(fdt_find_compatible(&f, first, "arm,pl011"), u);
    CHECK_EQ(fdt_find_compatible(&f, u, "arm,pl011"), FDT_E_NOTFOUND);
    CHECK(fdt_node_is_compatible(&f, first, "arm,primecell"));
    CHECK(!fdt_node_is_compatible(&f, first, "arm,pl01"));
    CHECK(!fdt_node_is_compatible(&f, first, "arm"));

    int ch = fdt_path(&f, "/chosen");
    CHECK_STR(fdt_getprop_string(&f, ch, "bootargs"), "on_idle=poweroff");
    CHECK(fdt_getprop_string(&f, ch, "unterminated") == NULL);
    u32 v32;
    u64 v64;
    CHECK(!fdt_getprop_u32(&f, ch, "u64", &v32));
    CHECK(fdt_getprop_u64(&f, ch, "u64", &v64));
    CHECK_EQ(v64, 0x100000002ULL);
    CHECK(fdt_getprop_u64(&f, soc, "#address-cells", &v64));
    CHECK_EQ(v64, 1);
    CHECK(!fdt_getprop_u64(&f, ch, "bootargs", &v64));
    u32 len;
    CHECK(fdt_getprop(&f, first, "empty", &len) != NULL);
    CHECK_EQ(len, 0);
    CHECK(fdt_getprop(&f, first, "missing", &len) == NULL);

    CHECK(fdt_is_stringlist("a\0bc", 5));
    CHECK(!fdt_is_stringlist("a\0\0b", 5));
    CHECK(!fdt_is_stringlist("ab", 2));
    CHECK(!fdt_is_stringlist("", 0));
    CHECK(!fdt_stringlist_contains("abc", 3, "abc")); /* unterminated */
    CHECK(fdt_stringlist_contains("x\0abc", 6, "abc"));
    u64 c;
    CHECK(!fdt_read_cells("\0\0\0\0\0\0\0\0\0\0\0\0", 3, &c));
}

/* Header field offsets. */
enum { H_MAGIC = 0, H_TOTAL = 4, H_OFF_STRUCT = 8, H_OFF_STRINGS = 12, H_OFF_RSV = 16,
       H_VERSION = 20, H_LAST_COMP = 24, H_SIZE_STRINGS = 32, H_SIZE_STRUCT = 36 };

static int open_mut(size_t len, int field, uint32_t val)
{
    static uint8_t b[4096];
    memcpy(b, sample, sample_len);
    if (field >= 0)
        put32(b + field, val);
    struct fdt f;
    int rc = fdt_open(&f, b, len);
    expect_xcheck(b, len, "mutated header");
    if (rc != 0)
        CHECK(f.blob == NULL); /* a failed open leaves nothing usable */
    return rc;
}

static uint32_t hdr(int field)
{
    return fdt_be32(sample + field);
}

static void test_bad_headers(void)
{
    CHECK_EQ(open_mut(sample_len, -1, 0), 0);
    for (size_t l = 0; l < 40; l++)
        CHECK_EQ(open_mut(l, -1, 0), FDT_E_TRUNCATED);
    CHECK_EQ(open_mut(sample_len - 1, -1, 0), FDT_E_TRUNCATED);
    CHECK_EQ(open_mut(sample_len, H_MAGIC, 0xd00dfeee), FDT_E_BADMAGIC);
    CHECK_EQ(open_mut(sample_len, H_VERSION, 16), FDT_E_BADVERSION);
    CHECK_EQ(open_mut(sample_len, H_LAST_COMP, 18), FDT_E_BADVERSION);
    CHECK_EQ(open_mut(sample_len, H_TOTAL, 0xffffffff), FDT_E_TRUNCATED);
    CHECK_EQ(open_mut(sample_len, H_TOTAL, 39), FDT_E_BADLAYOUT);
    /* Misaligned blocks. */
    CHECK_EQ(open_mut(sample_len, H_OFF_STRUCT, hdr(H_OFF_STRUCT) + 2), FDT_E_BADLAYOUT);
    CHECK_EQ(open_mut(sample_len, H_OFF_RSV, hdr(H_OFF_RSV) + 4), FDT_E_BADLAYOUT);
    CHECK_EQ(open_mut(sample_len, H_SIZE_STRUCT, hdr(H_SIZE_STRUCT) - 2), FDT_E_BADLAYOUT);
    /* Blocks outside the blob, or wrapping. */
    CHECK_EQ(open_mut(sample_len, H_OFF_STRUCT, 0xfffffff0), FDT_E_BADLAYOUT);
    CHECK_EQ(open_mut(sample_len, H_SIZE_STRUCT, 0xfffffffc), FDT_E_BADLAYOUT);
    CHECK_EQ(open_mut(sample_len, H_SIZE_STRINGS, 0xffffffff), FDT_E_BADLAYOUT);
    CHECK_EQ(open_mut(sample_len, H_OFF_STRINGS, hdr(H_TOTAL) + 4), FDT_E_BADLAYOUT);
    CHECK_EQ(open_mut(sample_len, H_OFF_RSV, hdr(H_TOTAL)), FDT_E_BADLAYOUT);
    CHECK_EQ(open_mut(sample_len, H_OFF_STRUCT, 8), FDT_E_BADLAYOUT); /* inside the header */
    /* Overlapping blocks: strings starting inside the structure block. */
    CHECK_EQ(open_mut(sample_len, H_OFF_STRINGS, hdr(H_OFF_STRUCT) + 8), FDT_E_BADLAYOUT);
    /* The reservation block running into the structure block. */
    CHECK_EQ(open_mut(sample_len, H_OFF_RSV, hdr(H_OFF_STRUCT) - 8), FDT_E_BADLAYOUT);
}

/* Craft a blob by hand: header + rsvmap + struct words + strings. */
static size_t craft(uint8_t *b, const uint32_t *words, size_t nwords, const char *strings,
                    size_t slen)
{
    memset(b, 0, 1024);
    uint32_t off_rsv = 40, off_struct = 56, size_struct = (uint32_t)(nwords * 4);
    uint32_t off_strings = off_struct + size_struct;
    uint32_t total = off_strings + (uint32_t)slen;
    put32(b + 0, 0xd00dfeed);
    put32(b + 4, total);
    put32(b + 8, off_struct);
    put32(b + 12, off_strings);
    put32(b + 16, off_rsv);
    put32(b + 20, 17);
    put32(b + 24, 16);
    put32(b + 32, (uint32_t)slen);
    put32(b + 36, size_struct);
    for (size_t i = 0; i < nwords; i++)
        memcpy(b + off_struct + 4 * i, &words[i], 4); /* words are given in blob byte order */
    memcpy(b + off_strings, strings, slen);
    return total;
}

#define BE(x) __builtin_bswap32(x)
#define BEGIN BE(1)
#define END_NODE BE(2)
#define PROP BE(3)
#define NOP BE(4)
#define END BE(9)

static int craft_open(const uint32_t *w, size_t n, const char *s, size_t sl)
{
    static uint8_t b[1024];
    size_t len = craft(b, w, n, s, sl);
    struct fdt f;
    int rc = fdt_open(&f, b, len);
    expect_xcheck(b, len, "crafted");
    return rc;
}

static void test_bad_structure(void)
{
    /* The minimal valid tree: an empty root. */
    uint32_t ok[] = { BEGIN, 0, END_NODE, END };
    CHECK_EQ(craft_open(ok, 4, "", 0), 0);
    /* NOPs anywhere after the root's BEGIN_NODE are fine; before it they are
     * refused (the root sits at offset 0, as libfdt also requires). */
    uint32_t nops[] = { BEGIN, 0, NOP, PROP, 0, 0, NOP, BEGIN, 0, NOP, END_NODE, NOP, END_NODE, END };
    CHECK_EQ(craft_open(nops, 14, "a", 2), 0);
    /* ... but after the root has closed, only END. */
    uint32_t nop_after[] = { BEGIN, 0, END_NODE, NOP, END };
    CHECK_EQ(craft_open(nop_after, 5, "", 0), FDT_E_BADSTRUCT);
    uint32_t nop_first[] = { NOP, BEGIN, 0, END_NODE, END };
    CHECK_EQ(craft_open(nop_first, 5, "", 0), FDT_E_BADSTRUCT);
    /* No END token. */
    uint32_t noend[] = { BEGIN, 0, END_NODE };
    CHECK_EQ(craft_open(noend, 3, "", 0), FDT_E_BADSTRUCT);
    /* Unbalanced: an END_NODE too many, one missing. */
    uint32_t extra[] = { BEGIN, 0, END_NODE, END_NODE, END };
    CHECK_EQ(craft_open(extra, 5, "", 0), FDT_E_BADSTRUCT);
    uint32_t missing[] = { BEGIN, 0, BEGIN, 0, END_NODE, END };
    CHECK_EQ(craft_open(missing, 6, "", 0), FDT_E_BADSTRUCT);
    /* The root has an empty name. */
    uint32_t named[] = { BEGIN, BE(0x61000000) /* "a" */, END_NODE, END };
    CHECK_EQ(craft_open(named, 4, "", 0), FDT_E_BADSTRUCT);
    /* A '/' in a node name. */
    uint32_t slash[] = { BEGIN, 0, BEGIN, BE(0x612f6200) /* "a/b" */, END_NODE, END_NODE, END };
    CHECK_EQ(craft_open(slash, 7, "", 0), FDT_E_BADSTRING);
    /* Two roots. */
    uint32_t roots[] = { BEGIN, 0, END_NODE, BEGIN, 0, END_NODE, END };
    CHECK_EQ(craft_open(roots, 7, "", 0), FDT_E_BADSTRUCT);
    /* Unknown token. */
    uint32_t tok[] = { BEGIN, 0, BE(7), END_NODE, END };
    CHECK_EQ(craft_open(tok, 5, "", 0), FDT_E_BADSTRUCT);
    /* Property before any node. */
    uint32_t early[] = { PROP, 0, 0, BEGIN, 0, END_NODE, END };
    CHECK_EQ(craft_open(early, 7, "a", 2), FDT_E_BADSTRUCT);
    /* Node name running to the end of the structure block. */
    uint32_t name[] = { BEGIN, 0x61616161, 0x61616161 };
    CHECK_EQ(craft_open(name, 3, "", 0), FDT_E_BADSTRING);
    /* Property name offset outside the strings block / string not terminated. */
    uint32_t p1[] = { BEGIN, 0, PROP, 0, BE(10), END_NODE, END };
    CHECK_EQ(craft_open(p1, 7, "abc", 4), FDT_E_BADSTRING);
    uint32_t p2[] = { BEGIN, 0, PROP, 0, BE(0), END_NODE, END };
    CHECK_EQ(craft_open(p2, 7, "abcd", 4), FDT_E_BADSTRING);
    CHECK_EQ(craft_open(p2, 7, "abc", 4), 0);
    /* Property length past the end of the block, and huge. */
    uint32_t p3[] = { BEGIN, 0, PROP, BE(16), 0, 0, END_NODE, END };
    CHECK_EQ(craft_open(p3, 8, "a", 2), FDT_E_BADSTRUCT);
    uint32_t p4[] = { BEGIN, 0, PROP, BE(0xfffffff0), 0, END_NODE, END };
    CHECK_EQ(craft_open(p4, 7, "a", 2), FDT_E_BADSTRUCT);
    /* A property whose value holds END_NODE/END words is just data. */
    uint32_t p5[] = { BEGIN, 0, PROP, BE(8), 0, END_NODE, END, END_NODE, END };
    CHECK_EQ(craft_open(p5, 9, "a", 2), 0);
}

static void test_depth_limit(void)
{
    static uint32_t w[3 * 80 + 2];
    for (int depth = FDT_MAX_DEPTH - 1; depth <= FDT_MAX_DEPTH + 1; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++) {
            w[n++] = BEGIN;
            w[n++] = 0;
        }
        for (int i = 0; i < depth; i++)
            w[n++] = END_NODE;
        w[n++] = END;
        int rc = craft_open(w, n, "", 0);
        CHECK_EQ(rc, depth <= FDT_MAX_DEPTH ? 0 : FDT_E_DEPTH);
    }
}

static void test_huge_reservation_count(void)
{
    /* A reservation block that never ends: every entry non-zero up to the
     * structure block. */
    static uint8_t b[8192];
    memcpy(b, sample, sample_len);
    uint32_t rsv = hdr(H_OFF_RSV), st = hdr(H_OFF_STRUCT);
    for (uint32_t p = rsv; p + 16 <= st; p += 16)
        memset(b + p, 0x11, 16);
    struct fdt f;
    CHECK_EQ(fdt_open(&f, b, sample_len), FDT_E_BADLAYOUT);
}

static void test_zero_sized_reservation(void)
{
    /* An entry with an address but size 0 is not the terminator per the
     * spec, but libfdt stops there: refused as ambiguous. */
    static uint8_t b[4096];
    memcpy(b, sample, sample_len);
    memset(b + hdr(H_OFF_RSV) + 8, 0, 8);
    struct fdt f;
    CHECK_EQ(fdt_open(&f, b, sample_len), FDT_E_BADLAYOUT);
}

static void test_qemu_dtbs(void)
{
    const char *files[] = { "test/fuzz/corpus/fdt/qemu-virt-4cpu.dtb",
                            "test/fuzz/corpus/fdt/qemu-virt-1cpu.dtb",
                            "test/fuzz/corpus/fdt/chosen-modules.dtb" };
    for (size_t i = 0; i < 3; i++) {
        size_t len;
        uint8_t *b = read_file(files[i], &len);
        CHECK(b != NULL);
        if (!b)
            continue;
        struct fdt f;
        CHECK_EQ(fdt_open(&f, b, len), 0);
        expect_xcheck(b, len, files[i]);
        /* Every truncation of a real blob is refused cleanly. */
        for (size_t l = 0; l < len; l += 97)
            CHECK(fdt_open(&f, b, l) == FDT_E_TRUNCATED);
        free(b);
    }
    size_t len;
    uint8_t *b = read_file("test/fuzz/corpus/fdt/qemu-virt-4cpu.dtb", &len);
    if (!b)
        return;
    struct fdt f;
    fdt_open(&f, b, len);
    int cpus = fdt_path(&f, "/cpus"), n = 0;
    for (int c = fdt_first_child(&f, cpus); c >= 0; c = fdt_next_sibling(&f, c))
        if (fdt_getprop_string(&f, c, "device_type") &&
            strcmp(fdt_getprop_string(&f, c, "device_type"), "cpu") == 0)
            n++;
    CHECK_EQ(n, 4);
    int uart = fdt_find_compatible(&f, -1, "arm,pl011");
    u64 a, s;
    CHECK(fdt_get_reg(&f, uart, 0, &a, &s));
    CHECK_EQ(a, 0x9000000);
    CHECK_EQ(s, 0x1000);
    free(b);
}

/* Random mutations of valid blobs: whatever Bulkhead accepts, libfdt must
 * accept and read identically; nothing may crash or read out of bounds. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void test_mutations_match_libfdt(void)
{
    size_t len;
    uint8_t *real = read_file("test/fuzz/corpus/fdt/chosen-modules.dtb", &len);
    CHECK(real != NULL);
    if (!real)
        return;
    const uint8_t *bases[2] = { sample, real };
    size_t lens[2] = { sample_len, len };
    int accepted = 0, bh_only_rejects = 0;
    uint8_t *b = malloc(len > sample_len ? len : sample_len);
    for (int i = 0; i < 20000; i++) {
        int k = i & 1;
        memcpy(b, bases[k], lens[k]);
        int nmut = 1 + (int)(rnd() % 4);
        for (int j = 0; j < nmut; j++) {
            uint32_t pos = rnd() % (uint32_t)lens[k];
            switch (rnd() % 4) {
            case 0: b[pos] ^= (uint8_t)(1u << (rnd() % 8)); break;
            case 1: b[pos] = (uint8_t)rnd(); break;
            case 2: if (pos + 4 <= lens[k]) put32(b + (pos & ~3u), rnd() % 16); break;
            default: if (pos + 4 <= lens[k]) put32(b + (pos & ~3u), rnd() % 0x200); break;
            }
        }
        size_t l = (rnd() % 8 == 0) ? rnd() % lens[k] : lens[k];
        int rc, only;
        const char *m = fdt_xcheck(b, l, &rc, &only);
        if (m) {
            printf("  mutation %d: %s\n", i, m);
            if (getenv("FDT_DUMP")) {
                FILE *o = fopen(getenv("FDT_DUMP"), "wb");
                fwrite(b, 1, l, o);
                fclose(o);
            }
            CHECK(m == NULL);
            break;
        }
        accepted += rc == 0;
        bh_only_rejects += only;
    }
    printf("  %d of 20000 mutated blobs accepted; %d accepted only by libfdt\n", accepted,
           bh_only_rejects);
    CHECK(accepted > 100); /* the mutations must exercise the accepting paths too */
    free(b);
    free(real);
}

/* Issue 12 item 5: a refused blob says which field or token and where. */
static void detail(const uint8_t *b, size_t len, int want, const char *text)
{
    struct fdt f;
    char buf[300];
    int rc = fdt_open(&f, b, len);
    CHECK_EQ(rc, want);
    fdt_format_open_error(&f, rc, buf, sizeof(buf));
    if (!strstr(buf, text))
        printf("  got: %s\n  want: %s\n", buf, text);
    CHECK(strstr(buf, text) != NULL);
}

static void test_error_details(void)
{
    static uint8_t b[4096];
    memcpy(b, sample, sample_len);
    detail(b, 20, FDT_E_TRUNCATED, "header needs 40 bytes, the blob has 20");
    put32(b + 20, 16);
    detail(b, sample_len, FDT_E_BADVERSION, "version (offset 0x14) is 16");
    memcpy(b, sample, sample_len);
    put32(b + 8, 0x10000);
    detail(b, sample_len, FDT_E_BADLAYOUT, "off_dt_struct 0x10000 (offset 0x8) + size_dt_struct");
    memcpy(b, sample, sample_len);
    put32(b + 36, hdr(H_SIZE_STRUCT) - 2);
    detail(b, sample_len, FDT_E_BADLAYOUT, "size_dt_struct (offset 0x24) is 0x");
    memcpy(b, sample, sample_len);
    put32(b + 4, (uint32_t)sample_len + 64);
    detail(b, sample_len, FDT_E_TRUNCATED, "totalsize (offset 0x4) is");

    uint32_t tok[] = { BEGIN, 0, BE(7), END_NODE, END };
    size_t len = craft(b, tok, 5, "", 0);
    detail(b, len, FDT_E_BADSTRUCT, "unknown token (token at offset 0x40: structure block 0x38 + 0x8)");
    uint32_t late[] = { BEGIN, 0, BEGIN, BE(0x61000000), END_NODE, PROP, 0, 0, END_NODE, END };
    len = craft(b, late, 10, "a", 2);
    detail(b, len, FDT_E_BADSTRUCT,
           "property after a child node (properties must come first) (token at offset 0x4c");
    uint32_t p1[] = { BEGIN, 0, PROP, 0, BE(10), END_NODE, END };
    len = craft(b, p1, 7, "abc", 4);
    detail(b, len, FDT_E_BADSTRING, "property nameoff is beyond the strings block (token at offset 0x40");
}

int main(void)
{
    sample_len = build_sample(sample, sizeof(sample));
    RUN(test_sample_accepted_and_matches_libfdt);
    RUN(test_lookups);
    RUN(test_bad_headers);
    RUN(test_bad_structure);
    RUN(test_depth_limit);
    RUN(test_huge_reservation_count);
    RUN(test_zero_sized_reservation);
    RUN(test_qemu_dtbs);
    RUN(test_mutations_match_libfdt);
    RUN(test_error_details);
    return CHECK_DONE();
}
