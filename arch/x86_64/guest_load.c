/* Guest loading for x86 partitions, from boot modules into zeroed partition
 * memory. Every offset and size in the image is checked against the module,
 * and every destination against the partition's memory slots. */
#include "x86guest.h"
#include "../../hv/bytes.h"
#include "../../hv/format.h"
#include "../../hv/partition.h"
#include "../../hv/string.h"

struct x86_part;
struct guest_boot *x86_part_boot(struct partition *p);

struct image {
    const u8 *data;
    u64 size;
};

/* Find the multiboot v1 header in the first 8 KiB. Returns its offset or -1. */
static s64 mb1_header(const struct image *im)
{
    u64 lim = MIN(im->size, 8192);
    for (u64 off = 0; off + 12 <= lim; off += 4) {
        const u8 *h = im->data + off;
        if (le32(h) == MB1_HEADER_MAGIC && (u32)(le32(h) + le32(h + 4) + le32(h + 8)) == 0)
            return (s64)off;
    }
    return -1;
}

struct elf_info {
    bool is64;
    u64 entry;
    u32 phoff, phentsize, phnum;
};

static bool elf_parse(const struct image *im, struct elf_info *e, char *err, size_t len)
{
    const u8 *d = im->data;
    if (im->size < 52 || memcmp(d, "\x7f" "ELF", 4) != 0) {
        bh_snprintf(err, len, "not an ELF image");
        return false;
    }
    if (d[5] != 1) {
        bh_snprintf(err, len, "ELF image is not little-endian");
        return false;
    }
    e->is64 = d[4] == 2;
    if (d[4] != 1 && d[4] != 2) {
        bh_snprintf(err, len, "ELF class %u is unknown", d[4]);
        return false;
    }
    if (e->is64) {
        if (im->size < 64) {
            bh_snprintf(err, len, "ELF64 header truncated");
            return false;
        }
        e->entry = le64(d + 24);
        e->phoff = (u32)MIN(le64(d + 32), 0xffffffffULL);
        e->phentsize = le16(d + 54);
        e->phnum = le16(d + 56);
    } else {
        e->entry = le32(d + 24);
        e->phoff = le32(d + 28);
        e->phentsize = le16(d + 42);
        e->phnum = le16(d + 44);
    }
    u32 need = e->is64 ? 56 : 32;
    if (e->phentsize < need || e->phnum == 0 ||
        (u64)e->phoff + (u64)e->phentsize * e->phnum > im->size) {
        bh_snprintf(err, len, "ELF program headers are missing or run past the end of the image");
        return false;
    }
    return true;
}

struct phdr {
    u32 type;
    u64 offset, paddr, filesz, memsz;
};

static void elf_phdr(const struct image *im, const struct elf_info *e, u32 i, struct phdr *ph)
{
    const u8 *p = im->data + e->phoff + (u64)i * e->phentsize;
    ph->type = le32(p);
    if (e->is64) {
        ph->offset = le64(p + 8);
        ph->paddr = le64(p + 24);
        ph->filesz = le64(p + 32);
        ph->memsz = le64(p + 40);
    } else {
        ph->offset = le32(p + 4);
        ph->paddr = le32(p + 12);
        ph->filesz = le32(p + 16);
        ph->memsz = le32(p + 20);
    }
}

/* Copy the PT_LOAD segments; *end = highest guest address loaded. */
static bool elf_load(struct partition *p, const struct image *im, const struct elf_info *e,
                     u64 *end, char *err, size_t len)
{
    bool any = false;
    *end = 0;
    for (u32 i = 0; i < e->phnum; i++) {
        struct phdr ph;
        elf_phdr(im, e, i, &ph);
        if (ph.type != 1 || ph.memsz == 0)
            continue;
        if (ph.filesz > ph.memsz || ph.offset > im->size || ph.filesz > im->size - ph.offset) {
            bh_snprintf(err, len, "segment %u: file range %#llx+%#llx is outside the image", i,
                        (unsigned long long)ph.offset, (unsigned long long)ph.filesz);
            return false;
        }
        u8 *dst = guest_ptr(p, ph.paddr, ph.memsz, true);
        if (!dst) {
            bh_snprintf(err, len,
                        "segment %u: guest range %#llx+%#llx is not inside one memory region of "
                        "the partition",
                        i, (unsigned long long)ph.paddr, (unsigned long long)ph.memsz);
            return false;
        }
        memcpy(dst, im->data + ph.offset, ph.filesz);
        memset(dst + ph.filesz, 0, ph.memsz - ph.filesz);
        *end = MAX(*end, ph.paddr + ph.memsz);
        any = true;
    }
    if (!any) {
        bh_snprintf(err, len, "the ELF image has no loadable segment");
        return false;
    }
    return true;
}

