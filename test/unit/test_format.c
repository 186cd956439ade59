/* bh_snprintf against the C library's snprintf on the same formats. */
#include "check.h"
#include "hv/format.h"

#define SAME(...)                                                        \
    do {                                                                 \
        char a[256], b[256];                                             \
        int na = bh_snprintf(a, sizeof(a), __VA_ARGS__);                 \
        int nb = snprintf(b, sizeof(b), __VA_ARGS__);                    \
        CHECK_STR(a, b);                                                 \
        CHECK_EQ(na, nb);                                                \
    } while (0)

static void integers(void)
{
    SAME("%d %i %u", 0, -1, 4000000000u);
    SAME("%d", -2147483647 - 1);
    SAME("%lld %llu", -9223372036854775807LL - 1, 18446744073709551615ULL);
    SAME("%ld %lu %zu %zd", -5L, 5UL, (size_t)77, (ssize_t)-77);
    SAME("%hd %hu %hhd %hhu", (short)-3, (unsigned short)65535, (signed char)-128, (unsigned char)255);
    SAME("%x %X %#x %#X %o %#o", 0xdeadbeef, 0xdeadbeef, 255, 255, 8, 8);
    SAME("%#x %#o", 0, 0);
    SAME("%llx", 0x0123456789abcdefULL);
}

static void widths_and_flags(void)
{
    SAME("[%5d] [%-5d] [%05d] [%+d] [% d] [%+5d]", 42, 42, 42, 42, 42, -42);
    SAME("[%.3d] [%8.3d] [%-8.3d]", 7, 7, 7);
    SAME("[%.0d] [%.0x]", 0, 0);
    SAME("[%*d] [%-*d] [%.*d]", 6, 1, 6, 1, 4, 1);
    SAME("[%*d]", -6, 1);
    SAME("[%#10x] [%#010x] [%-#10x]", 0xab, 0xab, 0xab);
    SAME("[%016llx]", 0x1234ULL);
}

static void strings_and_chars(void)
{
    SAME("[%s] [%10s] [%-10s] [%.2s] [%10.2s]", "abc", "abc", "abc", "abc", "abc");
    SAME("[%c] [%3c] [%-3c]", 'x', 'y', 'z');
    SAME("100%% sure");
    SAME("%s", "");
    char out[16];
    const char *volatile nul = NULL;
    bh_snprintf(out, sizeof(out), "%s", nul);
    CHECK_STR(out, "(null)");
}

static void pointers(void)
{
    char a[64];
    bh_snprintf(a, sizeof(a), "%p", (void *)0x1234);
    CHECK_STR(a, "0x1234");
}

static void truncation(void)
{
    char buf[8];
    int n = bh_snprintf(buf, sizeof(buf), "%s", "hello, world");
    CHECK_EQ(n, 12);
    CHECK_STR(buf, "hello, ");
    n = bh_snprintf(buf, 1, "abc");
    CHECK_EQ(n, 3);
    CHECK_EQ(buf[0], 0);
    n = bh_snprintf(NULL, 0, "%d", 12345);
    CHECK_EQ(n, 5);
    memset(buf, 'x', sizeof(buf));
    n = bh_snprintf(buf, 4, "%08x", 0x1234);
    CHECK_EQ(n, 8);
    CHECK_STR(buf, "000");
}

static void unknown_conversion(void)
{
    char buf[32];
    const char *volatile f1 = "a%qb", *volatile f2 = "end%";
    bh_snprintf(buf, sizeof(buf), f1);
    CHECK_STR(buf, "a%qb");
    bh_snprintf(buf, sizeof(buf), f2);
    CHECK_STR(buf, "end");
}

static void sizes(void)
{
    char b[32];
    bh_format_size(b, sizeof(b), 0);
    CHECK_STR(b, "0 B");
    bh_format_size(b, sizeof(b), 1023);
    CHECK_STR(b, "1023 B");
    bh_format_size(b, sizeof(b), 4096);
    CHECK_STR(b, "4 KiB");
    bh_format_size(b, sizeof(b), 512ULL << 20);
    CHECK_STR(b, "512 MiB");
    bh_format_size(b, sizeof(b), 3ULL << 30);
    CHECK_STR(b, "3 GiB");
    bh_format_size(b, sizeof(b), (1ULL << 30) + (512ULL << 20));
    CHECK_STR(b, "1536 MiB");
    bh_format_size(b, sizeof(b), 267747328ULL);
    CHECK_STR(b, "255.3 MiB");
    bh_format_size(b, sizeof(b), UINT64_MAX);
    CHECK_CONTAINS(b, "EiB");
}

int main(void)
{
    RUN(integers);
    RUN(widths_and_flags);
    RUN(strings_and_chars);
    RUN(pointers);
    RUN(truncation);
    RUN(unknown_conversion);
    RUN(sizes);
    return CHECK_DONE();
}
