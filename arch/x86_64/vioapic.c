/* Virtual I/O APIC (see vioapic.h). Register layout from the Intel 82093AA
 * data sheet: IOREGSEL at 0x00, IOWIN at 0x10, EOI at 0x40; registers 0x00
 * ID, 0x01 version (max redirection entry in bits 23:16), 0x02 arbitration,
 * 0x10 + 2n / 0x11 + 2n redirection entry n (low / high dword). */
#include "vioapic.h"
#include "../../hv/string.h"

#define RTE_MASKED (1ULL << 16)
#define RTE_RO ((1ULL << 12) | (1ULL << 14)) /* delivery status, remote IRR */

void vioapic_reset(struct vioapic *io, u32 id)
{
    memset(io, 0, sizeof(*io));
    io->id = id;
    for (u32 i = 0; i < VIOAPIC_PINS; i++)
        io->redir[i] = RTE_MASKED;
}

static void deliver(struct vioapic *io, void *owner, u32 pin)
{
    u64 e = io->redir[pin];
    if (e & RTE_MASKED)
        return;
    u32 mode = (u32)(e >> 8) & 7;
    if (mode != 0 && mode != 1 && mode != 4)
        return; /* SMI, INIT, ExtINT and reserved modes are not delivered */
    x86_vioapic_deliver(owner, (u32)(e >> 56), e & (1ULL << 11), mode, (u32)e & 0xff);
}

void vioapic_set_irq(struct vioapic *io, void *owner, u32 pin, bool level)
{
    if (pin >= VIOAPIC_PINS)
        return;
    bool was = io->level & (1u << pin);
    if (level)
        io->level |= 1u << pin;
    else
        io->level &= ~(1u << pin);
    if (level && !was)
        deliver(io, owner, pin);
}

bool vioapic_mmio(struct vioapic *io, void *owner, u32 off, bool write, u32 *val)
{
    if (off & 3)
        return false;
    if (off == 0x00) {
        if (write)
            io->sel = *val & 0xff;
        else
            *val = io->sel;
        return true;
    }
    if (off == 0x40) { /* EOI register: nothing has remote IRR set */
        if (!write)
            *val = 0;
        return true;
    }
    if (off != 0x10) {
        if (!write)
            *val = 0;
        return true; /* other offsets: reads 0, writes ignored */
    }
    u32 r = io->sel;
    if (!write) {
        if (r == 0)
            *val = (io->id & 15) << 24;
        else if (r == 1)
            *val = ((VIOAPIC_PINS - 1) << 16) | 0x20;
        else if (r == 2)
            *val = (io->id & 15) << 24;
        else if (r >= 0x10 && r < 0x10 + 2 * VIOAPIC_PINS)
            *val = (r & 1) ? (u32)(io->redir[(r - 0x10) / 2] >> 32)
                           : (u32)io->redir[(r - 0x10) / 2];
        else
            *val = 0;
        return true;
    }
    if (r == 0) {
        io->id = (*val >> 24) & 15;
    } else if (r >= 0x10 && r < 0x10 + 2 * VIOAPIC_PINS) {
        u32 pin = (r - 0x10) / 2;
        u64 e = io->redir[pin];
        if (r & 1)
            e = (e & 0xffffffffULL) | ((u64)(*val & 0xff000000u) << 32);
        else
            e = (e & (0xffffffff00000000ULL | RTE_RO)) | ((u64)*val & 0x1ffffULL & ~RTE_RO);
        bool unmasked = (io->redir[pin] & RTE_MASKED) && !(e & RTE_MASKED);
        io->redir[pin] = e;
        /* an asserted pin that gets unmasked delivers (as if its edge came now) */
        if (unmasked && (io->level & (1u << pin)))
            deliver(io, owner, pin);
    }
    return true;
}
