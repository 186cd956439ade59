/* Platform discovery from the platform device tree (arm64). */
#include "dt.h"
#include "../../hv/cpio.h"
#include "../../hv/format.h"
#include "../../hv/string.h"

#define ERR(...) (bh_snprintf(err, errlen, __VA_ARGS__), false)

const char *dt_conduit_name(enum psci_conduit c)
{
    return c == PSCI_SMC ? "smc" : c == PSCI_HVC ? "hvc" : "none";
}

static bool node_enabled(const struct fdt *f, int node)
{
    u32 len;
    const char *s = fdt_getprop(f, node, "status", &len);
    if (!s)
        return true;
    return (len >= 5 && memcmp(s, "okay", 5) == 0) || (len >= 3 && memcmp(s, "ok", 3) == 0);
}

static bool prop_is(const struct fdt *f, int node, const char *name, const char *val)
{
    const char *s = fdt_getprop_string(f, node, name);
    return s && strcmp(s, val) == 0;
}

/* Number of reg entries of node, or -1 when reg is missing or malformed. */
static int reg_count(const struct fdt *f, int node)
{
    int parent = fdt_parent(f, node);
    if (parent < 0)
        return -1;
    u32 ac = fdt_address_cells(f, parent), sc = fdt_size_cells(f, parent);
    if (ac < 1 || ac > 2 || sc > 2)
        return -1;
    u32 len;
    if (!fdt_getprop(f, node, "reg", &len))
        return -1;
    u32 entry = (ac + sc) * 4;
    if (len == 0 || len % entry)
        return -1;
    return (int)(len / entry);
}

static void node_path(const struct fdt *f, int node, char *buf, size_t size)
{
    fdt_node_path(f, node, buf, size);
}

static bool end_of(u64 base, u64 size, u64 *end)
{
    if (size > UINT64_MAX - base)
        return false;
    *end = base + size;
    return true;
}

static bool parse_memory(const struct fdt *f, struct boot_info *bi, char *err, size_t errlen)
{
    char path[96];
    int root = fdt_root(f);
    for (int n = fdt_first_child(f, root); n >= 0; n = fdt_next_sibling(f, n)) {
        if (!prop_is(f, n, "device_type", "memory") || !node_enabled(f, n))
            continue;
        node_path(f, n, path, sizeof(path));
        int cnt = reg_count(f, n);
        if (cnt < 0)
            return ERR("device tree: %s: missing or malformed 'reg'", path);
        for (int i = 0; i < cnt; i++) {
            u64 base, size, end;
            if (!fdt_get_reg(f, n, (u32)i, &base, &size))
                return ERR("device tree: %s: malformed 'reg'", path);
            if (!size)
                continue;
            if (!end_of(base, size, &end))
                return ERR("device tree: %s: reg entry %d (%#llx + %#llx) wraps around", path, i,
                           (unsigned long long)base, (unsigned long long)size);
            if (!bi_add_mem(bi, base, size, MEM_USABLE))
                return ERR("device tree: more than %u memory ranges", BI_MAX_MEM);
        }
    }
    if (bi->nmem == 0)
        return ERR("device tree: no memory node (device_type = \"memory\" with a 'reg')");
    return true;
}

static bool parse_reserved(const struct fdt *f, u64 dtb_pa, struct dt_platform *p,
                           struct boot_info *bi, char *err, size_t errlen)
{
    char path[96];
    if (!bi_add_reserved(bi, dtb_pa, f->totalsize, "device tree"))
        return ERR("too many reserved ranges");
    for (u32 i = 0; i < fdt_num_rsv(f); i++) {
        u64 a, s, e;
        fdt_get_rsv(f, i, &a, &s);
        if (!end_of(a, s, &e))
            return ERR("device tree: memory reservation %u (%#llx + %#llx) wraps around", i,
                       (unsigned long long)a, (unsigned long long)s);
        if (!bi_add_reserved(bi, a, s, "dtb memreserve"))
            return ERR("too many reserved ranges (more than %u)", BI_MAX_RSV);
    }
    int rm = fdt_path(f, "/reserved-memory");
    if (rm < 0)
        return true;
    for (int n = fdt_first_child(f, rm); n >= 0; n = fdt_next_sibling(f, n)) {
        if (!node_enabled(f, n) || !fdt_getprop(f, n, "reg", NULL))
            continue; /* dynamically placed regions ("size" only) are the OS's business */
        node_path(f, n, path, sizeof(path));
        int cnt = reg_count(f, n);
        if (cnt < 0)
            return ERR("device tree: %s: malformed 'reg'", path);
        for (int i = 0; i < cnt; i++) {
            u64 a, s, e;
            if (!fdt_get_reg(f, n, (u32)i, &a, &s) || !end_of(a, s, &e))
                return ERR("device tree: %s: bad reg entry %d", path, i);
            if (!bi_add_reserved(bi, a, s, fdt_node_name(f, n)))
                return ERR("too many reserved ranges (more than %u)", BI_MAX_RSV);
            if (fdt_getprop(f, n, "no-map", NULL)) {
                if (p->nnomap >= DT_MAX_NOMAP)
                    return ERR("device tree: more than %u no-map reserved regions",
                               DT_MAX_NOMAP);
                p->nomap_base[p->nnomap] = a;
                p->nomap_size[p->nnomap++] = s;
            }
        }
    }
    return true;
}

