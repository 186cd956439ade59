/* Build multiboot2 information blocks for tests. */
#ifndef MB2_BUILD_H
#define MB2_BUILD_H
#include <stdint.h>
#include <string.h>

struct mb2b {
    uint8_t buf[8192] __attribute__((aligned(8)));
    uint32_t len;
};

static inline void mb2b_init(struct mb2b *b)
{
    memset(b, 0, sizeof(*b));
    b->len = 8;
}

static inline uint8_t *mb2b_tag(struct mb2b *b, uint32_t type, uint32_t size)
{
    uint8_t *t = b->buf + b->len;
    memcpy(t, &type, 4);
    memcpy(t + 4, &size, 4);
    b->len += (size + 7) & ~7u;
    return t;
}

static inline void mb2b_string(struct mb2b *b, uint32_t type, const char *s)
{
    uint32_t n = (uint32_t)strlen(s) + 1;
    uint8_t *t = mb2b_tag(b, type, 8 + n);
    memcpy(t + 8, s, n);
}

static inline void mb2b_module(struct mb2b *b, uint32_t start, uint32_t end, const char *s)
{
    uint32_t n = (uint32_t)strlen(s) + 1;
    uint8_t *t = mb2b_tag(b, 3, 16 + n);
    memcpy(t + 8, &start, 4);
    memcpy(t + 12, &end, 4);
    memcpy(t + 16, s, n);
}

struct mb2b_mmap_ent {
    uint64_t base, len;
    uint32_t type, rsvd;
};

static inline void mb2b_mmap(struct mb2b *b, const struct mb2b_mmap_ent *e, uint32_t n)
{
    uint8_t *t = mb2b_tag(b, 6, 16 + 24 * n);
    uint32_t esz = 24, ver = 0;
    memcpy(t + 8, &esz, 4);
    memcpy(t + 12, &ver, 4);
    memcpy(t + 16, e, 24 * n);
}

static inline uint32_t mb2b_finish(struct mb2b *b)
{
    mb2b_tag(b, 0, 8);
    memcpy(b->buf, &b->len, 4);
    return b->len;
}
#endif
