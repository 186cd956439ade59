/* Cross-check of Bulkhead's device-tree reader (hv/fdt.c) against libfdt on
 * one blob. Shared by the unit test (test/unit/test_fdt.c) and the fuzzer
 * (test/fuzz/fdt_fuzz.c). Host only.
 *
 * fdt_xcheck() returns NULL when the two readers agree, or a description of
 * the first disagreement. Agreement means: when Bulkhead accepts a blob,
 * libfdt's full check accepts it too, and both see the same nodes (offsets,
 * depths, names, parents, paths, path lookups), the same properties (offsets,
 * names, lengths, data), the same #address-cells/#size-cells and the same
 * memory reservations. When Bulkhead rejects a blob nothing is compared
 * (Bulkhead is deliberately stricter: version >= 17, no overlapping blocks);
 * *bh_only_reject tells the caller that libfdt accepted it. */
#ifndef BULKHEAD_FDT_XCHECK_H
#define BULKHEAD_FDT_XCHECK_H

#include <stdio.h>
#include <string.h>

#include "hv/fdt.h"
#include "libfdt_shim.h"

static char xcheck_msg[4096];

#define XFAIL(...)                                                   \
    do {                                                             \
        snprintf(xcheck_msg, sizeof(xcheck_msg), __VA_ARGS__);       \
        return xcheck_msg;                                           \
    } while (0)

static const char *fdt_xcheck(const void *blob, size_t len, int *bh_rc, int *bh_only_reject)
{
    struct fdt f;
    int rc = fdt_open(&f, blob, len);
    if (bh_rc)
        *bh_rc = rc;
    int lrc = len >= 40 ? lf_check_full(blob, len) : -8;
    if (bh_only_reject)
        *bh_only_reject = rc != 0 && lrc == 0;
    if (rc != 0)
        return NULL;
    if (lrc != 0)
        XFAIL("bulkhead accepts the blob, libfdt's full check rejects it: %s", lf_strerror(lrc));

    /* Memory reservations. */
    if ((int)fdt_num_rsv(&f) != lf_num_mem_rsv(blob))
        XFAIL("memreserve count %u vs libfdt %d", fdt_num_rsv(&f), lf_num_mem_rsv(blob));
    for (u32 i = 0; i < fdt_num_rsv(&f); i++) {
        u64 a, s;
        uint64_t la, ls;
        if (!fdt_get_rsv(&f, i, &a, &s) || lf_get_mem_rsv(blob, (int)i, &la, &ls) != 0 ||
            a != la || s != ls)
            XFAIL("memreserve %u differs", i);
    }

    /* Nodes in document order. */
    int depth = 0, ldepth = -1;
    int n = fdt_root(&f);
    int ln = lf_next_node(blob, -1, &ldepth);
    if (n != ln)
        XFAIL("root at %d vs libfdt %d", n, ln);
    int count = 0;
    while (n >= 0) {
        if (++count > 100000)
            XFAIL("walk does not end");
        if (depth != ldepth)
            XFAIL("node %d: depth %d vs libfdt %d", n, depth, ldepth);
        int nl;
        const char *ours = fdt_node_name(&f, n);
        const char *theirs = lf_get_name(blob, n, &nl);
        if (!ours || !theirs || strcmp(ours, theirs) != 0 || (int)strlen(ours) != nl)
            XFAIL("node %d: name '%s' vs libfdt '%s'", n, ours ? ours : "(null)",
                  theirs ? theirs : "(null)");
        int p = fdt_parent(&f, n), lp = lf_parent_offset(blob, n);
        if (depth == 0 ? (p >= 0) : (p != lp))
            XFAIL("node %d: parent %d vs libfdt %d", n, p, lp);
        char path[1024], lpath[1024];
        int pl = fdt_node_path(&f, n, path, sizeof(path));
        int lpr = lf_get_path(blob, n, lpath, sizeof(lpath));
        if (lpr == 0 && (pl < 0 || (size_t)pl >= sizeof(path) || strcmp(path, lpath) != 0))
            XFAIL("node %d: path '%s' vs libfdt '%s'", n, path, lpath);
        if (lpr == 0) {
            int a = fdt_path(&f, path), b = lf_path_offset(blob, path);
            if (a != b && !(a < 0 && b < 0))
                XFAIL("path lookup '%s': %d vs libfdt %d", path, a, b);
        }
        int lac = lf_address_cells(blob, n), lsc = lf_size_cells(blob, n);
        if (lac >= 0 && (int)fdt_address_cells(&f, n) != lac)
            XFAIL("node %d: #address-cells %u vs libfdt %d", n, fdt_address_cells(&f, n), lac);
        if (lsc >= 0 && (int)fdt_size_cells(&f, n) != lsc)
            XFAIL("node %d: #size-cells %u vs libfdt %d", n, fdt_size_cells(&f, n), lsc);

        /* Properties. */
        int pr = fdt_first_prop(&f, n);
        int lpo = lf_first_property_offset(blob, n);
        while (pr >= 0 || lpo >= 0) {
            if (pr != lpo)
                XFAIL("node %d: property at %d vs libfdt %d", n, pr, lpo);
            const char *pn, *lpn;
            const void *d;
            u32 plen;
            int llen;
            if (fdt_prop_info(&f, pr, &pn, &d, &plen) != 0)
                XFAIL("property %d: prop_info failed", pr);
            const void *ld = lf_getprop_by_offset(blob, lpo, &lpn, &llen);
            if (!ld || !lpn || strcmp(pn, lpn) != 0 || (int)plen != llen || d != ld)
                XFAIL("property %d: '%s'/%u vs libfdt '%s'/%d", pr, pn, plen,
                      lpn ? lpn : "(null)", llen);
            u32 gl;
            const void *gd = fdt_getprop(&f, n, pn, &gl);
            int lgl;
            const void *lgd = lf_getprop(blob, n, pn, &lgl);
            if (gd != lgd || (gd && (int)gl != lgl))
                XFAIL("getprop '%s' on node %d differs", pn, n);
            pr = fdt_next_prop(&f, pr);
            lpo = lf_next_property_offset(blob, lpo);
        }
        n = fdt_next_node(&f, n, &depth);
        ln = lf_next_node(blob, ln, &ldepth);
        if (n >= 0 && depth < 0)
            n = FDT_E_NOTFOUND;
        if (ln >= 0 && ldepth < 0)
            ln = -1;
        if ((n >= 0) != (ln >= 0) || (n >= 0 && n != ln))
            XFAIL("next node %d vs libfdt %d", n, ln);
    }
    return NULL;
}

#endif
