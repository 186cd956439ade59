/* The ACPI tables built for x86 partitions (vacpi.c) and the masked 8259
 * pair (vpic.c): checksums, pointers between the tables at the guest address
 * they are built for, the MADT's CPUs, the FADT's fixed offsets, the _S5 AML,
 * and the refusals (too small a buffer, no CPUs). */
#include "check.h"
#include "../../arch/x86_64/vacpi.h"
#include "../../arch/x86_64/vpic.h"

static u8 buf[VACPI_MAX];

static u8 sum(const u8 *p, u32 n)
{
    u8 s = 0;
    while (n--)
        s = (u8)(s + *p++);
    return s;
}
static u32 rd32(const u8 *p) { return p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24; }
static u64 rd64(const u8 *p) { return rd32(p) | (u64)rd32(p + 4) << 32; }

/* A table at guest address a, as a pointer into buf. */
static const u8 *at(u64 gpa, u64 a)
{
    CHECK(a >= gpa && a < gpa + VACPI_MAX);
    return buf + (a - gpa);
}

static void tables_for(u32 ncpus, bool ioapic)
{
    const u64 gpa = VACPI_BASE;
    u32 n = vacpi_build(buf, sizeof(buf), gpa, ncpus, ioapic);
    CHECK(n > 0 && n <= VACPI_MAX);
    CHECK(!memcmp(buf, "RSD PTR ", 8));
    CHECK_EQ(sum(buf, 20), 0);
    CHECK_EQ(sum(buf, 36), 0);
    CHECK_EQ(buf[15], 2);
    CHECK_EQ(rd32(buf + 20), 36);
    const u8 *x = at(gpa, rd64(buf + 24));
    CHECK(!memcmp(x, "XSDT", 4));
    CHECK_EQ(sum(x, rd32(x + 4)), 0);
    CHECK_EQ(rd32(x + 4), 36 + 16);
    const u8 *r = at(gpa, rd32(buf + 16));
    CHECK(!memcmp(r, "RSDT", 4));
    CHECK_EQ(sum(r, rd32(r + 4)), 0);
    const u8 *madt = at(gpa, rd64(x + 36)), *fadt = at(gpa, rd64(x + 44));
    CHECK_EQ(rd32(r + 36), rd64(x + 36));
    CHECK_EQ(rd32(r + 40), rd64(x + 44));
    CHECK(!memcmp(madt, "APIC", 4));
    CHECK_EQ(sum(madt, rd32(madt + 4)), 0);
    CHECK_EQ(rd32(madt + 36), 0xfee00000u);
    u32 cpus = 0, ioapics = 0;
    for (u32 off = 44; off < rd32(madt + 4); off += madt[off + 1]) {
        if (madt[off] == 0) {
            CHECK_EQ(madt[off + 3], cpus); /* APIC IDs 0, 1, ... */
            CHECK_EQ(rd32(madt + off + 4), 1);
            cpus++;
        } else if (madt[off] == 1) {
            CHECK_EQ(rd32(madt + off + 4), VACPI_IOAPIC_BASE);
            ioapics++;
        }
        if (!madt[off + 1])
            break;
    }
    CHECK_EQ(cpus, ncpus);
    CHECK_EQ(ioapics, ioapic ? 1 : 0);
    CHECK(!memcmp(fadt, "FACP", 4));
    CHECK_EQ(rd32(fadt + 4), 276);
    CHECK_EQ(sum(fadt, 276), 0);
    CHECK(rd32(fadt + 112) & (1u << 20));       /* HW_REDUCED_ACPI */
    CHECK_EQ(fadt[244], 1);                      /* sleep control: system I/O */
    CHECK_EQ(rd64(fadt + 248), VACPI_SLEEP_CTL);
    CHECK_EQ(rd64(fadt + 260), VACPI_SLEEP_STS);
    const u8 *d = at(gpa, rd64(fadt + 140));
    CHECK_EQ(rd32(fadt + 40), rd64(fadt + 140));
    CHECK(!memcmp(d, "DSDT", 4));
    CHECK_EQ(sum(d, rd32(d + 4)), 0);
    static const u8 s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a, 5, 0x0a, 5 };
    CHECK_EQ(rd32(d + 4), 36 + sizeof(s5) + 46);
    CHECK(!memcmp(d + 36, s5, sizeof(s5)));
    /* Scope (\_SB) holding Device (COM1): the package lengths add up */
    const u8 *sc = d + 36 + sizeof(s5);
    CHECK_EQ(sc[0], 0x10);
    CHECK_EQ(1 + sc[1], 46);
    CHECK(!memcmp(sc + 2, "\\_SB_", 5));
    CHECK(sc[7] == 0x5b && sc[8] == 0x82);
    CHECK_EQ(2 + sc[9], 46 - 7);
    CHECK(!memcmp(sc + 10, "COM1", 4));
    CHECK(!memcmp(sc + 14, "\x08_HID\x0c\x41\xd0\x05\x01", 10));
    const u8 *crs = sc + 24;
    CHECK(!memcmp(crs, "\x08_CRS\x11", 6));
    CHECK_EQ(crs[6], 1 + 2 + 13); /* PkgLength covers itself, the size and the data */
    CHECK_EQ(crs[8], 13);
    CHECK_EQ(crs[9 + 11], 0x79); /* end tag after the IO and IRQ descriptors */
}

static void one_cpu(void) { tables_for(1, false); }
static void two_cpus(void) { tables_for(2, false); }
static void many_cpus_with_ioapic(void) { tables_for(64, true); }
static void two_cpus_with_ioapic(void) { tables_for(2, true); }

static void refusals(void)
{
    CHECK_EQ(vacpi_build(buf, 100, VACPI_BASE, 2, false), 0);
    CHECK_EQ(vacpi_build(buf, sizeof(buf), VACPI_BASE, 0, false), 0);
    CHECK_EQ(vacpi_build(buf, sizeof(buf), 0xfffffff0ULL, 1, false), 0);
}

static void pic(void)
{
    struct vpic p;
    vpic_reset(&p);
    CHECK_EQ(vpic_io(&p, 0x21, true, 0), 0xff);
    CHECK_EQ(vpic_io(&p, 0xa1, true, 0), 0xff);
    vpic_io(&p, 0x20, false, 0x11); /* ICW1 with ICW4: clears the mask */
    CHECK_EQ(vpic_io(&p, 0x21, true, 0), 0);
    vpic_io(&p, 0x21, false, 0x20); /* ICW2 */
    vpic_io(&p, 0x21, false, 0x04); /* ICW3 */
    vpic_io(&p, 0x21, false, 0x01); /* ICW4 */
    CHECK_EQ(p.vector[0], 0x20);
    vpic_io(&p, 0x21, false, 0xfb); /* OCW1 */
    CHECK_EQ(vpic_io(&p, 0x21, true, 0), 0xfb);
    CHECK_EQ(vpic_io(&p, 0x20, true, 0), 0); /* nothing ever pending */
    vpic_io(&p, 0xa0, false, 0x10); /* ICW1 without ICW4 */
    vpic_io(&p, 0xa1, false, 0x28);
    vpic_io(&p, 0xa1, false, 0x02);
    vpic_io(&p, 0xa1, false, 0xff); /* already OCW1 */
    CHECK_EQ(vpic_io(&p, 0xa1, true, 0), 0xff);
}

int main(void)
{
    RUN(one_cpu);
    RUN(two_cpus);
    RUN(many_cpus_with_ioapic);
    RUN(two_cpus_with_ioapic);
    RUN(refusals);
    RUN(pic);
    return CHECK_DONE();
}
