/* bulkhead-config: check a partition configuration on the host with the
 * same parser and validator the hypervisor runs at boot (hv/config*.c).
 *
 *   bulkhead-config check FILE.dtb|FILE.dts [options]
 *
 * Prints the partitions that would be created, or every error. Exit status:
 * 0 valid, 1 invalid, 2 usage or I/O error. The machine to check against is
 * modelled from the options (see usage() and docs/config.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hv/boot_info.h"
#include "hv/config.h"
#include "hv/format.h"
#include "arch/x86_64/ports.h"

#define MAX_FILE (16u << 20)
#define MAX_EXTRA_RSV 16

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bulkhead-config check FILE.dtb|FILE.dts [options]\n"
            "\n"
            "Checks a partition configuration against a model of the machine and prints the\n"
            "partitions it would create, or every error. Exit status 0 valid, 1 invalid, 2 usage.\n"
            "\n"
            "options:\n"
            "  --arch x86_64|arm64     machine architecture (default: the config's arch\n"
            "                          property, else x86_64)\n"
            "  --cpus N                CPUs in the machine, indexes 0..N-1 (default 4)\n"
            "  --memory SIZE           RAM size, e.g. 512M, 2G, 0x40000000 (default 1G)\n"
            "  --module NAME[=FILE]    a boot module the loader will load (repeat for each);\n"
            "                          its size is FILE's size (4 KiB without FILE). Without any\n"
            "                          --module, every module the config names is assumed loaded\n"
            "  --reserve BASE:SIZE[:WHAT]  another reserved range (firmware, ...)\n"
            "  --guest-phys-bits N     guest-physical address bits partitions get (default:\n"
            "                          arm64 39, the stage-2 size on QEMU virt; x86_64 48)\n"
            "  --max-errors N          errors to print (default 200; the rest are counted)\n"
            "  -q, --quiet             print only errors\n"
            "A .dts file (or any file without the FDT magic) is compiled with dtc first.\n");
}

static int fail_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "bulkhead-config: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(run bulkhead-config --help for usage)\n");
    return 2;
}

/* "512M", "2G", "64K", "4096", "0x1000". */
static bool parse_size(const char *s, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s)
        return false;
    unsigned shift = 0;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        case 't': case 'T': shift = 40; break;
        default: return false;
        }
        end++;
        if (*end == 'i')
            end++;
        if (*end == 'B' || *end == 'b')
            end++;
        if (*end)
            return false;
    }
    if (shift && v > (~0ULL >> shift))
        return false;
    *out = v << shift;
    return true;
}

static unsigned char *read_all(FILE *fp, size_t *len)
{
    size_t cap = 65536, n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return NULL;
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_FILE) {
                free(buf);
                return NULL;
            }
            cap *= 2;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, fp);
        if (r == 0)
            break;
        n += r;
    }
    *len = n;
    return buf;
}

