#include "fdt.h"
#include "format.h"
#include "string.h"

#define TOK_BEGIN_NODE 1u
#define TOK_END_NODE 2u
#define TOK_PROP 3u
#define TOK_NOP 4u
#define TOK_END 9u

#define HDR_SIZE 40u

const char *fdt_strerror(int err)
{
    switch (err) {
    case 0: return "ok";
    case FDT_E_NOTFOUND: return "not found";
    case FDT_E_TRUNCATED: return "blob truncated (shorter than its header says)";
    case FDT_E_BADMAGIC: return "bad magic (not a flattened device tree)";
    case FDT_E_BADVERSION: return "unsupported version";
    case FDT_E_BADLAYOUT: return "blocks outside the blob, overlapping or misaligned";
    case FDT_E_BADSTRUCT: return "malformed structure block";
    case FDT_E_BADSTRING: return "bad node name (unterminated, or with a '/' in it) or bad string offset";
    case FDT_E_DEPTH: return "nodes nested too deep";
    case FDT_E_BADVALUE: return "property value has the wrong size";
    default: return "unknown error";
    }
}

u32 fdt_peek_size(const void *blob, size_t avail)
{
    if (avail < HDR_SIZE || fdt_be32(blob) != FDT_MAGIC)
        return 0;
    return fdt_be32((const u8 *)blob + 4);
}

static bool range_ok(u64 off, u64 len, u64 total)
{
    return off <= total && len <= total - off;
}

static bool ranges_overlap(u64 a, u64 alen, u64 b, u64 blen)
{
    if (!alen || !blen)
        return false;
    return a < b + blen && b < a + alen;
}

int fdt_format_open_error(const struct fdt *f, int err, char *buf, size_t size)
{
    if (f && f->err[0])
        return bh_snprintf(buf, size, "%s: %s", fdt_strerror(err), f->err);
    return bh_snprintf(buf, size, "%s", fdt_strerror(err));
}

/* Read the token at off; fill *next with the offset of the following token.
 * On failure *why says what was wrong with it. */
static int read_token_why(const struct fdt *f, u32 off, u32 *tok, u32 *next, const char **why)
{
    const u8 *s = f->blob + f->off_struct;
    u32 size = f->size_struct;
    if ((off & 3) || !range_ok(off, 4, size)) {
        *why = "structure block ends without an END token";
        return FDT_E_BADSTRUCT;
    }
    *tok = fdt_be32(s + off);
    switch (*tok) {
    case TOK_BEGIN_NODE: {
        u32 p = off + 4;
        u32 max = size - p;
        size_t n = strnlen((const char *)s + p, max);
        if (n >= max) {
            *why = "node name is not terminated inside the structure block";
            return FDT_E_BADSTRING;
        }
        u64 nx = ALIGN_UP((u64)p + n + 1, 4);
        if (nx > size) {
            *why = "node name padding runs past the structure block";
            return FDT_E_BADSTRUCT;
        }
        *next = (u32)nx;
        return 0;
    }
    case TOK_PROP: {
        if (!range_ok(off, 12, size)) {
            *why = "property header (len, nameoff) runs past the structure block";
            return FDT_E_BADSTRUCT;
        }
        u32 len = fdt_be32(s + off + 4);
        u32 nameoff = fdt_be32(s + off + 8);
        if (!range_ok((u64)off + 12, len, size)) {
            *why = "property value length runs past the structure block";
            return FDT_E_BADSTRUCT;
        }
        if (nameoff >= f->size_strings) {
            *why = "property nameoff is beyond the strings block";
            return FDT_E_BADSTRING;
        }
        const char *str = (const char *)f->blob + f->off_strings + nameoff;
        if (strnlen(str, f->size_strings - nameoff) >= f->size_strings - nameoff) {
            *why = "property name is not terminated inside the strings block";
            return FDT_E_BADSTRING;
        }
        u64 nx = ALIGN_UP((u64)off + 12 + len, 4);
        if (nx > size) {
            *why = "property value padding runs past the structure block";
            return FDT_E_BADSTRUCT;
        }
        *next = (u32)nx;
        return 0;
    }
    case TOK_END_NODE:
    case TOK_NOP:
    case TOK_END:
        *next = off + 4;
        return 0;
    default:
        *why = "unknown token";
        return FDT_E_BADSTRUCT;
    }
}

