/* Multiboot2 information parsing: well-formed blocks fill boot_info; crafted
 * malformed blocks are refused with a message that names the problem. */
#include "check.h"
#include "mb2_build.h"
#include "boot/x86_64/multiboot2.h"

static struct boot_info bi;
static char err[256];
static struct mb2b b;

static const struct mb2b_mmap_ent std_map[] = {
    { 0, 0x9fc00, 1, 0 },
    { 0x9fc00, 0x400, 2, 0 },
    { 0x100000, 0x7ee0000, 1, 0 },
    { 0x7fe0000, 0x20000, 3, 0 },
    { 0xfffc0000, 0x40000, 2, 0 },
};

static bool parse(void)
{
    memset(&bi, 0, sizeof(bi));
    err[0] = 0;
    return mb2_parse(b.buf, sizeof(b.buf), 0x10000, &bi, err, sizeof(err));
}

static void full_block(void)
{
    mb2b_init(&b);
    mb2b_string(&b, 1, "on_idle=poweroff smp.timeout_ms=50");
    mb2b_string(&b, 2, "GRUB 2.06");
    mb2b_module(&b, 0x200000, 0x200100, "config");
    mb2b_module(&b, 0x300000, 0x340000, "  rtos   console=ttyS0 quiet  ");
    mb2b_mmap(&b, std_map, 5);
    uint8_t *t = mb2b_tag(&b, 14, 8 + 20);
    memcpy(t + 8, "RSD PTR ", 8);
    t = mb2b_tag(&b, 99, 12); /* unknown tags are skipped */
    mb2b_finish(&b);
    CHECK(parse());
    CHECK_STR(bi.cmdline, "on_idle=poweroff smp.timeout_ms=50");
    CHECK_STR(bi.loader_name, "GRUB 2.06");
    CHECK_EQ(bi.nmod, 2);
    CHECK_STR(bi.mod[0].name, "config");
    CHECK_STR(bi.mod[0].args, "");
    CHECK_EQ(bi.mod[0].base, 0x200000);
    CHECK_EQ(bi.mod[0].size, 0x100);
    CHECK_STR(bi.mod[1].name, "rtos");
    CHECK_STR(bi.mod[1].args, "console=ttyS0 quiet");
    CHECK_EQ(bi.mod[1].size, 0x40000);
    CHECK_EQ(bi.nmem, 5);
    CHECK_EQ(bi.mem[2].base, 0x100000);
    CHECK_EQ(bi.mem[2].type, MEM_USABLE);
    CHECK_EQ(bi.mem[3].type, MEM_ACPI_RECLAIM);
    CHECK_EQ(bi.mem[4].type, MEM_RESERVED);
    CHECK_EQ(bi.acpi_rsdp_len, 20);
    /* Reserved: the information block and both modules. */
    CHECK_EQ(bi.nrsv, 3);
    CHECK_EQ(bi.rsv[0].base, 0x10000);
    CHECK_EQ(bi.rsv[1].base, 0x200000);
    CHECK_EQ(bi.rsv[2].size, 0x40000);
    CHECK(bi_check(&bi, err, sizeof(err)));
    char v[32];
    CHECK(bi_cmdline_get(bi.cmdline, "smp.timeout_ms", v, sizeof(v)));
    CHECK_STR(v, "50");
    CHECK(!bi_cmdline_get(bi.cmdline, "smp", v, sizeof(v)));
    CHECK(bi_cmdline_get(bi.cmdline, "on_idle", v, sizeof(v)));
    CHECK_STR(v, "poweroff");
}

static void acpi_new_wins(void)
{
    mb2b_init(&b);
    mb2b_mmap(&b, std_map, 5);
    uint8_t *t = mb2b_tag(&b, 15, 8 + 36);
    memcpy(t + 8, "RSD PTR ", 8);
    t = mb2b_tag(&b, 14, 8 + 20);
    memcpy(t + 8, "RSD PTR ", 8);
    mb2b_finish(&b);
    CHECK(parse());
    CHECK_EQ(bi.acpi_rsdp_len, 36);
}

