/* The virtual I/O APIC (arch/x86_64/vioapic.c) on the host: edge pins
 * deliver per rising edge; level pins deliver once and set remote IRR until
 * the EOI of their vector (LAPIC EOI broadcast or the EOI register), then
 * deliver again only while still asserted; a masked pin holds its level
 * and delivers when unmasked; switching to edge clears remote IRR; a
 * pass-through pin reports every change of its entry to the host side
 * (masked there from the interrupt to the EOI) and counts as deasserted
 * after the EOI until the host interrupts again. */
#include "check.h"
#include "../../arch/x86_64/vioapic.h"

static u32 deliveries, last_vec;
static bool last_level;
static u32 syncs;
static u64 sync_rte;
static bool sync_asserted;

void x86_vioapic_deliver(void *owner, u32 dest, bool logical, u32 mode, u32 vector, bool level)
{
    (void)owner;
    (void)dest;
    (void)logical;
    (void)mode;
    deliveries++;
    last_vec = vector;
    last_level = level;
}

void x86_vioapic_passthru_sync(void *owner, u32 pin, u64 rte, bool asserted)
{
    (void)owner;
    (void)pin;
    syncs++;
    sync_rte = rte;
    sync_asserted = asserted;
}

static struct vioapic io;

static void wr(u32 reg, u32 val)
{
    u32 v = reg;
    CHECK(vioapic_mmio(&io, NULL, 0x00, true, &v));
    v = val;
    CHECK(vioapic_mmio(&io, NULL, 0x10, true, &v));
}

static u32 rd(u32 reg)
{
    u32 v = reg;
    vioapic_mmio(&io, NULL, 0x00, true, &v);
    vioapic_mmio(&io, NULL, 0x10, false, &v);
    return v;
}

#define RIRR (1u << 14)

static void edge_pins(void)
{
    vioapic_reset(&io, 0);
    deliveries = 0;
    CHECK(rd(0x10 + 2 * 5) & (1u << 16)); /* starts masked */
    wr(0x10 + 2 * 5, 0x35);               /* edge, unmasked */
    vioapic_set_irq(&io, NULL, 5, true);
    vioapic_set_irq(&io, NULL, 5, true);  /* no new edge */
    CHECK_EQ(deliveries, 1);
    CHECK(!last_level);
    vioapic_set_irq(&io, NULL, 5, false);
    vioapic_set_irq(&io, NULL, 5, true);
    CHECK_EQ(deliveries, 2);
    CHECK(!(rd(0x10 + 2 * 5) & RIRR));
    /* masked: the edge is held as a level and delivered on unmask */
    vioapic_set_irq(&io, NULL, 5, false);
    wr(0x10 + 2 * 5, 0x10035);
    vioapic_set_irq(&io, NULL, 5, true);
    CHECK_EQ(deliveries, 2);
    wr(0x10 + 2 * 5, 0x35);
    CHECK_EQ(deliveries, 3);
}

static void level_pins(void)
{
    vioapic_reset(&io, 0);
    deliveries = 0;
    wr(0x10 + 2 * 9, 0x8041); /* level, active high, vector 0x41 */
    vioapic_set_irq(&io, NULL, 9, true);
    CHECK_EQ(deliveries, 1);
    CHECK(last_level);
    CHECK_EQ(last_vec, 0x41);
    CHECK(rd(0x10 + 2 * 9) & RIRR);
    /* asserted and not EOIed: no storm, whatever else happens */
    vioapic_set_irq(&io, NULL, 9, true);
    wr(0x10 + 2 * 9, 0x8041);
    CHECK_EQ(deliveries, 1);
    /* EOI of another vector: nothing */
    CHECK_EQ(vioapic_eoi(&io, NULL, 0x42), 0);
    CHECK(rd(0x10 + 2 * 9) & RIRR);
    /* EOI while still asserted: delivered again */
    CHECK_EQ(vioapic_eoi(&io, NULL, 0x41), 1u << 9);
    CHECK_EQ(deliveries, 2);
    CHECK(rd(0x10 + 2 * 9) & RIRR);
    /* deasserted, then the EOI register: remote IRR clears, no delivery */
    vioapic_set_irq(&io, NULL, 9, false);
    u32 v = 0x41;
    CHECK(vioapic_mmio(&io, NULL, 0x40, true, &v));
    CHECK(!(rd(0x10 + 2 * 9) & RIRR));
    CHECK_EQ(deliveries, 2);
    /* the guest cannot write remote IRR */
    wr(0x10 + 2 * 9, 0x8041 | RIRR);
    CHECK(!(rd(0x10 + 2 * 9) & RIRR));
    /* masked while asserted: delivered on unmask; switching to edge clears RIRR */
    wr(0x10 + 2 * 9, 0x18041);
    vioapic_set_irq(&io, NULL, 9, true);
    CHECK_EQ(deliveries, 2);
    wr(0x10 + 2 * 9, 0x8041);
    CHECK_EQ(deliveries, 3);
    CHECK(rd(0x10 + 2 * 9) & RIRR);
    wr(0x10 + 2 * 9, 0x0041);
    CHECK(!(rd(0x10 + 2 * 9) & RIRR));
}

static void passthru_pin(void)
{
    vioapic_reset(&io, 0);
    io.passthru = 1u << 3;
    deliveries = syncs = 0;
    wr(0x11 + 2 * 3, 0x01000000);
    wr(0x10 + 2 * 3, 0x8053); /* level, unmasked */
    CHECK(syncs >= 2);
    CHECK_EQ((u32)(sync_rte >> 56), 1);
    CHECK(!(sync_rte & (1u << 16)) && !sync_asserted);
    /* the host interrupt: asserted, delivered, remote IRR reported */
    vioapic_set_irq(&io, NULL, 3, true);
    CHECK_EQ(deliveries, 1);
    CHECK(sync_asserted && (sync_rte & RIRR));
    /* the EOI: deasserted (the host pin, unmasked, tells if it still is) */
    u32 before = syncs;
    vioapic_eoi(&io, NULL, 0x53);
    CHECK(syncs > before);
    CHECK(!sync_asserted && !(sync_rte & RIRR));
    CHECK_EQ(deliveries, 1);
    /* an emulated pin (not pass-through) reports nothing */
    before = syncs;
    wr(0x10 + 2 * 4, 0x45);
    vioapic_set_irq(&io, NULL, 4, true);
    CHECK_EQ(syncs, before);
}

int main(void)
{
    RUN(edge_pins);
    RUN(level_pins);
    RUN(passthru_pin);
    return CHECK_DONE();
}
