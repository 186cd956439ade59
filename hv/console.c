#include "console.h"
#include "arch.h"
#include "format.h"
#include "spinlock.h"
#include "partition.h"
#include "string.h"

static spinlock_t con_lock;
static u32 con_owner = ~0u; /* CPU holding con_lock, for the exception path */

static void emit(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            arch_console_putc('\r');
        arch_console_putc(s[i]);
    }
}

void con_write(const char *s, size_t n)
{
    u32 me = arch_cpu_index();
    /* A fault taken while this CPU printed must still be reported: it
     * writes through instead of waiting for a lock it holds itself. */
    if (__atomic_load_n(&con_owner, __ATOMIC_RELAXED) == me) {
        emit(s, n);
        return;
    }
    spin_lock(&con_lock);
    __atomic_store_n(&con_owner, me, __ATOMIC_RELAXED);
    emit(s, n);
    __atomic_store_n(&con_owner, ~0u, __ATOMIC_RELAXED);
    spin_unlock(&con_lock);
}

int vprintk(const char *fmt, va_list ap)
{
    char line[CONSOLE_LINE_MAX];
    int n = bh_vsnprintf(line, sizeof(line), fmt, ap);
    size_t len = n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if ((size_t)n > len && len > 4) {
        /* Truncated: keep the line ending so the next line starts cleanly. */
        line[len - 4] = '.';
        line[len - 3] = '.';
        line[len - 2] = '.';
        line[len - 1] = '\n';
    }
    con_write(line, len);
    return n;
}

int printk(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintk(fmt, ap);
    va_end(ap);
    return n;
}

/* ------------------------------------------------------------ input */

static const struct partition *input_part; /* set once at boot, before any vCPU runs */

void con_input_select(const char *cmdline)
{
    char name[64]; /* longer than any partition name: a truncated value matches none */
    input_part = NULL;
    if (!cmdline || !bi_cmdline_get(cmdline, "console.input", name, sizeof(name)))
        return;
    for (u32 i = 0; i < npartitions; i++) {
        const struct partition *p = &partitions[i];
        if (strcmp(p->name, name) != 0)
            continue;
        if (!p->cfg->console) {
            printk("bulkhead: console.input=%s: that partition's console is off; no partition "
                   "gets console input\n",
                   name);
            return;
        }
        input_part = p;
        printk("bulkhead: console input goes to partition %s\n", p->name);
        return;
    }
    printk("bulkhead: console.input=%s: no partition has that name; no partition gets console "
           "input\n",
           name);
}

bool con_input_is(const struct partition *p)
{
    return p && p == input_part;
}

int con_getc(void)
{
    return input_part ? arch_console_getc() : -1;
}
