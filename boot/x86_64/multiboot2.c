#include "multiboot2.h"
#include "../../hv/bytes.h"
#include "../../hv/format.h"
#include "../../hv/string.h"

static u32 mmap_type(u32 t)
{
    switch (t) {
    case 1: return MEM_USABLE;
    case 3: return MEM_ACPI_RECLAIM;
    case 4: return MEM_ACPI_NVS;
    case 5: return MEM_BAD;
    default: return MEM_RESERVED;
    }
}

/* A string field: must be NUL-terminated inside [p, p+len). */
static bool str_ok(const u8 *p, u32 len)
{
    return len > 0 && strnlen((const char *)p, len) < len;
}

bool mb2_parse(const void *info, size_t avail, u64 info_phys, struct boot_info *bi, char *err,
               size_t errlen)
{
    const u8 *b = info;
    if (!info || avail < 16) {
        bh_snprintf(err, errlen, "multiboot2 information missing or shorter than 16 bytes");
        return false;
    }
    u32 total = le32(b);
    if (total < 16 || total > avail || total > MB2_INFO_MAX) {
        bh_snprintf(err, errlen, "multiboot2 information size %u is invalid (must be 16..%u)",
                    total, (unsigned)MIN(avail, MB2_INFO_MAX));
        return false;
    }
    if (!bi_add_reserved(bi, info_phys, total, "multiboot2 information")) {
        bh_snprintf(err, errlen, "too many reserved ranges");
        return false;
    }

    bool seen_end = false, seen_mmap = false;
    u64 basic_lower = 0, basic_upper = 0;
    bool seen_basic = false;
    u32 off = 8;
    while (off + 8 <= total) {
        u32 type = le32(b + off);
        u32 size = le32(b + off + 4);
        if (size < 8 || size > total - off) {
            bh_snprintf(err, errlen,
                        "multiboot2 tag type %u at offset %u has size %u, which runs past the "
                        "end of the %u-byte block",
                        type, off, size, total);
            return false;
        }
        const u8 *t = b + off;
        switch (type) {
        case MB2_TAG_END:
            if (size != 8) {
                bh_snprintf(err, errlen, "multiboot2 end tag at offset %u has size %u (not 8)",
                            off, size);
                return false;
            }
            seen_end = true;
            break;
        case MB2_TAG_CMDLINE:
        case MB2_TAG_LOADER_NAME:
            if (!str_ok(t + 8, size - 8)) {
                bh_snprintf(err, errlen,
                            "multiboot2 %s tag at offset %u is not a terminated string",
                            type == MB2_TAG_CMDLINE ? "command-line" : "boot-loader-name", off);
                return false;
            }
            if (type == MB2_TAG_CMDLINE)
                bh_strlcpy(bi->cmdline, (const char *)t + 8, sizeof(bi->cmdline));
            else
                bh_strlcpy(bi->loader_name, (const char *)t + 8, sizeof(bi->loader_name));
            break;
        case MB2_TAG_MODULE: {
            if (size < 17 || !str_ok(t + 16, size - 16)) {
                bh_snprintf(err, errlen,
                            "multiboot2 module tag at offset %u is malformed (size %u, string "
                            "not terminated)",
                            off, size);
                return false;
            }
            u32 start = le32(t + 8), end = le32(t + 12);
            const char *str = (const char *)t + 16;
            if (end < start) {
                bh_snprintf(err, errlen, "module '%s' ends (%#x) before it starts (%#x)", str,
                            end, start);
                return false;
            }
            enum bi_mod_err me = bi_add_module(bi, start, end - start, str, size - 16);
            if (me == BI_MOD_FULL) {
                bh_snprintf(err, errlen, "more than %u boot modules", BI_MAX_MODULES);
                return false;
            }
            if (me == BI_MOD_NONAME) {
                bh_snprintf(err, errlen,
                            "boot module %u (at %#x, %u bytes) has no name: give it one on its "
                            "module2 line, e.g. 'module2 /boot/rtos.elf rtos'",
                            bi->nmod + 1, start, end - start);
                return false;
            }
            if (me == BI_MOD_NAMELONG) {
                bh_snprintf(err, errlen, "boot module name '%.40s...' is longer than %u characters",
                            str, BI_NAME_MAX - 1);
                return false;
            }
            if (!bi_add_reserved(bi, start, end - start, "boot module")) {
                bh_snprintf(err, errlen, "too many reserved ranges");
                return false;
            }
            break;
        }
        case MB2_TAG_BASIC_MEMINFO:
            if (size < 16) {
                bh_snprintf(err, errlen, "multiboot2 basic memory tag at offset %u is too short",
                            off);
                return false;
            }
            basic_lower = le32(t + 8);
            basic_upper = le32(t + 12);
            seen_basic = true;
            break;
        case MB2_TAG_MMAP: {
            if (size < 16) {
                bh_snprintf(err, errlen, "multiboot2 memory map tag at offset %u is too short",
                            off);
                return false;
            }
            u32 esz = le32(t + 8);
            if (esz < 24 || esz % 8) {
                bh_snprintf(err, errlen,
                            "multiboot2 memory map entry size %u is invalid (must be >= 24 and "
                            "a multiple of 8)",
                            esz);
                return false;
            }
            for (u32 p = 16; p + esz <= size; p += esz) {
                u64 base = le64(t + p), len = le64(t + p + 8);
                u32 mt = le32(t + p + 16);
                if (len == 0)
                    continue;
                if (base + len < base)
                    len = UINT64_MAX - base; /* clamp an overflowing entry */
                if (!bi_add_mem(bi, base, len, mmap_type(mt))) {
                    bh_snprintf(err, errlen, "memory map has more than %u entries", BI_MAX_MEM);
                    return false;
                }
            }
            seen_mmap = true;
            break;
        }
        case MB2_TAG_ACPI_OLD:
        case MB2_TAG_ACPI_NEW: {
            u32 need = type == MB2_TAG_ACPI_OLD ? 20 : 36;
            if (size - 8 < need) {
                bh_snprintf(err, errlen, "multiboot2 ACPI %s RSDP tag at offset %u is too short",
                            type == MB2_TAG_ACPI_OLD ? "old" : "new", off);
                return false;
            }
            if (memcmp(t + 8, "RSD PTR ", 8) != 0) {
                bh_snprintf(err, errlen, "multiboot2 ACPI tag at offset %u holds no RSDP signature",
                            off);
                return false;
            }
            /* The new (ACPI 2.0+) RSDP wins over the old one. */
            if (type == MB2_TAG_ACPI_NEW || bi->acpi_rsdp_len == 0) {
                memcpy(bi->acpi_rsdp_copy, t + 8, need);
                bi->acpi_rsdp_len = need;
                bi->acpi_rsdp = info_phys + off + 8;
            }
            break;
        }
        default:
            break; /* tags we do not use */
        }
        if (seen_end)
            break;
        off += (u32)ALIGN_UP(size, 8);
    }
    if (!seen_end) {
        bh_snprintf(err, errlen, "multiboot2 information has no end tag within its %u bytes",
                    total);
        return false;
    }
    if (!seen_mmap && seen_basic) {
        /* Fall back to the basic memory information. */
        bi_add_mem(bi, 0, basic_lower * 1024, MEM_USABLE);
        bi_add_mem(bi, MiB(1), basic_upper * 1024, MEM_USABLE);
    }
    if (!seen_mmap && !seen_basic) {
        bh_snprintf(err, errlen, "multiboot2 information has no memory map");
        return false;
    }
    return true;
}
