/* Flattened device tree writer (see fdt_write.h). Layout of the result:
 * header (40 bytes), memory reservation block (one terminating entry),
 * structure block, strings block. The structure block is written in place
 * from offset 56 on; the strings are appended to it by fdtw_finish(). */
#include "fdt_write.h"
#include "string.h"

#define HDR_SIZE 40
#define RSV_OFF HDR_SIZE
#define STRUCT_OFF (RSV_OFF + 16)

#define TOK_BEGIN_NODE 1
#define TOK_END_NODE 2
#define TOK_PROP 3
#define TOK_END 9

static void put_be32(u8 *p, u32 v)
{
    p[0] = (u8)(v >> 24);
    p[1] = (u8)(v >> 16);
    p[2] = (u8)(v >> 8);
    p[3] = (u8)v;
}

static void fail(struct fdt_writer *w, int err)
{
    if (!w->err)
        w->err = err;
}

/* Room for n more bytes of structure? */
static bool room(struct fdt_writer *w, u64 n)
{
    if (w->err)
        return false;
    if ((u64)w->off + n > w->cap) {
        fail(w, FDTW_E_NOSPACE);
        return false;
    }
    return true;
}

static void emit32(struct fdt_writer *w, u32 v)
{
    if (!room(w, 4))
        return;
    put_be32(w->buf + w->off, v);
    w->off += 4;
}

/* bytes, then zero padding up to a multiple of 4 */
static void emit_padded(struct fdt_writer *w, const void *data, u32 len)
{
    u64 padded = ALIGN_UP((u64)len, 4);
    if (!room(w, padded))
        return;
    if (len)
        memcpy(w->buf + w->off, data, len);
    memset(w->buf + w->off + len, 0, (size_t)(padded - len));
    w->off += (u32)padded;
}

void fdtw_init(struct fdt_writer *w, void *buf, u32 cap)
{
    w->buf = buf;
    w->cap = cap;
    w->off = STRUCT_OFF;
    w->depth = 0;
    w->err = 0;
    w->nstr = 0;
    if (cap < STRUCT_OFF)
        fail(w, FDTW_E_NOSPACE);
    else
        memset(buf, 0, STRUCT_OFF);
}

void fdtw_begin_node(struct fdt_writer *w, const char *name)
{
    if (w->err)
        return;
    /* The root is the one node with an empty name, and it comes first. */
    if ((w->depth == 0) != (name[0] == 0) || (w->depth == 0 && w->off != STRUCT_OFF)) {
        fail(w, FDTW_E_BADNAME);
        return;
    }
    emit32(w, TOK_BEGIN_NODE);
    emit_padded(w, name, (u32)strlen(name) + 1);
    if (!w->err)
        w->depth++;
}

void fdtw_end_node(struct fdt_writer *w)
{
    if (w->err)
        return;
    if (w->depth == 0) {
        fail(w, FDTW_E_NESTING);
        return;
    }
    emit32(w, TOK_END_NODE);
    if (!w->err)
        w->depth--;
}

/* Offset of name in the strings table, adding it when new; -1 when full. */
static int string_off(struct fdt_writer *w, const char *name)
{
    u32 len = (u32)strlen(name);
    for (u32 o = 0; o < w->nstr;) {
        u32 l = (u32)strlen(w->strings + o);
        if (l == len && memcmp(w->strings + o, name, len) == 0)
            return (int)o;
        o += l + 1;
    }
    if ((u64)w->nstr + len + 1 > sizeof(w->strings))
        return -1;
    memcpy(w->strings + w->nstr, name, len + 1);
    w->nstr += len + 1;
    return (int)(w->nstr - len - 1);
}

void fdtw_prop(struct fdt_writer *w, const char *name, const void *data, u32 len)
{
    if (w->err)
        return;
    if (w->depth == 0) {
        fail(w, FDTW_E_NESTING);
        return;
    }
    if (!name[0]) {
        fail(w, FDTW_E_BADNAME);
        return;
    }
    int so = string_off(w, name);
    if (so < 0) {
        fail(w, FDTW_E_STRINGS);
        return;
    }
    if (!room(w, 12 + ALIGN_UP((u64)len, 4)))
        return;
    emit32(w, TOK_PROP);
    emit32(w, len);
    emit32(w, (u32)so);
    emit_padded(w, data, len);
}

void fdtw_prop_empty(struct fdt_writer *w, const char *name)
{
    fdtw_prop(w, name, NULL, 0);
}

void fdtw_prop_u32(struct fdt_writer *w, const char *name, u32 v)
{
    fdtw_prop_cells(w, name, &v, 1);
}

void fdtw_prop_u64(struct fdt_writer *w, const char *name, u64 v)
{
    u32 c[2] = { (u32)(v >> 32), (u32)v };
    fdtw_prop_cells(w, name, c, 2);
}

void fdtw_prop_string(struct fdt_writer *w, const char *name, const char *s)
{
    fdtw_prop(w, name, s, (u32)strlen(s) + 1);
}

void fdtw_prop_cells(struct fdt_writer *w, const char *name, const u32 *cells, u32 n)
{
    u8 be[4 * 16];
    if (n > 16) {
        fail(w, FDTW_E_NOSPACE);
        return;
    }
    for (u32 i = 0; i < n; i++)
        put_be32(be + 4 * i, cells[i]);
    fdtw_prop(w, name, be, 4 * n);
}

void fdtw_prop_reg64(struct fdt_writer *w, const char *name, u64 addr, u64 size)
{
    u32 c[4] = { (u32)(addr >> 32), (u32)addr, (u32)(size >> 32), (u32)size };
    fdtw_prop_cells(w, name, c, 4);
}

int fdtw_finish(struct fdt_writer *w)
{
    if (!w->err && w->depth != 0)
        fail(w, FDTW_E_NESTING);
    if (!w->err && w->off == STRUCT_OFF)
        fail(w, FDTW_E_NESTING); /* no root node */
    emit32(w, TOK_END);
    if (w->err)
        return w->err;
    u32 size_struct = w->off - STRUCT_OFF;
    u32 off_strings = w->off;
    if ((u64)off_strings + w->nstr > w->cap)
        return w->err = FDTW_E_NOSPACE;
    memcpy(w->buf + off_strings, w->strings, w->nstr);
    u32 total = off_strings + w->nstr;
    u8 *h = w->buf;
    put_be32(h + 0, 0xd00dfeedu);
    put_be32(h + 4, total);
    put_be32(h + 8, STRUCT_OFF);   /* off_dt_struct */
    put_be32(h + 12, off_strings); /* off_dt_strings */
    put_be32(h + 16, RSV_OFF);     /* off_mem_rsvmap */
    put_be32(h + 20, 17);          /* version */
    put_be32(h + 24, 16);          /* last_comp_version */
    put_be32(h + 28, 0);           /* boot_cpuid_phys */
    put_be32(h + 32, w->nstr);     /* size_dt_strings */
    put_be32(h + 36, size_struct); /* size_dt_struct */
    memset(h + RSV_OFF, 0, 16);
    return (int)total;
}

const char *fdtw_strerror(int err)
{
    switch (err) {
    case FDTW_OK: return "ok";
    case FDTW_E_NOSPACE: return "buffer too small";
    case FDTW_E_STRINGS: return "too many property names";
    case FDTW_E_NESTING: return "unbalanced nodes";
    case FDTW_E_BADNAME: return "bad node or property name";
    default: return "unknown error";
    }
}
