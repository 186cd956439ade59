/* Partition configuration parser (binding: docs/config.md). The validator
 * against the machine is in config_check.c; both report through cfg_err(). */
#include "config.h"
#include "config_int.h"
#include "format.h"
#include "string.h"

void cfg_errlist_init(struct cfg_errlist *el, struct cfg_error *buf, u32 cap)
{
    el->v = buf;
    el->cap = buf ? cap : 0;
    el->n = 0;
    el->dropped = 0;
}

void cfg_errlist_sort(struct cfg_errlist *el)
{
    for (u32 i = 1; i < el->n; i++) {
        struct cfg_error e = el->v[i];
        u32 j = i;
        while (j > 0 && el->v[j - 1].node > e.node) {
            el->v[j] = el->v[j - 1];
            j--;
        }
        el->v[j] = e;
    }
}

int cfg_format_error(const struct cfg_error *e, char *buf, size_t size)
{
    /* Node paths, property names and quoted values come from the blob:
     * the line is escaped so none of them can end it or send escapes. */
    char raw[CFG_ERR_WHERE + CFG_ERR_PROP + CFG_ERR_MSG + 16];
    if (e->prop[0])
        bh_snprintf(raw, sizeof(raw), "config: %s: %s: %s", e->where, e->prop, e->msg);
    else
        bh_snprintf(raw, sizeof(raw), "config: %s: %s", e->where, e->msg);
    char esc[sizeof(raw) * 4];
    size_t n = bh_escape(esc, sizeof(esc), raw, sizeof(raw));
    bh_strlcpy(buf, esc, size);
    return (int)n;
}

void cfg_verr(struct cfg_errlist *el, const struct fdt *f, int node, const char *prop,
              const char *fmt, va_list ap)
{
    if (el->n >= el->cap) {
        el->dropped++;
        return;
    }
    struct cfg_error *e = &el->v[el->n++];
    e->node = node < 0 ? 0 : node;
    if (node < 0 || !f || !f->blob)
        bh_strlcpy(e->where, "/", sizeof(e->where));
    else
        fdt_node_path(f, node, e->where, sizeof(e->where));
    bh_strlcpy(e->prop, prop ? prop : "", sizeof(e->prop));
    bh_vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

void cfg_err(struct cfg_errlist *el, const struct fdt *f, int node, const char *prop,
             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_verr(el, f, node, prop, fmt, ap);
    va_end(ap);
}

const char *cfg_boot_protocol_name(enum cfg_boot_protocol b)
{
    switch (b) {
    case CFG_BOOT_LINUX_IMAGE: return "linux-image";
    case CFG_BOOT_MULTIBOOT: return "multiboot";
    case CFG_BOOT_PVH: return "pvh";
    default: return "default";
    }
}

/* ------------------------------------------------------------ parse context */

struct pctx {
    struct config *cfg;
    const struct fdt *f;
    struct cfg_errlist *el;
    u32 errors;
};

static void perr(struct pctx *p, int node, const char *prop, const char *fmt, ...) __printf(4, 5);
static void perr(struct pctx *p, int node, const char *prop, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_verr(p->el, p->f, node, prop, fmt, ap);
    va_end(ap);
    p->errors++;
}

/* Edit distance, for "did you mean" hints on unknown names. */
static u32 edit_distance(const char *a, const char *b)
{
    u32 prev[CFG_NAME_MAX + 1], cur[CFG_NAME_MAX + 1];
    size_t la = strnlen(a, CFG_NAME_MAX), lb = strnlen(b, CFG_NAME_MAX);
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (u32)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (u32)i;
        for (size_t j = 1; j <= lb; j++) {
            u32 sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            u32 del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = MIN(sub, MIN(del, ins));
        }
        memcpy(prev, cur, sizeof(u32) * (lb + 1));
    }
    return prev[lb];
}

