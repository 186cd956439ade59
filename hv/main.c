/* The boot CPU's path through the core: check what the boot loader gave us,
 * set up memory, bring up every CPU, print the banner, run the partitions,
 * and end as the command line says when nothing is left to run. */
#include "hv.h"
#include "arch.h"
#include "config.h"
#include "console.h"
#include "format.h"
#include "smp.h"
#include "string.h"
#include "epoch.h"
#include "partition.h"
#include "../mm/frame.h"

struct percpu percpu[MAX_CPUS];
u32 cpus_known;

static struct frame_alloc hv_frames;
static struct boot_info *boot;

enum end_action { END_HALT, END_POWEROFF };

static enum end_action action_from(const char *key, enum end_action dflt)
{
    char v[16];
    if (!boot || !bi_cmdline_get(boot->cmdline, key, v, sizeof(v)))
        return dflt;
    if (strcmp(v, "poweroff") == 0)
        return END_POWEROFF;
    if (strcmp(v, "halt") == 0)
        return END_HALT;
    printk("bulkhead: ignoring %s=%s (expected poweroff or halt)\n", key, v);
    return dflt;
}

static __noreturn void finish(enum end_action a)
{
    if (a == END_POWEROFF) {
        printk("bulkhead: powering off\n");
        arch_poweroff();
        printk("bulkhead: power-off failed; halting\n");
    } else {
        printk("bulkhead: halted\n");
    }
    arch_halt_cpu();
}

void hv_set_boot_info(struct boot_info *bi)
{
    boot = bi;
}

void hv_end(const char *why)
{
    printk("bulkhead: %s\n", why);
    finish(action_from("on_idle", END_HALT));
}

void hv_stop_boot(const char *fmt, ...)
{
    char msg[CONSOLE_LINE_MAX - 32];
    va_list ap;
    va_start(ap, fmt);
    bh_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    printk("bulkhead: boot stopped: %s\n", msg);
    finish(action_from("on_error", action_from("on_idle", END_HALT)));
}

u32 smp_online_count(void)
{
    u32 n = 0;
    for (u32 i = 0; i < cpus_known; i++)
        if (__atomic_load_n(&percpu[i].online, __ATOMIC_ACQUIRE))
            n++;
    return n;
}

/* selftest=console: every online CPU prints the same number of long lines at
 * the same moment; the scenario checks that every line arrives whole. */
#define CONSOLE_STRESS_LINES 40
static u32 stress_go, stress_done;

static bool selftest_is(const char *what)
{
    char v[24];
    return boot && bi_cmdline_get(boot->cmdline, "selftest", v, sizeof(v)) && strcmp(v, what) == 0;
}

static void console_stress(u32 cpu)
{
    for (u32 i = 0; i < CONSOLE_STRESS_LINES; i++)
        printk("console-stress cpu %u line %02u: 0123456789abcdefghijklmnopqrstuvwxyz"
               "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\n",
               cpu, i);
}

/* Secondary CPUs wait here until the boot CPU has created the partitions. */
static u32 cpus_released;

static void release_cpus(void)
{
    __atomic_store_n(&cpus_released, 1, __ATOMIC_RELEASE);
}

static void run_partition_here(u32 cpu)
{
    u32 vcpu;
    struct partition *p = npartitions ? partition_of_cpu(cpu, &vcpu) : NULL;
    if (!p || __atomic_load_n(&p->stopped, __ATOMIC_ACQUIRE))
        return; /* e.g. a CPU that came online after its partition was given up */
    epoch_cpu_online(hv_epoch(), cpu);
    arch_vcpu_run(p, vcpu);
    epoch_cpu_offline(hv_epoch(), cpu);
}

static void start_partitions(const struct config *cfg, const struct boot_info *bi)
{
    char err[200];
    partitions_epoch_init(cpus_known);
    if (!partitions_create(cfg, bi))
        hv_stop_boot("the partitions could not be created (see above)");
    con_input_select(bi->cmdline);
    /* The boot CPU reads the memslot sets while it builds the stage-2 tables. */
    epoch_cpu_online(hv_epoch(), 0);
    for (u32 i = 0; i < npartitions; i++) {
        struct partition *p = &partitions[i];
        if (!arch_partition_prepare(p, err, sizeof(err)))
            hv_stop_boot("partition %s: %s", p->name, err);
    }
    epoch_cpu_offline(hv_epoch(), 0);
    /* A partition whose boot CPU did not come online cannot start. */
    for (u32 i = 0; i < npartitions; i++) {
        struct partition *p = &partitions[i];
        u32 cpu = p->cfg->cpus[0];
        if (cpu >= cpus_known || !__atomic_load_n(&percpu[cpu].online, __ATOMIC_ACQUIRE)) {
            printk("partition %s: its cpu %u is not online; not started\n", p->name, cpu);
            partition_stopped(p);
        }
    }
}

