/* passthru: a device passed through to the partition. QEMU virt's PL031 RTC
 * (host 0x09010000, SPI 2 = INTID 34) is mapped into the guest by stage 2
 * and its interrupt is forwarded. The guest reads the RTC's identification,
 * then twice sets the match register one second ahead, waits in WFI for
 * SPI 34 and checks it: taken once each time, active in its handler (read
 * through GICD_ISACTIVER1), neither pending nor active after EOI. A 5 s
 * virtual-timer guard reports a missing interrupt instead of hanging. */
#include "guest.h"

#define RTC 0x09010000UL
#define RTC_DR 0x00
#define RTC_MR 0x04
#define RTC_IMSC 0x10
#define RTC_MIS 0x18
#define RTC_ICR 0x1c
#define SPI_RTC 34

static volatile uint32_t rtc_irqs, active_in_handler, mis_in_handler, guard_fired;
static uint32_t failed;

static void check(const char *what, uint64_t got, uint64_t want)
{
    if (got != want)
        failed++;
    gprintf("passthru: %s %s = %lu\n", got == want ? "ok  " : "FAIL", what, got);
}

void irq_handler(void)
{
    uint32_t intid = gic_ack();
    if (intid == SPI_RTC) {
        mis_in_handler = mmio_r32(RTC + RTC_MIS);
        mmio_w32(RTC + RTC_IMSC, 0);
        mmio_w32(RTC + RTC_ICR, 1);
        active_in_handler = (mmio_r32(GICD_BASE + 0x304) >> (SPI_RTC - 32)) & 1;
        rtc_irqs++;
    } else if (intid == 27) {
        __asm__ volatile("msr cntv_ctl_el0, %0; isb" ::"r"((uint64_t)0) : "memory");
        guard_fired = 1;
    }
    if (intid < 1020)
        gic_eoi(intid);
}

int guest_main(const void *dtb)
{
    (void)dtb;
    set_vectors();
    gic_dist_on();
    gic_cpu_on(0, 1u << 27);
    mmio_w32(GICD_BASE + 0x84, 1u << (SPI_RTC - 32));       /* IGROUPR1 */
    mmio_w32(GICD_BASE + 0x400 + SPI_RTC, 0x80);             /* IPRIORITYR (byte 34 in a word write) */
    mmio_w64(GICD_BASE + 0x6000 + 8 * SPI_RTC, 0);          /* IROUTER: vCPU 0 */
    mmio_w32(GICD_BASE + 0x104, 1u << (SPI_RTC - 32));       /* ISENABLER1 */
    check("PL031 PeriphID0 (0x31) through stage 2", mmio_r32(RTC + 0xfe0) & 0xff, 0x31);
    check("PL031 PrimeCellID0 (0x0d)", mmio_r32(RTC + 0xff0) & 0xff, 0x0d);
    irq_enable();
    for (uint32_t k = 1; k <= 2; k++) {
        uint32_t now = mmio_r32(RTC + RTC_DR);
        mmio_w32(RTC + RTC_MR, now + 1);
        mmio_w32(RTC + RTC_IMSC, 1);
        guard_fired = 0;
        __asm__ volatile("msr cntv_tval_el0, %0; msr cntv_ctl_el0, %1; isb"
                         ::"r"(5 * counter_freq()), "r"((uint64_t)1)
                         : "memory");
        while (rtc_irqs < k && !guard_fired)
            __asm__ volatile("wfi" ::: "memory");
        __asm__ volatile("msr cntv_ctl_el0, %0; isb" ::"r"((uint64_t)0) : "memory");
        gprintf("passthru: RTC alarm %u: %u interrupt(s), MIS %u, guard %u\n", k, rtc_irqs,
                mis_in_handler, guard_fired);
        check("SPI 34 taken once more", rtc_irqs, k);
        check("SPI 34 active in its handler (GICD_ISACTIVER1)", active_in_handler, 1);
        check("SPI 34 neither pending nor active after EOI",
              ((mmio_r32(GICD_BASE + 0x204) | mmio_r32(GICD_BASE + 0x304)) >> (SPI_RTC - 32)) & 1,
              0);
    }
    gprintf("passthru: %u failed\n", failed);
    return failed ? 1 : 0;
}
