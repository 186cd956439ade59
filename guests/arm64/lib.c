/* Runtime of the arm64 test guests (see guest.h). */
#include "guest.h"
#include <stdarg.h>

#define UARTDR 0x000
#define UARTFR 0x018
#define FR_TXFF (1u << 5)


void putc_(char c)
{
    while (mmio_r32(UART_BASE + UARTFR) & FR_TXFF)
        ;
    mmio_w32(UART_BASE + UARTDR, (uint8_t)c);
}

void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}

void println(const char *s)
{
    puts_(s);
    putc_('\n');
}

static void putnum(uint64_t v, unsigned base, bool neg)
{
    char b[24];
    int n = 0;
    if (neg)
        putc_('-');
    do {
        unsigned d = (unsigned)(v % base);
        b[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    while (n)
        putc_(b[--n]);
}

void gprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            putc_(*fmt);
            continue;
        }
        fmt++;
        bool l = false;
        if (*fmt == 'l') {
            l = true;
            fmt++;
        }
        switch (*fmt) {
        case 's': puts_(va_arg(ap, const char *)); break;
        case 'c': putc_((char)va_arg(ap, int)); break;
        case 'u': putnum(l ? va_arg(ap, uint64_t) : va_arg(ap, uint32_t), 10, false); break;
        case 'x': putc_('0'); putc_('x'); putnum(l ? va_arg(ap, uint64_t) : va_arg(ap, uint32_t), 16, false); break;
        case 'd': {
            int64_t v = l ? va_arg(ap, int64_t) : va_arg(ap, int32_t);
            putnum(v < 0 ? (uint64_t)-v : (uint64_t)v, 10, v < 0);
            break;
        }
        case '%': putc_('%'); break;
        default: putc_('?'); break;
        }
    }
    va_end(ap);
}

uint64_t hvc_call(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4)
{
    register uint64_t x0 __asm__("x0") = fid;
    register uint64_t x1 __asm__("x1") = a1;
    register uint64_t x2 __asm__("x2") = a2;
    register uint64_t x3 __asm__("x3") = a3;
    register uint64_t x4 __asm__("x4") = a4;
    __asm__ volatile("hvc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4)::"memory");
    return x0;
}

uint64_t smc_call(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4)
{
    register uint64_t x0 __asm__("x0") = fid;
    register uint64_t x1 __asm__("x1") = a1;
    register uint64_t x2 __asm__("x2") = a2;
    register uint64_t x3 __asm__("x3") = a3;
    register uint64_t x4 __asm__("x4") = a4;
    __asm__ volatile("smc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4)::"memory");
    return x0;
}

bool part_info(struct bh_part_info *pi)
{
    memset(pi, 0, sizeof(*pi));
    return hypercall(HC_PART_INFO, (uintptr_t)pi, sizeof(*pi), 0, 0) == (int64_t)sizeof(*pi);
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i] || !a[i])
            return (unsigned char)a[i] - (unsigned char)b[i];
    }
    return 0;
}