/* Run dtc on path; returns the blob (malloc) or NULL with dtc's messages shown. */
static unsigned char *compile_dts(const char *path, size_t *len)
{
    int pfd[2];
    if (pipe(pfd))
        return NULL;
    pid_t pid = fork();
    if (pid < 0)
        return NULL;
    if (pid == 0) {
        close(pfd[0]);
        dup2(pfd[1], 1);
        close(pfd[1]);
        execlp("dtc", "dtc", "-q", "-I", "dts", "-O", "dtb", path, (char *)NULL);
        fprintf(stderr, "bulkhead-config: cannot run dtc: %s (install device-tree-compiler)\n",
                strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    FILE *fp = fdopen(pfd[0], "rb");
    unsigned char *blob = fp ? read_all(fp, len) : NULL;
    if (fp)
        fclose(fp);
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        free(blob);
        return NULL;
    }
    return blob;
}

static unsigned char *load_config(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "bulkhead-config: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    unsigned char *blob = read_all(fp, len);
    fclose(fp);
    if (!blob) {
        fprintf(stderr, "bulkhead-config: %s: cannot read (larger than %u MiB?)\n", path,
                MAX_FILE >> 20);
        return NULL;
    }
    if (*len >= 4 && fdt_be32(blob) == FDT_MAGIC)
        return blob;
    free(blob);
    blob = compile_dts(path, len);
    if (!blob)
        fprintf(stderr, "bulkhead-config: %s: dtc could not compile it\n", path);
    return blob;
}

struct modopt {
    char name[BI_NAME_MAX];
    unsigned long long size;
};

static void emit_line(void *ctx, const char *line)
{
    printf("%s\n", line);
}

/* The machine model: documented in docs/config.md ("Checking on the host"). */
static unsigned long long guest_phys_bits; /* --guest-phys-bits, 0: the arch default */

static void build_machine(struct boot_info *bi, const char *arch, unsigned ncpus,
                          unsigned long long mem, const struct modopt *mods, unsigned nmods)
{
    bool arm = strcmp(arch, "arm64") == 0;
    memset(bi, 0, sizeof(*bi));
    bi->arch = arm ? "arm64" : "x86_64";
    bi->loader = arm ? "linux-arm64" : "multiboot2";
    u64 mod_at;
    if (arm) {
        u64 base = 0x40000000ULL;
        bi_add_mem(bi, base, mem, MEM_USABLE);
        bi_add_reserved(bi, base, 0x200000, "the platform device tree");
        bi_add_reserved(bi, base + 0x200000, 0x400000, "the hypervisor");
        /* What the boot reserves on QEMU virt (-cpu max, GICv3): the same
         * names, the stage-2 input size the boot computes (39 bits). */
        bi->guest_phys_bits = guest_phys_bits ? guest_phys_bits : 39;
        bi_add_reserved(bi, 0x09000000, 0x1000, "the hypervisor's UART");
        bi_add_reserved(bi, 0x08000000, 0x10000, "the GIC distributor (the hypervisor's)");
        bi_add_reserved(bi, 0x080a0000, 0xf60000, "the GIC redistributors (the hypervisor's)");
        mod_at = base + 0x8000000; /* where QEMU puts the initrd */
    } else {
        u64 low = mem < 0xc0000000ULL ? mem : 0xc0000000ULL;
        bi_add_mem(bi, 0, 0x9f000, MEM_USABLE);
        bi_add_mem(bi, 0x9f000, 0x61000, MEM_RESERVED);
        if (low > 0x100000)
            bi_add_mem(bi, 0x100000, low - 0x100000, MEM_USABLE);
        if (mem > low)
            bi_add_mem(bi, 0x100000000ULL, mem - low, MEM_USABLE);
        bi_add_reserved(bi, 0, 0x1000, "page 0");
        bi_add_reserved(bi, 0x200000, 0x400000, "the hypervisor");
        /* The same fixed ports the boot refuses (the FADT's are machine-specific). */
        x86_reserve_ports(bi, X86_COM1);
        /* The PC's one I/O APIC (QEMU and Bochs: 24 inputs at 0xfec00000);
         * the boot reads the real ones from the MADT. */
        bi_add_ioapic(bi, 0xfec00000, 0, 0, 24);
        if (guest_phys_bits)
            bi->guest_phys_bits = guest_phys_bits;
        mod_at = 0x1000000;
    }
    for (unsigned i = 0; i < nmods; i++) {
        bi_add_module(bi, mod_at, mods[i].size, mods[i].name, strlen(mods[i].name));
        mod_at = ALIGN_UP(mod_at + (mods[i].size ? mods[i].size : 1), PAGE_SIZE);
    }
    bi->ncpus = ncpus > BI_MAX_CPUS ? BI_MAX_CPUS : ncpus;
    bi->cpus_ignored = ncpus > BI_MAX_CPUS ? ncpus - BI_MAX_CPUS : 0;
    for (u32 i = 0; i < bi->ncpus; i++)
        bi->cpus[i] = (struct cpu_desc){ i, i == 0 };
}

static bool have_mod(const struct modopt *mods, unsigned n, const char *name)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(mods[i].name, name) == 0)
            return true;
    return false;
}

