/* A tiny test framework for host unit tests. Each test prints one line:
 * "PASS: name" or "FAIL: name" (after the failed checks); the runner counts
 * these lines. The exit status is non-zero when any test failed. */
#ifndef BULKHEAD_CHECK_H
#define BULKHEAD_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_cur_failed;
static int check_total_failed;
static const char *check_cur_name;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            printf("  check failed: %s:%d: %s\n", __FILE__, __LINE__, #cond);         \
            check_cur_failed++;                                                       \
        }                                                                             \
    } while (0)

#define CHECK_EQ(a, b)                                                                \
    do {                                                                              \
        unsigned long long _a = (unsigned long long)(a), _b = (unsigned long long)(b); \
        if (_a != _b) {                                                               \
            printf("  check failed: %s:%d: %s == %s (%#llx != %#llx)\n", __FILE__,     \
                   __LINE__, #a, #b, _a, _b);                                         \
            check_cur_failed++;                                                       \
        }                                                                             \
    } while (0)

#define CHECK_STR(a, b)                                                               \
    do {                                                                              \
        const char *_a = (a), *_b = (b);                                              \
        if (!_a || !_b || strcmp(_a, _b) != 0) {                                      \
            printf("  check failed: %s:%d: %s == %s (\"%s\" != \"%s\")\n", __FILE__,   \
                   __LINE__, #a, #b, _a ? _a : "(null)", _b ? _b : "(null)");          \
            check_cur_failed++;                                                       \
        }                                                                             \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                   \
    do {                                                                              \
        const char *_h = (hay), *_n = (needle);                                       \
        if (!_h || !strstr(_h, _n)) {                                                 \
            printf("  check failed: %s:%d: \"%s\" contains \"%s\"\n", __FILE__,       \
                   __LINE__, _h ? _h : "(null)", _n);                                 \
            check_cur_failed++;                                                       \
        }                                                                             \
    } while (0)

static inline void check_run(const char *name, void (*fn)(void))
{
    check_cur_failed = 0;
    check_cur_name = name;
    fn();
    printf("%s: %s\n", check_cur_failed ? "FAIL" : "PASS", name);
    fflush(stdout);
    if (check_cur_failed)
        check_total_failed++;
}

#define RUN(fn) check_run(#fn, fn)
#define CHECK_DONE() (check_total_failed ? 1 : 0)

#endif
