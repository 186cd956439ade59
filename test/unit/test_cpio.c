/* Host tests of the cpio (newc) reader (hv/cpio.c) and of turning an initrd
 * into boot modules, on crafted and malformed archives. */
#include "check.h"
#include "hv/cpio.h"
#include "hv/string.h"

#include <stdint.h>

static uint8_t arc[65536];
static size_t arc_len;

static void hdr(const char *magic, uint32_t mode, uint32_t filesize, uint32_t namesize,
                uint32_t check)
{
    char h[111];
    snprintf(h, sizeof(h), "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", magic, 1u,
             mode, 0u, 0u, 1u, 0u, filesize, 0u, 0u, 0u, 0u, namesize, check);
    memcpy(arc + arc_len, h, 110);
    arc_len += 110;
}

static void pad4(void)
{
    while (arc_len % 4)
        arc[arc_len++] = 0;
}

static void add(const char *name, const void *data, uint32_t size, uint32_t mode)
{
    uint32_t ns = (uint32_t)strlen(name) + 1;
    hdr("070701", mode, size, ns, 0);
    memcpy(arc + arc_len, name, ns);
    arc_len += ns;
    pad4();
    memcpy(arc + arc_len, data, size);
    arc_len += size;
    pad4();
}

static void trailer(void)
{
    add("TRAILER!!!", "", 0, 0);
}

static void reset(void)
{
    memset(arc, 0, sizeof(arc));
    arc_len = 0;
}

static int walk(size_t len, int *count)
{
    struct cpio_iter it;
    struct cpio_entry e;
    int r;
    *count = 0;
    cpio_iter_init(&it, arc, len);
    while ((r = cpio_next(&it, &e)) == CPIO_OK) {
        /* Every entry lies inside the archive. */
        CHECK((const uint8_t *)e.name >= arc && (const uint8_t *)e.name + e.namelen < arc + len);
        CHECK(e.data >= arc && e.data + e.size <= arc + len);
        CHECK_EQ(e.name[e.namelen], 0);
        (*count)++;
    }
    /* Errors are sticky. */
    CHECK_EQ(cpio_next(&it, &e), r);
    return r;
}

static void test_valid_archive(void)
{
    reset();
    add("config", "abc", 3, 0100644);
    add("rtos", "0123456789", 10, 0100755);
    add("empty", "", 0, 0100644);
    trailer();
    int n;
    CHECK_EQ(walk(arc_len, &n), CPIO_END);
    CHECK_EQ(n, 3);

    struct cpio_iter it;
    struct cpio_entry e;
    cpio_iter_init(&it, arc, arc_len);
    CHECK_EQ(cpio_next(&it, &e), CPIO_OK);
    CHECK_STR(e.name, "config");
    CHECK_EQ(e.size, 3);
    CHECK_EQ(e.offset, 120); /* 110-byte header + "config\0" = 117, padded to 4 */
    CHECK(memcmp(e.data, "abc", 3) == 0);
    CHECK_EQ(cpio_next(&it, &e), CPIO_OK);
    CHECK_STR(e.name, "rtos");
    CHECK_EQ(e.mode, 0100755);
    CHECK(memcmp(e.data, "0123456789", 10) == 0);
}

static void test_empty_archive_and_padding(void)
{
    reset();
    trailer();
    int n;
    CHECK_EQ(walk(arc_len, &n), CPIO_END);
    CHECK_EQ(n, 0);
    /* Zero padding after the trailer (cpio pads to 512-byte blocks). */
    CHECK_EQ(walk(arc_len + 400, &n), CPIO_END);
}

static void test_truncations(void)
{
    reset();
    add("config", "abcdefgh", 8, 0100644);
    add("second", "xyz", 3, 0100644);
    trailer();
    size_t full = arc_len;
    for (size_t l = 0; l < full; l++) {
        int n;
        int r = walk(l, &n);
        CHECK(r < 0);
        if (r >= 0)
            printf("  length %zu: %d\n", l, r);
    }
    int n;
    CHECK_EQ(walk(0, &n), CPIO_E_NOTRAILER);
    CHECK_EQ(walk(50, &n), CPIO_E_TRUNCATED);
    CHECK_EQ(walk(full, &n), CPIO_END);
}