static void basic_meminfo_fallback(void)
{
    mb2b_init(&b);
    uint8_t *t = mb2b_tag(&b, 4, 16);
    uint32_t lower = 639, upper = 65536;
    memcpy(t + 8, &lower, 4);
    memcpy(t + 12, &upper, 4);
    mb2b_finish(&b);
    CHECK(parse());
    CHECK_EQ(bi_usable_bytes(&bi), 639 * 1024 + 65536 * 1024ULL);
}

#define EXPECT_FAIL(msg)                 \
    do {                                 \
        CHECK(!parse());                 \
        CHECK_CONTAINS(err, msg);        \
    } while (0)

static void malformed(void)
{
    /* total size too small / larger than what is readable */
    memset(&b, 0, sizeof(b));
    uint32_t v = 8;
    memcpy(b.buf, &v, 4);
    EXPECT_FAIL("information size 8 is invalid");
    v = 100000;
    memcpy(b.buf, &v, 4);
    EXPECT_FAIL("information size 100000 is invalid");
    CHECK(!mb2_parse(b.buf, 12, 0, &bi, err, sizeof(err)));
    CHECK_CONTAINS(err, "shorter than 16 bytes");
    CHECK(!mb2_parse(NULL, 100, 0, &bi, err, sizeof(err)));

    /* no end tag */
    mb2b_init(&b);
    mb2b_mmap(&b, std_map, 5);
    memcpy(b.buf, &b.len, 4);
    EXPECT_FAIL("no end tag");

    /* a tag running past the end */
    mb2b_init(&b);
    mb2b_mmap(&b, std_map, 5);
    mb2b_finish(&b);
    v = 4000;
    memcpy(b.buf + 8 + 4, &v, 4);
    EXPECT_FAIL("runs past the end");

    /* a tag size below 8 (would loop forever if accepted) */
    mb2b_init(&b);
    mb2b_tag(&b, 1, 8);
    mb2b_finish(&b);
    v = 4;
    memcpy(b.buf + 12, &v, 4);
    EXPECT_FAIL("has size 4");

    /* unterminated command line */
    mb2b_init(&b);
    uint8_t *t = mb2b_tag(&b, 1, 12);
    memcpy(t + 8, "abcd", 4);
    mb2b_mmap(&b, std_map, 5);
    mb2b_finish(&b);
    EXPECT_FAIL("command-line tag at offset 8 is not a terminated string");

    /* empty string tag */
    mb2b_init(&b);
    mb2b_tag(&b, 2, 8);
    mb2b_finish(&b);
    EXPECT_FAIL("boot-loader-name tag");

    /* module ending before it starts */
    mb2b_init(&b);
    mb2b_module(&b, 0x300000, 0x200000, "rtos");
    mb2b_mmap(&b, std_map, 5);
    mb2b_finish(&b);
    EXPECT_FAIL("module 'rtos' ends (0x200000) before it starts (0x300000)");

    /* module without a name */
    mb2b_init(&b);
    mb2b_module(&b, 0x200000, 0x200010, "   ");
    mb2b_mmap(&b, std_map, 5);
    mb2b_finish(&b);
    EXPECT_FAIL("boot module 1 (at 0x200000, 16 bytes) has no name");

    /* module name too long */
    mb2b_init(&b);
    mb2b_module(&b, 0x200000, 0x200010, "a-module-name-that-is-far-too-long-to-keep");
    mb2b_mmap(&b, std_map, 5);
    mb2b_finish(&b);
    EXPECT_FAIL("is longer than 31 characters");

    /* module tag too short for its string */
    mb2b_init(&b);
    mb2b_tag(&b, 3, 16);
    mb2b_finish(&b);
    EXPECT_FAIL("module tag at offset 8 is malformed");

    /* memory map with a bad entry size */
    mb2b_init(&b);
    t = mb2b_tag(&b, 6, 16 + 40);
    v = 20;
    memcpy(t + 8, &v, 4);
    mb2b_finish(&b);
    EXPECT_FAIL("memory map entry size 20 is invalid");

    /* no memory information at all */
    mb2b_init(&b);
    mb2b_module(&b, 0x200000, 0x200010, "config");
    mb2b_finish(&b);
    EXPECT_FAIL("has no memory map");

    /* ACPI tag without the RSDP signature, or too short */
    mb2b_init(&b);
    t = mb2b_tag(&b, 14, 8 + 20);
    memcpy(t + 8, "NOT RSDP", 8);
    mb2b_finish(&b);
    EXPECT_FAIL("holds no RSDP signature");
    mb2b_init(&b);
    mb2b_tag(&b, 15, 8 + 20);
    mb2b_finish(&b);
    EXPECT_FAIL("ACPI new RSDP tag at offset 8 is too short");

    /* end tag with a wrong size */
    mb2b_init(&b);
    mb2b_tag(&b, 0, 16);
    memcpy(b.buf, &b.len, 4);
    EXPECT_FAIL("end tag at offset 8 has size 16");
}

