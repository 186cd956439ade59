/* Boot glue for the partition configuration: find it among the boot
 * modules, check it against the machine, and either print every error and
 * stop the boot, or print what will be created. Nothing is started from a
 * configuration that failed: config_active() stays NULL. */
#include "config.h"
#include "console.h"
#include "hv.h"
#include "string.h"

#define BOOT_MAX_ERRORS 48

static struct config boot_cfg;
static struct cfg_error boot_errs[BOOT_MAX_ERRORS];
static const struct config *active;

static void emit_line(void *ctx, const char *line)
{
    printk("config: %s\n", line);
}

const struct config *config_active(void)
{
    return active;
}

const struct config *config_boot(const struct boot_info *bi)
{
    const struct boot_module *found = NULL;
    for (u32 i = 0; i < bi->nmod; i++) {
        const struct boot_module *m = &bi->mod[i];
        /* Modules are in memory the hypervisor maps 1:1 at this point. */
        const void *blob = (const void *)(uintptr_t)m->base;
        if (strcmp(m->name, "config") != 0 && !cfg_is_config_blob(blob, m->size))
            continue;
        if (found)
            hv_stop_boot("modules '%s' and '%s' are both partition configurations; load one",
                         found->name, m->name);
        found = m;
    }
    if (!found) {
        printk("config: no configuration module (a device tree with compatible \"%s\"); "
               "no partitions to start\n", CFG_COMPATIBLE);
        return NULL;
    }

    struct cfg_errlist el;
    cfg_errlist_init(&el, boot_errs, BOOT_MAX_ERRORS);
    u32 n = cfg_check(&boot_cfg, (const void *)(uintptr_t)found->base, found->size, bi, &el);
    if (n) {
        char line[CONSOLE_LINE_MAX];
        printk("config: module '%s' has %u error%s:\n", found->name, n, n == 1 ? "" : "s");
        for (u32 i = 0; i < el.n; i++) {
            cfg_format_error(&el.v[i], line, sizeof(line));
            printk("%s\n", line);
        }
        if (el.dropped)
            printk("config: ... and %u more error%s not shown (at most %u are kept)\n",
                   el.dropped, el.dropped == 1 ? "" : "s", BOOT_MAX_ERRORS);
        hv_stop_boot("configuration has %u error%s", n, n == 1 ? "" : "s");
    }
    printk("config: module '%s' accepted (version %u)\n", found->name, boot_cfg.version);
    cfg_describe(&boot_cfg, emit_line, NULL);
    active = &boot_cfg;
    return active;
}