/* "a, b, c" into buf. */
static void join_names(char *buf, size_t size, const char *const *names)
{
    size_t pos = 0;
    buf[0] = 0;
    for (u32 i = 0; names[i]; i++) {
        int w = bh_snprintf(buf + pos, size - pos, "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= size - pos)
            break;
        pos += (size_t)w;
    }
}

static const char *closest(const char *name, const char *const *names)
{
    const char *best = NULL;
    u32 bestd = 3; /* suggest only close matches */
    for (u32 i = 0; names[i]; i++) {
        u32 d = edit_distance(name, names[i]);
        if (d < bestd) {
            bestd = d;
            best = names[i];
        }
    }
    return best;
}

static bool always_allowed(const char *prop)
{
    return strcmp(prop, "phandle") == 0 || strcmp(prop, "linux,phandle") == 0;
}

static bool in_list(const char *s, const char *const *names)
{
    for (u32 i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0)
            return true;
    return false;
}

/* Report properties of node that are not in allowed, and properties given twice. */
static void check_props(struct pctx *p, int node, const char *const *allowed, const char *what)
{
    char list[200];
    for (int pr = fdt_first_prop(p->f, node); pr >= 0; pr = fdt_next_prop(p->f, pr)) {
        const char *name;
        if (fdt_prop_info(p->f, pr, &name, NULL, NULL))
            break;
        for (int q = fdt_first_prop(p->f, node); q >= 0 && q < pr; q = fdt_next_prop(p->f, q)) {
            const char *qn;
            if (fdt_prop_info(p->f, q, &qn, NULL, NULL) == 0 && strcmp(qn, name) == 0) {
                perr(p, node, name, "property given twice");
                break;
            }
        }
        if (in_list(name, allowed) || always_allowed(name))
            continue;
        const char *hint = closest(name, allowed);
        join_names(list, sizeof(list), allowed);
        if (hint)
            perr(p, node, name, "unknown property (did you mean '%s'?)", hint);
        else if (allowed[0])
            perr(p, node, name, "unknown property (a %s node takes: %s)", what, list);
        else
            perr(p, node, name, "unknown property (a %s node takes none)", what);
    }
}

/* Length of the base name (before '@'). */
static size_t base_len(const char *name)
{
    size_t n = 0;
    while (name[n] && name[n] != '@')
        n++;
    return n;
}

/* "memory", "memory@<unit>" or "memory-<suffix>" are all "memory" nodes. */
static bool kind_is(const char *name, const char *want)
{
    size_t n = strlen(want);
    return strncmp(name, want, n) == 0 && (name[n] == 0 || name[n] == '@' || name[n] == '-');
}

/* Report a child whose full name repeats an earlier sibling's. */
static bool dup_sibling(struct pctx *p, int parent, int node)
{
    const char *name = fdt_node_name(p->f, node);
    for (int c = fdt_first_child(p->f, parent); c >= 0 && c < node; c = fdt_next_sibling(p->f, c)) {
        const char *cn = fdt_node_name(p->f, c);
        if (cn && name && strcmp(cn, name) == 0) {
            perr(p, node, NULL, "duplicate node: a sibling has the same name");
            return true;
        }
    }
    return false;
}

static void unknown_node(struct pctx *p, int node, const char *const *allowed, const char *what)
{
    char list[160], base[CFG_NAME_MAX];
    const char *name = fdt_node_name(p->f, node);
    size_t n = MIN(base_len(name), sizeof(base) - 1);
    memcpy(base, name, n);
    base[n] = 0;
    const char *hint = allowed[0] ? closest(base, allowed) : NULL;
    join_names(list, sizeof(list), allowed);
    if (hint)
        perr(p, node, NULL, "unknown node (did you mean '%s'?)", hint);
    else if (allowed[0])
        perr(p, node, NULL, "unknown node (a %s node may contain: %s)", what, list);
    else
        perr(p, node, NULL, "unknown node (a %s node has no child nodes)", what);
}

/* ------------------------------------------------------------ typed getters */

/* Each returns 1 when the property is present and well-formed, 0 when it is
 * absent (reporting "missing" if required), -1 when it is malformed (reported). */

/* A device tree blob carries no types. A value that is one or more non-empty
 * NUL-terminated strings of printable ASCII was written as a string (no
 * number a configuration uses has that shape: it would need a printable
 * byte in its top position and a zero byte only at the very end of every
 * run), so a numeric property holding one is refused as a string. */
static bool looks_like_string(const u8 *d, u32 len)
{
    if (len < 2 || d[len - 1] != 0)
        return false;
    bool start = true;
    for (u32 i = 0; i < len; i++) {
        if (d[i] == 0) {
            if (start)
                return false; /* empty string */
            start = true;
        } else if (d[i] < 0x20 || d[i] >= 0x7f) {
            return false;
        } else {
            start = false;
        }
    }
    return true;
}

/* Report a string where cells were expected; true when it was one. */
static bool string_for_number(struct pctx *p, int node, const char *name, const u8 *d, u32 len,
                              const char *shape)
{
    if (!looks_like_string(d, len))
        return false;
    perr(p, node, name, "expected %s, found the string \"%.*s\"", shape, (int)(len - 1),
         (const char *)d);
    return true;
}

static int get_num(struct pctx *p, int node, const char *name, u64 *out, bool required)
{
    u32 len;
    const void *d = fdt_getprop(p->f, node, name, &len);
    if (!d) {
        if (required)
            perr(p, node, name, "missing (required)");
        return 0;
    }
    if (string_for_number(p, node, name, d, len, "a number (one or two 32-bit cells)"))
        return -1;
    if (len == 4) {
        *out = fdt_be32(d);
    } else if (len == 8) {
        *out = fdt_be64(d);
    } else {
        perr(p, node, name,
             "expected a number: one 32-bit cell or two cells (64-bit), got %u bytes", len);
        return -1;
    }
    return 1;
}

static int get_u32(struct pctx *p, int node, const char *name, u32 *out, bool required)
{
    u32 len;
    const void *d = fdt_getprop(p->f, node, name, &len);
    if (!d) {
        if (required)
            perr(p, node, name, "missing (required)");
        return 0;
    }
    if (string_for_number(p, node, name, d, len, "a number (one 32-bit cell)"))
        return -1;
    if (len != 4) {
        perr(p, node, name, "expected one 32-bit cell, got %u bytes", len);
        return -1;
    }
    *out = fdt_be32(d);
    return 1;
}

static int get_str(struct pctx *p, int node, const char *name, const char **out, bool required)
{
    u32 len;
    const char *d = fdt_getprop(p->f, node, name, &len);
    if (!d) {
        if (required)
            perr(p, node, name, "missing (required)");
        return 0;
    }
    if (len == 0 || d[len - 1] != 0) {
        if (len && len % 4 == 0)
            perr(p, node, name, "expected a string, found %u 32-bit cell%s (first <0x%x>)",
                 len / 4, len == 4 ? "" : "s", fdt_be32(d));
        else
            perr(p, node, name, "expected a string, got %u bytes that are not one", len);
        return -1;
    }
    if (strnlen(d, len) != len - 1) {
        perr(p, node, name, "expected one string, got a list of strings");
        return -1;
    }
    if (len == 1) {
        perr(p, node, name, "empty string");
        return -1;
    }
    *out = d;
    return 1;
}

/* A list of 32-bit cells in groups of `group`. *n = number of groups. */
static int get_cells(struct pctx *p, int node, const char *name, const u8 **data, u32 *n,
                     u32 group, const char *shape)
{
    u32 len;
    const u8 *d = fdt_getprop(p->f, node, name, &len);
    if (!d)
        return 0;
    if (len == 0) {
        perr(p, node, name, "empty (expected %s)", shape);
        return -1;
    }
    char what[96];
    bh_snprintf(what, sizeof(what), "32-bit cells (%s)", shape);
    if (string_for_number(p, node, name, d, len, what))
        return -1;
    if (len % 4) {
        perr(p, node, name, "expected 32-bit cells (%s), got %u bytes", shape, len);
        return -1;
    }
    if ((len / 4) % group) {
        perr(p, node, name, "expected %s, got %u cells", shape, len / 4);
        return -1;
    }
    *data = d;
    *n = len / 4 / group;
    return 1;
}

/* One of `choices`; returns its index, or -1 (absent or bad). */
static int get_choice(struct pctx *p, int node, const char *name, const char *const *choices,
                      bool *present)
{
    const char *s;
    char list[120];
    *present = false;
    int r = get_str(p, node, name, &s, false);
    if (r <= 0) {
        *present = r < 0;
        return -1;
    }
    *present = true;
    for (int i = 0; choices[i]; i++)
        if (strcmp(s, choices[i]) == 0)
            return i;
    join_names(list, sizeof(list), choices);
    perr(p, node, name, "'%s' is not one of: %s", s, list);
    return -1;
}

static bool valid_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* Copy a node name used as an object name (partition, channel). */
static bool take_node_name(struct pctx *p, int node, char *dst, const char *what)
{
    const char *name = fdt_node_name(p->f, node);
    size_t n = name ? strlen(name) : 0;
    if (n == 0) {
        perr(p, node, NULL, "%s node has an empty name", what);
        return false;
    }
    /* On failure the (truncated) name is still kept, for other messages. */
    for (size_t i = 0; i < n; i++)
        if (!valid_name_char(name[i])) {
            perr(p, node, NULL,
                 "%s name '%s' has '%c': names may use only letters, digits, '-' and '_'",
                 what, name, name[i]);
            bh_strlcpy(dst, name, CFG_NAME_MAX);
            return false;
        }
    if (n >= CFG_NAME_MAX) {
        perr(p, node, NULL, "%s name is %u characters long (at most %u)", what, (unsigned)n,
             CFG_NAME_MAX - 1);
        bh_strlcpy(dst, name, CFG_NAME_MAX);
        return false;
    }
    memcpy(dst, name, n + 1);
    return true;
}

/* Copy a module name (a boot module's first word). */
static void take_module_name(struct pctx *p, int node, const char *prop, char *dst)
{
    const char *s;
    if (get_str(p, node, prop, &s, strcmp(prop, "kernel") == 0) <= 0)
        return;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        u8 b = (u8)s[i];
        if (b == ' ' || b == '\t' || b == '\n' || b == '\r') {
            perr(p, node, prop, "module name '%s' contains white space", s);
            return;
        }
        if (b < 0x20 || b >= 0x7f) {
            perr(p, node, prop, "module name '%s' has byte 0x%02x at %u (names are printable ASCII)",
                 s, b, (unsigned)i);
            return;
        }
    }
    if (n >= CFG_NAME_MAX) {
        perr(p, node, prop, "module name is %u characters long (at most %u)", (unsigned)n,
             CFG_NAME_MAX - 1);
        return;
    }
    memcpy(dst, s, n + 1);
}

