/* libfdt through lf_ names (see libfdt_shim.c). Errors are negative libfdt codes. */
#ifndef BULKHEAD_LIBFDT_SHIM_H
#define BULKHEAD_LIBFDT_SHIM_H

#include <stddef.h>
#include <stdint.h>

int lf_check_full(const void *b, size_t len);
int lf_num_mem_rsv(const void *b);
int lf_get_mem_rsv(const void *b, int i, uint64_t *a, uint64_t *s);
int lf_next_node(const void *b, int off, int *depth);
const char *lf_get_name(const void *b, int off, int *len);
int lf_parent_offset(const void *b, int off);
int lf_get_path(const void *b, int off, char *buf, int size);
int lf_path_offset(const void *b, const char *path);
int lf_address_cells(const void *b, int off);
int lf_size_cells(const void *b, int off);
int lf_first_property_offset(const void *b, int off);
int lf_next_property_offset(const void *b, int off);
const void *lf_getprop_by_offset(const void *b, int off, const char **name, int *len);
const void *lf_getprop(const void *b, int off, const char *name, int *len);
const char *lf_strerror(int err);
int lf_node_offset_by_compatible(const void *b, int start, const char *c);

/* Sequential-write API, to build test blobs. */
int lf_create(void *buf, int size);
int lf_add_reservemap_entry(void *b, uint64_t a, uint64_t s);
int lf_finish_reservemap(void *b);
int lf_begin_node(void *b, const char *name);
int lf_property(void *b, const char *name, const void *v, int len);
int lf_property_u32(void *b, const char *name, uint32_t v);
int lf_property_string(void *b, const char *name, const char *s);
int lf_end_node(void *b);
int lf_finish(void *b);
int lf_totalsize(const void *b);

#endif
