/* Core entry points. */
#ifndef BULKHEAD_HV_H
#define BULKHEAD_HV_H

#include "boot_info.h"

/* The boot CPU's entry into the core, once the console works and bi is full. */
__noreturn void hv_main(struct boot_info *bi);
/* Make bi's command line visible to hv_stop_boot before hv_main runs. */
void hv_set_boot_info(struct boot_info *bi);
/* Stop booting: print the reason, then power off or halt as the command line
 * says (on_error=, default follows on_idle=, default halt). */
__noreturn void hv_stop_boot(const char *fmt, ...) __printf(1, 2);
/* Nothing left to run: power off or halt per on_idle=. */
__noreturn void hv_end(const char *why);

#endif
