/* irq: the partition's virtual GICv3 and EL1 virtual timer on two vCPUs.
 * Each vCPU takes its virtual timer (PPI 27) at hz= per second until it has
 * counted ticks= of them, waiting in WFI in between; the measured rate must
 * be within a factor of two of hz. Then SGIs go both ways (sgis= each, one
 * at a time so none can merge) and are counted. Pending and active state is
 * read back through the redistributor (an SGI pending while IRQs are masked,
 * active inside its handler, neither after EOI) and the distributor (an SPI
 * routed to vCPU 1 pending while disabled, cleared by ICPENDR, taken once
 * enabled, active in vCPU 1's handler). Last, 8 SGIs and 4 SPIs are made
 * pending at once on vCPU 0 (more than the list registers hold) and each
 * must be taken exactly once. With soak_ms=N both vCPUs then wait N ms more
 * with the timer of vCPU 0 running. Every interrupt a vCPU did not ask for
 * (an INTID outside what this test sends to that vCPU, or anything but the
 * timer during the soak) is counted and must not come: a neighbour that
 * fuzzes its own GIC must not reach this partition. Ends with SYSTEM_OFF. */
#include "guest.h"

#define MAXV 2
#define SPI_ROUTED 40
#define SPI_CLEARED 41
#define SPI_FLOOD 42 /* 42..45 */

static volatile uint64_t ticks[MAXV], sgi_count[MAXV][16], spi_count[96];
static volatile uint32_t active_in_handler[96], pending_in_handler[96];
static volatile uint64_t t_first[MAXV], t_last[MAXV];
static volatile uint32_t timer_on[MAXV], v1_ready, v1_go_sgis, done, soaking;
static volatile uint64_t unexpected, last_unexpected;
static uint64_t period, want_ticks, want_sgis;
static uint32_t failed;

static uint32_t me(void)
{
    uint64_t m;
    __asm__ volatile("mrs %0, mpidr_el1" : "=r"(m));
    return (uint32_t)m & 0xff;
}

static void check(const char *what, uint64_t got, uint64_t want)
{
    if (got != want)
        failed++;
    gprintf("irq: %s %s = %lu\n", got == want ? "ok  " : "FAIL", what, got);
}

static volatile uint64_t deadline[MAXV];

/* Absolute deadlines one period apart, so handling latency does not add up
 * (a late tick is taken at once and the next keeps the schedule). */
static void timer_arm(void)
{
    uint32_t v = me() & 1;
    deadline[v] = (deadline[v] ? deadline[v] : counter()) + period;
    __asm__ volatile("msr cntv_cval_el0, %0; msr cntv_ctl_el0, %1; isb" ::"r"(deadline[v]),
                     "r"((uint64_t)1)
                     : "memory");
}

static void timer_stop(void)
{
    __asm__ volatile("msr cntv_ctl_el0, %0; isb" ::"r"((uint64_t)0) : "memory");
}

static bool bit_of(uint64_t reg, uint32_t n)
{
    return (mmio_r32(reg) >> n) & 1;
}

/* What this test makes pending on each vCPU: the timer; SGIs 2, 3, 4-11
 * and SPIs 42-45 on vCPU 0; SGIs 1, 5, 6 and SPI 40 on vCPU 1. */
static bool asked_for(uint32_t v, uint32_t intid)
{
    if (intid == 27)
        return true;
    if (soaking)
        return false;
    if (v == 0)
        return (intid >= 2 && intid <= 11) || (intid >= SPI_FLOOD && intid < SPI_FLOOD + 4);
    return intid == 1 || intid == 5 || intid == 6 || intid == SPI_ROUTED;
}

