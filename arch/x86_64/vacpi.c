/* ACPI tables for a partition (see vacpi.h). Layouts from the ACPI
 * specification 6.x: RSDP (5.2.5), system description header (5.2.6),
 * XSDT/RSDT (5.2.7-8), FADT (5.2.9), MADT (5.2.12), AML for Name/Package
 * (20.2). Pure byte building: no hypervisor state, host-testable. */
#include "vacpi.h"
#include "../../hv/string.h"

static void put16(u8 *p, u16 v) { p[0] = (u8)v; p[1] = (u8)(v >> 8); }
static void put32(u8 *p, u32 v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (u8)(v >> (8 * i));
}
static void put64(u8 *p, u64 v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (u8)(v >> (8 * i));
}

static u8 sum(const u8 *p, u32 n)
{
    u8 s = 0;
    while (n--)
        s = (u8)(s + *p++);
    return s;
}

/* The 36-byte header; the checksum is filled in by finish(). */
static void header(u8 *t, const char sig[4], u32 len, u8 rev)
{
    memcpy(t, sig, 4);
    put32(t + 4, len);
    t[8] = rev;
    memcpy(t + 10, "BLKHD ", 6);      /* OEM ID */
    memcpy(t + 16, "BULKHEAD", 8);    /* OEM table ID */
    put32(t + 24, 1);                 /* OEM revision */
    memcpy(t + 28, "BLKH", 4);        /* creator ID */
    put32(t + 32, 1);                 /* creator revision */
}

static void finish(u8 *t, u32 len)
{
    t[9] = 0;
    t[9] = (u8)(0x100 - sum(t, len));
}

/* Generic address structure: 8-bit system I/O register. */
static void gas_io8(u8 *g, u16 port)
{
    g[0] = 1;  /* system I/O */
    g[1] = 8;  /* bit width */
    g[2] = 0;  /* bit offset */
    g[3] = 1;  /* byte access */
    put64(g + 4, port);
}

u32 vacpi_build(u8 *buf, u32 cap, u64 gpa, u32 ncpus, bool ioapic)
{
    /* RSDP 36 (room 48) | XSDT 36+8*3 | RSDT 36+4*3 | MADT | FADT 276 | DSDT */
    u32 madt_len = 44 + 8 * ncpus + (ioapic ? 12 + 10 : 0);
    /* Name (_S5, Package () { 5, 5 }) and
     * Scope (\_SB) { Device (COM1) { Name (_HID, EisaId ("PNP0501"))
     *   Name (_CRS, ResourceTemplate () { IO (Decode16, 0x3f8, 0x3f8, 1, 8)
     *                                     IRQNoFlags () { 4 } }) } }
     * so that a kernel without legacy IRQs (hardware-reduced ACPI) finds the
     * 16550 with its interrupt through PnP. */
    static const u8 s5[] = {
        0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a, VACPI_S5_TYPE, 0x0a, VACPI_S5_TYPE,
        0x10, 0x2d, 0x5c, '_', 'S', 'B', '_',                      /* Scope (\_SB) */
        0x5b, 0x82, 0x25, 'C', 'O', 'M', '1',                      /* Device (COM1) */
        0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01,   /* EisaId PNP0501 */
        0x08, '_', 'C', 'R', 'S', 0x11, 0x10, 0x0a, 0x0d,          /* Buffer (13) */
        0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,            /* IO 0x3f8, 8 ports */
        0x22, 0x10, 0x00,                                          /* IRQ 4 */
        0x79, 0x00,                                                /* end tag */
    };
    u32 o_xsdt = 48, n = 2;
    u32 o_rsdt = o_xsdt + 36 + 8 * n;
    u32 o_madt = ALIGN_UP(o_rsdt + 36 + 4 * n, 16);
    u32 o_fadt = ALIGN_UP(o_madt + madt_len, 16);
    u32 o_dsdt = ALIGN_UP(o_fadt + 276, 16);
    u32 total = o_dsdt + 36 + (u32)sizeof(s5);
    if (total > cap || ncpus == 0 || ncpus > 255 || gpa + total > 0xffffffffULL)
        return 0;
    memset(buf, 0, total);

    u8 *t = buf + o_madt;
    header(t, "APIC", madt_len, 4);
    put32(t + 36, 0xfee00000u);   /* local APIC address */
    put32(t + 40, 1);             /* PCAT_COMPAT: a (masked) 8259 pair is present */
    u8 *e = t + 44;
    for (u32 i = 0; i < ncpus; i++, e += 8) {
        e[0] = 0;                 /* processor local APIC */
        e[1] = 8;
        e[2] = (u8)i;             /* ACPI processor UID */
        e[3] = (u8)i;             /* APIC ID */
        put32(e + 4, 1);          /* enabled */
    }
    if (ioapic) {
        e[0] = 1;                 /* I/O APIC */
        e[1] = 12;
        e[2] = (u8)ncpus;         /* its ID, after the CPUs' */
        put32(e + 4, (u32)VACPI_IOAPIC_BASE);
        put32(e + 8, 0);          /* GSI base */
        e += 12;
        e[0] = 2;                 /* interrupt source override: ISA IRQ 0 -> GSI 2 */
        e[1] = 10;
        e[2] = 0;
        e[3] = 0;
        put32(e + 4, 2);
        put16(e + 8, 0);
    }
    finish(t, madt_len);

    t = buf + o_dsdt;
    header(t, "DSDT", 36 + (u32)sizeof(s5), 2);
    memcpy(t + 36, s5, sizeof(s5));
    finish(t, 36 + (u32)sizeof(s5));

    t = buf + o_fadt;
    header(t, "FACP", 276, 6);
    put32(t + 40, (u32)(gpa + o_dsdt));  /* DSDT */
    t[108] = 0x32;                       /* CENTURY: CMOS byte */
    put16(t + 109, 1u << 2);             /* IAPC_BOOT_ARCH: no VGA (and no 8042) */
    put32(t + 112, (1u << 20) | (1u << 4)); /* HW_REDUCED_ACPI, PWR_BUTTON (none) */
    t[131] = 3;                          /* FADT minor version (6.3) */
    put64(t + 140, gpa + o_dsdt);        /* X_DSDT */
    gas_io8(t + 244, VACPI_SLEEP_CTL);
    gas_io8(t + 256, VACPI_SLEEP_STS);
    memcpy(t + 268, "Bulkhead", 8);      /* hypervisor vendor identity */
    finish(t, 276);

    t = buf + o_xsdt;
    header(t, "XSDT", 36 + 8 * n, 1);
    put64(t + 36, gpa + o_madt);
    put64(t + 44, gpa + o_fadt);
    finish(t, 36 + 8 * n);

    t = buf + o_rsdt;
    header(t, "RSDT", 36 + 4 * n, 1);
    put32(t + 36, (u32)(gpa + o_madt));
    put32(t + 40, (u32)(gpa + o_fadt));
    finish(t, 36 + 4 * n);

    u8 *r = buf;
    memcpy(r, "RSD PTR ", 8);
    memcpy(r + 9, "BLKHD ", 6);
    r[15] = 2;                          /* ACPI 2.0+ */
    put32(r + 16, (u32)(gpa + o_rsdt));
    put32(r + 20, 36);
    put64(r + 24, gpa + o_xsdt);
    r[8] = (u8)(0x100 - sum(r, 20));
    r[32] = (u8)(0x100 - sum(r, 36));
    return total;
}