static int check_cmd(int argc, char **argv)
{
    const char *file = NULL, *arch = NULL;
    unsigned long long mem = 1ULL << 30, ncpus = 4, max_errors = 200;
    static struct modopt mods[BI_MAX_MODULES];
    unsigned nmods = 0;
    struct { unsigned long long base, size; char what[48]; } rsv[MAX_EXTRA_RSV];
    unsigned nrsv = 0;
    bool quiet = false;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = true;
            continue;
        }
        if (a[0] != '-') {
            if (file)
                return fail_usage("more than one configuration file given ('%s')", a);
            file = a;
            continue;
        }
        if (strcmp(a, "--arch") && strcmp(a, "--cpus") && strcmp(a, "--memory") &&
            strcmp(a, "--module") && strcmp(a, "--reserve") && strcmp(a, "--max-errors") &&
            strcmp(a, "--guest-phys-bits"))
            return fail_usage("unknown option '%s'", a);
        if (!val)
            return fail_usage("%s needs a value", a);
        i++;
        if (strcmp(a, "--arch") == 0) {
            if (strcmp(val, "x86_64") && strcmp(val, "arm64"))
                return fail_usage("--arch must be x86_64 or arm64, not '%s'", val);
            arch = val;
        } else if (strcmp(a, "--cpus") == 0) {
            if (!parse_size(val, &ncpus) || ncpus == 0 || ncpus > 4096)
                return fail_usage("--cpus needs a number from 1 to 4096, not '%s'", val);
        } else if (strcmp(a, "--memory") == 0) {
            if (!parse_size(val, &mem) || mem < (1ULL << 20) || mem > (1ULL << 46))
                return fail_usage("--memory needs a size from 1M to 64T, not '%s'", val);
            mem &= ~0xfffULL;
        } else if (strcmp(a, "--guest-phys-bits") == 0) {
            if (!parse_size(val, &guest_phys_bits) || guest_phys_bits < 32 || guest_phys_bits > 52)
                return fail_usage("--guest-phys-bits needs a number from 32 to 52, not '%s'", val);
        } else if (strcmp(a, "--max-errors") == 0) {
            if (!parse_size(val, &max_errors) || max_errors == 0 || max_errors > 100000)
                return fail_usage("--max-errors needs a number from 1 to 100000, not '%s'", val);
        } else if (strcmp(a, "--module") == 0) {
            const char *eq = strchr(val, '=');
            size_t nl = eq ? (size_t)(eq - val) : strlen(val);
            if (nl == 0 || nl >= BI_NAME_MAX || memchr(val, ' ', nl))
                return fail_usage("--module needs NAME[=FILE] with a name of 1-31 characters "
                                  "and no spaces, not '%s'", val);
            if (nmods >= BI_MAX_MODULES)
                return fail_usage("too many --module options (the hypervisor takes %s)", "32");
            struct modopt *m = &mods[nmods++];
            memcpy(m->name, val, nl);
            m->name[nl] = 0;
            m->size = PAGE_SIZE;
            if (eq) {
                struct stat st;
                if (stat(eq + 1, &st) != 0) {
                    fprintf(stderr, "bulkhead-config: --module %s: %s\n", val, strerror(errno));
                    return 2;
                }
                m->size = (unsigned long long)st.st_size;
            }
        } else if (strcmp(a, "--reserve") == 0) {
            char tmp[128], *c1, *c2;
            if (nrsv >= MAX_EXTRA_RSV)
                return fail_usage("too many --reserve options (limit %s)", "16");
            snprintf(tmp, sizeof(tmp), "%s", val);
            c1 = strchr(tmp, ':');
            if (!c1)
                return fail_usage("--reserve needs BASE:SIZE[:WHAT], not '%s'", val);
            *c1++ = 0;
            c2 = strchr(c1, ':');
            if (c2)
                *c2++ = 0;
            if (!parse_size(tmp, &rsv[nrsv].base) || !parse_size(c1, &rsv[nrsv].size) ||
                rsv[nrsv].size == 0)
                return fail_usage("--reserve needs BASE:SIZE[:WHAT], not '%s'", val);
            snprintf(rsv[nrsv].what, sizeof(rsv[nrsv].what), "%s",
                     c2 && *c2 ? c2 : "a reserved range");
            nrsv++;
        }
    }
    if (!file)
        return fail_usage("%s", "no configuration file given");

    size_t len;
    unsigned char *blob = load_config(file, &len);
    if (!blob)
        return 2;

    static struct config cfg;
    struct cfg_error *errs = calloc(max_errors, sizeof(*errs));
    static struct boot_info bi;
    struct cfg_errlist el;
    if (!errs) {
        free(blob);
        return 2;
    }
    cfg_errlist_init(&el, errs, (u32)max_errors);
    u32 n = cfg_parse(&cfg, blob, len, &el);
    bool assumed = false;
    if (!arch)
        arch = cfg.arch[0] ? cfg.arch : "x86_64";
    if (nmods == 0) {
        /* No modules given: assume the ones the configuration names are loaded. */
        for (u32 i = 0; i < cfg.npartitions; i++) {
            const char *names[2] = { cfg.partitions[i].kernel, cfg.partitions[i].ramdisk };
            for (int k = 0; k < 2; k++)
                if (names[k][0] && !have_mod(mods, nmods, names[k]) && nmods < BI_MAX_MODULES) {
                    snprintf(mods[nmods].name, sizeof(mods[nmods].name), "%s", names[k]);
                    mods[nmods++].size = PAGE_SIZE;
                    assumed = true;
                }
        }
    }
    build_machine(&bi, arch, (unsigned)ncpus, mem, mods, nmods);
    for (unsigned i = 0; i < nrsv; i++)
        bi_add_reserved(&bi, rsv[i].base, rsv[i].size, rsv[i].what);
    if (cfg.fdt.blob)
        n += cfg_validate(&cfg, &bi, &el);
    cfg_errlist_sort(&el);

    if (!quiet) {
        char sz[32];
        bh_format_size(sz, sizeof(sz), mem);
        printf("machine: %s, %u CPU%s, %s RAM, modules:", bi.arch, bi.ncpus,
               bi.ncpus == 1 ? "" : "s", sz);
        for (u32 i = 0; i < bi.nmod; i++)
            printf(" %s", bi.mod[i].name);
        printf("%s\n", bi.nmod ? (assumed ? " (assumed loaded: no --module given)" : "")
                               : " none");
    }
    int rc = 0;
    if (n) {
        char line[512];
        for (u32 i = 0; i < el.n; i++) {
            cfg_format_error(&el.v[i], line, sizeof(line));
            printf("%s\n", line);
        }
        if (el.dropped)
            printf("config: ... and %u more error%s not shown\n", el.dropped,
                   el.dropped == 1 ? "" : "s");
        printf("%s: %u error%s\n", file, n, n == 1 ? "" : "s");
        rc = 1;
    } else if (!quiet) {
        printf("%s: valid\n", file);
        cfg_describe(&cfg, emit_line, NULL);
    }
    free(errs);
    free(blob);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        usage(stderr);
        return 2;
    }
    return check_cmd(argc - 2, argv + 2);
}
