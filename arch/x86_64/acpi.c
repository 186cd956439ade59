/* ACPI: find the RSDP (from the multiboot2 tags, else the BIOS areas), walk
 * the RSDT/XSDT, read the MADT for the CPUs and the FADT + DSDT \_S5 object
 * for power-off. Every table is length- and checksum-checked before use. */
#include "x86.h"
#include "ports.h"
#include "passthru.h"
#include "../../hv/console.h"
#include "../../hv/format.h"
#include "../../hv/string.h"

struct sdt_hdr {
    char sig[4];
    u32 len;
    u8 rev;
    u8 csum;
    char oem[6];
    char oemtab[8];
    u32 oemrev;
    u32 creator;
    u32 creatorrev;
} __packed;

static u64 rsdp_phys;
static u8 rsdp_buf[36];
static u32 rsdp_len;

static struct boot_info *acpi_bi;
static bool fadt_parsed;

static struct {
    bool ok;
    u16 pm1a_cnt, pm1b_cnt;
    u16 slp_typa, slp_typb;
    u32 smi_cmd;
    u8 acpi_enable;
} s5;

u64 lapic_phys = 0xfee00000;

static u8 sum(const void *p, u32 len)
{
    const u8 *b = p;
    u8 s = 0;
    for (u32 i = 0; i < len; i++)
        s = (u8)(s + b[i]);
    return s;
}

/* maxlen: bytes readable at p (the copy in boot_info holds 36). */
static bool rsdp_valid(const u8 *p, u32 maxlen)
{
    if (maxlen < 20 || memcmp(p, "RSD PTR ", 8) != 0 || sum(p, 20) != 0)
        return false;
    if (p[15] >= 2) {
        u32 l = *(const u32 *)(p + 20);
        if (l < 36 || l > maxlen || sum(p, l) != 0)
            return false;
    }
    return true;
}

/* Must run while low memory is still mapped (before x86_paging_init). */
void x86_acpi_find_rsdp(struct boot_info *bi)
{
    acpi_bi = bi;
    if (bi->acpi_rsdp_len && rsdp_valid(bi->acpi_rsdp_copy, bi->acpi_rsdp_len)) {
        memcpy(rsdp_buf, bi->acpi_rsdp_copy, bi->acpi_rsdp_len);
        rsdp_len = bi->acpi_rsdp_len;
        rsdp_phys = bi->acpi_rsdp;
        return;
    }
    /* BIOS: first KiB of the EBDA, then 0xe0000-0xfffff, on 16-byte boundaries. */
    uintptr_t bda = 0x40e;
    __asm__("" : "+r"(bda)); /* a real physical address, not a bogus pointer */
    u64 ebda = (u64)(*(volatile u16 *)bda) << 4;
    u64 areas[2][2] = { { ebda, ebda + 1024 }, { 0xe0000, 0x100000 } };
    for (int a = 0; a < 2; a++) {
        if (areas[a][0] < 0x400 || areas[a][1] > 0x100000)
            continue;
        for (u64 p = areas[a][0]; p + 36 <= areas[a][1]; p += 16) {
            const u8 *q = (const u8 *)(uintptr_t)p;
            if (rsdp_valid(q, (u32)MIN(64, areas[a][1] - p))) {
                rsdp_len = q[15] >= 2 ? 36 : 20;
                memcpy(rsdp_buf, q, rsdp_len);
                rsdp_phys = p;
                bi->acpi_rsdp = p;
                return;
            }
        }
    }
}

static const struct sdt_hdr *table_at(u64 pa, const char *want)
{
    if (!x86_phys_mapped(pa, sizeof(struct sdt_hdr))) {
        printk("acpi: table at %#llx is outside mapped memory; ignored\n", (unsigned long long)pa);
        return NULL;
    }
    const struct sdt_hdr *h = (const struct sdt_hdr *)(uintptr_t)pa;
    if (want && memcmp(h->sig, want, 4) != 0)
        return NULL;
    if (h->len < sizeof(*h) || h->len > MiB(16) || !x86_phys_mapped(pa, h->len)) {
        printk("acpi: table %.4s at %#llx has a bad length %u; ignored\n", h->sig,
               (unsigned long long)pa, h->len);
        return NULL;
    }
    if (sum(h, h->len) != 0) {
        printk("acpi: table %.4s at %#llx has a bad checksum; ignored\n", h->sig,
               (unsigned long long)pa);
        return NULL;
    }
    return h;
}

