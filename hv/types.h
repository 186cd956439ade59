/* Basic types for the hypervisor. Only the compiler's freestanding headers. */
#ifndef BULKHEAD_TYPES_H
#define BULKHEAD_TYPES_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* Distance between two linker symbols (different objects to C, so no pointer subtraction). */
#define SYM_DIFF(end, start) ((u64)((uintptr_t)(end) - (uintptr_t)(start)))
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((u64)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((u64)(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((u64)(a) - 1)) == 0)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define PAGE_SHIFT 12
#define PAGE_SIZE 4096ULL
#define KiB(x) ((u64)(x) << 10)
#define MiB(x) ((u64)(x) << 20)
#define GiB(x) ((u64)(x) << 30)

#define __packed __attribute__((packed))
#define __noreturn __attribute__((noreturn))
#define __unused __attribute__((unused))
#define __printf(a, b) __attribute__((format(printf, a, b)))

#define BULKHEAD_VERSION "0.1.0"

#endif
