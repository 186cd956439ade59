/* Little-endian loads from byte buffers of any alignment (boot blocks, guest
 * images). Byte-wise, so they are right on either endianness and never trap
 * on a misaligned address, even with the MMU off. */
#ifndef BULKHEAD_BYTES_H
#define BULKHEAD_BYTES_H

#include "types.h"

static inline u16 le16(const void *p)
{
    const u8 *b = p;
    return (u16)(b[0] | (b[1] << 8));
}

static inline u32 le32(const void *p)
{
    const u8 *b = p;
    return (u32)b[0] | ((u32)b[1] << 8) | ((u32)b[2] << 16) | ((u32)b[3] << 24);
}

static inline u64 le64(const void *p)
{
    return le32(p) | ((u64)le32((const u8 *)p + 4) << 32);
}

#endif
