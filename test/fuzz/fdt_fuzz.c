/* libFuzzer target for the device-tree reader (hv/fdt.c). Every input is
 * opened; an accepted blob is walked through the whole API, and compared with
 * libfdt on the same bytes (fdt_xcheck.h): any disagreement aborts. ASan and
 * UBSan catch reads outside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fdt_xcheck.h"

static void exercise(const struct fdt *f)
{
    static const char *const names[] = { "reg", "compatible", "status", "#address-cells",
                                         "#size-cells", "bootargs", "device_type" };
    int depth = 0;
    char path[256];
    for (int n = fdt_root(f); n >= 0; n = fdt_next_node(f, n, &depth)) {
        fdt_node_path(f, n, path, sizeof(path));
        fdt_node_path(f, n, path, 3);
        u64 a, s;
        for (u32 i = 0; i < 4; i++)
            fdt_get_reg(f, n, i, &a, &s);
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            u32 v32, len;
            u64 v64;
            fdt_getprop_u32(f, n, names[i], &v32);
            fdt_getprop_u64(f, n, names[i], &v64);
            const char *str = fdt_getprop_string(f, n, names[i]);
            if (str)
                (void)strlen(str);
            const void *d = fdt_getprop(f, n, names[i], &len);
            if (d) {
                fdt_is_stringlist(d, len);
                fdt_stringlist_contains(d, len, "arm,pl011");
            }
        }
        for (int c = fdt_first_child(f, n); c >= 0; c = fdt_next_sibling(f, c)) {
            const char *cn = fdt_node_name(f, c);
            if (cn && fdt_subnode(f, n, cn) < 0)
                abort(); /* a child is always found by its own name */
        }
    }
    for (int n = fdt_find_compatible(f, -1, "arm,pl011"); n >= 0;
         n = fdt_find_compatible(f, n, "arm,pl011"))
        ;
    fdt_path(f, "/chosen");
    fdt_path(f, "/cpus/cpu@0");
    u64 a, s;
    for (u32 i = 0; i < fdt_num_rsv(f); i++)
        fdt_get_rsv(f, i, &a, &s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy, so ASan sees any read past the end. */
    uint8_t *b = malloc(size ? size : 1);
    memcpy(b, data, size);
    int rc, only;
    const char *m = fdt_xcheck(b, size, &rc, &only);
    if (m) {
        fprintf(stderr, "fdt/libfdt disagreement: %s\n", m);
        abort();
    }
    if (rc == 0) {
        struct fdt f;
        fdt_open(&f, b, size);
        exercise(&f);
    }
    free(b);
    return 0;
}