static bool is_pl011(const struct fdt *f, int n)
{
    return n >= 0 && fdt_node_is_compatible(f, n, "arm,pl011") && node_enabled(f, n);
}

static void find_uart(const struct fdt *f, struct dt_platform *p)
{
    int chosen = fdt_path(f, "/chosen");
    int node = -1;
    u32 len;
    const char *sp = chosen >= 0 ? fdt_getprop(f, chosen, "stdout-path", &len) : NULL;
    if (sp && len > 0 && strnlen(sp, len) < len) {
        char path[128];
        size_t n = 0;
        while (sp[n] && sp[n] != ':' && n + 1 < sizeof(path)) {
            path[n] = sp[n];
            n++;
        }
        path[n] = 0;
        if (path[0] == '/') {
            node = fdt_path(f, path);
        } else if (path[0]) {
            int al = fdt_path(f, "/aliases");
            const char *target = al >= 0 ? fdt_getprop_string(f, al, path) : NULL;
            if (target && target[0] == '/')
                node = fdt_path(f, target);
        }
        if (is_pl011(f, node))
            p->uart_from_stdout = true;
        else
            node = -1;
    }
    if (node < 0) {
        for (node = fdt_find_compatible(f, -1, "arm,pl011"); node >= 0;
             node = fdt_find_compatible(f, node, "arm,pl011"))
            if (node_enabled(f, node))
                break;
    }
    u64 base, size;
    if (node >= 0 && fdt_get_reg(f, node, 0, &base, &size) && base) {
        p->have_uart = true;
        p->uart_base = base;
        p->uart_size = size ? size : PAGE_SIZE;
    }
}

static int find_enabled_compatible(const struct fdt *f, const char *compat)
{
    int n;
    for (n = fdt_find_compatible(f, -1, compat); n >= 0; n = fdt_find_compatible(f, n, compat))
        if (node_enabled(f, n))
            return n;
    return n;
}

static bool parse_gic(const struct fdt *f, struct dt_platform *p, char *err, size_t errlen)
{
    char path[96];
    int n = find_enabled_compatible(f, "arm,gic-v3");
    if (n < 0)
        return ERR("device tree: no GICv3 interrupt controller (compatible \"arm,gic-v3\"); "
                   "Bulkhead needs a GICv3 (QEMU: -M virt,gic-version=3)");
    node_path(f, n, path, sizeof(path));
    u32 nr = 1;
    if (fdt_getprop(f, n, "#redistributor-regions", NULL) &&
        !fdt_getprop_u32(f, n, "#redistributor-regions", &nr))
        return ERR("device tree: %s: malformed '#redistributor-regions'", path);
    if (nr < 1 || nr > DT_MAX_GICR)
        return ERR("device tree: %s: %u redistributor regions (1 to %u supported)", path, nr,
                   DT_MAX_GICR);
    int cnt = reg_count(f, n);
    if (cnt < 0 || (u32)cnt < 1 + nr)
        return ERR("device tree: %s: 'reg' must hold the distributor and %u redistributor "
                   "region(s)", path, nr);
    if (!fdt_get_reg(f, n, 0, &p->gicd_base, &p->gicd_size))
        return ERR("device tree: %s: malformed 'reg'", path);
    for (u32 i = 0; i < nr; i++)
        if (!fdt_get_reg(f, n, 1 + i, &p->gicr_base[i], &p->gicr_size[i]))
            return ERR("device tree: %s: malformed 'reg'", path);
    p->ngicr = nr;
    p->have_gic = true;
    return true;
}