/* The PVH entry point from a XEN_ELFNOTE_PHYS32_ENTRY note, or 0. */
static u64 pvh_entry(const struct image *im, const struct elf_info *e)
{
    for (u32 i = 0; i < e->phnum; i++) {
        struct phdr ph;
        elf_phdr(im, e, i, &ph);
        if (ph.type != 4 || ph.offset > im->size || ph.filesz > im->size - ph.offset)
            continue;
        const u8 *n = im->data + ph.offset, *end = n + ph.filesz;
        while (n + 12 <= end) {
            u32 namesz = le32(n), descsz = le32(n + 4), type = le32(n + 8);
            u64 name_al = ALIGN_UP((u64)namesz, 4), desc_al = ALIGN_UP((u64)descsz, 4);
            if (name_al > (u64)(end - n - 12) || desc_al > (u64)(end - n - 12) - name_al)
                break;
            const u8 *name = n + 12, *desc = name + name_al;
            if (namesz == 4 && memcmp(name, "Xen", 4) == 0 && type == 18 && descsz >= 4)
                return descsz >= 8 ? le64(desc) : le32(desc);
            n = desc + desc_al;
        }
    }
    return 0;
}

/* Place data in guest memory after *cursor; returns its guest address or 0. */
static u64 place(struct partition *p, u64 *cursor, const void *src, u64 len, u64 align)
{
    u64 at = ALIGN_UP(*cursor, align);
    u8 *dst = guest_ptr(p, at, len ? len : 1, true);
    if (!dst)
        return 0;
    memcpy(dst, src, len);
    *cursor = at + len;
    return at;
}

/* Copy the ramdisk module page-aligned after *cursor; its guest address or 0. */
static u64 place_ramdisk(struct partition *p, u64 *cursor, char *err, size_t len)
{
    u64 rd_at = ALIGN_UP(*cursor, PAGE_SIZE);
    u8 *dst = guest_ptr(p, rd_at, p->ramdisk->size ? p->ramdisk->size : 1, true);
    if (!dst || rd_at == 0) {
        bh_snprintf(err, len, "the ramdisk '%s' (%llu bytes) does not fit after the kernel",
                    p->ramdisk->name, (unsigned long long)p->ramdisk->size);
        return 0;
    }
    memcpy(dst, (const void *)(uintptr_t)p->ramdisk->base, p->ramdisk->size);
    *cursor = rd_at + p->ramdisk->size;
    return rd_at;
}

/* The memory map the guest sees: its RAM regions (and channel windows as reserved). */
struct e820 {
    u64 base, size;
    u32 type;
};

static u32 guest_memmap(struct partition *p, struct e820 *m, u32 max)
{
    u32 n = 0;
    for (u32 i = 0; i < p->nregions && n < max; i++) {
        const struct part_region *r = &p->region[i];
        m[n++] = (struct e820){ r->gpa, r->size, r->kind == PART_RAM ? 1u : 2u };
    }
    /* sort by base */
    for (u32 i = 1; i < n; i++)
        for (u32 j = i; j > 0 && m[j].base < m[j - 1].base; j--) {
            struct e820 t = m[j];
            m[j] = m[j - 1];
            m[j - 1] = t;
        }
    return n;
}

