/* The x86 guest loader on crafted images: multiboot v1 (ELF and a.out
 * kludge) and PVH load where they say and hand over the right information;
 * every malformed image is refused with a message naming what is wrong. */
#include "check.h"
#include "guest_load_env.h"

static char err[256];
static u8 img[16384] __attribute__((aligned(8)));
static size_t img_len;

static void put32(u8 *p, u32 v) { memcpy(p, &v, 4); }
static void put16(u8 *p, u16 v) { memcpy(p, &v, 2); }

/* ELF32 with one PT_LOAD (paddr, file data at 0x1000, filesz, memsz) and
 * optionally a PT_NOTE with the PVH entry; multiboot header at 0x1000 unless
 * mb_off is 0. */
static void build_elf(u32 paddr, u32 filesz, u32 memsz, u32 entry, bool pvh_note, u32 mb_off,
                      u32 mb_flags)
{
    memset(img, 0, sizeof(img));
    memcpy(img, "\x7f" "ELF", 4);
    img[4] = 1; /* ELFCLASS32 */
    img[5] = 1; /* little-endian */
    img[6] = 1;
    put16(img + 16, 2);      /* ET_EXEC */
    put16(img + 18, 3);      /* EM_386 */
    put32(img + 20, 1);
    put32(img + 24, entry);
    put32(img + 28, 52);     /* phoff */
    put16(img + 42, 32);     /* phentsize */
    put16(img + 44, pvh_note ? 2 : 1);
    u8 *ph = img + 52;
    put32(ph, 1);            /* PT_LOAD */
    put32(ph + 4, 0x1000);   /* offset */
    put32(ph + 8, paddr);
    put32(ph + 12, paddr);
    put32(ph + 16, filesz);
    put32(ph + 20, memsz);
    if (pvh_note) {
        ph += 32;
        put32(ph, 4); /* PT_NOTE */
        put32(ph + 4, 0x800);
        put32(ph + 16, 20);
        u8 *n = img + 0x800;
        put32(n, 4);
        put32(n + 4, 4);
        put32(n + 8, 18);
        memcpy(n + 12, "Xen", 4);
        put32(n + 16, entry);
    }
    for (u32 i = 0; i < 64; i++)
        img[0x1000 + 64 + i] = (u8)(0x90); /* some code bytes */
    if (mb_off) {
        put32(img + mb_off, MB1_HEADER_MAGIC);
        put32(img + mb_off + 4, mb_flags);
        put32(img + mb_off + 8, (u32)(0u - MB1_HEADER_MAGIC - mb_flags));
    }
    img_len = 0x1000 + (filesz < 0x2000 ? filesz : 0x2000);
    set_image(img, img_len);
}

static bool load(void)
{
    err[0] = 0;
    return arch_partition_load(&gpart, err, sizeof(err));
}

static void multiboot_elf(void)
{
    genv_init();
    strcpy(gcfg.cmdline, "hello=1");
    build_elf(0x100000, 0x200, 0x3000, 0x100040, false, 0x1000, 0);
    CHECK(load());
    CHECK_EQ(gboot.entry, 0x100040);
    CHECK_EQ(gboot.eax, MB1_BOOT_MAGIC);
    CHECK(memcmp(gmem + 0x100000, img + 0x1000, 0x200) == 0);
    /* bss zeroed, information after the image */
    CHECK_EQ(gmem[0x100000 + 0x2fff], 0);
    CHECK(gboot.ebx >= 0x103000);
    const u8 *mbi = gmem + gboot.ebx;
    u32 flags, lower, upper, cmd, mmap_len, mmap_at;
    memcpy(&flags, mbi, 4);
    memcpy(&lower, mbi + 4, 4);
    memcpy(&upper, mbi + 8, 4);
    memcpy(&cmd, mbi + 16, 4);
    memcpy(&mmap_len, mbi + 44, 4);
    memcpy(&mmap_at, mbi + 48, 4);
    CHECK(flags & 1 && flags & 4 && flags & 64);
    CHECK_EQ(lower, 640);
    CHECK_EQ(upper, (GMEM_SIZE >> 10) - 1024);
    CHECK_STR((const char *)gmem + cmd, "hello=1");
    CHECK_EQ(mmap_len, 24);
    u64 base, len;
    memcpy(&base, gmem + mmap_at + 4, 8);
    memcpy(&len, gmem + mmap_at + 12, 8);
    CHECK_EQ(base, 0);
    CHECK_EQ(len, GMEM_SIZE);
}

