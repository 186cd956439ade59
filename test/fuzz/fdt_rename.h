/* Host builds that link libfdt too: give Bulkhead's reader (hv/fdt.c) its own
 * symbol names so neither library's calls land in the other. Forced into
 * every source with -include; libfdt_shim.c undoes it before <libfdt.h>. */
#ifndef BULKHEAD_FDT_RENAME_H
#define BULKHEAD_FDT_RENAME_H
#define fdt_strerror bh_fdt_strerror
#define fdt_open bh_fdt_open
#define fdt_peek_size bh_fdt_peek_size
#define fdt_root bh_fdt_root
#define fdt_next_node bh_fdt_next_node
#define fdt_first_child bh_fdt_first_child
#define fdt_next_sibling bh_fdt_next_sibling
#define fdt_subnode bh_fdt_subnode
#define fdt_path bh_fdt_path
#define fdt_parent bh_fdt_parent
#define fdt_node_name bh_fdt_node_name
#define fdt_node_path bh_fdt_node_path
#define fdt_first_prop bh_fdt_first_prop
#define fdt_next_prop bh_fdt_next_prop
#define fdt_prop_info bh_fdt_prop_info
#define fdt_getprop bh_fdt_getprop
#define fdt_getprop_u32 bh_fdt_getprop_u32
#define fdt_getprop_u64 bh_fdt_getprop_u64
#define fdt_getprop_string bh_fdt_getprop_string
#define fdt_is_stringlist bh_fdt_is_stringlist
#define fdt_stringlist_contains bh_fdt_stringlist_contains
#define fdt_node_is_compatible bh_fdt_node_is_compatible
#define fdt_find_compatible bh_fdt_find_compatible
#define fdt_address_cells bh_fdt_address_cells
#define fdt_size_cells bh_fdt_size_cells
#define fdt_read_cells bh_fdt_read_cells
#define fdt_get_reg bh_fdt_get_reg
#define fdt_num_rsv bh_fdt_num_rsv
#define fdt_get_rsv bh_fdt_get_rsv
#endif
