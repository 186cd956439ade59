/* The only file of the host tests that includes <libfdt.h>: thin wrappers
 * with lf_ names, so the tests can use libfdt next to Bulkhead's reader
 * (whose names are changed by fdt_rename.h). */
#include "fdt_unrename.h"
#include <libfdt.h>
#include "libfdt_shim.h"

int lf_check_full(const void *b, size_t len) { return fdt_check_full(b, len); }
int lf_num_mem_rsv(const void *b) { return fdt_num_mem_rsv(b); }
int lf_get_mem_rsv(const void *b, int i, uint64_t *a, uint64_t *s) { return fdt_get_mem_rsv(b, i, a, s); }
int lf_next_node(const void *b, int off, int *depth) { return fdt_next_node(b, off, depth); }
const char *lf_get_name(const void *b, int off, int *len) { return fdt_get_name(b, off, len); }
int lf_parent_offset(const void *b, int off) { return fdt_parent_offset(b, off); }
int lf_get_path(const void *b, int off, char *buf, int size) { return fdt_get_path(b, off, buf, size); }
int lf_path_offset(const void *b, const char *path) { return fdt_path_offset(b, path); }
int lf_address_cells(const void *b, int off) { return fdt_address_cells(b, off); }
int lf_size_cells(const void *b, int off) { return fdt_size_cells(b, off); }
int lf_first_property_offset(const void *b, int off) { return fdt_first_property_offset(b, off); }
int lf_next_property_offset(const void *b, int off) { return fdt_next_property_offset(b, off); }
const void *lf_getprop_by_offset(const void *b, int off, const char **name, int *len)
{
    return fdt_getprop_by_offset(b, off, name, len);
}
const void *lf_getprop(const void *b, int off, const char *name, int *len)
{
    return fdt_getprop(b, off, name, len);
}
const char *lf_strerror(int err) { return fdt_strerror(err); }
int lf_node_offset_by_compatible(const void *b, int start, const char *c)
{
    return fdt_node_offset_by_compatible(b, start, c);
}

int lf_create(void *buf, int size) { return fdt_create(buf, size); }
int lf_add_reservemap_entry(void *b, uint64_t a, uint64_t s) { return fdt_add_reservemap_entry(b, a, s); }
int lf_finish_reservemap(void *b) { return fdt_finish_reservemap(b); }
int lf_begin_node(void *b, const char *name) { return fdt_begin_node(b, name); }
int lf_property(void *b, const char *name, const void *v, int len) { return fdt_property(b, name, v, len); }
int lf_property_u32(void *b, const char *name, uint32_t v) { return fdt_property_u32(b, name, v); }
int lf_property_string(void *b, const char *name, const char *s) { return fdt_property_string(b, name, s); }
int lf_end_node(void *b) { return fdt_end_node(b); }
int lf_finish(void *b) { return fdt_finish(b); }
int lf_totalsize(const void *b) { return (int)fdt_totalsize(b); }
