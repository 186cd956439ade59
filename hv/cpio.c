#include "cpio.h"
#include "format.h"
#include "string.h"

const char *cpio_strerror(int err)
{
    switch (err) {
    case CPIO_OK: return "ok";
    case CPIO_END: return "end of archive";
    case CPIO_E_TRUNCATED: return "truncated (an entry runs past the end of the archive)";
    case CPIO_E_BADMAGIC: return "bad magic (not a cpio newc archive)";
    case CPIO_E_BADHEX: return "header field is not hexadecimal";
    case CPIO_E_BADNAME: return "file name empty or not NUL-terminated";
    case CPIO_E_NOTRAILER: return "archive ends without a TRAILER!!! entry";
    case CPIO_E_CHECKSUM: return "data does not match the entry's checksum";
    case CPIO_E_TOOBIG: return "size too large";
    default: return "unknown error";
    }
}

void cpio_iter_init(struct cpio_iter *it, const void *buf, u64 len)
{
    it->buf = buf;
    it->len = buf ? len : 0;
    it->off = 0;
    it->err = 0;
}

static bool hex8(const u8 *p, u32 *out)
{
    u32 v = 0;
    for (int i = 0; i < 8; i++) {
        u8 c = p[i];
        u32 d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return false;
        v = (v << 4) | d;
    }
    *out = v;
    return true;
}

static bool all_zero(const u8 *p, u64 n)
{
    for (u64 i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static int fail(struct cpio_iter *it, int err)
{
    it->err = err;
    return err;
}

int cpio_next(struct cpio_iter *it, struct cpio_entry *e)
{
    if (it->err)
        return it->err;
    u64 off = it->off;
    if (off > it->len)
        return fail(it, CPIO_E_TRUNCATED);
    u64 left = it->len - off;
    if (left == 0 || (left < CPIO_HDR_SIZE && all_zero(it->buf + off, left)))
        return fail(it, CPIO_E_NOTRAILER);
    if (left < 6)
        return fail(it, CPIO_E_TRUNCATED);
    const u8 *h = it->buf + off;
    bool crc;
    if (memcmp(h, "070701", 6) == 0)
        crc = false;
    else if (memcmp(h, "070702", 6) == 0)
        crc = true;
    else if (all_zero(h, left))
        return fail(it, CPIO_E_NOTRAILER);
    else
        return fail(it, CPIO_E_BADMAGIC);
    if (left < CPIO_HDR_SIZE)
        return fail(it, CPIO_E_TRUNCATED);

    /* ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor
     * rdevminor namesize check */
    u32 f[13];
    for (int i = 0; i < 13; i++)
        if (!hex8(h + 6 + 8 * i, &f[i]))
            return fail(it, CPIO_E_BADHEX);
    u32 mode = f[1], filesize = f[6], namesize = f[11], check = f[12];

    u64 name_off = off + CPIO_HDR_SIZE;
    if (namesize < 2)
        return fail(it, CPIO_E_BADNAME);
    if (namesize > it->len - name_off)
        return fail(it, CPIO_E_TRUNCATED);
    const char *name = (const char *)it->buf + name_off;
    if (name[namesize - 1] != 0 || strnlen(name, namesize) != namesize - 1)
        return fail(it, CPIO_E_BADNAME);

    u64 data_off = ALIGN_UP(name_off + namesize, 4);
    if (data_off > it->len || filesize > it->len - data_off)
        return fail(it, CPIO_E_TRUNCATED);
    const u8 *data = it->buf + data_off;
    if (crc) {
        u32 sum = 0;
        for (u64 i = 0; i < filesize; i++)
            sum += data[i];
        if (sum != check)
            return fail(it, CPIO_E_CHECKSUM);
    }
    u64 next = ALIGN_UP(data_off + filesize, 4);

    if (namesize == 11 && memcmp(name, "TRAILER!!!", 11) == 0) {
        it->off = next > it->len ? it->len : next;
        it->err = CPIO_END;
        return CPIO_END;
    }
    e->name = name;
    e->namelen = namesize - 1;
    e->mode = mode;
    e->data = data;
    e->size = filesize;
    e->offset = data_off;
    e->hdr_offset = off;
    /* The padding after the last data may be missing only at the very end,
     * and then the trailer is missing too: next > len is reported on the
     * following call. */
    it->off = next;
    return CPIO_OK;
}

int cpio_add_modules(struct boot_info *bi, u64 base_pa, const void *buf, u64 len, char *err,
                     size_t errlen)
{
    struct cpio_iter it;
    struct cpio_entry e;
    int added = 0, r;
    cpio_iter_init(&it, buf, len);
    while ((r = cpio_next(&it, &e)) == CPIO_OK) {
        const char *n = e.name;
        u32 nl = e.namelen;
        while (nl && n[0] == '/') {
            n++;
            nl--;
        }
        if (nl >= 2 && n[0] == '.' && n[1] == '/') {
            n += 2;
            nl -= 2;
        }
        u32 type = e.mode & CPIO_MODE_TYPE;
        if (type == CPIO_MODE_DIR)
            continue;
        if (type != CPIO_MODE_REG) {
            bh_snprintf(err, errlen,
                        "initrd entry '%s' (at offset %llu) is not a regular file (mode %#o); "
                        "only files can be modules",
                        e.name, (unsigned long long)e.hdr_offset, e.mode);
            return -1;
        }
        if (base_pa + e.offset < base_pa) {
            bh_snprintf(err, errlen, "initrd entry '%s' lies beyond the address space", e.name);
            return -1;
        }
        enum bi_mod_err me = bi_add_module(bi, base_pa + e.offset, e.size, n, nl);
        if (me == BI_MOD_FULL) {
            bh_snprintf(err, errlen, "initrd holds more than %u modules", BI_MAX_MODULES);
            return -1;
        }
        if (me == BI_MOD_NONAME) {
            bh_snprintf(err, errlen, "initrd entry '%s' (at offset %llu) has no usable name",
                        e.name, (unsigned long long)e.hdr_offset);
            return -1;
        }
        if (me == BI_MOD_NAMELONG) {
            bh_snprintf(err, errlen,
                        "initrd entry '%s': module names are limited to %u characters", e.name,
                        BI_NAME_MAX - 1);
            return -1;
        }
        added++;
    }
    if (r != CPIO_END) {
        bh_snprintf(err, errlen, "not a valid cpio (newc) archive: %s (entry at offset %llu)",
                    cpio_strerror(r), (unsigned long long)it.off);
        return -1;
    }
    return added;
}