static int read_token(const struct fdt *f, u32 off, u32 *tok, u32 *next)
{
    const char *why;
    return read_token_why(f, off, tok, next, &why);
}

/* Record why fdt_open failed; f is zeroed except for err. */
static int open_fail(struct fdt *f, int err, const char *fmt, ...) __printf(3, 4);
static int open_fail(struct fdt *f, int err, const char *fmt, ...)
{
    va_list ap;
    memset(f, 0, sizeof(*f));
    va_start(ap, fmt);
    bh_vsnprintf(f->err, sizeof(f->err), fmt, ap);
    va_end(ap);
    return err;
}

int fdt_open(struct fdt *f, const void *blob, size_t avail)
{
    const u8 *b = blob;
    memset(f, 0, sizeof(*f));
    if (!blob || avail < HDR_SIZE)
        return open_fail(f, FDT_E_TRUNCATED, "header needs %u bytes, the blob has %llu",
                         HDR_SIZE, (unsigned long long)(blob ? avail : 0));
    if (fdt_be32(b) != FDT_MAGIC)
        return open_fail(f, FDT_E_BADMAGIC, "magic (offset 0x0) is 0x%08x, expected 0x%08x",
                         fdt_be32(b), FDT_MAGIC);
    u32 total = fdt_be32(b + 4);
    u32 off_struct = fdt_be32(b + 8);
    u32 off_strings = fdt_be32(b + 12);
    u32 off_rsv = fdt_be32(b + 16);
    u32 version = fdt_be32(b + 20);
    u32 last_comp = fdt_be32(b + 24);
    u32 boot_cpu = fdt_be32(b + 28);
    u32 size_strings = fdt_be32(b + 32);
    u32 size_struct = fdt_be32(b + 36);

    if (version < 17)
        return open_fail(f, FDT_E_BADVERSION, "version (offset 0x14) is %u, at least 17 is read",
                         version);
    if (last_comp > 17)
        return open_fail(f, FDT_E_BADVERSION,
                         "last_comp_version (offset 0x18) is %u, at most 17 is read", last_comp);
    if (total < HDR_SIZE)
        return open_fail(f, FDT_E_BADLAYOUT, "totalsize (offset 0x4) is %u, below the %u-byte header",
                         total, HDR_SIZE);
    if (total > avail)
        return open_fail(f, FDT_E_TRUNCATED, "totalsize (offset 0x4) is %u, the blob has %llu bytes",
                         total, (unsigned long long)avail);
    if (off_struct < HDR_SIZE || !range_ok(off_struct, size_struct, total))
        return open_fail(f, FDT_E_BADLAYOUT,
                         "off_dt_struct 0x%x (offset 0x8) + size_dt_struct 0x%x (offset 0x24) "
                         "is outside the blob (header 0x%x, totalsize 0x%x)",
                         off_struct, size_struct, HDR_SIZE, total);
    if (off_strings < HDR_SIZE || !range_ok(off_strings, size_strings, total))
        return open_fail(f, FDT_E_BADLAYOUT,
                         "off_dt_strings 0x%x (offset 0xc) + size_dt_strings 0x%x (offset 0x20) "
                         "is outside the blob (header 0x%x, totalsize 0x%x)",
                         off_strings, size_strings, HDR_SIZE, total);
    if (off_rsv < HDR_SIZE || off_rsv >= total)
        return open_fail(f, FDT_E_BADLAYOUT,
                         "off_mem_rsvmap (offset 0x10) is 0x%x, outside 0x%x-0x%x", off_rsv,
                         HDR_SIZE, total - 1);
    if (off_struct & 3)
        return open_fail(f, FDT_E_BADLAYOUT, "off_dt_struct (offset 0x8) is 0x%x, not 4-byte aligned",
                         off_struct);
    if (size_struct & 3)
        return open_fail(f, FDT_E_BADLAYOUT,
                         "size_dt_struct (offset 0x24) is 0x%x, not a multiple of 4", size_struct);
    if (off_rsv & 7)
        return open_fail(f, FDT_E_BADLAYOUT,
                         "off_mem_rsvmap (offset 0x10) is 0x%x, not 8-byte aligned", off_rsv);
    if (ranges_overlap(off_struct, size_struct, off_strings, size_strings))
        return open_fail(f, FDT_E_BADLAYOUT,
                         "structure block 0x%x+0x%x overlaps strings block 0x%x+0x%x "
                         "(off_dt_struct at offset 0x8, off_dt_strings at offset 0xc)",
                         off_struct, size_struct, off_strings, size_strings);

    /* Memory reservation block: 16-byte entries up to an all-zero one. */
    u32 nrsv = 0;
    for (u64 p = off_rsv;; p += 16) {
        if (!range_ok(p, 16, total))
            return open_fail(f, FDT_E_BADLAYOUT,
                             "memory reservation entry at offset 0x%llx runs past totalsize 0x%x "
                             "(no terminating zero entry)", (unsigned long long)p, total);
        if (ranges_overlap(p, 16, off_struct, size_struct) ||
            ranges_overlap(p, 16, off_strings, size_strings))
            return open_fail(f, FDT_E_BADLAYOUT,
                             "memory reservation entry at offset 0x%llx overlaps the structure "
                             "or strings block", (unsigned long long)p);
        if (fdt_be64(b + p) == 0 && fdt_be64(b + p + 8) == 0)
            break;
        /* A zero-sized entry that is not the terminator: libfdt would end
         * the list there, the spec would not; refuse the ambiguity. */
        if (fdt_be64(b + p + 8) == 0)
            return open_fail(f, FDT_E_BADLAYOUT,
                             "memory reservation entry at offset 0x%llx has size 0 but address "
                             "0x%llx", (unsigned long long)p, (unsigned long long)fdt_be64(b + p));
        nrsv++;
    }

    f->blob = b;
    f->totalsize = total;
    f->off_struct = off_struct;
    f->size_struct = size_struct;
    f->off_strings = off_strings;
    f->size_strings = size_strings;
    f->off_rsvmap = off_rsv;
    f->num_rsv = nrsv;
    f->version = version;
    f->boot_cpuid = boot_cpu;

    /* Walk the whole structure block once. has_child[d]: the open node at
     * depth d already had a child node (a property may not follow it). */
    u32 off = 0, tok, next;
    int depth = 0;
    bool seen_root = false;
    bool has_child[FDT_MAX_DEPTH + 1];
    const char *why = "";
    int err;
    for (;;) {
        if ((err = read_token_why(f, off, &tok, &next, &why)))
            goto bad;
        /* The root node comes first (libfdt and most consumers assume it
         * sits at offset 0; NOPs may appear anywhere after it). */
        if (off == 0 && tok != TOK_BEGIN_NODE) {
            why = "the structure block does not start with the root node";
            err = FDT_E_BADSTRUCT;
            goto bad;
        }
        /* Once the root has closed only END may follow (as libfdt checks). */
        if (seen_root && depth == 0 && tok != TOK_END) {
            why = "token after the root node closed (only END may follow)";
            err = FDT_E_BADSTRUCT;
            goto bad;
        }
        if (tok == TOK_BEGIN_NODE) {
            if (depth == 0) {
                if (seen_root) {
                    why = "a second root node";
                    err = FDT_E_BADSTRUCT;
                    goto bad;
                }
                seen_root = true;
                /* The root node's name is empty (libfdt checks this too). */
                if (f->blob[f->off_struct + off + 4] != 0) {
                    why = "the root node has a name";
                    err = FDT_E_BADSTRUCT;
                    goto bad;
                }
            }
            /* A '/' inside a node name would make paths ambiguous. */
            const char *nm = (const char *)f->blob + f->off_struct + off + 4;
            for (u32 i = 0; nm[i]; i++)
                if (nm[i] == '/') {
                    why = "node name contains '/'";
                    err = FDT_E_BADSTRING;
                    goto bad;
                }
            if (++depth > FDT_MAX_DEPTH) {
                why = "node nested deeper than 64 levels";
                err = FDT_E_DEPTH;
                goto bad;
            }
            has_child[depth - 1] = true;
            has_child[depth] = false;
        } else if (tok == TOK_END_NODE) {
            if (--depth < 0) {
                why = "END_NODE without a matching BEGIN_NODE";
                err = FDT_E_BADSTRUCT;
                goto bad;
            }
        } else if (tok == TOK_PROP) {
            if (depth == 0) {
                why = "property outside any node";
                err = FDT_E_BADSTRUCT;
                goto bad;
            }
            /* The spec puts a node's properties before its children; a
             * reader that stops at the first child would not see it. */
            if (has_child[depth]) {
                why = "property after a child node (properties must come first)";
                err = FDT_E_BADSTRUCT;
                goto bad;
            }
        } else if (tok == TOK_END) {
            if (depth != 0 || !seen_root) {
                why = depth ? "END token with nodes still open" : "END token before the root node";
                err = FDT_E_BADSTRUCT;
                goto bad;
            }
            break;
        }
        off = next;
    }
    return 0;
bad:
    return open_fail(f, err, "%s (token at offset 0x%x: structure block 0x%x + 0x%x)", why,
                     off_struct + off, off_struct, off);
}