static bool parse_timer(const struct fdt *f, struct dt_platform *p, char *err, size_t errlen)
{
    char path[96];
    int n = find_enabled_compatible(f, "arm,armv8-timer");
    if (n < 0)
        return ERR("device tree: no architected timer (compatible \"arm,armv8-timer\")");
    node_path(f, n, path, sizeof(path));
    u32 len;
    const u8 *irq = fdt_getprop(f, n, "interrupts", &len);
    /* Four (or five) GIC interrupt specifiers <type number flags>: secure
     * physical, non-secure physical, virtual, hypervisor (EL2) physical. */
    if (!irq || len < 4 * 12 || len % 12)
        return ERR("device tree: %s: 'interrupts' must hold at least 4 three-cell entries", path);
    u32 type = fdt_be32(irq + 36), num = fdt_be32(irq + 40);
    if (type != 1 || num > 15)
        return ERR("device tree: %s: the EL2 timer interrupt is not a PPI (type %u, number %u)",
                   path, type, num);
    p->timer_hyp_ppi = num + 16;
    u32 freq;
    if (fdt_getprop_u32(f, n, "clock-frequency", &freq))
        p->timer_freq = freq;
    p->have_timer = true;
    return true;
}

static bool parse_psci(const struct fdt *f, struct dt_platform *p, char *err, size_t errlen)
{
    static const char *const compats[] = { "arm,psci-1.0", "arm,psci-0.2", "arm,psci" };
    char path[96];
    int n = -1;
    u32 i;
    for (i = 0; i < ARRAY_SIZE(compats) && n < 0; i++)
        n = find_enabled_compatible(f, compats[i]);
    if (n < 0)
        return ERR("device tree: no PSCI node (compatible \"arm,psci-1.0\" / \"arm,psci-0.2\"): "
                   "CPUs cannot be started or the machine powered off");
    bh_strlcpy(p->psci_compat, compats[i - 1], sizeof(p->psci_compat));
    node_path(f, n, path, sizeof(path));
    const char *m = fdt_getprop_string(f, n, "method");
    if (!m)
        return ERR("device tree: %s: missing 'method' (\"smc\" or \"hvc\")", path);
    if (strcmp(m, "smc") == 0)
        p->psci = PSCI_SMC;
    else if (strcmp(m, "hvc") == 0)
        p->psci = PSCI_HVC;
    else
        return ERR("device tree: %s: method \"%s\" is neither \"smc\" nor \"hvc\"", path, m);
    return true;
}

static bool parse_cpus(const struct fdt *f, u64 boot_mpidr, struct dt_platform *p,
                       struct boot_info *bi, char *err, size_t errlen)
{
    char path[96];
    int cpus = fdt_path(f, "/cpus");
    if (cpus < 0)
        return ERR("device tree: no /cpus node");
    u32 ac = fdt_address_cells(f, cpus);
    if (ac != 1 && ac != 2)
        return ERR("device tree: /cpus: #address-cells is %u (1 or 2 expected)", ac);
    for (int n = fdt_first_child(f, cpus); n >= 0; n = fdt_next_sibling(f, n)) {
        if (!prop_is(f, n, "device_type", "cpu") || !node_enabled(f, n))
            continue;
        node_path(f, n, path, sizeof(path));
        u32 len;
        const u8 *reg = fdt_getprop(f, n, "reg", &len);
        u64 mpidr;
        if (!reg || len != ac * 4 || !fdt_read_cells(reg, ac, &mpidr))
            return ERR("device tree: %s: 'reg' must be %u cell(s) holding the MPIDR", path, ac);
        if (mpidr & ~0xff00ffffffULL)
            return ERR("device tree: %s: reg %#llx has bits outside the MPIDR affinity fields",
                       path, (unsigned long long)mpidr);
        for (u32 i = 0; i < p->ncpus; i++)
            if (p->cpu_mpidr[i] == mpidr)
                return ERR("device tree: %s: MPIDR %#llx is listed twice", path,
                           (unsigned long long)mpidr);
        if (p->ncpus >= BI_MAX_CPUS) {
            p->cpus_ignored++;
            continue;
        }
        p->cpu_mpidr[p->ncpus] = mpidr;
        p->cpu_psci[p->ncpus] = prop_is(f, n, "enable-method", "psci");
        p->ncpus++;
    }
    if (p->ncpus == 0)
        return ERR("device tree: /cpus lists no CPU (device_type = \"cpu\")");
    u32 boot = p->ncpus;
    for (u32 i = 0; i < p->ncpus; i++)
        if (p->cpu_mpidr[i] == boot_mpidr)
            boot = i;
    if (boot == p->ncpus)
        return ERR("device tree: the boot CPU (MPIDR %#llx) is not listed in /cpus",
                   (unsigned long long)boot_mpidr);
    bi->ncpus = 0;
    bi->cpus[bi->ncpus++] = (struct cpu_desc){ p->cpu_mpidr[boot], true };
    for (u32 i = 0; i < p->ncpus; i++)
        if (i != boot)
            bi->cpus[bi->ncpus++] = (struct cpu_desc){ p->cpu_mpidr[i], false };
    bi->cpus_ignored = p->cpus_ignored;
    return true;
}

