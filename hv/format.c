#include "format.h"
#include "string.h"

struct out {
    char *buf;
    size_t size;
    size_t pos;
};

static void put(struct out *o, char c)
{
    if (o->pos + 1 < o->size)
        o->buf[o->pos] = c;
    o->pos++;
}

static void pad(struct out *o, char c, int n)
{
    while (n-- > 0)
        put(o, c);
}

enum { F_LEFT = 1, F_ZERO = 2, F_PLUS = 4, F_SPACE = 8, F_ALT = 16 };

static void emit_number(struct out *o, u64 v, bool neg, unsigned base, bool upper,
                        int flags, int width, int prec)
{
    char digits[24];
    int n = 0;
    const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char sign = 0;
    const char *prefix = "";
    int prefix_len = 0;

    bool zero = v == 0;
    if (zero && prec == 0)
        n = 0;
    else {
        do {
            digits[n++] = set[v % base];
            v /= base;
        } while (v);
    }
    if (neg)
        sign = '-';
    else if (flags & F_PLUS)
        sign = '+';
    else if (flags & F_SPACE)
        sign = ' ';
    if ((flags & F_ALT) && base == 16 && !zero) {
        prefix = upper ? "0X" : "0x";
        prefix_len = 2;
    } else if ((flags & F_ALT) && base == 8 && (n == 0 || digits[n - 1] != '0')) {
        prefix = "0";
        prefix_len = 1;
    }
    int zeros = prec > n ? prec - n : 0;
    int len = n + zeros + prefix_len + (sign ? 1 : 0);
    if (prec < 0 && (flags & F_ZERO) && !(flags & F_LEFT) && width > len) {
        zeros += width - len;
        len = width;
    }
    if (!(flags & F_LEFT))
        pad(o, ' ', width - len);
    if (sign)
        put(o, sign);
    for (int i = 0; i < prefix_len; i++)
        put(o, prefix[i]);
    pad(o, '0', zeros);
    while (n)
        put(o, digits[--n]);
    if (flags & F_LEFT)
        pad(o, ' ', width - len);
}

int bh_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { buf, size, 0 };

    while (*fmt) {
        if (*fmt != '%') {
            put(&o, *fmt++);
            continue;
        }
        fmt++;
        int flags = 0;
        for (;; fmt++) {
            if (*fmt == '-')
                flags |= F_LEFT;
            else if (*fmt == '0')
                flags |= F_ZERO;
            else if (*fmt == '+')
                flags |= F_PLUS;
            else if (*fmt == ' ')
                flags |= F_SPACE;
            else if (*fmt == '#')
                flags |= F_ALT;
            else
                break;
        }
        int width = 0;
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                flags |= F_LEFT;
                width = width == INT32_MIN ? 0 : -width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9') {
                if (width < 100000)
                    width = width * 10 + (*fmt - '0');
                fmt++;
            }
        }
        int prec = -1;
        if (*fmt == '.') {
            fmt++;
            prec = 0;
            if (*fmt == '*') {
                prec = va_arg(ap, int);
                if (prec < 0)
                    prec = -1;
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9') {
                    if (prec < 100000)
                        prec = prec * 10 + (*fmt - '0');
                    fmt++;
                }
            }
        }
        int lng = 0; /* -2 hh, -1 h, 0 int, 1 long, 2 long long, 3 size_t, 4 ptrdiff, 5 intmax */
        if (*fmt == 'h') {
            lng = -1;
            if (*++fmt == 'h') {
                lng = -2;
                fmt++;
            }
        } else if (*fmt == 'l') {
            lng = 1;
            if (*++fmt == 'l') {
                lng = 2;
                fmt++;
            }
        } else if (*fmt == 'z') {
            lng = 3;
            fmt++;
        } else if (*fmt == 't') {
            lng = 4;
            fmt++;
        } else if (*fmt == 'j') {
            lng = 5;
            fmt++;
        }
        char c = *fmt;
        if (!c)
            break;
        fmt++;
        switch (c) {
        case 'd':
        case 'i': {
            s64 v;
            switch (lng) {
            case -2: v = (signed char)va_arg(ap, int); break;
            case -1: v = (short)va_arg(ap, int); break;
            case 0: v = va_arg(ap, int); break;
            case 1: v = va_arg(ap, long); break;
            case 2: v = va_arg(ap, long long); break;
            case 3: v = (s64)va_arg(ap, size_t); break;
            case 4: v = va_arg(ap, ptrdiff_t); break;
            default: v = va_arg(ap, intmax_t); break;
            }
            u64 mag = v < 0 ? (u64)0 - (u64)v : (u64)v;
            emit_number(&o, mag, v < 0, 10, false, flags, width, prec);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            u64 v;
            switch (lng) {
            case -2: v = (unsigned char)va_arg(ap, unsigned); break;
            case -1: v = (unsigned short)va_arg(ap, unsigned); break;
            case 0: v = va_arg(ap, unsigned); break;
            case 1: v = va_arg(ap, unsigned long); break;
            case 2: v = va_arg(ap, unsigned long long); break;
            case 3: v = va_arg(ap, size_t); break;
            case 4: v = (u64)va_arg(ap, ptrdiff_t); break;
            default: v = va_arg(ap, uintmax_t); break;
            }
            unsigned base = c == 'u' ? 10 : c == 'o' ? 8 : 16;
            emit_number(&o, v, false, base, c == 'X', flags & ~(F_PLUS | F_SPACE), width, prec);
            break;
        }
        case 'p': {
            u64 v = (u64)(uintptr_t)va_arg(ap, void *);
            emit_number(&o, v, false, 16, false, F_ALT | (flags & F_LEFT), width, -1);
            break;
        }
        case 'c': {
            char ch = (char)va_arg(ap, int);
            if (!(flags & F_LEFT))
                pad(&o, ' ', width - 1);
            put(&o, ch);
            if (flags & F_LEFT)
                pad(&o, ' ', width - 1);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int n = (int)(prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s));
            if (!(flags & F_LEFT))
                pad(&o, ' ', width - n);
            for (int i = 0; i < n; i++)
                put(&o, s[i]);
            if (flags & F_LEFT)
                pad(&o, ' ', width - n);
            break;
        }
        case '%':
            put(&o, '%');
            break;
        default:
            /* Unknown conversion: print it literally so the mistake is visible. */
            put(&o, '%');
            put(&o, c);
            break;
        }
    }
    if (o.size)
        o.buf[o.pos < o.size ? o.pos : o.size - 1] = 0;
    return (int)o.pos;
}

int bh_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = bh_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int bh_format_size(char *buf, size_t size, u64 bytes)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    unsigned u = 0;
    u64 v = bytes;
    while (v >= 1024 && u < ARRAY_SIZE(units) - 1 && (u64)(v % 1024) == 0) {
        v /= 1024;
        u++;
    }
    if (v < 10240 || u == ARRAY_SIZE(units) - 1)
        return bh_snprintf(buf, size, "%llu %s", (unsigned long long)v, units[u]);
    /* Not a round multiple: one decimal in the largest unit that keeps v >= 1. */
    u = 0;
    u64 whole = bytes, frac = 0;
    while (whole >= 1024 && u < ARRAY_SIZE(units) - 1) {
        frac = whole % 1024;
        whole /= 1024;
        u++;
    }
    return bh_snprintf(buf, size, "%llu.%llu %s", (unsigned long long)whole,
                       (unsigned long long)(frac * 10 / 1024), units[u]);
}