int fdt_root(const struct fdt *f)
{
    u32 off = 0, tok, next;
    if (!f->blob)
        return FDT_E_NOTFOUND;
    for (;;) {
        if (read_token(f, off, &tok, &next))
            return FDT_E_BADSTRUCT;
        if (tok == TOK_BEGIN_NODE)
            return (int)off;
        if (tok != TOK_NOP)
            return FDT_E_BADSTRUCT;
        off = next;
    }
}

int fdt_next_node(const struct fdt *f, int node, int *depth)
{
    u32 off, tok, next;
    int d = depth ? *depth : 0;
    if (node < 0)
        return fdt_root(f);
    if (read_token(f, (u32)node, &tok, &next) || tok != TOK_BEGIN_NODE)
        return FDT_E_BADSTRUCT;
    off = next;
    for (;;) {
        if (read_token(f, off, &tok, &next))
            return FDT_E_BADSTRUCT;
        if (tok == TOK_BEGIN_NODE) {
            d++;
            if (depth)
                *depth = d;
            return (int)off;
        }
        if (tok == TOK_END_NODE) {
            d--;
            if (depth)
                *depth = d;
        } else if (tok == TOK_END) {
            return FDT_E_NOTFOUND;
        }
        off = next;
    }
}

int fdt_first_child(const struct fdt *f, int node)
{
    int depth = 0;
    int n = fdt_next_node(f, node, &depth);
    if (n < 0)
        return n;
    return depth == 1 ? n : FDT_E_NOTFOUND;
}

