/* Hypervisor console. Every call emits its whole text under one lock, so
 * lines from different CPUs never interleave; write whole lines per call. */
#ifndef BULKHEAD_CONSOLE_H
#define BULKHEAD_CONSOLE_H

#include "types.h"

#define CONSOLE_LINE_MAX 1024

void con_write(const char *s, size_t n);
int printk(const char *fmt, ...) __printf(1, 2);
int vprintk(const char *fmt, va_list ap);

#endif
