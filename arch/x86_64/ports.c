/* x86 port policy: the I/O ports the hypervisor or the platform needs are
 * entered in boot_info's reserved port list, which the configuration
 * validator (hv/config_check.c) refuses to grant. The same functions fill
 * the host checker's machine model (tools/bulkhead-config.c), so the checker
 * and the boot refuse the same fixed ports; FADT ports are only known at boot.
 *
 * Granting any of these would let a partition reach the whole machine:
 * reset it (0xcf9, 0x92, 0x64), read or write every device's PCI
 * configuration (0xcf8-0xcff), program the ISA DMA controllers to write
 * anywhere in physical memory, take over the interrupt controllers and
 * timers the hypervisor relies on, power the machine off (ACPI PM1), raise
 * SMIs (SMI_CMD), or write the hypervisor's own console. */
#include "ports.h"

struct fixed_port {
    u16 base, count;
    const char *what;
};

/* Most specific first: a grant is refused with the first entry it overlaps. */
static const struct fixed_port fixed[] = {
    { 0x0cf9, 1, "the reset control register (0xcf9)" },
    { 0x0092, 1, "the fast A20 and reset port (0x92)" },
    { 0x0064, 1, "the keyboard controller's command port, which resets the machine (0x64)" },
    { 0x0060, 1, "the keyboard controller's data port (0x60)" },
    { 0x0061, 1, "port B: NMI status and PIT gate (0x61)" },
    { 0x0cf8, 8, "PCI configuration space (0xcf8-0xcff)" },
    { 0x0020, 2, "the master PIC (0x20-0x21)" },
    { 0x00a0, 2, "the slave PIC (0xa0-0xa1)" },
    { 0x04d0, 2, "the PIC edge/level control registers (0x4d0-0x4d1)" },
    { 0x0040, 4, "the PIT (0x40-0x43)" },
    { 0x0070, 8, "the RTC/CMOS and NMI mask (0x70-0x77)" },
    { 0x0000, 0x20, "the ISA DMA controller 1 (0x00-0x1f), which writes physical memory" },
    { 0x0081, 0xf, "the ISA DMA page registers (0x81-0x8f)" },
    { 0x00c0, 0x20, "the ISA DMA controller 2 (0xc0-0xdf), which writes physical memory" },
};

void x86_reserve_ports(struct boot_info *bi, u32 console_port)
{
    /* Not ports, but the same kind of limit, shared with the host checker:
     * 4-level EPT gives partitions 48-bit guest-physical addresses, and the
     * interrupt controllers the hypervisor drives are never passed through. */
    bi->guest_phys_bits = 48;
    bi_add_reserved(bi, 0xfee00000, 0x1000, "the local APIC (the hypervisor's)");
    bi_add_reserved(bi, 0xfec00000, 0x1000, "the I/O APIC (the hypervisor's)");
    for (u32 i = 0; i < ARRAY_SIZE(fixed); i++)
        bi_add_reserved_ports(bi, fixed[i].base, fixed[i].count, fixed[i].what);
    if (console_port)
        bi_add_reserved_ports(bi, console_port, 8, "the hypervisor's console UART");
    /* Interrupts (GSIs, ISA identity) of the devices above: a partition
     * that cannot reach the device has no use for its line, and the
     * console's would let it see (and, level-programmed, hold off) the
     * hypervisor's own UART. */
    bi_add_reserved_irq(bi, 0, "the 8259 PICs' ExtINT input (the hypervisor keeps the PICs "
                               "masked)");
    bi_add_reserved_irq(bi, 1, "the keyboard controller's interrupt (the hypervisor keeps the "
                               "controller, it resets the machine)");
    bi_add_reserved_irq(bi, 2, "the PIT's interrupt (the hypervisor keeps the PIT)");
    if (console_port == 0x3f8)
        bi_add_reserved_irq(bi, 4, "the interrupt of the hypervisor's console UART (COM1)");
    bi_add_reserved_irq(bi, 8, "the RTC's interrupt (the hypervisor keeps the RTC/CMOS)");
    bi_add_reserved_irq(bi, 12, "the keyboard controller's mouse interrupt (the hypervisor keeps "
                                "the controller)");
}

static u32 rd32(const u8 *p)
{
    return (u32)p[0] | ((u32)p[1] << 8) | ((u32)p[2] << 16) | ((u32)p[3] << 24);
}

static u64 rd64(const u8 *p)
{
    return rd32(p) | ((u64)rd32(p + 4) << 32);
}

/* FADT (ACPI 6.x table 5.9): legacy 32-bit port blocks with their lengths,
 * their 64-bit Generic Address Structure twins (address space 1 = I/O),
 * SMI_CMD and the reset register. */
void x86_reserve_fadt_ports(struct boot_info *bi, const u8 *fadt, u32 len)
{
    static const struct {
        u16 legacy, len_off, gas;
        const char *what;
    } blocks[] = {
        { 56, 88, 148, "the ACPI PM1a event block (FADT)" },
        { 60, 88, 160, "the ACPI PM1b event block (FADT)" },
        { 64, 89, 172, "the ACPI PM1a control block, which powers the machine off (FADT)" },
        { 68, 89, 184, "the ACPI PM1b control block, which powers the machine off (FADT)" },
        { 72, 90, 196, "the ACPI PM2 control block (FADT)" },
        { 76, 91, 208, "the ACPI PM timer (FADT)" },
        { 80, 92, 220, "the ACPI GPE0 block (FADT)" },
        { 84, 93, 232, "the ACPI GPE1 block (FADT)" },
    };
    if (!fadt || len < 94)
        return;
    u32 sci = (u32)fadt[46] | ((u32)fadt[47] << 8);
    if (sci)
        bi_add_reserved_irq(bi, sci, "the ACPI SCI (FADT), whose registers the hypervisor keeps");
    u32 smi = rd32(fadt + 48);
    if (smi)
        bi_add_reserved_ports(bi, smi, 1, "the ACPI SMI command port (FADT)");
    for (u32 i = 0; i < ARRAY_SIZE(blocks); i++) {
        u32 base = rd32(fadt + blocks[i].legacy), n = fadt[blocks[i].len_off];
        if (base && n)
            bi_add_reserved_ports(bi, base, n, blocks[i].what);
        u32 g = blocks[i].gas;
        if (len >= g + 12 && fadt[g] == 1) {
            u64 a = rd64(fadt + g + 4);
            u32 w = fadt[g + 1] / 8;
            if (a && a <= 0xffff && (a != base || !n))
                bi_add_reserved_ports(bi, (u32)a, w ? w : (n ? n : 1), blocks[i].what);
        }
    }
    /* RESET_REG (GAS at 116), valid from FADT revision 2 (length >= 129). */
    if (len >= 129 && fadt[116] == 1) {
        u64 a = rd64(fadt + 120);
        if (a && a <= 0xffff)
            bi_add_reserved_ports(bi, (u32)a, 1, "the ACPI reset register (FADT)");
    }
}