int fdt_next_sibling(const struct fdt *f, int node)
{
    int depth = 0;
    int n = node;
    for (;;) {
        n = fdt_next_node(f, n, &depth);
        if (n < 0)
            return n;
        if (depth < 0)
            return FDT_E_NOTFOUND;
        if (depth == 0)
            return n;
    }
}

const char *fdt_node_name(const struct fdt *f, int node)
{
    u32 tok, next;
    if (node < 0 || read_token(f, (u32)node, &tok, &next) || tok != TOK_BEGIN_NODE)
        return NULL;
    return (const char *)f->blob + f->off_struct + node + 4;
}

static bool has_at(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '@')
            return true;
    return false;
}

static bool name_matches(const char *node_name, const char *want, size_t wlen)
{
    if (strncmp(node_name, want, wlen) != 0)
        return false;
    if (node_name[wlen] == 0)
        return true;
    /* "name" matches "name@unit" when the request has no unit address. */
    return node_name[wlen] == '@' && !has_at(want, wlen);
}

static int subnode_n(const struct fdt *f, int parent, const char *name, size_t len)
{
    for (int n = fdt_first_child(f, parent); n >= 0; n = fdt_next_sibling(f, n)) {
        const char *nn = fdt_node_name(f, n);
        if (nn && name_matches(nn, name, len))
            return n;
    }
    return FDT_E_NOTFOUND;
}

