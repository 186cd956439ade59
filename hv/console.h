/* Hypervisor console. Every call emits its whole text under one lock, so
 * lines from different CPUs never interleave; write whole lines per call. */
#ifndef BULKHEAD_CONSOLE_H
#define BULKHEAD_CONSOLE_H

#include "types.h"

#define CONSOLE_LINE_MAX 1024

void con_write(const char *s, size_t n);
int printk(const char *fmt, ...) __printf(1, 2);
int vprintk(const char *fmt, va_list ap);

/* Console input: console.input=NAME on the hypervisor command line gives
 * what arrives on the hypervisor's console UART to partition NAME (its
 * console must be on); without it no partition gets input. The boot CPU
 * calls con_input_select once the partitions exist: it prints why an
 * option that names no usable partition is ignored. */
struct partition;
void con_input_select(const char *cmdline);
/* Whether p is the partition console input goes to. */
bool con_input_is(const struct partition *p);
/* The next received byte of the hypervisor's console, or -1 when none (or
 * console input is off). Only the input partition's polling CPU calls it. */
int con_getc(void);

#endif
