/* libFuzzer target for the cpio (newc) reader (hv/cpio.c): walk the input as
 * an archive, check that every entry lies inside it, and turn it into boot
 * modules. ASan and UBSan catch anything read outside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hv/cpio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size ? size : 1);
    memcpy(b, data, size);
    struct cpio_iter it;
    struct cpio_entry e;
    int r;
    cpio_iter_init(&it, b, size);
    while ((r = cpio_next(&it, &e)) == CPIO_OK) {
        if ((const uint8_t *)e.name < b || (const uint8_t *)e.name + e.namelen >= b + size ||
            e.name[e.namelen] != 0 || strlen(e.name) != e.namelen)
            abort();
        if (e.data < b || e.size > size || e.data + e.size > b + size ||
            (u64)(e.data - b) != e.offset)
            abort();
    }
    if (r == CPIO_OK || cpio_next(&it, &e) != r)
        abort();
    static struct boot_info bi;
    memset(&bi, 0, sizeof(bi));
    char err[256];
    int n = cpio_add_modules(&bi, 0x48000000, b, size, err, sizeof(err));
    if (n >= 0) {
        if ((u32)n != bi.nmod)
            abort();
        for (u32 i = 0; i < bi.nmod; i++)
            if (bi.mod[i].base < 0x48000000 || bi.mod[i].base - 0x48000000 + bi.mod[i].size > size)
                abort();
    } else if (!err[0]) {
        abort();
    }
    free(b);
    return 0;
}
