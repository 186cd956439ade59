/* Multiboot2 boot information parser (arch-neutral C, host-testable). */
#ifndef BULKHEAD_MULTIBOOT2_H
#define BULKHEAD_MULTIBOOT2_H

#include "../../hv/boot_info.h"

#define MB2_BOOTLOADER_MAGIC 0x36d76289u
#define MB2_INFO_MAX (1u << 20) /* refuse information blocks above 1 MiB */

enum {
    MB2_TAG_END = 0,
    MB2_TAG_CMDLINE = 1,
    MB2_TAG_LOADER_NAME = 2,
    MB2_TAG_MODULE = 3,
    MB2_TAG_BASIC_MEMINFO = 4,
    MB2_TAG_BOOTDEV = 5,
    MB2_TAG_MMAP = 6,
    MB2_TAG_ACPI_OLD = 14,
    MB2_TAG_ACPI_NEW = 15,
    MB2_TAG_LOAD_BASE = 21,
};

/* Parse the information block at info (avail readable bytes) into bi.
 * info_phys is its physical address (reserved in bi). Returns true on
 * success; on failure err names the problem (offset, tag, field). */
bool mb2_parse(const void *info, size_t avail, u64 info_phys, struct boot_info *bi, char *err,
               size_t errlen);

#endif