static const struct sdt_hdr *find_table(const char *sig)
{
    if (!rsdp_len)
        return NULL;
    bool x = rsdp_buf[15] >= 2 && rsdp_len >= 36 && *(const u64 *)(rsdp_buf + 24);
    u64 root_pa = x ? *(const u64 *)(rsdp_buf + 24) : *(const u32 *)(rsdp_buf + 16);
    const struct sdt_hdr *root = table_at(root_pa, x ? "XSDT" : "RSDT");
    if (!root)
        return NULL;
    u32 esz = x ? 8 : 4;
    u32 n = (root->len - (u32)sizeof(*root)) / esz;
    const u8 *ents = (const u8 *)(root + 1);
    for (u32 i = 0; i < n; i++) {
        u64 pa = x ? *(const u64 *)(ents + i * 8) : *(const u32 *)(ents + i * 4);
        if (!x86_phys_mapped(pa, sizeof(struct sdt_hdr)))
            continue;
        const struct sdt_hdr *h = (const struct sdt_hdr *)(uintptr_t)pa;
        if (memcmp(h->sig, sig, 4) == 0)
            return table_at(pa, sig);
    }
    return NULL;
}

static void add_cpu(struct boot_info *bi, u32 apic_id, u32 bsp_id)
{
    if (apic_id == bsp_id)
        return; /* already entry 0 */
    for (u32 i = 0; i < bi->ncpus; i++)
        if (bi->cpus[i].hwid == apic_id)
            return;
    if (bi->ncpus >= BI_MAX_CPUS) {
        bi->cpus_ignored++;
        return;
    }
    bi->cpus[bi->ncpus++] = (struct cpu_desc){ .hwid = apic_id, .boot = false };
}

/* An I/O APIC entry: its inputs from its version register; its registers
 * are the hypervisor's (x86_reserve_ports reserves the usual page). */
static void add_ioapic(struct boot_info *bi, u32 id, u32 base, u32 gsi_base)
{
    if (base & 0xfff || !x86_phys_mapped(base, PAGE_SIZE)) {
        printk("acpi: I/O APIC %u at %#x is not a mapped page address; ignored\n", id, base);
        return;
    }
    u32 n = x86_ioapic_pins(base);
    if (!n || !bi_add_ioapic(bi, base, id, gsi_base, n)) {
        printk("acpi: I/O APIC %u at %#x: %s; its interrupts cannot be passed through\n", id,
               base, n ? "too many I/O APICs" : "no answer from its version register");
        return;
    }
    if (base != 0xfec00000u)
        bi_add_reserved(bi, base, PAGE_SIZE, "an I/O APIC (the hypervisor's)");
}

static void parse_madt(struct boot_info *bi, u32 bsp_id)
{
    const struct sdt_hdr *m = find_table("APIC");
    if (!m || m->len < 44) {
        printk("acpi: no usable MADT; only the boot CPU will run\n");
        return;
    }
    const u8 *base = (const u8 *)m;
    lapic_phys = *(const u32 *)(base + 36);
    for (u32 off = 44; off + 2 <= m->len;) {
        u8 type = base[off], len = base[off + 1];
        if (len < 2 || off + len > m->len) {
            printk("acpi: MADT entry at offset %u has a bad length %u; rest ignored\n", off, len);
            break;
        }
        const u8 *e = base + off;
        if (type == 0 && len >= 8) {
            u32 flags = *(const u32 *)(e + 4);
            if (flags & 1)
                add_cpu(bi, e[3], bsp_id);
        } else if (type == 9 && len >= 16) {
            u32 id = *(const u32 *)(e + 4);
            u32 flags = *(const u32 *)(e + 8);
            if (flags & 1)
                add_cpu(bi, id, bsp_id);
        } else if (type == 1 && len >= 12) {
            add_ioapic(bi, e[2], *(const u32 *)(e + 4), *(const u32 *)(e + 8));
        } else if (type == 5 && len >= 12) {
            lapic_phys = *(const u64 *)(e + 4);
        }
        off += len;
    }
}

/* Decode one AML integer element of a package; returns bytes used or 0. */
static u32 aml_int(const u8 *p, const u8 *end, u16 *out)
{
    if (p >= end)
        return 0;
    switch (p[0]) {
    case 0x00: *out = 0; return 1;
    case 0x01: *out = 1; return 1;
    case 0xff: *out = 0xff; return 1;
    case 0x0a:
        if (p + 2 > end)
            return 0;
        *out = p[1];
        return 2;
    case 0x0b:
        if (p + 3 > end)
            return 0;
        *out = (u16)(p[1] | (p[2] << 8));
        return 3;
    default:
        *out = p[0];
        return 1;
    }
}