static void test_bad_fields(void)
{
    int n;
    /* Bad magic: old binary / odc formats, garbage. */
    reset();
    hdr("070707", 0100644, 0, 2, 0);
    memcpy(arc + arc_len, "a", 2);
    arc_len += 2;
    CHECK_EQ(walk(arc_len + 200, &n), CPIO_E_BADMAGIC);
    reset();
    memcpy(arc, "\xc7\x71", 2);
    CHECK_EQ(walk(200, &n), CPIO_E_BADMAGIC);
    /* Magic fine in the first entry, bad in the second. */
    reset();
    add("a", "1", 1, 0100644);
    size_t second = arc_len;
    add("b", "2", 1, 0100644);
    trailer();
    arc[second + 5] = '9';
    CHECK_EQ(walk(arc_len, &n), CPIO_E_BADMAGIC);
    CHECK_EQ(n, 1);
    /* Non-hex digit in each of the 13 fields in turn. */
    for (int field = 0; field < 13; field++) {
        reset();
        add("a", "1", 1, 0100644);
        trailer();
        arc[6 + 8 * field + 7] = 'g';
        CHECK_EQ(walk(arc_len, &n), CPIO_E_BADHEX);
        reset();
        add("a", "1", 1, 0100644);
        trailer();
        arc[6 + 8 * field] = ' ';
        CHECK_EQ(walk(arc_len, &n), CPIO_E_BADHEX);
    }
    /* Lower-case hex is fine. */
    reset();
    hdr("070701", 0100644, 0xa, 2, 0);
    for (int i = 6; i < 110; i++)
        if (arc[i] >= 'A' && arc[i] <= 'F')
            arc[i] = (uint8_t)(arc[i] - 'A' + 'a');
    memcpy(arc + arc_len, "x", 2);
    arc_len += 2;
    pad4();
    memcpy(arc + arc_len, "0123456789", 10);
    arc_len += 10;
    pad4();
    trailer();
    CHECK_EQ(walk(arc_len, &n), CPIO_END);
    CHECK_EQ(n, 1);
}

static void test_bad_names(void)
{
    int n;
    /* namesize 0 or 1 (empty name). */
    for (uint32_t ns = 0; ns < 2; ns++) {
        reset();
        hdr("070701", 0100644, 0, ns, 0);
        arc_len += 4;
        trailer();
        CHECK_EQ(walk(arc_len, &n), CPIO_E_BADNAME);
    }
    /* Name not terminated where namesize says. */
    reset();
    hdr("070701", 0100644, 0, 3, 0);
    memcpy(arc + arc_len, "abcd", 4);
    arc_len += 4;
    trailer();
    CHECK_EQ(walk(arc_len, &n), CPIO_E_BADNAME);
    /* NUL inside the name. */
    reset();
    hdr("070701", 0100644, 0, 4, 0);
    memcpy(arc + arc_len, "a\0b\0", 4);
    arc_len += 4;
    trailer();
    CHECK_EQ(walk(arc_len, &n), CPIO_E_BADNAME);
    /* Name running past the end. */
    reset();
    hdr("070701", 0100644, 0, 0x7fffffff, 0);
    memcpy(arc + arc_len, "abc", 4);
    arc_len += 4;
    CHECK_EQ(walk(arc_len, &n), CPIO_E_TRUNCATED);
}

static void test_sizes_past_end(void)
{
    int n;
    uint32_t sizes[] = { 5, 100, 0x7fffffff, 0xffffffff };
    for (size_t i = 0; i < 4; i++) {
        reset();
        hdr("070701", 0100644, sizes[i], 2, 0);
        memcpy(arc + arc_len, "a", 2);
        arc_len += 2;
        pad4();
        memcpy(arc + arc_len, "abcd", 4);
        arc_len += 4;
        CHECK_EQ(walk(arc_len, &n), CPIO_E_TRUNCATED);
    }
}

static void test_missing_trailer(void)
{
    int n;
    reset();
    add("a", "1", 1, 0100644);
    CHECK_EQ(walk(arc_len, &n), CPIO_E_NOTRAILER);
    CHECK_EQ(n, 1);
    /* Followed by zeros only. */
    CHECK_EQ(walk(arc_len + 300, &n), CPIO_E_NOTRAILER);
}

static void test_checksum_format(void)
{
    int n;
    reset();
    const char *d = "hello crc";
    uint32_t sum = 0;
    for (const char *p = d; *p; p++)
        sum += (uint8_t)*p;
    hdr("070702", 0100644, 9, 2, sum);
    memcpy(arc + arc_len, "c", 2);
    arc_len += 2;
    pad4();
    size_t data = arc_len;
    memcpy(arc + arc_len, d, 9);
    arc_len += 9;
    pad4();
    trailer();
    CHECK_EQ(walk(arc_len, &n), CPIO_END);
    CHECK_EQ(n, 1);
    arc[data] ^= 1;
    CHECK_EQ(walk(arc_len, &n), CPIO_E_CHECKSUM);
}

static void test_huge_entry_count(void)
{
    /* Many entries: the reader walks them all; turning them into modules
     * stops at BI_MAX_MODULES with a message. */
    reset();
    char name[16];
    for (int i = 0; i < 400; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        add(name, "x", 1, 0100644);
    }
    trailer();
    int n;
    CHECK_EQ(walk(arc_len, &n), CPIO_END);
    CHECK_EQ(n, 400);
    static struct boot_info bi;
    memset(&bi, 0, sizeof(bi));
    char err[256];
    CHECK_EQ(cpio_add_modules(&bi, 0x48000000, arc, arc_len, err, sizeof(err)), -1);
    CHECK_CONTAINS(err, "more than 32 modules");
}

