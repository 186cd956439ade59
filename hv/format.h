/* printf-style formatting into a buffer, shared by the console and host tools.
 * Supports %d %i %u %x %X %o %p %s %c %%, flags '-' '0' '+' ' ' '#', width
 * and precision (also '*'), length modifiers hh h l ll z t j.
 * Returns the length the full output would have (like C's vsnprintf); the
 * buffer is always NUL-terminated when size > 0. */
#ifndef BULKHEAD_FORMAT_H
#define BULKHEAD_FORMAT_H

#include "types.h"

int bh_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int bh_snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);

/* Human-readable size ("512 MiB", "1.5 GiB", "4 KiB", "17 B"). */
int bh_format_size(char *buf, size_t size, u64 bytes);

#endif