void hv_secondary_main(u32 index)
{
    struct percpu *pc = &percpu[index];
    printk("cpu %u (hwid %#llx): online\n", index, (unsigned long long)pc->hwid);
    __atomic_store_n(&pc->online, 1, __ATOMIC_RELEASE);
    if (selftest_is("console")) {
        while (!__atomic_load_n(&stress_go, __ATOMIC_ACQUIRE))
            arch_cpu_relax();
        console_stress(index);
        __atomic_fetch_add(&stress_done, 1, __ATOMIC_RELEASE);
    }
    while (!__atomic_load_n(&cpus_released, __ATOMIC_ACQUIRE))
        arch_cpu_relax();
    run_partition_here(index);
    arch_idle_forever();
}

static void console_selftest(void)
{
    u32 others = smp_online_count() - 1;
    printk("selftest: console stress on %u CPUs\n", others + 1);
    __atomic_store_n(&stress_go, 1, __ATOMIC_RELEASE);
    console_stress(arch_cpu_index());
    for (u32 ms = 0; __atomic_load_n(&stress_done, __ATOMIC_ACQUIRE) < others && ms < 5000; ms++)
        arch_udelay(1000);
    printk("selftest: console stress done (%u of %u CPUs finished)\n",
           __atomic_load_n(&stress_done, __ATOMIC_ACQUIRE) + 1, others + 1);
}

static void banner(struct boot_info *bi)
{
    char buf[160], sz[32], sz2[32];
    printk("Bulkhead %s (%s): static-partitioning hypervisor\n", BULKHEAD_VERSION, bi->arch);
    printk("  boot:    %s%s%s\n", bi->loader, bi->loader_name[0] ? " from " : "",
           bi->loader_name);
    /* Boot-loader text is printed escaped, like the configuration's. */
    char esc[BI_CMDLINE_MAX * 4];
    bh_escape(esc, sizeof(esc), bi->cmdline, sizeof(bi->cmdline));
    printk("  cmdline: %s\n", bi->cmdline[0] ? esc : "(none)");
    arch_cpu_model(buf, sizeof(buf));
    printk("  cpu:     %s\n", buf);
    arch_virt_features(buf, sizeof(buf));
    printk("  virt:    %s\n", buf);
    bh_format_size(sz, sizeof(sz), bi_usable_bytes(bi));
    bh_format_size(sz2, sizeof(sz2), hv_frames.free_bytes);
    printk("  memory:  %s usable, %s free for partitions\n", sz, sz2);
    printk("  modules: %u\n", bi->nmod);
    for (u32 i = 0; i < bi->nmod; i++) {
        const struct boot_module *m = &bi->mod[i];
        bh_format_size(sz, sizeof(sz), m->size);
        char name[BI_NAME_MAX * 4];
        bh_escape(name, sizeof(name), m->name, sizeof(m->name));
        bh_escape(esc, sizeof(esc), m->args, sizeof(m->args));
        printk("    %-16s %10llu bytes (%s) at %#llx%s%s\n", name,
               (unsigned long long)m->size, sz, (unsigned long long)m->base,
               m->args[0] ? "  args: " : "", esc);
    }
    printk("  cpus:    %u online of %u found%s\n", smp_online_count(), cpus_known,
           bi->cpus_ignored ? " (more present than supported; extra ones ignored)" : "");
}

void hv_main(struct boot_info *bi)
{
    char err[256];
    boot = bi;

    printk("bulkhead: %s boot via %s\n", bi->arch, bi->loader);
    if (!bi_check(bi, err, sizeof(err)))
        hv_stop_boot("%s", err);
    if (frame_init(&hv_frames, bi, err, sizeof(err)) != FRAME_OK)
        hv_stop_boot("%s", err);
    frames_init_global(&hv_frames);

    if (!arch_platform_init(bi, err, sizeof(err)))
        hv_stop_boot("%s", err);

    cpus_known = bi->ncpus;
    for (u32 i = 0; i < bi->ncpus; i++) {
        percpu[i].self = &percpu[i];
        percpu[i].index = i;
        percpu[i].hwid = bi->cpus[i].hwid;
    }
    /* The boot CPU is index 0 by construction (arch code puts it first). */
    printk("cpu 0 (hwid %#llx): online (boot cpu)\n", (unsigned long long)percpu[0].hwid);
    __atomic_store_n(&percpu[0].online, 1, __ATOMIC_RELEASE);
    arch_start_secondaries(bi);
    if (selftest_is("console"))
        console_selftest();

    banner(bi);
    const struct config *cfg = config_boot(bi); /* stops the boot on any error */
    if (cfg && cfg->npartitions)
        start_partitions(cfg, bi);
    release_cpus();
    run_partition_here(0);
    if (!cfg || !cfg->npartitions)
        hv_end("nothing left to run");
    arch_idle_forever();
}