static void pvh_elf(void)
{
    genv_init();
    gcfg.boot = CFG_BOOT_PVH;
    strcpy(gkernel.args, "from-module");
    build_elf(0x200000, 0x100, 0x100, 0x200010, true, 0, 0);
    CHECK(load());
    CHECK_EQ(gboot.entry, 0x200010);
    const u8 *si = gmem + gboot.ebx;
    u32 magic, version, nmap;
    u64 cmd;
    memcpy(&magic, si, 4);
    memcpy(&version, si + 4, 4);
    memcpy(&cmd, si + 24, 8);
    memcpy(&nmap, si + 48, 4);
    CHECK_EQ(magic, PVH_START_MAGIC);
    CHECK_EQ(version, 1);
    CHECK_EQ(nmap, 1);
    CHECK_STR((const char *)gmem + cmd, "from-module");
}

static void aout_kludge(void)
{
    genv_init();
    memset(img, 0, sizeof(img));
    /* header at file offset 0x40; image loaded at 0x300000 from file offset 0 */
    u32 flags = 1u << 16;
    put32(img + 0x40, MB1_HEADER_MAGIC);
    put32(img + 0x44, flags);
    put32(img + 0x48, (u32)(0u - MB1_HEADER_MAGIC - flags));
    put32(img + 0x4c, 0x300040); /* header_addr */
    put32(img + 0x50, 0x300000); /* load_addr */
    put32(img + 0x54, 0x300400); /* load_end_addr */
    put32(img + 0x58, 0x302000); /* bss_end_addr */
    put32(img + 0x5c, 0x300080); /* entry */
    img[0x3ff] = 0xab;
    set_image(img, 0x400);
    CHECK(load());
    CHECK_EQ(gboot.entry, 0x300080);
    CHECK_EQ(gmem[0x3003ff], 0xab);
}

#define REFUSED(msg)                 \
    do {                             \
        CHECK(!load());              \
        CHECK_CONTAINS(err, msg);    \
    } while (0)