static bool build_multiboot_info(struct partition *p, u64 cursor, struct guest_boot *gb,
                                 char *err, size_t len)
{
    u8 mbi[96];
    memset(mbi, 0, sizeof(mbi));
    struct e820 mm[PART_MAX_REGIONS];
    u32 n = guest_memmap(p, mm, PART_MAX_REGIONS);
    u32 lower = 0, upper = 0;
    for (u32 i = 0; i < n; i++) {
        if (mm[i].type != 1)
            continue;
        if (mm[i].base == 0)
            lower = (u32)(MIN(mm[i].size, 0xa0000ULL) / 1024);
        if (mm[i].base <= MiB(1) && mm[i].base + mm[i].size > MiB(1))
            upper = (u32)MIN((mm[i].base + mm[i].size - MiB(1)) / 1024, 0xffffffffULL);
    }
    u32 flags = (1u << 0) | (1u << 2) | (1u << 6) | (1u << 9);
    memcpy(mbi + 4, &lower, 4);
    memcpy(mbi + 8, &upper, 4);
    /* command line: the partition's, else the kernel module's arguments */
    const char *cmd = p->cfg->cmdline[0] ? p->cfg->cmdline : p->kernel->args;
    u64 cmd_at = place(p, &cursor, cmd, strlen(cmd) + 1, 16);
    static const char loader[] = "Bulkhead " BULKHEAD_VERSION;
    u64 name_at = place(p, &cursor, loader, sizeof(loader), 16);
    u8 mmap[24 * PART_MAX_REGIONS];
    for (u32 i = 0; i < n; i++) {
        u32 sz = 20;
        memcpy(mmap + i * 24, &sz, 4);
        memcpy(mmap + i * 24 + 4, &mm[i].base, 8);
        memcpy(mmap + i * 24 + 12, &mm[i].size, 8);
        memcpy(mmap + i * 24 + 20, &mm[i].type, 4);
    }
    u64 mmap_at = place(p, &cursor, mmap, 24ULL * n, 16);
    u32 mods_count = 0;
    u64 mods_at = 0;
    if (p->ramdisk) {
        u64 rd_at = place_ramdisk(p, &cursor, err, len);
        if (!rd_at)
            return false;
        u64 str_at = place(p, &cursor, p->ramdisk->name, strlen(p->ramdisk->name) + 1, 16);
        u32 mod[4] = { (u32)rd_at, (u32)(rd_at + p->ramdisk->size), (u32)str_at, 0 };
        mods_at = place(p, &cursor, mod, sizeof(mod), 16);
        mods_count = 1;
        flags |= 1u << 3;
    }
    u32 v32;
    v32 = (u32)cmd_at;
    memcpy(mbi + 16, &v32, 4);
    memcpy(mbi + 20, &mods_count, 4);
    v32 = (u32)mods_at;
    memcpy(mbi + 24, &v32, 4);
    v32 = 24 * n;
    memcpy(mbi + 44, &v32, 4);
    v32 = (u32)mmap_at;
    memcpy(mbi + 48, &v32, 4);
    v32 = (u32)name_at;
    memcpy(mbi + 64, &v32, 4);
    memcpy(mbi, &flags, 4);
    u64 mbi_at = place(p, &cursor, mbi, sizeof(mbi), 16);
    if (!cmd_at || !name_at || !mmap_at || !mbi_at || mbi_at + sizeof(mbi) > GiB(4)) {
        bh_snprintf(err, len,
                    "no room for the multiboot information after the kernel (below 4 GiB, in "
                    "the same region)");
        return false;
    }
    gb->eax = MB1_BOOT_MAGIC;
    gb->ebx = (u32)mbi_at;
    return true;
}

static bool build_pvh_info(struct partition *p, u64 cursor, struct guest_boot *gb, char *err,
                           size_t len)
{
    u8 si[56];
    memset(si, 0, sizeof(si));
    struct e820 mm[PART_MAX_REGIONS];
    u32 n = guest_memmap(p, mm, PART_MAX_REGIONS);
    const char *cmd = p->cfg->cmdline[0] ? p->cfg->cmdline : p->kernel->args;
    u64 cmd_at = place(p, &cursor, cmd, strlen(cmd) + 1, 16);
    u8 map[24 * PART_MAX_REGIONS];
    memset(map, 0, sizeof(map));
    for (u32 i = 0; i < n; i++) {
        memcpy(map + i * 24, &mm[i].base, 8);
        memcpy(map + i * 24 + 8, &mm[i].size, 8);
        memcpy(map + i * 24 + 16, &mm[i].type, 4);
    }
    u64 map_at = place(p, &cursor, map, 24ULL * n, 16);
    u32 nmods = 0;
    u64 modlist = 0;
    if (p->ramdisk) {
        u64 rd_at = place_ramdisk(p, &cursor, err, len);
        if (!rd_at)
            return false;
        u64 mod[4] = { rd_at, p->ramdisk->size, 0, 0 };
        modlist = place(p, &cursor, mod, sizeof(mod), 16);
        nmods = 1;
    }
    u32 magic = PVH_START_MAGIC, version = 1;
    memcpy(si + 0, &magic, 4);
    memcpy(si + 4, &version, 4);
    memcpy(si + 12, &nmods, 4);
    memcpy(si + 16, &modlist, 8);
    memcpy(si + 24, &cmd_at, 8);
    memcpy(si + 40, &map_at, 8);
    memcpy(si + 48, &n, 4);
    u64 si_at = place(p, &cursor, si, sizeof(si), 16);
    if (!cmd_at || !map_at || !si_at || si_at + sizeof(si) > GiB(4)) {
        bh_snprintf(err, len, "no room for the PVH start information after the kernel");
        return false;
    }
    gb->eax = 0;
    gb->ebx = (u32)si_at;
    return true;
}

