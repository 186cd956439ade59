/* libFuzzer target: the x86 guest loader (multiboot v1 and PVH) on arbitrary
 * kernel images. It must refuse or load, never read outside the image or
 * write outside guest memory (ASan). */
#include <stdint.h>
#include "../unit/guest_load_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    u8 *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    for (int proto = 0; proto < 2; proto++) {
        genv_init();
        gcfg.boot = proto ? CFG_BOOT_PVH : CFG_BOOT_MULTIBOOT;
        set_image(copy, size);
        arch_partition_load(&gpart, err, sizeof(err));
    }
    free(copy);
    return 0;
}
