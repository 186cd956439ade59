/* Internal to hv/config*.c: error reporting shared by parser and validator. */
#ifndef BULKHEAD_CONFIG_INT_H
#define BULKHEAD_CONFIG_INT_H

#include "config.h"

/* Add an error about node (offset in f; < 0 for the root) and prop (NULL or
 * "" for the node itself). Counts it as dropped when the list is full. */
void cfg_err(struct cfg_errlist *el, const struct fdt *f, int node, const char *prop,
             const char *fmt, ...) __printf(5, 6);
void cfg_verr(struct cfg_errlist *el, const struct fdt *f, int node, const char *prop,
              const char *fmt, va_list ap);

#endif