void irq_handler(void)
{
    uint32_t v = me() & 1;
    uint32_t intid = gic_ack();
    if (intid >= 1020)
        return;
    if (!asked_for(v, intid)) {
        unexpected++;
        last_unexpected = (uint64_t)v << 32 | intid;
    }
    if (intid == 27 && ticks[v] > 0) {
        /* checked on the first tick only: each read is a trap */
    } else if (intid < 32) {
        active_in_handler[intid] = bit_of(GICR_SGI_BASE(v) + 0x300, intid);
        pending_in_handler[intid] = bit_of(GICR_SGI_BASE(v) + 0x200, intid);
    } else if (intid < 96) {
        active_in_handler[intid] = bit_of(GICD_BASE + 0x300 + 4 * (intid / 32), intid % 32);
        pending_in_handler[intid] = bit_of(GICD_BASE + 0x200 + 4 * (intid / 32), intid % 32);
    }
    if (intid == 27) {
        uint64_t now = counter();
        if (!ticks[v])
            t_first[v] = now;
        t_last[v] = now;
        ticks[v]++;
        if (ticks[v] < want_ticks && timer_on[v])
            timer_arm();
        else
            timer_stop();
    } else if (intid < 16) {
        sgi_count[v][intid]++;
    } else if (intid < 96) {
        spi_count[intid]++;
    }
    gic_eoi(intid);
}

static void wait_ticks(uint32_t v)
{
    while (ticks[v] < want_ticks)
        __asm__ volatile("wfi" ::: "memory");
}

/* vCPU 0 waits for vCPU 1's ticks without WFI, and reports what vCPU 1's
 * redistributor shows if they stop coming. */
static void wait_other(uint32_t v)
{
    uint64_t start = counter(), last = ticks[v];
    while (ticks[v] < want_ticks) {
        if (ticks[v] != last) {
            last = ticks[v];
            start = counter();
        } else if (counter() - start > 10 * counter_freq()) {
            gprintf("irq: FAIL vCPU %u stuck at %lu ticks: ISPENDR0 %x ISACTIVER0 %x ISENABLER0 %x\n",
                    v, ticks[v], mmio_r32(GICR_SGI_BASE(v) + 0x200),
                    mmio_r32(GICR_SGI_BASE(v) + 0x300), mmio_r32(GICR_SGI_BASE(v) + 0x100));
            start = counter();
        }
    }
}

void secondary_main(uint64_t index)
{
    uint32_t v = (uint32_t)index & 1;
    set_vectors();
    gic_cpu_on(v, 0xffff | 1u << 27);
    timer_on[v] = 1;
    timer_arm();
    irq_enable();
    v1_ready = 1;
    println("irq: vCPU 1: GIC and timer on");
    wait_ticks(v);
    /* SGIs to vCPU 0, one at a time, when vCPU 0 asks. */
    while (!v1_go_sgis)
        ;
    for (uint64_t i = 0; i < want_sgis; i++) {
        uint64_t before = sgi_count[0][2];
        gic_send_sgi(2, 1u << 0);
        while (sgi_count[0][2] == before)
            ;
    }
    v1_go_sgis = 2;
    while (!done)
        __asm__ volatile("wfi" ::: "memory");
}

static uint64_t rate_hz(uint32_t v)
{
    uint64_t dt = t_last[v] - t_first[v];
    return dt ? (ticks[v] - 1) * counter_freq() / dt : 0;
}

