/* Virtual I/O APIC (see vioapic.h). Register layout from the Intel 82093AA
 * data sheet and the version-0x20 I/O APICs: IOREGSEL at 0x00, IOWIN at
 * 0x10, EOI at 0x40; registers 0x00 ID, 0x01 version (max redirection entry
 * in bits 23:16), 0x02 arbitration, 0x10 + 2n / 0x11 + 2n redirection entry
 * n (low / high dword). */
#include "vioapic.h"
#include "../../hv/string.h"

#define RTE_MASKED (1ULL << 16)
#define RTE_LEVEL (1ULL << 15)
#define RTE_RIRR (1ULL << 14)
#define RTE_RO ((1ULL << 12) | RTE_RIRR) /* delivery status, remote IRR */

void vioapic_reset(struct vioapic *io, u32 id)
{
    memset(io, 0, sizeof(*io));
    io->id = id;
    for (u32 i = 0; i < VIOAPIC_PINS; i++)
        io->redir[i] = RTE_MASKED;
}

/* A pass-through pin's entry or state changed: the host pin follows. */
static void sync(struct vioapic *io, void *owner, u32 pin)
{
    if (io->passthru & (1u << pin))
        x86_vioapic_passthru_sync(owner, pin, io->redir[pin], io->level & (1u << pin));
}

static void deliver(struct vioapic *io, void *owner, u32 pin)
{
    u64 e = io->redir[pin];
    if (e & RTE_MASKED)
        return;
    u32 mode = (u32)(e >> 8) & 7;
    if (mode != 0 && mode != 1 && mode != 4)
        return; /* SMI, INIT, ExtINT and reserved modes are not delivered */
    /* Level-triggered fixed/lowest-priority: one delivery until the EOI
     * of its vector clears remote IRR (NMI is edge whatever the entry says). */
    bool level = (e & RTE_LEVEL) && mode != 4;
    if (level) {
        if (e & RTE_RIRR)
            return;
        io->redir[pin] = e | RTE_RIRR;
        io->delivered++;
    }
    x86_vioapic_deliver(owner, (u32)(e >> 56), e & (1ULL << 11), mode, (u32)e & 0xff, level);
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
    /* Edge: a rising edge delivers. Level: an asserted line delivers unless
     * remote IRR says the last delivery is not EOIed yet. */
    if (level && (!was || (io->redir[pin] & RTE_LEVEL)))
        deliver(io, owner, pin);
    sync(io, owner, pin);
}

u32 vioapic_eoi(struct vioapic *io, void *owner, u32 vector)
{
    u32 hit = 0;
    for (u32 pin = 0; pin < VIOAPIC_PINS; pin++) {
        u64 e = io->redir[pin];
        if (!(e & RTE_LEVEL) || !(e & RTE_RIRR) || (e & 0xff) != (vector & 0xff))
            continue;
        io->redir[pin] = e & ~RTE_RIRR;
        hit |= 1u << pin;
        if (io->passthru & (1u << pin))
            /* The host pin, unmasked again by sync, tells whether the
             * device still holds its line: it interrupts again if so. */
            io->level &= ~(1u << pin);
        else if (io->level & (1u << pin))
            deliver(io, owner, pin); /* still asserted: deliver again */
        sync(io, owner, pin);
    }
    return hit;
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
    if (off == 0x40) { /* EOI register (version 0x20): clears remote IRR of that vector */
        if (write)
            vioapic_eoi(io, owner, *val & 0xff);
        else
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
        if (!(e & RTE_LEVEL)) {
            e &= ~RTE_RIRR; /* edge: nothing awaits an EOI */
            if (io->passthru & (1u << pin))
                io->level &= ~(1u << pin); /* no host line state is kept for edge pins */
        }
        bool unmasked = (io->redir[pin] & RTE_MASKED) && !(e & RTE_MASKED);
        io->redir[pin] = e;
        /* An asserted pin that gets unmasked delivers (as if its edge came
         * now); an asserted level pin delivers whenever remote IRR is clear. */
        if ((io->level & (1u << pin)) && (unmasked || (e & RTE_LEVEL)))
            deliver(io, owner, pin);
        sync(io, owner, pin);
    }
    return true;
}