static void parse_fadt(void)
{
    fadt_parsed = true;
    const struct sdt_hdr *f = find_table("FACP");
    if (!f || f->len < 116) {
        printk("acpi: no usable FADT; power-off falls back to halt\n");
        return;
    }
    const u8 *b = (const u8 *)f;
    if (acpi_bi)
        x86_reserve_fadt_ports(acpi_bi, b, f->len);
    u64 dsdt = *(const u32 *)(b + 40);
    if (f->len >= 148 && *(const u64 *)(b + 140))
        dsdt = *(const u64 *)(b + 140);
    s5.smi_cmd = *(const u32 *)(b + 48);
    s5.acpi_enable = b[52];
    u32 pm1a = *(const u32 *)(b + 64), pm1b = *(const u32 *)(b + 68);
    if (f->len >= 184 && b[172] == 1 && *(const u64 *)(b + 176))
        pm1a = (u32) * (const u64 *)(b + 176);
    s5.pm1a_cnt = (u16)pm1a;
    s5.pm1b_cnt = (u16)pm1b;
    const struct sdt_hdr *d = table_at(dsdt, "DSDT");
    if (!d || !s5.pm1a_cnt) {
        printk("acpi: no DSDT or PM1 control block; power-off falls back to halt\n");
        return;
    }
    const u8 *p = (const u8 *)(d + 1), *end = (const u8 *)d + d->len;
    for (; p + 5 < end; p++) {
        if (memcmp(p, "_S5_", 4) != 0 || p[4] != 0x12)
            continue;
        const u8 *q = p + 5;
        u32 lead = q[0] >> 6; /* PkgLength: 1 + lead following bytes */
        q += 1 + lead;
        if (q >= end)
            break;
        q++; /* NumElements */
        u16 a, bb = 0;
        u32 n = aml_int(q, end, &a);
        if (!n)
            break;
        if (!aml_int(q + n, end, &bb))
            bb = 0;
        s5.slp_typa = a & 7;
        s5.slp_typb = bb & 7;
        s5.ok = true;
        return;
    }
    printk("acpi: DSDT has no \\_S5 object; power-off falls back to halt\n");
}

bool x86_acpi_init(struct boot_info *bi, char *err, size_t errlen)
{
    u32 a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    u32 bsp_id = b >> 24;
    u64 apic_base = rdmsr(MSR_APIC_BASE);
    if (apic_base & (1u << 10)) { /* x2APIC mode: full 32-bit ID */
        cpuid(0xb, 0, &a, &b, &c, &d);
        bsp_id = d;
    }
    bi->ncpus = 1;
    bi->cpus[0] = (struct cpu_desc){ .hwid = bsp_id, .boot = true };
    if (!rsdp_len) {
        printk("acpi: no RSDP found; only the boot CPU will run and power-off will halt\n");
        return true;
    }
    printk("acpi: RSDP revision %u at %#llx\n", rsdp_buf[15], (unsigned long long)rsdp_phys);
    parse_madt(bi, bsp_id);
    parse_fadt();
    (void)err;
    (void)errlen;
    return true;
}

u64 x86_lapic_base(void)
{
    return lapic_phys;
}

void x86_acpi_early(struct boot_info *bi)
{
    acpi_bi = bi;
}

void x86_acpi_poweroff(void)
{
    /* Boot may stop before the platform was set up: read the FADT now. */
    if (!fadt_parsed && acpi_bi) {
        if (!rsdp_len)
            x86_acpi_find_rsdp(acpi_bi);
        parse_fadt();
    }
    if (!s5.ok)
        return;
    if (!(inw(s5.pm1a_cnt) & 1) && s5.smi_cmd && s5.acpi_enable) {
        outb((u16)s5.smi_cmd, s5.acpi_enable);
        for (int i = 0; i < 300 && !(inw(s5.pm1a_cnt) & 1); i++)
            arch_udelay(1000);
    }
    outw(s5.pm1a_cnt, (u16)((s5.slp_typa << 10) | (1u << 13)));
    if (s5.pm1b_cnt)
        outw(s5.pm1b_cnt, (u16)((s5.slp_typb << 10) | (1u << 13)));
    arch_udelay(100000);
}