static void test_modules(void)
{
    reset();
    add(".", "", 0, 0040755);
    add("./config", "cfg!", 4, 0100644);
    add("guests", "", 0, 0040755);
    add("guests/hello", "\x7f" "ELF", 4, 0100755);
    add("/rtos quiet level=3", "r", 1, 0100644);
    trailer();
    static struct boot_info bi;
    memset(&bi, 0, sizeof(bi));
    char err[256] = "";
    CHECK_EQ(cpio_add_modules(&bi, 0x48000000, arc, arc_len, err, sizeof(err)), 3);
    CHECK_EQ(bi.nmod, 3);
    CHECK_STR(bi.mod[0].name, "config");
    CHECK_EQ(bi.mod[0].size, 4);
    CHECK(memcmp(arc + (bi.mod[0].base - 0x48000000), "cfg!", 4) == 0);
    CHECK_STR(bi.mod[1].name, "guests/hello");
    CHECK_STR(bi.mod[2].name, "rtos");
    CHECK_STR(bi.mod[2].args, "quiet level=3");
    CHECK(bi_check(&bi, err, sizeof(err)) || strstr(err, "usable memory"));

    /* Duplicate names are left for bi_check, which names them. */
    reset();
    add("alpha", "1", 1, 0100644);
    add("./alpha", "2", 1, 0100644);
    trailer();
    memset(&bi, 0, sizeof(bi));
    CHECK_EQ(cpio_add_modules(&bi, 0x1000, arc, arc_len, err, sizeof(err)), 2);
    bi_add_mem(&bi, 0, 0x100000, MEM_USABLE);
    CHECK(!bi_check(&bi, err, sizeof(err)));
    CHECK_CONTAINS(err, "'alpha' is used twice");

    /* Other file types are refused by name. */
    reset();
    add("link", "target", 6, 0120777);
    trailer();
    memset(&bi, 0, sizeof(bi));
    CHECK_EQ(cpio_add_modules(&bi, 0x1000, arc, arc_len, err, sizeof(err)), -1);
    CHECK_CONTAINS(err, "'link'");
    CHECK_CONTAINS(err, "not a regular file");

    /* Names that are empty once "./" is dropped, or too long. */
    reset();
    add("./", "x", 1, 0100644);
    trailer();
    memset(&bi, 0, sizeof(bi));
    CHECK_EQ(cpio_add_modules(&bi, 0x1000, arc, arc_len, err, sizeof(err)), -1);
    CHECK_CONTAINS(err, "no usable name");
    reset();
    add("a-module-name-that-is-far-too-long-to-fit", "x", 1, 0100644);
    trailer();
    memset(&bi, 0, sizeof(bi));
    CHECK_EQ(cpio_add_modules(&bi, 0x1000, arc, arc_len, err, sizeof(err)), -1);
    CHECK_CONTAINS(err, "limited to 31 characters");

    /* A corrupt archive: the message says what and where. */
    reset();
    add("alpha", "1", 1, 0100644);
    memset(&bi, 0, sizeof(bi));
    CHECK_EQ(cpio_add_modules(&bi, 0x1000, arc, arc_len, err, sizeof(err)), -1);
    CHECK_CONTAINS(err, "TRAILER!!!");
    CHECK_EQ(cpio_add_modules(&bi, 0x1000, NULL, 100, err, sizeof(err)), -1);
}

static void test_seed_corpus(void)
{
    /* The committed seeds: valid ones give their files, broken ones fail
     * with the expected error. */
    struct { const char *file; int want; } seeds[] = {
        { "valid-3-files.cpio", CPIO_END },     { "empty-archive.cpio", CPIO_END },
        { "truncated.cpio", CPIO_E_TRUNCATED }, { "no-trailer.cpio", CPIO_E_NOTRAILER },
        { "bad-magic-second.cpio", CPIO_E_BADMAGIC }, { "size-past-end.cpio", CPIO_E_TRUNCATED },
        { "name-unterminated.cpio", CPIO_E_BADNAME }, { "non-hex.cpio", CPIO_E_BADHEX },
        { "dirs-dotslash-padded.cpio", CPIO_END }, { "crc-valid.cpio", CPIO_END },
    };
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "test/fuzz/corpus/cpio/%s", seeds[i].file);
        FILE *fh = fopen(path, "rb");
        CHECK(fh != NULL);
        if (!fh)
            continue;
        arc_len = fread(arc, 1, sizeof(arc), fh);
        fclose(fh);
        int n;
        int r = walk(arc_len, &n);
        if (r != seeds[i].want)
            printf("  %s: %d (%s)\n", seeds[i].file, r, cpio_strerror(r));
        CHECK_EQ(r, seeds[i].want);
    }
}

int main(void)
{
    RUN(test_valid_archive);
    RUN(test_empty_archive_and_padding);
    RUN(test_truncations);
    RUN(test_bad_fields);
    RUN(test_bad_names);
    RUN(test_sizes_past_end);
    RUN(test_missing_trailer);
    RUN(test_checksum_format);
    RUN(test_huge_entry_count);
    RUN(test_modules);
    RUN(test_seed_corpus);
    return CHECK_DONE();
}