int fdt_subnode(const struct fdt *f, int parent, const char *name)
{
    return subnode_n(f, parent, name, strlen(name));
}

int fdt_path(const struct fdt *f, const char *path)
{
    int node = fdt_root(f);
    if (node < 0)
        return node;
    if (path[0] != '/')
        return FDT_E_NOTFOUND;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        node = subnode_n(f, node, p, (size_t)(e - p));
        if (node < 0)
            return node;
        p = e;
    }
    return node;
}

int fdt_parent(const struct fdt *f, int node)
{
    int stack[FDT_MAX_DEPTH + 1];
    int depth = 0;
    int n = fdt_root(f);
    if (n < 0)
        return n;
    if (n == node)
        return FDT_E_NOTFOUND;
    stack[0] = n;
    while (n >= 0) {
        n = fdt_next_node(f, n, &depth);
        if (n < 0 || depth < 1)
            return FDT_E_NOTFOUND;
        if (depth > FDT_MAX_DEPTH)
            return FDT_E_DEPTH;
        stack[depth] = n;
        if (n == node)
            return stack[depth - 1];
    }
    return FDT_E_NOTFOUND;
}

int fdt_node_path(const struct fdt *f, int node, char *buf, size_t size)
{
    int chain[FDT_MAX_DEPTH + 1];
    int n = 0;
    for (int cur = node; cur >= 0 && n <= FDT_MAX_DEPTH; cur = fdt_parent(f, cur))
        chain[n++] = cur;
    if (size)
        buf[0] = 0;
    size_t pos = 0;
    if (n <= 1)
        return bh_snprintf(buf, size, "/");
    for (int i = n - 2; i >= 0; i--) {
        const char *nm = fdt_node_name(f, chain[i]);
        int w = bh_snprintf(pos < size ? buf + pos : NULL, pos < size ? size - pos : 0, "/%s",
                            nm ? nm : "?");
        pos += (size_t)w;
    }
    return (int)pos;
}

static int next_prop_from(const struct fdt *f, u32 off)
{
    u32 tok, next;
    for (;;) {
        if (read_token(f, off, &tok, &next))
            return FDT_E_BADSTRUCT;
        if (tok == TOK_PROP)
            return (int)off;
        if (tok != TOK_NOP)
            return FDT_E_NOTFOUND;
        off = next;
    }
}

int fdt_first_prop(const struct fdt *f, int node)
{
    u32 tok, next;
    if (node < 0 || read_token(f, (u32)node, &tok, &next) || tok != TOK_BEGIN_NODE)
        return FDT_E_BADSTRUCT;
    return next_prop_from(f, next);
}

int fdt_next_prop(const struct fdt *f, int prop)
{
    u32 tok, next;
    if (prop < 0 || read_token(f, (u32)prop, &tok, &next) || tok != TOK_PROP)
        return FDT_E_BADSTRUCT;
    return next_prop_from(f, next);
}

int fdt_prop_info(const struct fdt *f, int prop, const char **name, const void **data, u32 *len)
{
    u32 tok, next;
    if (prop < 0 || read_token(f, (u32)prop, &tok, &next) || tok != TOK_PROP)
        return FDT_E_BADSTRUCT;
    const u8 *s = f->blob + f->off_struct + prop;
    if (len)
        *len = fdt_be32(s + 4);
    if (name)
        *name = (const char *)f->blob + f->off_strings + fdt_be32(s + 8);
    if (data)
        *data = s + 12;
    return 0;
}

const void *fdt_getprop(const struct fdt *f, int node, const char *name, u32 *len)
{
    for (int p = fdt_first_prop(f, node); p >= 0; p = fdt_next_prop(f, p)) {
        const char *pn;
        const void *data;
        u32 l;
        if (fdt_prop_info(f, p, &pn, &data, &l))
            return NULL;
        if (strcmp(pn, name) == 0) {
            if (len)
                *len = l;
            return data;
        }
    }
    return NULL;
}