static bool parse_chosen(const struct fdt *f, struct dt_platform *p, struct boot_info *bi,
                         char *err, size_t errlen)
{
    int chosen = fdt_path(f, "/chosen");
    if (chosen < 0)
        return true;
    u32 len;
    const char *args = fdt_getprop(f, chosen, "bootargs", &len);
    if (args) {
        size_t n = strnlen(args, len);
        if (n == len)
            return ERR("device tree: /chosen: 'bootargs' is not NUL-terminated");
        if (n >= sizeof(bi->cmdline))
            return ERR("device tree: /chosen: 'bootargs' is %zu bytes long (at most %zu)", n,
                       sizeof(bi->cmdline) - 1);
        memcpy(bi->cmdline, args, n + 1);
    }
    /* U-Boot names itself here; other loaders leave it out. */
    const char *ub = fdt_getprop_string(f, chosen, "u-boot,version");
    if (ub)
        bh_snprintf(bi->loader_name, sizeof(bi->loader_name), "U-Boot %s", ub);
    bool hs = fdt_getprop(f, chosen, "linux,initrd-start", NULL) != NULL;
    bool he = fdt_getprop(f, chosen, "linux,initrd-end", NULL) != NULL;
    if (hs != he)
        return ERR("device tree: /chosen: linux,initrd-start and linux,initrd-end must come "
                   "together");
    if (hs) {
        if (!fdt_getprop_u64(f, chosen, "linux,initrd-start", &p->initrd_start) ||
            !fdt_getprop_u64(f, chosen, "linux,initrd-end", &p->initrd_end))
            return ERR("device tree: /chosen: linux,initrd-start/end must be 32- or 64-bit "
                       "values");
        if (p->initrd_end < p->initrd_start)
            return ERR("device tree: /chosen: initrd ends (%#llx) before it starts (%#llx)",
                       (unsigned long long)p->initrd_end,
                       (unsigned long long)p->initrd_start);
        p->have_initrd = p->initrd_end > p->initrd_start;
    }
    return true;
}

bool dt_parse_platform(const struct fdt *f, u64 dtb_pa, u64 boot_mpidr, struct dt_platform *p,
                       struct boot_info *bi, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    if (!f->blob)
        return ERR("device tree not opened");
    find_uart(f, p);
    /* /chosen and PSCI first: the command line and the power-off path decide
     * how a later problem ends. */
    return parse_chosen(f, p, bi, err, errlen) && parse_psci(f, p, err, errlen) &&
           parse_memory(f, bi, err, errlen) && parse_reserved(f, dtb_pa, p, bi, err, errlen) &&
           parse_gic(f, p, err, errlen) && parse_timer(f, p, err, errlen) &&
           parse_cpus(f, boot_mpidr, p, bi, err, errlen);
}

/* Is [base, base+size) inside the part of one usable memory range that the
 * EL2 identity map covers (whole pages), and clear of every no-map region
 * (left out of that map)? A module outside it would fault when read. */
static bool in_memory(const struct boot_info *bi, const struct dt_platform *p, u64 base, u64 size)
{
    u64 end;
    if (!end_of(base, size, &end))
        return false;
    for (u32 i = 0; p && i < p->nnomap; i++)
        if (size && p->nomap_size[i] && base < p->nomap_base[i] + p->nomap_size[i] &&
            p->nomap_base[i] < end)
            return false;
    for (u32 i = 0; i < bi->nmem; i++) {
        const struct mem_range *m = &bi->mem[i];
        u64 mb = ALIGN_UP(m->base, PAGE_SIZE), me = ALIGN_DOWN(m->base + m->size, PAGE_SIZE);
        if (m->type == MEM_USABLE && base >= mb && end <= me)
            return true;
    }
    return false;
}

static const char *overlaps_protected(const struct boot_info *bi, u64 base, u64 size)
{
    for (u32 i = 0; i < bi->nrsv; i++) {
        const struct mem_range *r = &bi->rsv[i];
        if (!r->what || (strcmp(r->what, "hypervisor") && strcmp(r->what, "device tree")))
            continue;
        if (size && r->size && base < r->base + r->size && r->base < base + size)
            return r->what;
    }
    return NULL;
}

