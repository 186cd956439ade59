/* libFuzzer target: the partition configuration parser and validator
 * (hv/config.c, hv/config_check.c) on arbitrary bytes taken as the
 * configuration blob. The machine it is checked against varies with the
 * input length, so both arches and small and large CPU counts are covered
 * without disturbing the blob. A small error list exercises the
 * dropped-error path; valid inputs are also described. */
#include <stdint.h>
#include <string.h>

#include "hv/config.h"

static struct config cfg;
static struct cfg_error errs[8];
static struct boot_info bi;

static void machine(size_t len)
{
    static const struct { const char *arch; u32 ncpus; u64 base; } m[4] = {
        { "x86_64", 4, 0x100000 },
        { "arm64", 2, 0x40000000 },
        { "x86_64", 1, 0x100000 },
        { "arm64", 64, 0x40000000 },
    };
    const unsigned v = (unsigned)(len % 4);
    memset(&bi, 0, sizeof(bi));
    bi.arch = m[v].arch;
    bi_add_mem(&bi, 0, 0x9f000, MEM_USABLE);
    bi_add_mem(&bi, m[v].base, 1ULL << 30, MEM_USABLE);
    bi_add_mem(&bi, 0x100000000ULL, 1ULL << 30, MEM_USABLE);
    bi_add_reserved(&bi, m[v].base + 0x100000, 0x400000, "hypervisor");
    bi_add_reserved(&bi, m[v].base + 0x8000000, 0x100000, "initrd");
    bi_add_module(&bi, m[v].base + 0x8000000, 0x1000, "config", 6);
    bi_add_module(&bi, m[v].base + 0x8001000, 0x1000, "hello", 5);
    bi_add_module(&bi, m[v].base + 0x8002000, 0x1000, "heartbeat", 9);
    bi.ncpus = m[v].ncpus;
    for (u32 i = 0; i < bi.ncpus; i++)
        bi.cpus[i].hwid = i;
}

static size_t described;

static void emit(void *ctx, const char *line)
{
    described += strlen(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg_errlist el;
    char line[512];
    machine(size);
    cfg_errlist_init(&el, errs, 8);
    (void)cfg_is_config_blob(data, size);
    u32 n = cfg_check(&cfg, data, size, &bi, &el);
    if (n != el.n + el.dropped)
        __builtin_trap(); /* every error is either kept or counted */
    for (u32 i = 0; i < el.n; i++)
        if (cfg_format_error(&el.v[i], line, sizeof(line)) <= 0 || !el.v[i].where[0])
            __builtin_trap(); /* every error names a node */
    if (n == 0)
        cfg_describe(&cfg, emit, NULL);
    return 0;
}
