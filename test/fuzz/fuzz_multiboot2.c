/* libFuzzer target: the multiboot2 parser, then the frame allocator on what
 * it produced. Must never read outside the input or crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "boot/x86_64/multiboot2.h"
#include "mm/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct boot_info bi;
    static struct frame_alloc fa;
    char err[256];
    /* Copy to an exactly-sized, 8-aligned heap buffer so ASan sees overreads. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    memset(&bi, 0, sizeof(bi));
    if (mb2_parse(buf, size, 0x100000, &bi, err, sizeof(err))) {
        if (bi_check(&bi, err, sizeof(err)) && frame_init(&fa, &bi, err, sizeof(err)) == FRAME_OK) {
            for (int i = 0; i < 8; i++) {
                uint64_t p = frame_alloc_range(&fa, 1 + i, 0, 0);
                if (p)
                    frame_free_range(&fa, p, 1 + i);
            }
        }
    }
    free(buf);
    return 0;
}
