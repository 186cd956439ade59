/* libFuzzer target for arm64 platform discovery (boot/arm64/dt.c) on top of
 * the device-tree reader: any blob that opens is parsed for memory, reserved
 * ranges, /chosen, UART, GIC, timer, PSCI, CPUs and multiboot,module nodes.
 * A failure must come with a message; nothing may read outside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/arm64/dt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size ? size : 1);
    memcpy(b, data, size);
    struct fdt f;
    if (fdt_open(&f, b, size) == 0) {
        static struct boot_info bi;
        static struct dt_platform p;
        char err[256] = "";
        memset(&bi, 0, sizeof(bi));
        if (dt_parse_platform(&f, 0x48000000, 0, &p, &bi, err, sizeof(err))) {
            if (bi.ncpus == 0 || !bi.cpus[0].boot || bi.nmem == 0)
                abort();
            p.have_initrd = false; /* no initrd bytes in this process */
            err[0] = 0;
            if (!dt_collect_modules(&f, &p, NULL, &bi, err, sizeof(err)) && !err[0])
                abort();
        } else if (!err[0]) {
            abort();
        }
    }
    free(b);
    return 0;
}
