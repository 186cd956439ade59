/* Loading x86 guests: multiboot v1 (ELF or a.out-kludge images) and PVH
 * (ELF with a XEN_ELFNOTE_PHYS32_ENTRY note). The result is the entry state
 * of the boot vCPU: 32-bit protected mode, paging off, EIP = entry. */
#ifndef BULKHEAD_X86GUEST_H
#define BULKHEAD_X86GUEST_H

#include "../../hv/types.h"

struct guest_boot {
    u64 entry;
    u32 eax;   /* multiboot: 0x2BADB002 */
    u32 ebx;   /* multiboot information / hvm_start_info address */
};

#define MB1_HEADER_MAGIC 0x1badb002u
#define MB1_BOOT_MAGIC 0x2badb002u
#define PVH_START_MAGIC 0x336ec578u

#endif