int guest_main(const void *dtb)
{
    const char *args = dt_bootargs(dtb);
    uint64_t hz = cmdline_u64(args, "hz", 100);
    want_ticks = cmdline_u64(args, "ticks", 20);
    want_sgis = cmdline_u64(args, "sgis", 10);
    uint64_t soak_ms = cmdline_u64(args, "soak_ms", 0);
    period = counter_freq() / (hz ? hz : 1);
    set_vectors();
    uint32_t n = dt_count_cpus(dtb);
    gprintf("irq: %u vCPUs, timer at %lu Hz (counter %lu Hz, now %lu), %lu ticks, %lu SGIs\n",
            n, hz, counter_freq(), counter(), want_ticks, want_sgis);
    check("GICD_PIDR2.ArchRev", (gic_dist_on() >> 4) & 0xf, 3);
    uint32_t typer = mmio_r32(GICD_BASE + 4);
    gprintf("irq: GICD_TYPER %x, GICD_IIDR %x\n", typer, mmio_r32(GICD_BASE + 8));
    check("GICR_TYPER(1) affinity", mmio_r64(GICR_BASE(1) + 8) >> 32, 1);
    check("GICR_TYPER(1) Last", (mmio_r64(GICR_BASE(1) + 8) >> 4) & 1, 1);
    gic_cpu_on(0, 0xffff | 1u << 27);
    set_vectors();
    if (n < 2) {
        println("irq: needs 2 vCPUs: FAIL");
        return 1;
    }
    hvc_call(PSCI_CPU_ON, 1, (uintptr_t)secondary_entry, 1, 0);
    while (!v1_ready)
        ;
    println("irq: vCPU 0: GIC and timer on");
    timer_on[0] = 1;
    timer_arm();
    irq_enable();
    wait_ticks(0);
    wait_other(1);
    for (uint32_t v = 0; v < 2; v++) {
        uint64_t r = rate_hz(v);
        gprintf("irq: vCPU %u: %lu timer interrupts, measured rate %lu Hz\n", v, ticks[v], r);
        check(v ? "timer rate on vCPU 1 within 2x" : "timer rate on vCPU 0 within 2x",
              r >= hz / 2 && r <= hz * 2, 1);
    }
    check("PPI 27 active in its handler", active_in_handler[27], 1);

    /* SGIs both ways */
    for (uint64_t i = 0; i < want_sgis; i++) {
        uint64_t before = sgi_count[1][1];
        gic_send_sgi(1, 1u << 1);
        while (sgi_count[1][1] == before)
            ;
    }
    v1_go_sgis = 1;
    while (v1_go_sgis != 2)
        ;
    gprintf("irq: SGIs: vCPU 1 got %lu from vCPU 0, vCPU 0 got %lu from vCPU 1\n",
            sgi_count[1][1], sgi_count[0][2]);
    check("SGIs 0->1", sgi_count[1][1], want_sgis);
    check("SGIs 1->0", sgi_count[0][2], want_sgis);

    /* Pending and active through the redistributor. */
    irq_disable();
    gic_send_sgi(3, 1u << 0);
    check("SGI 3 pending while masked (GICR_ISPENDR0)", bit_of(GICR_SGI_BASE(0) + 0x200, 3), 1);
    check("SGI 3 not active while masked (GICR_ISACTIVER0)", bit_of(GICR_SGI_BASE(0) + 0x300, 3),
          0);
    irq_enable();
    for (uint64_t s = 0; s < 100000 && !sgi_count[0][3]; s++)
        __asm__ volatile("isb" ::: "memory");
    check("SGI 3 taken", sgi_count[0][3], 1);
    check("SGI 3 active in its handler", active_in_handler[3], 1);
    check("SGI 3 not pending in its handler", pending_in_handler[3], 0);
    check("SGI 3 neither pending nor active after EOI",
          (uint64_t)bit_of(GICR_SGI_BASE(0) + 0x200, 3) + bit_of(GICR_SGI_BASE(0) + 0x300, 3), 0);

    /* Pending and active through the distributor: SPIs routed to vCPU 1. */
    mmio_w64(GICD_BASE + 0x6000 + 8 * SPI_ROUTED, 1);
    mmio_w64(GICD_BASE + 0x6000 + 8 * SPI_CLEARED, 1);
    mmio_w32(GICD_BASE + 0x80 + 4, 0xffffffffu);       /* IGROUPR1: group 1 */
    mmio_w32(GICD_BASE + 0x400 + SPI_ROUTED, 0x80808080u);
    mmio_w32(GICD_BASE + 0x400 + SPI_FLOOD + 2, 0x80808080u);
    mmio_w32(GICD_BASE + 0x400 + SPI_FLOOD - 2, 0x80808080u);
    check("GICD_IROUTER(40) reads back", mmio_r64(GICD_BASE + 0x6000 + 8 * SPI_ROUTED), 1);
    mmio_w32(GICD_BASE + 0x180 + 4, 0xffffffffu);      /* ICENABLER1 */
    mmio_w32(GICD_BASE + 0x200 + 4, 1u << (SPI_ROUTED - 32) | 1u << (SPI_CLEARED - 32));
    check("SPI 40 pending while disabled (GICD_ISPENDR1)", bit_of(GICD_BASE + 0x204, 8), 1);
    check("SPI 41 pending while disabled (GICD_ICPENDR1)", bit_of(GICD_BASE + 0x284, 9), 1);
    mmio_w32(GICD_BASE + 0x280 + 4, 1u << (SPI_CLEARED - 32));
    check("SPI 41 clear after ICPENDR", bit_of(GICD_BASE + 0x204, 9), 0);
    check("SPI 40 not active (GICD_ISACTIVER1)", bit_of(GICD_BASE + 0x304, 8), 0);
    mmio_w32(GICD_BASE + 0x100 + 4, 1u << (SPI_ROUTED - 32) | 1u << (SPI_CLEARED - 32));
    for (uint64_t s = 0; spi_count[SPI_ROUTED] == 0 && s < 100000000; s++)
        ;
    check("SPI 40 taken by vCPU 1", spi_count[SPI_ROUTED], 1);
    check("SPI 40 active in vCPU 1's handler", active_in_handler[SPI_ROUTED], 1);
    check("SPI 41 never taken", spi_count[SPI_CLEARED], 0);
    check("SPI 40 neither pending nor active after EOI",
          (uint64_t)bit_of(GICD_BASE + 0x204, 8) + bit_of(GICD_BASE + 0x304, 8), 0);

    /* More pending at once than there are list registers. */
    irq_disable();
    for (uint32_t i = 0; i < 4; i++)
        mmio_w64(GICD_BASE + 0x6000 + 8 * (SPI_FLOOD + i), 0);
    mmio_w32(GICD_BASE + 0x100 + 4, 0xfu << (SPI_FLOOD - 32));
    for (uint32_t i = 4; i < 12; i++)
        gic_send_sgi(i, 1u << 0);
    mmio_w32(GICD_BASE + 0x200 + 4, 0xfu << (SPI_FLOOD - 32));
    check("12 pending (GICR_ISPENDR0 4-11, GICD_ISPENDR1 42-45)",
          ((mmio_r32(GICR_SGI_BASE(0) + 0x200) >> 4) & 0xff) == 0xff &&
              ((mmio_r32(GICD_BASE + 0x204) >> (SPI_FLOOD - 32)) & 0xf) == 0xf,
          1);
    irq_enable();
    /* until all 12 have come (at most 2 s), then a little longer so a
     * duplicate would show */
    for (uint64_t t0 = counter(); counter() - t0 < 2 * counter_freq();) {
        uint32_t got = 0;
        for (uint32_t i = 4; i < 12; i++)
            got += sgi_count[0][i] != 0;
        for (uint32_t i = 0; i < 4; i++)
            got += spi_count[SPI_FLOOD + i] != 0;
        if (got == 12)
            break;
    }
    for (uint64_t s = 0; s < 100000; s++)
        __asm__ volatile("nop");
    uint32_t once = 0;
    for (uint32_t i = 4; i < 12; i++)
        once += sgi_count[0][i] == 1;
    for (uint32_t i = 0; i < 4; i++)
        once += spi_count[SPI_FLOOD + i] == 1;
    check("each of the 12 taken exactly once", once, 12);

    /* WFI with nothing pending and the timer off must still come back once
     * an SGI arrives: vCPU 1 is in WFI now. */
    uint64_t before = sgi_count[1][5];
    gic_send_sgi(5, 1u << 1);
    while (sgi_count[1][5] == before)
        ;
    check("SGI 5 woke vCPU 1 from WFI", sgi_count[1][5] - before, 1);

    if (soak_ms) {
        soaking = 1;
        uint64_t t0 = ticks[0];
        want_ticks = ~0ULL;
        deadline[0] = 0;
        timer_arm();
        for (uint64_t end = counter() + soak_ms * counter_freq() / 1000; counter() < end;)
            __asm__ volatile("wfi" ::: "memory");
        timer_on[0] = 0;
        timer_stop();
        gprintf("irq: soak of %lu ms: %lu timer interrupts on vCPU 0\n", soak_ms, ticks[0] - t0);
        soaking = 0;
    }
    if (unexpected)
        gprintf("irq: last unexpected interrupt: INTID %lu on vCPU %lu\n",
                last_unexpected & 0xffffffffu, last_unexpected >> 32);
    check("no interrupt this test did not ask for", unexpected, 0);

    done = 1;
    gic_send_sgi(6, 1u << 1);
    gprintf("irq: %u failed; SYSTEM_OFF\n", failed);
    hvc_call(PSCI_SYSTEM_OFF, 0, 0, 0, 0);
    println("irq: still running after SYSTEM_OFF: FAIL");
    return 1;
}