static void malformed(void)
{
    genv_init();
    set_image("not an image at all, just text", 30);
    REFUSED("no multiboot header");
    gcfg.boot = CFG_BOOT_PVH;
    REFUSED("not an ELF image");

    genv_init();
    build_elf(0x100000, 0x200, 0x200, 0x100000, false, 0x1000, 0);
    put32(img + 0x1008, 0x12345678); /* checksum broken */
    REFUSED("no multiboot header (magic 0x1badb002 with a valid checksum)");

    build_elf(0x100000, 0x200, 0x200, 0x100000, false, 0x1000, 1u << 2);
    REFUSED("asks for a video mode");
    build_elf(0x100000, 0x200, 0x200, 0x100000, false, 0x1000, 1u << 5);
    REFUSED("unsupported features (flags 0x20)");

    build_elf(0x100000, 0x200, 0x200, 0x100000, false, 0x1000, 0);
    put16(img + 44, 400); /* program headers past the end */
    REFUSED("program headers are missing or run past the end");

    build_elf(0x100000, 0x200, 0x200, 0x100000, false, 0x1000, 0);
    put32(img + 52 + 4, 0x7fffffff); /* segment file offset beyond the image */
    REFUSED("segment 0: file range 0x7fffffff+0x200 is outside the image");

    build_elf(0x100000, 0x300, 0x200, 0x100000, false, 0x1000, 0);
    REFUSED("segment 0: file range"); /* filesz > memsz */

    build_elf(0x2000000, 0x200, 0x200, 0x2000000, false, 0x1000, 0);
    REFUSED("segment 0: guest range 0x2000000+0x200 is not inside one memory region");

    build_elf(0xfffff000, 0x200, 0x2000, 0xfffff000, false, 0x1000, 0);
    REFUSED("is not inside one memory region"); /* wraps past 4 GiB */

    build_elf(0x100000, 0x200, 0x200, 0x100000, false, 0x1000, 0);
    put32(img + 52, 6); /* no PT_LOAD */
    REFUSED("no loadable segment");

    build_elf(0x100000, 0x200, 0x200, 0x100000, false, 0x1000, 0);
    img[5] = 2;
    REFUSED("not little-endian");
    img[5] = 1;
    img[4] = 7;
    REFUSED("ELF class 7 is unknown");

    genv_init();
    gcfg.boot = CFG_BOOT_PVH;
    build_elf(0x100000, 0x200, 0x200, 0x100000, false, 0, 0);
    REFUSED("no XEN_ELFNOTE_PHYS32_ENTRY note");
    build_elf(0x100000, 0x200, 0x200, 0x100000, true, 0, 0);
    put32(img + 0x800, 0xfffffff0); /* note name size absurd */
    REFUSED("no XEN_ELFNOTE_PHYS32_ENTRY note");

    genv_init();
    memset(img, 0, sizeof(img));
    u32 flags = 1u << 16;
    put32(img, MB1_HEADER_MAGIC);
    put32(img + 4, flags);
    put32(img + 8, (u32)(0u - MB1_HEADER_MAGIC - flags));
    put32(img + 12, 0x300000);
    put32(img + 16, 0x300000);
    put32(img + 20, 0x2ff000); /* load_end below load_addr */
    set_image(img, 0x400);
    REFUSED("load_end_addr is below load_addr");
    put32(img + 20, 0x300000 + 0x10000); /* runs past the file */
    REFUSED("runs past the end of the image");
    put32(img + 12, 0x300100); /* header_addr beyond its file offset */
    REFUSED("header_addr/load_addr are inconsistent");
    set_image(img, 20);
    REFUSED("address fields run past the image");

    genv_init();
    gpart.kernel = NULL;
    REFUSED("no kernel module");
}

static void ramdisk_and_info_room(void)
{
    genv_init();
    static const char rd[] = "ramdisk contents";
    struct boot_module ramdisk = { .name = "rd", .base = (u64)(uintptr_t)rd, .size = sizeof(rd) };
    gpart.ramdisk = &ramdisk;
    build_elf(0x100000, 0x200, 0x200, 0x100000, false, 0x1000, 0);
    CHECK(load());
    const u8 *mbi = gmem + gboot.ebx;
    u32 count, mods;
    memcpy(&count, mbi + 20, 4);
    memcpy(&mods, mbi + 24, 4);
    CHECK_EQ(count, 1);
    u32 start, end;
    memcpy(&start, gmem + mods, 4);
    memcpy(&end, gmem + mods + 4, 4);
    CHECK_EQ(end - start, sizeof(rd));
    CHECK(memcmp(gmem + start, rd, sizeof(rd)) == 0);
    /* An image that ends at the top of RAM leaves no room for the information. */
    gpart.ramdisk = NULL;
    build_elf(GMEM_SIZE - 0x1000, 0x200, 0x1000, GMEM_SIZE - 0x1000, false, 0x1000, 0);
    REFUSED("no room for the multiboot information");
    ramdisk.size = GMEM_SIZE;
    gpart.ramdisk = &ramdisk;
    build_elf(0x100000, 0x200, 0x200, 0x100000, false, 0x1000, 0);
    REFUSED("the ramdisk 'rd' (16777216 bytes) does not fit after the kernel");
}

int main(void)
{
    RUN(multiboot_elf);
    RUN(pvh_elf);
    RUN(aout_kludge);
    RUN(malformed);
    RUN(ramdisk_and_info_room);
    free(gmem);
    return CHECK_DONE();
}