bool arch_partition_load(struct partition *p, char *err, size_t len)
{
    struct guest_boot *gb = x86_part_boot(p);
    const struct boot_module *k = p->kernel;
    if (!k) {
        bh_snprintf(err, len, "no kernel module");
        return false;
    }
    struct image im = { (const u8 *)(uintptr_t)k->base, k->size };
    memset(gb, 0, sizeof(*gb));
    u64 end = 0;
    if (p->cfg->boot == CFG_BOOT_PVH) {
        struct elf_info e;
        if (!elf_parse(&im, &e, err, len))
            return false;
        gb->entry = pvh_entry(&im, &e);
        if (!gb->entry) {
            bh_snprintf(err, len, "boot-protocol is pvh but the ELF image has no "
                                  "XEN_ELFNOTE_PHYS32_ENTRY note");
            return false;
        }
        if (!elf_load(p, &im, &e, &end, err, len))
            return false;
        return build_pvh_info(p, ALIGN_UP(end, PAGE_SIZE), gb, err, len);
    }
    /* multiboot v1 */
    s64 hoff = mb1_header(&im);
    if (hoff < 0) {
        bh_snprintf(err, len, "no multiboot header (magic 0x1badb002 with a valid checksum) in "
                              "the first 8 KiB");
        return false;
    }
    const u8 *h = im.data + hoff;
    u32 flags = le32(h + 4);
    if (flags & (1u << 2)) {
        bh_snprintf(err, len, "multiboot header asks for a video mode, which partitions do not have");
        return false;
    }
    if (flags & 0xfffc) {
        bh_snprintf(err, len, "multiboot header asks for unsupported features (flags %#x)", flags);
        return false;
    }
    if (flags & (1u << 16)) {
        /* a.out kludge: load addresses from the header */
        if ((u64)hoff + 32 > im.size) {
            bh_snprintf(err, len, "multiboot header address fields run past the image");
            return false;
        }
        u32 header_addr = le32(h + 12), load_addr = le32(h + 16), load_end = le32(h + 20);
        u32 bss_end = le32(h + 24), entry = le32(h + 28);
        if (load_addr > header_addr || header_addr - load_addr > hoff) {
            bh_snprintf(err, len, "multiboot header_addr/load_addr are inconsistent");
            return false;
        }
        u64 file_off = (u64)hoff - (header_addr - load_addr);
        u64 load_len = load_end ? (u64)load_end - load_addr : im.size - file_off;
        if (load_end && load_end < load_addr) {
            bh_snprintf(err, len, "multiboot load_end_addr is below load_addr");
            return false;
        }
        if (file_off + load_len > im.size) {
            bh_snprintf(err, len, "multiboot load range runs past the end of the image");
            return false;
        }
        u64 total = bss_end > load_addr + load_len ? bss_end - load_addr : load_len;
        u8 *dst = guest_ptr(p, load_addr, total, true);
        if (!dst) {
            bh_snprintf(err, len, "load range %#x+%#llx is not inside one memory region", load_addr,
                        (unsigned long long)total);
            return false;
        }
        memcpy(dst, im.data + file_off, load_len);
        memset(dst + load_len, 0, total - load_len);
        gb->entry = entry;
        end = load_addr + total;
    } else {
        struct elf_info e;
        if (!elf_parse(&im, &e, err, len))
            return false;
        if (!elf_load(p, &im, &e, &end, err, len))
            return false;
        gb->entry = e.entry;
    }
    if (gb->entry >= GiB(4)) {
        bh_snprintf(err, len, "entry point %#llx is above 4 GiB", (unsigned long long)gb->entry);
        return false;
    }
    return build_multiboot_info(p, ALIGN_UP(end, PAGE_SIZE), gb, err, len);
}
