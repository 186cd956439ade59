/* heartbeat: prints "heartbeat N" beats=N times, delay=D busy loops apart,
 * then shuts down with exit code 0. With period_kt=K the beats are instead
 * K thousand TSC ticks apart, the longest beat-to-beat time (its own printing
 * included) is reported as a percentage of the period, and with max_pct=P
 * whether it stayed within P percent. With watch_irqs=1 it beats with
 * interrupts enabled and every vector on a counting handler: it asks for
 * no interrupt, so any that comes (from a neighbour that reached it) is
 * reported at the end. */
#include "guest.h"


static volatile uint32_t irqs, last_vector;

static void count_irq(struct irq_frame *f)
{
    irqs++;
    last_vector = f->vector;
}

int guest_main(uint32_t magic, uint32_t info)
{
    const char *cmd = boot_cmdline(magic, info);
    uint32_t beats = cmdline_u32(cmd, "beats", 10);
    uint32_t delay = cmdline_u32(cmd, "delay", 200000);
    uint64_t period = (uint64_t)cmdline_u32(cmd, "period_kt", 0) * 1000;
    uint32_t max_pct = cmdline_u32(cmd, "max_pct", 0);
    uint32_t watch = cmdline_u32(cmd, "watch_irqs", 0);
    if (watch) {
        idt_install(count_irq);
        __asm__ volatile("sti");
    }
    struct bh_part_info pi;
    part_info(&pi);
    uint64_t last = 0, longest = 0;
    for (uint32_t i = 1; i <= beats; i++) {
        uint64_t now = rdtsc();
        if (i > 1 && now - last > longest)
            longest = now - last;
        last = now;
        gprintf("heartbeat %u of %u from %s\n", i, beats, pi.name);
        if (period) {
            while (rdtsc() - now < period)
                ;
        } else {
            spin_delay(delay);
        }
    }
    if (period) {
        /* 64-bit division without libgcc: count periods in 100 x longest. */
        uint32_t pct = 0;
        for (uint64_t acc = longest * 100; acc >= period && pct < 100000; acc -= period)
            pct++;
        gprintf("heartbeat: longest beat-to-beat time %u%% of the period\n", pct);
        if (max_pct)
            gprintf("heartbeat: period %s (limit %u%%)\n", pct <= max_pct ? "kept" : "MISSED", max_pct);
    }
    if (watch) {
        __asm__ volatile("cli");
        gprintf("heartbeat: %u interrupts taken (it asked for none)", irqs);
        if (irqs)
            gprintf(", the last on vector %u", last_vector);
        gprintf("\n");
    }
    return 0;
}
