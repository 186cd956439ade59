/* Minimal string and memory routines (the hypervisor has no libc). */
#ifndef BULKHEAD_STRING_H
#define BULKHEAD_STRING_H

#include "types.h"

#ifdef BULKHEAD_HOST
#include <string.h>
#else
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
#endif

/* Copy at most size-1 bytes and always terminate (when size > 0). */
size_t bh_strlcpy(char *dst, const char *src, size_t size);
/* Copy src (NUL-terminated, or at most srclen bytes) into dst with every byte
 * that is not printable ASCII written as \xNN and '\' as "\\", so text from
 * a configuration or a guest can neither end a console line nor send escape
 * sequences. Always terminates (when size > 0), never splits an escape.
 * Returns the length written. */
size_t bh_escape(char *dst, size_t size, const char *src, size_t srclen);
/* Parse an unsigned number (decimal, or hex with 0x). Returns false on junk. */
bool bh_parse_u64(const char *s, size_t len, u64 *out);

#endif
