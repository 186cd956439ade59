/* Host tests of the device-tree writer (hv/fdt_write.c): trees it writes are
 * read back with Bulkhead's own reader (hv/fdt.h) and with libfdt (full
 * check and lookups); buffer-full, name-table-full and nesting errors stick
 * and are reported by fdtw_finish. */
#include "check.h"
#include "hv/fdt.h"
#include "hv/fdt_write.h"
#include "test/fuzz/libfdt_shim.h"

#include <stdint.h>

static uint64_t buf64[8192];
#define BUF ((uint8_t *)buf64)

/* A tree shaped like the one the arm64 loader writes for a partition. */
static int build_partition_tree(uint8_t *b, uint32_t cap)
{
    static struct fdt_writer w;
    fdtw_init(&w, b, cap);
    fdtw_begin_node(&w, "");
    fdtw_prop_u32(&w, "#address-cells", 2);
    fdtw_prop_u32(&w, "#size-cells", 2);
    fdtw_prop_string(&w, "compatible", "bulkhead,partition");
    fdtw_begin_node(&w, "chosen");
    fdtw_prop_string(&w, "bootargs", "console=ttyAMA0 greeting=hello");
    fdtw_prop_string(&w, "stdout-path", "/pl011@9000000");
    fdtw_prop_u64(&w, "linux,initrd-start", 0x41000000ULL);
    fdtw_prop_u64(&w, "linux,initrd-end", 0x41001234ULL);
    fdtw_end_node(&w);
    fdtw_begin_node(&w, "memory@40000000");
    fdtw_prop_string(&w, "device_type", "memory");
    fdtw_prop_reg64(&w, "reg", 0x40000000ULL, 0x2000000ULL);
    fdtw_end_node(&w);
    fdtw_begin_node(&w, "memory@80000000");
    fdtw_prop_string(&w, "device_type", "memory");
    fdtw_prop_reg64(&w, "reg", 0x180000000ULL, 0x200000ULL);
    fdtw_end_node(&w);
    fdtw_begin_node(&w, "cpus");
    fdtw_prop_u32(&w, "#address-cells", 1);
    fdtw_prop_u32(&w, "#size-cells", 0);
    for (uint32_t i = 0; i < 2; i++) {
        char name[16];
        snprintf(name, sizeof(name), "cpu@%u", i);
        fdtw_begin_node(&w, name);
        fdtw_prop_string(&w, "device_type", "cpu");
        fdtw_prop_u32(&w, "reg", i);
        fdtw_prop_string(&w, "enable-method", "psci");
        fdtw_end_node(&w);
    }
    fdtw_end_node(&w);
    fdtw_begin_node(&w, "psci");
    static const char compat[] = "arm,psci-1.0\0arm,psci-0.2";
    fdtw_prop(&w, "compatible", compat, sizeof(compat));
    fdtw_prop_string(&w, "method", "hvc");
    fdtw_end_node(&w);
    fdtw_begin_node(&w, "pl011@9000000");
    fdtw_prop_reg64(&w, "reg", 0x9000000, 0x1000);
    fdtw_prop_empty(&w, "bulkhead,virtual");
    fdtw_end_node(&w);
    fdtw_end_node(&w);
    return fdtw_finish(&w);
}

static void test_readback_own_reader(void)
{
    int n = build_partition_tree(BUF, sizeof(buf64));
    CHECK(n > 0);
    struct fdt f;
    CHECK_EQ(fdt_open(&f, BUF, (size_t)n), 0);
    CHECK_EQ(f.totalsize, (uint32_t)n);
    int chosen = fdt_path(&f, "/chosen");
    CHECK(chosen >= 0);
    CHECK_STR(fdt_getprop_string(&f, chosen, "bootargs"), "console=ttyAMA0 greeting=hello");
    CHECK_STR(fdt_getprop_string(&f, chosen, "stdout-path"), "/pl011@9000000");
    uint64_t v = 0;
    CHECK(fdt_getprop_u64(&f, chosen, "linux,initrd-start", &v));
    CHECK_EQ(v, 0x41000000ULL);
    CHECK(fdt_getprop_u64(&f, chosen, "linux,initrd-end", &v));
    CHECK_EQ(v, 0x41001234ULL);
    int mem = fdt_path(&f, "/memory@80000000");
    CHECK(mem >= 0);
    uint64_t a = 0, s = 0;
    CHECK(fdt_get_reg(&f, mem, 0, &a, &s));
    CHECK_EQ(a, 0x180000000ULL);
    CHECK_EQ(s, 0x200000ULL);
    int cpu1 = fdt_path(&f, "/cpus/cpu@1");
    CHECK(cpu1 >= 0);
    uint32_t reg = 99;
    CHECK(fdt_getprop_u32(&f, cpu1, "reg", &reg));
    CHECK_EQ(reg, 1);
    CHECK_STR(fdt_getprop_string(&f, cpu1, "enable-method"), "psci");
    int psci = fdt_path(&f, "/psci");
    CHECK(psci >= 0);
    CHECK(fdt_node_is_compatible(&f, psci, "arm,psci-0.2"));
    CHECK(fdt_node_is_compatible(&f, psci, "arm,psci-1.0"));
    uint32_t len = 99;
    CHECK(fdt_getprop(&f, fdt_path(&f, "/pl011@9000000"), "bulkhead,virtual", &len) != NULL);
    CHECK_EQ(len, 0);
    CHECK_EQ(fdt_num_rsv(&f), 0);
}

