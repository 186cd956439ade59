/* A bounds-checked reader for flattened device trees (DTB, spec v0.4).
 *
 * fdt_open() validates the header and walks the whole structure block once:
 * every token, node name, property length and string offset is checked
 * against the blob, nesting must balance and stay below FDT_MAX_DEPTH. After
 * a successful open the accessors below cannot read outside the blob; they
 * still re-check the bounds they rely on.
 *
 * Nodes and properties are named by their offset in the structure block
 * (like libfdt). Functions that return an offset return a negative FDT_E_*
 * code on failure; FDT_E_NOTFOUND is the ordinary "no such thing". */
#ifndef BULKHEAD_FDT_H
#define BULKHEAD_FDT_H

#include "types.h"

#define FDT_MAGIC 0xd00dfeedu
#define FDT_MAX_DEPTH 64

enum {
    FDT_E_NOTFOUND = -1,
    FDT_E_TRUNCATED = -2,  /* blob shorter than the header says */
    FDT_E_BADMAGIC = -3,
    FDT_E_BADVERSION = -4,
    FDT_E_BADLAYOUT = -5,  /* blocks outside the blob, overlapping or misaligned */
    FDT_E_BADSTRUCT = -6,  /* bad token, unbalanced nesting, missing END */
    FDT_E_BADSTRING = -7,  /* name or string not terminated / offset out of range */
    FDT_E_DEPTH = -8,      /* nesting deeper than FDT_MAX_DEPTH */
    FDT_E_BADVALUE = -9,   /* property has the wrong size for the request */
};

#define FDT_ERR_DETAIL 128

struct fdt {
    const u8 *blob;
    u32 totalsize;
    u32 off_struct, size_struct;
    u32 off_strings, size_strings;
    u32 off_rsvmap, num_rsv;
    u32 version;
    u32 boot_cpuid;
    /* After a failed fdt_open(): which field or token was wrong and at what
     * byte offset in the blob ("" when open succeeded). */
    char err[FDT_ERR_DETAIL];
};

const char *fdt_strerror(int err);
/* "<fdt_strerror(err)>: <f->err>" into buf (just the first part when f->err
 * is empty). */
int fdt_format_open_error(const struct fdt *f, int err, char *buf, size_t size);

/* avail: bytes readable at blob. Returns 0 or a negative FDT_E_* code; on
 * failure f->err names the header field or structure token and its offset. */
int fdt_open(struct fdt *f, const void *blob, size_t avail);
/* Read just the totalsize field of a header (0 if not an FDT). */
u32 fdt_peek_size(const void *blob, size_t avail);

int fdt_root(const struct fdt *f);
/* Walk nodes in document order. depth is updated (+1 into a child, -n out). */
int fdt_next_node(const struct fdt *f, int node, int *depth);
int fdt_first_child(const struct fdt *f, int node);
int fdt_next_sibling(const struct fdt *f, int node);
/* Child by name: "name@unit" matches exactly; "name" also matches "name@...". */
int fdt_subnode(const struct fdt *f, int parent, const char *name);
/* Absolute path such as "/chosen" or "/cpus/cpu@0". */
int fdt_path(const struct fdt *f, const char *path);
/* Parent of node (walks from the root). */
int fdt_parent(const struct fdt *f, int node);
const char *fdt_node_name(const struct fdt *f, int node);
/* Write the full path of node into buf ("/" for the root). */
int fdt_node_path(const struct fdt *f, int node, char *buf, size_t size);

int fdt_first_prop(const struct fdt *f, int node);
int fdt_next_prop(const struct fdt *f, int prop);
int fdt_prop_info(const struct fdt *f, int prop, const char **name, const void **data, u32 *len);
const void *fdt_getprop(const struct fdt *f, int node, const char *name, u32 *len);

/* Typed helpers. Return false when the property is missing or malformed. */
bool fdt_getprop_u32(const struct fdt *f, int node, const char *name, u32 *out);
bool fdt_getprop_u64(const struct fdt *f, int node, const char *name, u64 *out);
/* A NUL-terminated single string property. */
const char *fdt_getprop_string(const struct fdt *f, int node, const char *name);
/* Is data/len a list of NUL-terminated strings? */
bool fdt_is_stringlist(const void *data, u32 len);
bool fdt_stringlist_contains(const void *data, u32 len, const char *s);
bool fdt_node_is_compatible(const struct fdt *f, int node, const char *compat);
/* Next node (after `from`, or from the start if from < 0) compatible with compat. */
int fdt_find_compatible(const struct fdt *f, int from, const char *compat);

/* #address-cells / #size-cells that apply to the children of node (2 / 1 default). */
u32 fdt_address_cells(const struct fdt *f, int node);
u32 fdt_size_cells(const struct fdt *f, int node);
/* Read a number of ncells (1 or 2) big-endian cells; false if ncells is not 1/2. */
bool fdt_read_cells(const void *data, u32 ncells, u64 *out);

/* The i-th "reg" entry of node, using the parent's cell sizes. */
bool fdt_get_reg(const struct fdt *f, int node, u32 index, u64 *addr, u64 *size);

/* Memory reservation block. */
u32 fdt_num_rsv(const struct fdt *f);
bool fdt_get_rsv(const struct fdt *f, u32 index, u64 *addr, u64 *size);

static inline u32 fdt_be32(const void *p)
{
    const u8 *b = p;
    return ((u32)b[0] << 24) | ((u32)b[1] << 16) | ((u32)b[2] << 8) | b[3];
}

static inline u64 fdt_be64(const void *p)
{
    return ((u64)fdt_be32(p) << 32) | fdt_be32((const u8 *)p + 4);
}

#endif
