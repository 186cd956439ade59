/* A small writer for flattened device trees (DTB version 17), arch-neutral.
 *
 * Nodes and properties are appended in document order into a caller buffer;
 * property names are gathered (deduplicated) in the writer and copied after
 * the structure block by fdtw_finish(). Nothing is allocated. The first
 * problem (buffer or name table full, unbalanced nodes) sticks: every later
 * call does nothing and fdtw_finish() returns the error. */
#ifndef BULKHEAD_FDT_WRITE_H
#define BULKHEAD_FDT_WRITE_H

#include "types.h"

#define FDTW_STRINGS_MAX 1024

enum {
    FDTW_OK = 0,
    FDTW_E_NOSPACE = -1,  /* the buffer is too small */
    FDTW_E_STRINGS = -2,  /* too many distinct property names */
    FDTW_E_NESTING = -3,  /* end_node without begin_node, or nodes left open */
    FDTW_E_BADNAME = -4,  /* empty property name, or a node name in the root position */
};

struct fdt_writer {
    u8 *buf;
    u32 cap;
    u32 off;          /* end of the structure block so far */
    u32 depth;        /* open nodes */
    int err;
    u32 nstr;         /* bytes used in strings */
    char strings[FDTW_STRINGS_MAX];
};

/* buf must be 8-byte aligned for the result to be bootable (not checked). */
void fdtw_init(struct fdt_writer *w, void *buf, u32 cap);
/* The root node is begun with name "". */
void fdtw_begin_node(struct fdt_writer *w, const char *name);
void fdtw_end_node(struct fdt_writer *w);
void fdtw_prop(struct fdt_writer *w, const char *name, const void *data, u32 len);
void fdtw_prop_empty(struct fdt_writer *w, const char *name);
void fdtw_prop_u32(struct fdt_writer *w, const char *name, u32 v);
void fdtw_prop_u64(struct fdt_writer *w, const char *name, u64 v);
void fdtw_prop_string(struct fdt_writer *w, const char *name, const char *s);
/* n cells, each written big-endian. */
void fdtw_prop_cells(struct fdt_writer *w, const char *name, const u32 *cells, u32 n);
/* An address/size pair of 2 cells each (#address-cells = #size-cells = 2). */
void fdtw_prop_reg64(struct fdt_writer *w, const char *name, u64 addr, u64 size);
/* Lay out the header, the empty memory reservation block and the strings.
 * Returns the total size of the blob, or a negative FDTW_E_* code. */
int fdtw_finish(struct fdt_writer *w);
const char *fdtw_strerror(int err);

#endif