bool fdt_getprop_u32(const struct fdt *f, int node, const char *name, u32 *out)
{
    u32 len;
    const void *d = fdt_getprop(f, node, name, &len);
    if (!d || len != 4)
        return false;
    *out = fdt_be32(d);
    return true;
}

bool fdt_getprop_u64(const struct fdt *f, int node, const char *name, u64 *out)
{
    u32 len;
    const void *d = fdt_getprop(f, node, name, &len);
    if (!d)
        return false;
    if (len == 4)
        *out = fdt_be32(d);
    else if (len == 8)
        *out = fdt_be64(d);
    else
        return false;
    return true;
}

bool fdt_is_stringlist(const void *data, u32 len)
{
    const char *s = data;
    if (len == 0 || s[len - 1] != 0)
        return false;
    /* No empty strings. */
    if (s[0] == 0)
        return false;
    for (u32 i = 1; i < len; i++)
        if (s[i] == 0 && s[i - 1] == 0)
            return false;
    return true;
}

const char *fdt_getprop_string(const struct fdt *f, int node, const char *name)
{
    u32 len;
    const char *d = fdt_getprop(f, node, name, &len);
    if (!d || len == 0 || d[len - 1] != 0 || strnlen(d, len) != len - 1)
        return NULL;
    return d;
}

bool fdt_stringlist_contains(const void *data, u32 len, const char *s)
{
    const char *p = data;
    size_t sl = strlen(s);
    u32 i = 0;
    while (i < len) {
        size_t n = strnlen(p + i, len - i);
        if (n == len - i)
            return false; /* unterminated tail */
        if (n == sl && memcmp(p + i, s, sl) == 0)
            return true;
        i += (u32)n + 1;
    }
    return false;
}

bool fdt_node_is_compatible(const struct fdt *f, int node, const char *compat)
{
    u32 len;
    const void *d = fdt_getprop(f, node, "compatible", &len);
    return d && fdt_stringlist_contains(d, len, compat);
}

int fdt_find_compatible(const struct fdt *f, int from, const char *compat)
{
    int depth = 0;
    int n = from < 0 ? fdt_root(f) : fdt_next_node(f, from, &depth);
    while (n >= 0) {
        if (fdt_node_is_compatible(f, n, compat))
            return n;
        n = fdt_next_node(f, n, &depth);
    }
    return n;
}

u32 fdt_address_cells(const struct fdt *f, int node)
{
    u32 v;
    if (fdt_getprop_u32(f, node, "#address-cells", &v))
        return v;
    return 2;
}

u32 fdt_size_cells(const struct fdt *f, int node)
{
    u32 v;
    if (fdt_getprop_u32(f, node, "#size-cells", &v))
        return v;
    return 1;
}

bool fdt_read_cells(const void *data, u32 ncells, u64 *out)
{
    if (ncells == 1)
        *out = fdt_be32(data);
    else if (ncells == 2)
        *out = fdt_be64(data);
    else
        return false;
    return true;
}

bool fdt_get_reg(const struct fdt *f, int node, u32 index, u64 *addr, u64 *size)
{
    int parent = fdt_parent(f, node);
    if (parent < 0)
        return false;
    u32 ac = fdt_address_cells(f, parent), sc = fdt_size_cells(f, parent);
    if (ac < 1 || ac > 2 || sc > 2)
        return false;
    u32 len;
    const u8 *d = fdt_getprop(f, node, "reg", &len);
    u32 entry = (ac + sc) * 4;
    if (!d || len % entry || (u64)index * entry >= len)
        return false;
    d += (u64)index * entry;
    if (!fdt_read_cells(d, ac, addr))
        return false;
    if (sc == 0)
        *size = 0;
    else if (!fdt_read_cells(d + ac * 4, sc, size))
        return false;
    return true;
}

u32 fdt_num_rsv(const struct fdt *f)
{
    return f->num_rsv;
}

bool fdt_get_rsv(const struct fdt *f, u32 index, u64 *addr, u64 *size)
{
    if (index >= f->num_rsv)
        return false;
    const u8 *p = f->blob + f->off_rsvmap + (u64)index * 16;
    *addr = fdt_be64(p);
    *size = fdt_be64(p + 8);
    return true;
}