static void test_readback_libfdt(void)
{
    int n = build_partition_tree(BUF, sizeof(buf64));
    CHECK(n > 0);
    CHECK_EQ(lf_check_full(BUF, (size_t)n), 0);
    CHECK_EQ(lf_totalsize(BUF), n);
    int chosen = lf_path_offset(BUF, "/chosen");
    CHECK(chosen >= 0);
    int len = 0;
    const char *ba = lf_getprop(BUF, chosen, "bootargs", &len);
    CHECK_STR(ba, "console=ttyAMA0 greeting=hello");
    CHECK_EQ(len, strlen("console=ttyAMA0 greeting=hello") + 1);
    int cpus = lf_path_offset(BUF, "/cpus");
    CHECK_EQ(lf_address_cells(BUF, cpus), 1);
    CHECK_EQ(lf_size_cells(BUF, cpus), 0);
    CHECK_EQ(lf_address_cells(BUF, 0), 2);
    CHECK(lf_node_offset_by_compatible(BUF, -1, "arm,psci-1.0") >= 0);
    const uint8_t *reg = lf_getprop(BUF, lf_path_offset(BUF, "/memory@40000000"), "reg", &len);
    CHECK_EQ(len, 16);
    CHECK(reg && reg[3] == 0 && reg[4] == 0x40 && reg[11] == 0 && reg[12] == 0x02);
    /* names are stored once */
    CHECK_EQ(lf_num_mem_rsv(BUF), 0);
    char path[64];
    CHECK_EQ(lf_get_path(BUF, lf_path_offset(BUF, "/cpus/cpu@0"), path, sizeof(path)), 0);
    CHECK_STR(path, "/cpus/cpu@0");
}

static void test_strings_dedup(void)
{
    int n = build_partition_tree(BUF, sizeof(buf64));
    CHECK(n > 0);
    struct fdt f;
    CHECK_EQ(fdt_open(&f, BUF, (size_t)n), 0);
    /* "device_type" appears 4 times in the tree, once in the strings block */
    const char *s = (const char *)BUF + f.off_strings;
    int count = 0;
    for (uint32_t o = 0; o < f.size_strings; o += (uint32_t)strlen(s + o) + 1)
        if (strcmp(s + o, "device_type") == 0)
            count++;
    CHECK_EQ(count, 1);
}

static void test_every_short_buffer_fails_cleanly(void)
{
    int full = build_partition_tree(BUF, sizeof(buf64));
    CHECK(full > 0);
    for (int cap = 0; cap < full; cap++) {
        uint8_t *b = malloc((size_t)cap + 1);
        int r = build_partition_tree(b, (uint32_t)cap);
        if (r != FDTW_E_NOSPACE) {
            printf("  cap %d: got %d\n", cap, r);
            CHECK(r == FDTW_E_NOSPACE);
            free(b);
            break;
        }
        free(b);
    }
    uint8_t *b = malloc((size_t)full);
    CHECK_EQ(build_partition_tree(b, (uint32_t)full), full);
    CHECK_EQ(lf_check_full(b, (size_t)full), 0);
    free(b);
}

static void test_errors(void)
{
    static struct fdt_writer w;
    /* property outside any node */
    fdtw_init(&w, BUF, 4096);
    fdtw_prop_u32(&w, "x", 1);
    CHECK_EQ(fdtw_finish(&w), FDTW_E_NESTING);
    /* a node left open */
    fdtw_init(&w, BUF, 4096);
    fdtw_begin_node(&w, "");
    fdtw_begin_node(&w, "a");
    fdtw_end_node(&w);
    CHECK_EQ(fdtw_finish(&w), FDTW_E_NESTING);
    /* one end too many */
    fdtw_init(&w, BUF, 4096);
    fdtw_begin_node(&w, "");
    fdtw_end_node(&w);
    fdtw_end_node(&w);
    CHECK_EQ(fdtw_finish(&w), FDTW_E_NESTING);
    /* a named root, and a second root */
    fdtw_init(&w, BUF, 4096);
    fdtw_begin_node(&w, "root");
    CHECK_EQ(fdtw_finish(&w), FDTW_E_BADNAME);
    fdtw_init(&w, BUF, 4096);
    fdtw_begin_node(&w, "");
    fdtw_end_node(&w);
    fdtw_begin_node(&w, "");
    CHECK_EQ(fdtw_finish(&w), FDTW_E_BADNAME);
    /* nothing at all */
    fdtw_init(&w, BUF, 4096);
    CHECK_EQ(fdtw_finish(&w), FDTW_E_NESTING);
    /* too many distinct names: the error sticks */
    fdtw_init(&w, BUF, sizeof(buf64));
    fdtw_begin_node(&w, "");
    for (int i = 0; i < 200; i++) {
        char name[32];
        snprintf(name, sizeof(name), "property-number-%d", i);
        fdtw_prop_u32(&w, name, (uint32_t)i);
    }
    fdtw_end_node(&w);
    CHECK_EQ(fdtw_finish(&w), FDTW_E_STRINGS);
    /* empty root with no properties is a valid tree */
    fdtw_init(&w, BUF, 4096);
    fdtw_begin_node(&w, "");
    fdtw_end_node(&w);
    int n = fdtw_finish(&w);
    CHECK(n > 0);
    CHECK_EQ(lf_check_full(BUF, (size_t)n), 0);
}

int main(void)
{
    RUN(test_readback_own_reader);
    RUN(test_readback_libfdt);
    RUN(test_strings_dedup);
    RUN(test_every_short_buffer_fails_cleanly);
    RUN(test_errors);
    return CHECK_DONE();
}
