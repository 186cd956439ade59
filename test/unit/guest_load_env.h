/* Host stand-ins for testing the x86 guest loader (arch/x86_64/guest_load.c):
 * a 16 MiB guest RAM buffer behind guest_ptr, one partition, and helpers that
 * build ELF32 images with a multiboot header or a PVH note. */
#ifndef GUEST_LOAD_ENV_H
#define GUEST_LOAD_ENV_H

#include <stdlib.h>
#include <string.h>
#include "hv/partition.h"
#include "arch/x86_64/x86guest.h"

#define GMEM_SIZE (16u << 20)

static u8 *gmem;
static struct guest_boot gboot;
static struct cfg_partition gcfg;
static struct boot_module gkernel;
static struct partition gpart;

struct guest_boot *x86_part_boot(struct partition *p);
struct guest_boot *x86_part_boot(struct partition *p)
{
    (void)p;
    return &gboot;
}

void *guest_ptr(struct partition *p, u64 gpa, u64 len, bool write)
{
    (void)p;
    (void)write;
    if (gpa >= GMEM_SIZE || len > GMEM_SIZE - gpa)
        return NULL;
    return gmem + gpa;
}

static void genv_init(void)
{
    if (!gmem)
        gmem = malloc(GMEM_SIZE);
    memset(gmem, 0, GMEM_SIZE);
    memset(&gboot, 0, sizeof(gboot));
    memset(&gcfg, 0, sizeof(gcfg));
    memset(&gkernel, 0, sizeof(gkernel));
    memset(&gpart, 0, sizeof(gpart));
    strcpy(gcfg.name, "t");
    strcpy(gcfg.kernel, "k");
    gcfg.boot = CFG_BOOT_MULTIBOOT;
    strcpy(gkernel.name, "k");
    gpart.cfg = &gcfg;
    gpart.name = gcfg.name;
    gpart.kernel = &gkernel;
    gpart.nregions = 1;
    gpart.region[0] = (struct part_region){ .gpa = 0, .size = GMEM_SIZE, .kind = PART_RAM, .writable = true };
}

static void set_image(const void *data, size_t len)
{
    gkernel.base = (u64)(uintptr_t)data;
    gkernel.size = len;
}

#endif
