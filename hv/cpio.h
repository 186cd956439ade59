/* A bounds-checked reader for cpio "newc" archives (magic 070701, or 070702
 * with checksums), as used for initrds. Every header field, name and size is
 * checked against the buffer; nothing is read outside [buf, buf+len).
 *
 * Layout of one entry: a 110-byte ASCII header (magic + 13 eight-digit hex
 * fields), the name (namesize bytes including its NUL), padding to a 4-byte
 * boundary from the start of the archive, the data (filesize bytes), padding
 * to 4 again. The archive ends with an entry named "TRAILER!!!"; anything after
 * it is ignored. */
#ifndef BULKHEAD_CPIO_H
#define BULKHEAD_CPIO_H

#include "boot_info.h"

#define CPIO_HDR_SIZE 110u
#define CPIO_MODE_TYPE 0170000u
#define CPIO_MODE_REG 0100000u
#define CPIO_MODE_DIR 0040000u

enum {
    CPIO_OK = 0,
    CPIO_END = 1,            /* the trailer was reached */
    CPIO_E_TRUNCATED = -1,   /* header, name or data runs past the end */
    CPIO_E_BADMAGIC = -2,    /* not 070701 / 070702 */
    CPIO_E_BADHEX = -3,      /* a header field is not 8 hex digits */
    CPIO_E_BADNAME = -4,     /* name empty, not NUL-terminated, or NUL inside */
    CPIO_E_NOTRAILER = -5,   /* the archive ends without TRAILER!!! */
    CPIO_E_CHECKSUM = -6,    /* 070702 entry whose data does not match its sum */
    CPIO_E_TOOBIG = -7,      /* a size that does not fit the address space */
};

struct cpio_entry {
    const char *name;   /* NUL-terminated, inside the archive */
    u32 namelen;        /* without the NUL */
    u32 mode;
    const u8 *data;
    u64 size;
    u64 offset;         /* of the data, from the start of the archive */
    u64 hdr_offset;     /* of the header */
};

struct cpio_iter {
    const u8 *buf;
    u64 len;
    u64 off;
    int err;            /* sticky: once an error is returned it stays */
};

void cpio_iter_init(struct cpio_iter *it, const void *buf, u64 len);
/* CPIO_OK with *e filled, CPIO_END at the trailer, or a negative error
 * (it->off then says where the bad entry starts). */
int cpio_next(struct cpio_iter *it, struct cpio_entry *e);
const char *cpio_strerror(int err);

/* Add every regular file of the archive at physical address base_pa (mapped
 * at buf) to bi as a module named by its file name (a leading "./" or "/" is
 * dropped; the first word is the name, the rest the module's args, as on
 * x86). Directories are skipped. Returns the number of modules added, or -1
 * with a message in err (corrupt archive, other file types, too many modules,
 * bad names). */
int cpio_add_modules(struct boot_info *bi, u64 base_pa, const void *buf, u64 len, char *err,
                     size_t errlen);

#endif