void *memset(void *d, int c, size_t n)
{
    volatile uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    volatile uint8_t *p = d;
    const volatile uint8_t *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

uint32_t be32(const void *p)
{
    const volatile uint8_t *b = p;
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

uint64_t be64(const void *p)
{
    return ((uint64_t)be32(p) << 32) | be32((const uint8_t *)p + 4);
}

/* Walk the structure block: depth-1 and depth-2 node names are tracked so a
 * path of up to two components can be matched. */
struct dt_walk {
    const uint8_t *dtb, *st, *strs;
    uint32_t off, end;
};

static bool dt_begin(struct dt_walk *w, const void *dtb)
{
    w->dtb = dtb;
    if (be32(dtb) != 0xd00dfeed)
        return false;
    w->st = w->dtb + be32(w->dtb + 8);
    w->strs = w->dtb + be32(w->dtb + 12);
    w->off = 0;
    w->end = be32(w->dtb + 36);
    return true;
}

static uint32_t align4(uint32_t v) { return (v + 3) & ~3u; }

typedef bool (*dt_visit)(void *ctx, int depth, const char *node1, const char *node2,
                         const char *prop, const uint8_t *data, uint32_t len, bool is_node);

static void dt_walk_all(const void *dtb, dt_visit fn, void *ctx)
{
    struct dt_walk w;
    if (!dt_begin(&w, dtb))
        return;
    int depth = 0;
    const char *n1 = "", *n2 = "";
    while (w.off + 4 <= w.end) {
        uint32_t tok = be32(w.st + w.off);
        w.off += 4;
        if (tok == 1) {
            const char *name = (const char *)w.st + w.off;
            depth++;
            if (depth == 2)
                n1 = name, n2 = "";
            else if (depth == 3)
                n2 = name;
            if (fn(ctx, depth, n1, n2, NULL, NULL, 0, true))
                return;
            w.off = align4(w.off + (uint32_t)strlen(name) + 1);
        } else if (tok == 2) {
            depth--;
        } else if (tok == 3) {
            uint32_t len = be32(w.st + w.off), nameoff = be32(w.st + w.off + 4);
            const uint8_t *data = w.st + w.off + 8;
            if (fn(ctx, depth, n1, n2, (const char *)w.strs + nameoff, data, len, false))
                return;
            w.off = align4(w.off + 8 + len);
        } else if (tok == 4) {
            continue;
        } else {
            return;
        }
    }
}

struct getprop_ctx {
    const char *c1, *c2, *prop;
    const void *res;
    uint32_t len;
};

static bool getprop_visit(void *vc, int depth, const char *n1, const char *n2, const char *prop,
                          const uint8_t *data, uint32_t len, bool is_node)
{
    struct getprop_ctx *c = vc;
    if (is_node)
        return false;
    int want = c->c1[0] ? (c->c2[0] ? 3 : 2) : 1;
    if (depth != want)
        return false;
    if (want >= 2 && strcmp(n1, c->c1) != 0)
        return false;
    if (want == 3 && strcmp(n2, c->c2) != 0)
        return false;
    if (strcmp(prop, c->prop) != 0)
        return false;
    c->res = data;
    c->len = len;
    return true;
}

const void *dt_getprop(const void *dtb, const char *path, const char *prop, uint32_t *len)
{
    /* path: "/", "/a" or "/a/b" */
    static char a[64], b[64];
    uint32_t i = 0, j = 0;
    if (*path == '/')
        path++;
    while (*path && *path != '/' && i < 63)
        a[i++] = *path++;
    a[i] = 0;
    if (*path == '/')
        path++;
    while (*path && j < 63)
        b[j++] = *path++;
    b[j] = 0;
    struct getprop_ctx c = { a, b, prop, NULL, 0 };
    dt_walk_all(dtb, getprop_visit, &c);
    if (len)
        *len = c.len;
    return c.res;
}

struct each_ctx {
    const char *prefix;
    void (*fn)(const void *, const char *, const uint8_t *, uint32_t);
    const void *dtb;
    uint32_t count;
};

static bool each_visit(void *vc, int depth, const char *n1, const char *n2, const char *prop,
                       const uint8_t *data, uint32_t len, bool is_node)
{
    struct each_ctx *c = vc;
    (void)n2;
    if (is_node || depth != 2 || strncmp(n1, c->prefix, strlen(c->prefix)) != 0)
        return false;
    if (strcmp(prop, "reg") == 0 && c->fn)
        c->fn(c->dtb, n1, data, len);
    return false;
}

void dt_each_node(const void *dtb, const char *prefix,
                  void (*fn)(const void *dtb, const char *name, const uint8_t *reg, uint32_t reglen))
{
    struct each_ctx c = { prefix, fn, dtb, 0 };
    dt_walk_all(dtb, each_visit, &c);
}

static bool cpus_visit(void *vc, int depth, const char *n1, const char *n2, const char *prop,
                       const uint8_t *data, uint32_t len, bool is_node)
{
    (void)n2, (void)prop, (void)data, (void)len;
    if (is_node && depth == 3 && strcmp(n1, "cpus") == 0)
        (*(uint32_t *)vc)++;
    return false;
}

uint32_t dt_count_cpus(const void *dtb)
{
    uint32_t n = 0;
    dt_walk_all(dtb, cpus_visit, &n);
    return n;
}

const char *dt_bootargs(const void *dtb)
{
    const char *s = dt_getprop(dtb, "/chosen", "bootargs", NULL);
    return s ? s : "";
}

uint64_t cmdline_u64(const char *cmd, const char *key, uint64_t dflt)
{
    size_t kl = strlen(key);
    for (const char *p = cmd; *p;) {
        while (*p == ' ')
            p++;
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            const char *v = p + kl + 1;
            uint64_t r = 0;
            unsigned base = 10;
            if (v[0] == '0' && v[1] == 'x')
                base = 16, v += 2;
            for (; *v && *v != ' '; v++) {
                unsigned d;
                if (*v >= '0' && *v <= '9')
                    d = (unsigned)(*v - '0');
                else if (base == 16 && *v >= 'a' && *v <= 'f')
                    d = (unsigned)(*v - 'a' + 10);
                else
                    break;
                r = r * base + d;
            }
            return r;
        }
        while (*p && *p != ' ')
            p++;
    }
    return dflt;
}

void spin_delay(uint64_t loops)
{
    for (volatile uint64_t i = 0; i < loops; i++)
        ;
}

/* ------------------------------------------------------------ GICv3 */

uint32_t gic_dist_on(void)
{
    mmio_w32(GICD_BASE + 0x0, 1u << 1); /* GICD_CTLR.EnableGrp1 */
    return mmio_r32(GICD_BASE + 0xffe8);
}

void gic_cpu_on(uint32_t vcpu, uint32_t enable_mask)
{
    uint64_t rd = GICR_BASE(vcpu), sgi = GICR_SGI_BASE(vcpu);
    mmio_w32(rd + 0x14, mmio_r32(rd + 0x14) & ~2u); /* GICR_WAKER.ProcessorSleep */
    while (mmio_r32(rd + 0x14) & 4u)                /* ChildrenAsleep */
        ;
    mmio_w32(sgi + 0x80, 0xffffffffu);   /* IGROUPR0: group 1 */
    for (uint32_t i = 0; i < 8; i++)
        mmio_w32(sgi + 0x400 + 4 * i, 0x80808080u);
    mmio_w32(sgi + 0x180, ~enable_mask); /* ICENABLER0 */
    mmio_w32(sgi + 0x100, enable_mask);  /* ISENABLER0 */
    uint64_t sre;
    __asm__ volatile("mrs %0, S3_0_C12_C12_5" : "=r"(sre));          /* ICC_SRE_EL1 */
    __asm__ volatile("msr S3_0_C12_C12_5, %0; isb" ::"r"(sre | 1));
    __asm__ volatile("msr S3_0_C4_C6_0, %0" ::"r"((uint64_t)0xff));  /* ICC_PMR_EL1 */
    __asm__ volatile("msr S3_0_C12_C12_3, %0" ::"r"((uint64_t)0));   /* ICC_BPR1_EL1 */
    __asm__ volatile("msr S3_0_C12_C12_7, %0; isb" ::"r"((uint64_t)1)); /* ICC_IGRPEN1_EL1 */
}