static bool add_chosen_modules(const struct fdt *f, const struct dt_platform *p,
                               struct boot_info *bi, char *err, size_t errlen)
{
    char path[96];
    int chosen = fdt_path(f, "/chosen");
    if (chosen < 0)
        return true;
    for (int n = fdt_first_child(f, chosen); n >= 0; n = fdt_next_sibling(f, n)) {
        if (!fdt_node_is_compatible(f, n, "multiboot,module") || !node_enabled(f, n))
            continue;
        node_path(f, n, path, sizeof(path));
        u64 base, size;
        if (reg_count(f, n) != 1 || !fdt_get_reg(f, n, 0, &base, &size))
            return ERR("device tree: %s: 'reg' must be exactly one <address size> entry "
                       "(using the #address-cells/#size-cells of /chosen)", path);
        if (!in_memory(bi, p, base, size))
            return ERR("device tree: %s: module %#llx + %#llx lies outside mapped memory (or in "
                       "a no-map reserved region)", path,
                       (unsigned long long)base, (unsigned long long)size);
        const char *what = overlaps_protected(bi, base, size);
        if (what)
            return ERR("device tree: %s: module %#llx + %#llx overlaps the %s", path,
                       (unsigned long long)base, (unsigned long long)size, what);
        /* Name: first word of "bootargs" (the rest are its args), else the
         * node name without its unit address. */
        u32 len;
        const char *s = fdt_getprop(f, n, "bootargs", &len);
        size_t slen;
        if (s) {
            slen = strnlen(s, len);
            if (slen == len)
                return ERR("device tree: %s: 'bootargs' is not NUL-terminated", path);
        } else {
            s = fdt_node_name(f, n);
            slen = 0;
            while (s[slen] && s[slen] != '@')
                slen++;
        }
        enum bi_mod_err me = bi_add_module(bi, base, size, s, slen);
        if (me == BI_MOD_FULL)
            return ERR("more than %u boot modules", BI_MAX_MODULES);
        if (me == BI_MOD_NONAME)
            return ERR("device tree: %s: module has no name (empty 'bootargs')", path);
        if (me == BI_MOD_NAMELONG)
            return ERR("device tree: %s: module name longer than %u characters", path,
                       BI_NAME_MAX - 1);
        if (!bi_add_reserved(bi, base, size, bi->mod[bi->nmod - 1].name))
            return ERR("too many reserved ranges (more than %u)", BI_MAX_RSV);
    }
    return true;
}

bool dt_collect_modules(const struct fdt *f, const struct dt_platform *p, const void *initrd,
                        struct boot_info *bi, char *err, size_t errlen)
{
    if (p->have_initrd) {
        u64 size = p->initrd_end - p->initrd_start;
        if (!in_memory(bi, p, p->initrd_start, size))
            return ERR("the initrd (%#llx-%#llx) lies outside mapped memory (or in a no-map "
                       "reserved region)",
                       (unsigned long long)p->initrd_start, (unsigned long long)p->initrd_end);
        const char *what = overlaps_protected(bi, p->initrd_start, size);
        if (what)
            return ERR("the initrd (%#llx-%#llx) overlaps the %s",
                       (unsigned long long)p->initrd_start, (unsigned long long)p->initrd_end,
                       what);
        if (!bi_add_reserved(bi, p->initrd_start, size, "initrd"))
            return ERR("too many reserved ranges (more than %u)", BI_MAX_RSV);
        char cerr[200];
        if (cpio_add_modules(bi, p->initrd_start, initrd, size, cerr, sizeof(cerr)) < 0)
            return ERR("initrd at %#llx (%llu bytes): %s", (unsigned long long)p->initrd_start,
                       (unsigned long long)size, cerr);
    }
    return add_chosen_modules(f, p, bi, err, errlen);
}

int range_subtract(u64 b, u64 e, const u64 *hb, const u64 *he, u32 nh, u64 *ob, u64 *oe,
                   u32 max)
{
    u32 n = 0;
    while (b < e) {
        /* Skip past every hole that covers b. */
        bool moved = true;
        while (moved) {
            moved = false;
            for (u32 i = 0; i < nh; i++)
                if (hb[i] <= b && he[i] > b) {
                    b = he[i];
                    moved = true;
                }
        }
        if (b >= e)
            break;
        /* The piece runs to the next hole that starts after b. */
        u64 end = e;
        for (u32 i = 0; i < nh; i++)
            if (hb[i] > b && hb[i] < end && he[i] > hb[i])
                end = hb[i];
        if (n >= max)
            return -1;
        ob[n] = b;
        oe[n++] = end;
        b = end;
    }
    return (int)n;
}
