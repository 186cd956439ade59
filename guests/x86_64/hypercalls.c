/* hypercalls: calls every Bulkhead hypercall with good and bad arguments and
 * checks each result; exits with the number of failed checks. */
#include "guest.h"

static uint32_t failed, passed;

static void expect(const char *what, int32_t got, int32_t want)
{
    if (got == want) {
        passed++;
        gprintf("hypercalls: ok   %s = %d\n", what, got);
    } else {
        failed++;
        gprintf("hypercalls: FAIL %s = %d, expected %d\n", what, got, want);
    }
}

static char msg[] = "hypercalls: console-write hypercall works\n";
static struct bh_part_info pi;

int guest_main(uint32_t magic, uint32_t info)
{
    (void)magic;
    (void)info;
    uint32_t len = (uint32_t)strlen(msg);
    expect("null", hypercall(HC_NULL, 0, 0, 0, 0), 0);
    expect("yield", hypercall(HC_YIELD, 0, 0, 0, 0), 0);
    expect("console-write(good)", hypercall(HC_CONSOLE_WRITE, (uint32_t)(uintptr_t)msg, len, 0, 0),
           (int32_t)len);
    expect("console-write(len 0)", hypercall(HC_CONSOLE_WRITE, (uint32_t)(uintptr_t)msg, 0, 0, 0), 0);
    expect("console-write(too long)",
           hypercall(HC_CONSOLE_WRITE, (uint32_t)(uintptr_t)msg, 4097, 0, 0), -22);
    expect("console-write(outside memory)", hypercall(HC_CONSOLE_WRITE, 0xfff00000u, 16, 0, 0),
           -14);
    expect("console-write(runs off the end)",
           hypercall(HC_CONSOLE_WRITE, 0x00fffff0u, 64, 0, 0), -14);
    expect("partition-info(good)",
           hypercall(HC_PART_INFO, (uint32_t)(uintptr_t)&pi, sizeof(pi), 0, 0), (int32_t)sizeof(pi));
    expect("partition-info(small buffer)",
           hypercall(HC_PART_INFO, (uint32_t)(uintptr_t)&pi, sizeof(pi) - 1, 0, 0), -22);
    expect("partition-info(outside memory)",
           hypercall(HC_PART_INFO, 0xfff00000u, sizeof(pi), 0, 0), -14);
    expect("unknown hypercall 99", hypercall(99, 1, 2, 3, 4), -38);
    expect("unknown hypercall 0x80000000", hypercall(0x80000000u, 0, 0, 0, 0), -38);
    gprintf("hypercalls: partition '%s' index %u, %u vCPU, %u MiB, ABI %u\n", pi.name, pi.partition,
            pi.vcpus, (uint32_t)(pi.ram_bytes >> 20), pi.abi_version);
    gprintf("hypercalls: %u passed, %u failed\n", passed, failed);
    return (int)(failed ? 100 + failed : 7);
}