static void too_many(void)
{
    mb2b_init(&b);
    char name[16];
    for (int i = 0; i < BI_MAX_MODULES + 1; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        mb2b_module(&b, 0x200000 + i * 0x1000, 0x200000 + i * 0x1000 + 1, name);
    }
    mb2b_mmap(&b, std_map, 5);
    mb2b_finish(&b);
    EXPECT_FAIL("more than 32 boot modules");

    static struct mb2b_mmap_ent many[BI_MAX_MEM + 1];
    for (int i = 0; i < BI_MAX_MEM + 1; i++)
        many[i] = (struct mb2b_mmap_ent){ (uint64_t)i << 20, 4096, 1, 0 };
    mb2b_init(&b);
    mb2b_mmap(&b, many, BI_MAX_MEM + 1);
    mb2b_finish(&b);
    EXPECT_FAIL("memory map has more than 128 entries");
}

static void duplicate_and_missing_modules(void)
{
    mb2b_init(&b);
    mb2b_mmap(&b, std_map, 5);
    mb2b_finish(&b);
    CHECK(parse());
    CHECK(!bi_check(&bi, err, sizeof(err)));
    CHECK_CONTAINS(err, "no boot modules");

    mb2b_init(&b);
    mb2b_module(&b, 0x200000, 0x200010, "config");
    mb2b_module(&b, 0x300000, 0x300010, "rtos");
    mb2b_module(&b, 0x400000, 0x400010, "config extra");
    mb2b_mmap(&b, std_map, 5);
    mb2b_finish(&b);
    CHECK(parse());
    CHECK(!bi_check(&bi, err, sizeof(err)));
    CHECK_CONTAINS(err, "module name 'config' is used twice (modules 1 and 3)");
    CHECK(bi_find_module(&bi, "rtos") == &bi.mod[1]);
    CHECK(bi_find_module(&bi, "nope") == NULL);
}

static void overflowing_mmap_entry(void)
{
    struct mb2b_mmap_ent e[2] = { { 0x100000, 0x100000, 1, 0 },
                                  { 0xfffffffffffff000ULL, 0x10000, 1, 0 } };
    mb2b_init(&b);
    mb2b_mmap(&b, e, 2);
    mb2b_module(&b, 0x200000, 0x200010, "config");
    mb2b_finish(&b);
    CHECK(parse());
    CHECK_EQ(bi.nmem, 2);
    CHECK_EQ(bi.mem[1].base + bi.mem[1].size, UINT64_MAX);
}

int main(void)
{
    RUN(full_block);
    RUN(acpi_new_wins);
    RUN(basic_meminfo_fallback);
    RUN(malformed);
    RUN(too_many);
    RUN(duplicate_and_missing_modules);
    RUN(overflowing_mmap_entry);
    return CHECK_DONE();
}
