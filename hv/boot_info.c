#include "boot_info.h"
#include "format.h"
#include "string.h"

bool bi_add_reserved(struct boot_info *bi, u64 base, u64 size, const char *what)
{
    if (bi->nrsv >= BI_MAX_RSV)
        return false;
    bi->rsv[bi->nrsv++] = (struct mem_range){ base, size, MEM_RESERVED, what };
    return true;
}

bool bi_add_reserved_ports(struct boot_info *bi, u32 base, u32 count, const char *what)
{
    if (bi->nports_rsv >= BI_MAX_PORT_RSV || count == 0 || base > 0xffff || count > 0x10000 - base)
        return false;
    bi->ports_rsv[bi->nports_rsv++] = (struct port_range){ base, count, what };
    return true;
}

bool bi_add_mem(struct boot_info *bi, u64 base, u64 size, u32 type)
{
    if (bi->nmem >= BI_MAX_MEM)
        return false;
    bi->mem[bi->nmem++] = (struct mem_range){ base, size, type, NULL };
    return true;
}

bool bi_add_ioapic(struct boot_info *bi, u64 base, u32 id, u32 gsi_base, u32 npins)
{
    if (bi->nioapics >= BI_MAX_IOAPICS || npins == 0)
        return false;
    bi->ioapics[bi->nioapics++] = (struct ioapic_desc){ base, id, gsi_base, npins };
    return true;
}

const struct ioapic_desc *bi_ioapic_of(const struct boot_info *bi, u32 gsi)
{
    for (u32 i = 0; i < bi->nioapics; i++)
        if (gsi >= bi->ioapics[i].gsi_base && gsi - bi->ioapics[i].gsi_base < bi->ioapics[i].npins)
            return &bi->ioapics[i];
    return NULL;
}

bool bi_add_reserved_irq(struct boot_info *bi, u32 irq, const char *what)
{
    if (bi->nirq_rsv >= BI_MAX_IRQ_RSV)
        return false;
    bi->irq_rsv[bi->nirq_rsv++] = (struct irq_rsv){ irq, what };
    return true;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

enum bi_mod_err bi_add_module(struct boot_info *bi, u64 base, u64 size, const char *str, size_t len)
{
    if (bi->nmod >= BI_MAX_MODULES)
        return BI_MOD_FULL;
    size_t i = 0;
    while (i < len && str[i] && is_space(str[i]))
        i++;
    size_t start = i;
    while (i < len && str[i] && !is_space(str[i]))
        i++;
    size_t nlen = i - start;
    if (nlen == 0)
        return BI_MOD_NONAME;
    if (nlen >= BI_NAME_MAX)
        return BI_MOD_NAMELONG;
    struct boot_module *m = &bi->mod[bi->nmod];
    memset(m, 0, sizeof(*m));
    memcpy(m->name, str + start, nlen);
    while (i < len && str[i] && is_space(str[i]))
        i++;
    size_t alen = 0;
    while (i + alen < len && str[i + alen])
        alen++;
    while (alen && is_space(str[i + alen - 1]))
        alen--;
    if (alen >= sizeof(m->args))
        alen = sizeof(m->args) - 1;
    memcpy(m->args, str + i, alen);
    m->base = base;
    m->size = size;
    bi->nmod++;
    return BI_MOD_OK;
}

const struct boot_module *bi_find_module(const struct boot_info *bi, const char *name)
{
    for (u32 i = 0; i < bi->nmod; i++)
        if (strcmp(bi->mod[i].name, name) == 0)
            return &bi->mod[i];
    return NULL;
}

bool bi_check(const struct boot_info *bi, char *err, size_t errlen)
{
    if (bi->nmod == 0) {
        bh_snprintf(err, errlen,
                    "no boot modules: load the partition configuration with the boot loader "
                    "(GRUB: module2 /boot/partitions.dtb config)");
        return false;
    }
    for (u32 i = 0; i < bi->nmod; i++)
        for (u32 j = i + 1; j < bi->nmod; j++)
            if (strcmp(bi->mod[i].name, bi->mod[j].name) == 0) {
                bh_snprintf(err, errlen,
                            "module name '%s' is used twice (modules %u and %u); each module "
                            "needs a unique name",
                            bi->mod[i].name, i + 1, j + 1);
                return false;
            }
    if (bi_usable_bytes(bi) == 0) {
        bh_snprintf(err, errlen, "no usable memory in the boot loader's memory map");
        return false;
    }
    return true;
}

u64 bi_usable_bytes(const struct boot_info *bi)
{
    u64 total = 0;
    for (u32 i = 0; i < bi->nmem; i++)
        if (bi->mem[i].type == MEM_USABLE)
            total += bi->mem[i].size;
    return total;
}

bool bi_cmdline_get(const char *cmdline, const char *key, char *val, size_t vallen)
{
    size_t klen = strlen(key);
    const char *p = cmdline;
    while (*p) {
        while (*p && is_space(*p))
            p++;
        const char *w = p;
        while (*p && !is_space(*p))
            p++;
        size_t wlen = (size_t)(p - w);
        if (wlen >= klen && strncmp(w, key, klen) == 0 && (wlen == klen || w[klen] == '=')) {
            if (val && vallen) {
                size_t vl = wlen > klen ? wlen - klen - 1 : 0;
                if (vl >= vallen)
                    vl = vallen - 1;
                memcpy(val, w + klen + (wlen > klen ? 1 : 0), vl);
                val[vl] = 0;
            }
            return true;
        }
    }
    return false;
}

u64 bi_cmdline_u64(const struct boot_info *bi, const char *key, u64 dflt)
{
    char v[24];
    u64 r;
    if (bi && bi_cmdline_get(bi->cmdline, key, v, sizeof(v)) && bh_parse_u64(v, strlen(v), &r))
        return r;
    return dflt;
}