/* Page alignment and size checks shared by all ranges. */
static bool check_page(struct pctx *p, int node, const char *prop, u64 v, const char *what)
{
    if (!IS_ALIGNED(v, PAGE_SIZE)) {
        perr(p, node, prop, "%s 0x%llx is not a multiple of 4 KiB", what, (unsigned long long)v);
        return false;
    }
    return true;
}

static bool check_size(struct pctx *p, int node, const char *prop, u64 size)
{
    if (size == 0) {
        perr(p, node, prop, "size is zero");
        return false;
    }
    return check_page(p, node, prop, size, "size");
}

static bool check_end(struct pctx *p, int node, const char *prop, u64 base, u64 size, u64 limit,
                      const char *what)
{
    if (size > limit || base > limit - size) {
        perr(p, node, prop, "%s range 0x%llx + 0x%llx goes beyond 0x%llx", what,
             (unsigned long long)base, (unsigned long long)size, (unsigned long long)limit);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ nodes */

static const char *const root_props[] = { "compatible", "version", "arch", "description",
                                          "model", "#address-cells", "#size-cells", NULL };
static const char *const root_nodes[] = { "hypervisor", "partitions", "channels", NULL };
static const char *const hv_props[] = { "log-level", "console-prefix", NULL };
static const char *const part_props[] = { "cpus", "kernel", "ramdisk", "cmdline",
                                          "boot-protocol", "console", "fault-policy",
                                          "restart-limit", "interrupts", "io-ports",
                                          "load-address", "pmu", "outside-access", "control",
                                          "pool-address", "pool-size", "description", NULL };
static const char *const part_nodes[] = { "memory", "mmio", NULL };
static const char *const mem_props[] = { "guest-address", "size", "host-address", NULL };
static const char *const mmio_props[] = { "address", "size", "guest-address", NULL };
static const char *const chan_props[] = { "size", "host-address", "description", NULL };
static const char *const member_props[] = { "guest-address", "access", NULL };
static const char *const none[] = { NULL };

static const char *const on_off[] = { "off", "on", NULL };
static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };
static const char *const protocols[] = { "linux-image", "multiboot", "pvh", NULL };
static const char *const policies[] = { "halt", "restart", NULL };
static const char *const outside_modes[] = { "fault", "abort", NULL };
static const char *const accesses[] = { "r", "rw", NULL };

static void parse_hypervisor(struct pctx *p, int node)
{
    bool present;
    check_props(p, node, hv_props, "hypervisor");
    for (int c = fdt_first_child(p->f, node); c >= 0; c = fdt_next_sibling(p->f, c))
        unknown_node(p, c, none, "hypervisor");
    p->cfg->log_level = CFG_LOG_INFO;
    int v = get_choice(p, node, "log-level", log_levels, &present);
    if (v >= 0)
        p->cfg->log_level = (enum cfg_log_level)v;
    p->cfg->console_prefix = true;
    v = get_choice(p, node, "console-prefix", on_off, &present);
    if (v >= 0)
        p->cfg->console_prefix = v == 1;
}

static void parse_memory(struct pctx *p, struct cfg_partition *pt, int node)
{
    u64 g = 0, s = 0, h = 0;
    check_props(p, node, mem_props, "memory");
    for (int c = fdt_first_child(p->f, node); c >= 0; c = fdt_next_sibling(p->f, c))
        unknown_node(p, c, none, "memory");
    if (pt->nregions >= CFG_MAX_REGIONS) {
        perr(p, node, NULL, "too many memory regions in partition '%s' (limit %u)", pt->name,
             CFG_MAX_REGIONS);
        return;
    }
    bool ok = true;
    int rg = get_num(p, node, "guest-address", &g, true);
    int rs = get_num(p, node, "size", &s, true);
    int rh = get_num(p, node, "host-address", &h, false);
    ok = rg > 0 && rs > 0 && rh >= 0;
    if (rg > 0)
        ok &= check_page(p, node, "guest-address", g, "address");
    if (rs > 0)
        ok &= check_size(p, node, "size", s);
    if (rh > 0)
        ok &= check_page(p, node, "host-address", h, "address");
    if (ok)
        ok &= check_end(p, node, "size", g, s, CFG_GUEST_ADDR_LIMIT, "guest");
    if (ok && rh > 0)
        ok &= check_end(p, node, "size", h, s, ~0ULL, "host");
    if (!ok)
        return;
    struct cfg_region *r = &pt->regions[pt->nregions++];
    r->guest = g;
    r->size = s;
    r->host = h;
    r->fixed = rh > 0;
    r->node = node;
}

static void parse_mmio(struct pctx *p, struct cfg_partition *pt, int node)
{
    u64 a = 0, s = 0, g = 0;
    check_props(p, node, mmio_props, "mmio");
    for (int c = fdt_first_child(p->f, node); c >= 0; c = fdt_next_sibling(p->f, c))
        unknown_node(p, c, none, "mmio");
    if (pt->nmmio >= CFG_MAX_MMIO) {
        perr(p, node, NULL, "too many mmio ranges in partition '%s' (limit %u)", pt->name,
             CFG_MAX_MMIO);
        return;
    }
    int ra = get_num(p, node, "address", &a, true);
    int rs = get_num(p, node, "size", &s, true);
    int rg = get_num(p, node, "guest-address", &g, false);
    bool ok = ra > 0 && rs > 0 && rg >= 0;
    if (ra > 0)
        ok &= check_page(p, node, "address", a, "address");
    if (rs > 0)
        ok &= check_size(p, node, "size", s);
    if (rg > 0)
        ok &= check_page(p, node, "guest-address", g, "address");
    if (ok)
        ok &= check_end(p, node, "size", a, s, ~0ULL, "host");
    if (ok)
        ok &= check_end(p, node, "size", rg > 0 ? g : a, s, CFG_GUEST_ADDR_LIMIT, "guest");
    if (!ok)
        return;
    struct cfg_mmio *m = &pt->mmio[pt->nmmio++];
    m->host = a;
    m->guest = rg > 0 ? g : a;
    m->size = s;
    m->node = node;
}

static void parse_cpus(struct pctx *p, struct cfg_partition *pt, int node)
{
    const u8 *d;
    u32 n;
    int r = get_cells(p, node, "cpus", &d, &n, 1, "a list of CPU indexes");
    if (r == 0)
        perr(p, node, "cpus", "missing (required: the CPU indexes this partition owns)");
    if (r <= 0)
        return;
    if (n > CFG_MAX_CPUS) {
        perr(p, node, "cpus", "%u CPUs listed (limit %u)", n, CFG_MAX_CPUS);
        return;
    }
    for (u32 i = 0; i < n; i++) {
        u32 c = fdt_be32(d + 4 * i);
        if (c >= CFG_MAX_CPUS) {
            perr(p, node, "cpus", "CPU %u is out of range (CPU indexes are 0-%u)", c,
                 CFG_MAX_CPUS - 1);
            continue;
        }
        bool dup = false;
        for (u32 j = 0; j < pt->ncpus; j++)
            dup |= pt->cpus[j] == c;
        if (dup) {
            perr(p, node, "cpus", "CPU %u is listed twice", c);
            continue;
        }
        pt->cpus[pt->ncpus++] = (u8)c;
    }
}

static void parse_irqs_ports(struct pctx *p, struct cfg_partition *pt, int node)
{
    const u8 *d;
    u32 n;
    if (get_cells(p, node, "interrupts", &d, &n, 1, "a list of interrupt numbers") > 0) {
        if (n > CFG_MAX_IRQS) {
            perr(p, node, "interrupts", "%u interrupts listed (limit %u)", n, CFG_MAX_IRQS);
        } else {
            for (u32 i = 0; i < n; i++) {
                u32 v = fdt_be32(d + 4 * i);
                bool dup = false;
                for (u32 j = 0; j < pt->nirqs; j++)
                    dup |= pt->irqs[j] == v;
                if (dup)
                    perr(p, node, "interrupts", "interrupt %u is listed twice", v);
                else
                    pt->irqs[pt->nirqs++] = v;
            }
        }
    }
    if (get_cells(p, node, "io-ports", &d, &n, 2, "pairs of <first-port count>") > 0) {
        if (n > CFG_MAX_PORTS) {
            perr(p, node, "io-ports", "%u port ranges listed (limit %u)", n, CFG_MAX_PORTS);
            return;
        }
        for (u32 i = 0; i < n; i++) {
            u32 b = fdt_be32(d + 8 * i), c = fdt_be32(d + 8 * i + 4);
            if (c == 0) {
                perr(p, node, "io-ports", "port range at 0x%x has a count of zero", b);
                continue;
            }
            if (b > 0xffff || c > 0x10000 - b) {
                perr(p, node, "io-ports", "port range 0x%x + %u goes beyond port 0xffff", b, c);
                continue;
            }
            bool bad = false;
            for (u32 j = 0; j < pt->nports; j++) {
                const struct cfg_ports *o = &pt->ports[j];
                if (b < o->base + o->count && o->base < b + c) {
                    perr(p, node, "io-ports", "port range 0x%x-0x%x overlaps 0x%x-0x%x", b,
                         b + c - 1, o->base, o->base + o->count - 1);
                    bad = true;
                    break;
                }
            }
            if (!bad)
                pt->ports[pt->nports++] = (struct cfg_ports){ b, c };
        }
    }
}

/* Balloon pool: pool-address and pool-size, both or neither. */
static void parse_pool(struct pctx *p, struct cfg_partition *pt, int node)
{
    u64 g = 0, s = 0;
    int rg = get_num(p, node, "pool-address", &g, false);
    int rs = get_num(p, node, "pool-size", &s, false);
    if (rg == 0 && rs == 0)
        return;
    if (rg == 0 || rs == 0) {
        if (rg == 0 && rs > 0)
            perr(p, node, "pool-address", "missing (required with pool-size)");
        if (rs == 0 && rg > 0)
            perr(p, node, "pool-size", "missing (required with pool-address)");
        return;
    }
    if (rg < 0 || rs < 0)
        return;
    bool ok = check_page(p, node, "pool-address", g, "address");
    ok &= check_size(p, node, "pool-size", s);
    if (ok && s > CFG_MAX_POOL) {
        perr(p, node, "pool-size", "0x%llx is larger than the limit 0x%llx",
             (unsigned long long)s, (unsigned long long)CFG_MAX_POOL);
        ok = false;
    }
    if (ok)
        ok = check_end(p, node, "pool-size", g, s, CFG_GUEST_ADDR_LIMIT, "guest");
    if (!ok)
        return;
    pt->pool_guest = g;
    pt->pool_size = s;
    pt->pool_node = node;
}

static void parse_partition(struct pctx *p, struct cfg_partition *pt, int node)
{
    const char *s;
    bool present;
    pt->node = node;
    take_node_name(p, node, pt->name, "partition");
    check_props(p, node, part_props, "partition");

    parse_cpus(p, pt, node);
    take_module_name(p, node, "kernel", pt->kernel);
    take_module_name(p, node, "ramdisk", pt->ramdisk);
    if (get_str(p, node, "cmdline", &s, false) > 0) {
        if (strlen(s) >= CFG_CMDLINE_MAX)
            perr(p, node, "cmdline", "command line is %u characters long (at most %u)",
                 (unsigned)strlen(s), CFG_CMDLINE_MAX - 1);
        else
            bh_strlcpy(pt->cmdline, s, sizeof(pt->cmdline));
    }
    int v = get_choice(p, node, "boot-protocol", protocols, &present);
    pt->boot = v >= 0 ? (enum cfg_boot_protocol)(CFG_BOOT_LINUX_IMAGE + v) : CFG_BOOT_DEFAULT;
    v = get_choice(p, node, "console", on_off, &present);
    pt->console = v >= 0 ? v == 1 : true;
    v = get_choice(p, node, "pmu", on_off, &present);
    pt->pmu = v == 1;
    v = get_choice(p, node, "fault-policy", policies, &present);
    pt->fault = v == 1 ? CFG_FAULT_RESTART : CFG_FAULT_HALT;
    u32 lim;
    int rl = get_u32(p, node, "restart-limit", &lim, false);
    if (v == 1) {
        if (rl == 0)
            perr(p, node, "restart-limit",
                 "missing (required with fault-policy \"restart\": how many restarts)");
        else if (rl > 0 && (lim == 0 || lim > CFG_MAX_RESTARTS))
            perr(p, node, "restart-limit", "%u is out of range (1-%u)", lim, CFG_MAX_RESTARTS);
        else if (rl > 0)
            pt->restart_limit = lim;
    } else if (rl != 0 && (v == 0 || !present)) {
        perr(p, node, "restart-limit", "only allowed with fault-policy \"restart\"");
    }
    u64 la;
    int lr = get_num(p, node, "load-address", &la, false);
    if (lr > 0) {
        if (!IS_ALIGNED(la, PAGE_SIZE))
            perr(p, node, "load-address", "0x%llx is not 4 KiB aligned", (unsigned long long)la);
        else {
            pt->has_load_address = true;
            pt->load_address = la;
        }
    }
    pt->outside_abort = get_choice(p, node, "outside-access", outside_modes, &present) == 1;
    parse_irqs_ports(p, pt, node);
    v = get_choice(p, node, "control", on_off, &present);
    pt->control = v == 1;
    parse_pool(p, pt, node);

    bool have_memory = false;
    for (int c = fdt_first_child(p->f, node); c >= 0; c = fdt_next_sibling(p->f, c)) {
        const char *cn = fdt_node_name(p->f, c);
        if (!cn || dup_sibling(p, node, c))
            continue;
        if (kind_is(cn, "memory")) {
            have_memory = true;
            parse_memory(p, pt, c);
        } else if (kind_is(cn, "mmio")) {
            parse_mmio(p, pt, c);
        } else {
            unknown_node(p, c, part_nodes, "partition");
        }
    }
    if (!have_memory)
        perr(p, node, NULL, "no memory node (each partition needs at least one memory region)");
}

static int find_partition(const struct config *cfg, const char *name)
{
    for (u32 i = 0; i < cfg->npartitions; i++)
        if (strcmp(cfg->partitions[i].name, name) == 0)
            return (int)i;
    return -1;
}

static void parse_member(struct pctx *p, struct cfg_channel *ch, int node)
{
    char list[160];
    const char *name = fdt_node_name(p->f, node);
    struct config *cfg = p->cfg;
    check_props(p, node, member_props, "channel member");
    for (int c = fdt_first_child(p->f, node); c >= 0; c = fdt_next_sibling(p->f, c))
        unknown_node(p, c, none, "channel member");
    u64 g = 0;
    bool present;
    int rg = get_num(p, node, "guest-address", &g, true);
    int acc = get_choice(p, node, "access", accesses, &present);
    if (!present)
        perr(p, node, "access", "missing (required: \"r\" or \"rw\")");
    int pi = find_partition(cfg, name);
    if (pi < 0) {
        size_t pos = 0;
        list[0] = 0;
        for (u32 i = 0; i < cfg->npartitions && pos < sizeof(list); i++) {
            int w = bh_snprintf(list + pos, sizeof(list) - pos, "%s%s", i ? ", " : "",
                                cfg->partitions[i].name);
            pos += w > 0 ? (size_t)w : 0;
        }
        perr(p, node, NULL,
             "channel '%s' names partition '%s', which does not exist (partitions: %s)",
             ch->name, name, cfg->npartitions ? list : "none");
        return;
    }
    if (ch->nmembers >= CFG_MAX_MEMBERS) {
        perr(p, node, NULL, "too many members in channel '%s' (limit %u)", ch->name,
             CFG_MAX_MEMBERS);
        return;
    }
    if (rg <= 0 || acc < 0)
        return;
    if (!check_page(p, node, "guest-address", g, "address"))
        return;
    if (ch->size && !check_end(p, node, "guest-address", g, ch->size, CFG_GUEST_ADDR_LIMIT, "guest"))
        return;
    struct cfg_member *m = &ch->members[ch->nmembers++];
    m->partition = (u32)pi;
    m->guest = g;
    m->access = acc == 1 ? CFG_ACCESS_RW : CFG_ACCESS_R;
    m->node = node;
}

static void parse_channel(struct pctx *p, struct cfg_channel *ch, int node)
{
    ch->node = node;
    take_node_name(p, node, ch->name, "channel");
    check_props(p, node, chan_props, "channel");
    u64 s = 0, h = 0;
    int rs = get_num(p, node, "size", &s, true);
    int rh = get_num(p, node, "host-address", &h, false);
    if (rs > 0 && check_size(p, node, "size", s))
        ch->size = s;
    if (rh > 0 && check_page(p, node, "host-address", h, "address") &&
        (!ch->size || check_end(p, node, "host-address", h, ch->size, ~0ULL, "host"))) {
        ch->host = h;
        ch->fixed = true;
    }
    u32 children = 0;
    for (int c = fdt_first_child(p->f, node); c >= 0; c = fdt_next_sibling(p->f, c)) {
        children++;
        if (dup_sibling(p, node, c))
            continue;
        parse_member(p, ch, c);
    }
    if (children < 2)
        perr(p, node, NULL,
             "channel '%s' has %u member%s (a channel joins at least 2 partitions: one child "
             "node per member, named after the partition)",
             ch->name, children, children == 1 ? "" : "s");
}

static void parse_root(struct pctx *p, int root)
{
    struct config *cfg = p->cfg;
    u32 len;
    check_props(p, root, root_props, "root");

    const void *compat = fdt_getprop(p->f, root, "compatible", &len);
    if (!compat)
        perr(p, root, "compatible", "missing (required: \"" CFG_COMPATIBLE "\")");
    else if (!fdt_stringlist_contains(compat, len, CFG_COMPATIBLE))
        perr(p, root, "compatible", "does not contain \"" CFG_COMPATIBLE "\"");

    u32 ver;
    int r = get_u32(p, root, "version", &ver, false);
    if (r == 0)
        perr(p, root, "version", "missing (required: <%u>)", CFG_VERSION);
    else if (r > 0 && ver != CFG_VERSION)
        perr(p, root, "version", "version %u is not supported (this hypervisor reads version %u)",
             ver, CFG_VERSION);
    cfg->version = r > 0 ? ver : 0;

    const char *arch;
    if (get_str(p, root, "arch", &arch, false) > 0) {
        if (strcmp(arch, "x86_64") == 0 || strcmp(arch, "arm64") == 0)
            bh_strlcpy(cfg->arch, arch, sizeof(cfg->arch));
        else
            perr(p, root, "arch", "'%s' is not one of: x86_64, arm64", arch);
    }

    cfg->log_level = CFG_LOG_INFO;
    cfg->console_prefix = true;
    int parts = -1, chans = -1;
    for (int c = fdt_first_child(p->f, root); c >= 0; c = fdt_next_sibling(p->f, c)) {
        const char *cn = fdt_node_name(p->f, c);
        if (!cn || dup_sibling(p, root, c))
            continue;
        if (strcmp(cn, "hypervisor") == 0)
            parse_hypervisor(p, c);
        else if (strcmp(cn, "partitions") == 0)
            parts = c;
        else if (strcmp(cn, "channels") == 0)
            chans = c;
        else
            unknown_node(p, c, root_nodes, "root");
    }

    /* Partitions before channels: members refer to partitions. */
    if (parts < 0) {
        perr(p, root, NULL, "no /partitions node (at least one partition is required)");
    } else {
        check_props(p, parts, none, "partitions");
        for (int c = fdt_first_child(p->f, parts); c >= 0; c = fdt_next_sibling(p->f, c)) {
            if (dup_sibling(p, parts, c))
                continue;
            if (cfg->npartitions >= CFG_MAX_PARTITIONS) {
                perr(p, c, NULL, "too many partitions (limit %u)", CFG_MAX_PARTITIONS);
                continue;
            }
            parse_partition(p, &cfg->partitions[cfg->npartitions++], c);
        }
        if (cfg->npartitions == 0)
            perr(p, parts, NULL, "no partitions (at least one is required)");
    }
    if (chans >= 0) {
        check_props(p, chans, none, "channels");
        for (int c = fdt_first_child(p->f, chans); c >= 0; c = fdt_next_sibling(p->f, c)) {
            if (dup_sibling(p, chans, c))
                continue;
            if (cfg->nchannels >= CFG_MAX_CHANNELS) {
                perr(p, c, NULL, "too many channels (limit %u)", CFG_MAX_CHANNELS);
                continue;
            }
            parse_channel(p, &cfg->channels[cfg->nchannels++], c);
        }
    }
}

bool cfg_is_config_blob(const void *blob, size_t len)
{
    struct fdt f;
    if (fdt_open(&f, blob, len))
        return false;
    int root = fdt_root(&f);
    return root >= 0 && fdt_node_is_compatible(&f, root, CFG_COMPATIBLE);
}

u32 cfg_parse(struct config *cfg, const void *blob, size_t len, struct cfg_errlist *el)
{
    struct pctx p = { cfg, &cfg->fdt, el, 0 };
    memset(cfg, 0, sizeof(*cfg));
    int e = fdt_open(&cfg->fdt, blob, len);
    if (e) {
        char why[FDT_ERR_DETAIL + 64];
        fdt_format_open_error(&cfg->fdt, e, why, sizeof(why));
        perr(&p, -1, NULL, "not a valid device tree blob: %s", why);
        return p.errors;
    }
    int root = fdt_root(&cfg->fdt);
    if (root < 0) {
        perr(&p, -1, NULL, "device tree has no root node");
        return p.errors;
    }
    parse_root(&p, root);
    return p.errors;
}

u32 cfg_check(struct config *cfg, const void *blob, size_t len, const struct boot_info *bi,
              struct cfg_errlist *el)
{
    u32 n = cfg_parse(cfg, blob, len, el);
    if (cfg->fdt.blob)
        n += cfg_validate(cfg, bi, el);
    cfg_errlist_sort(el);
    return n;
}
