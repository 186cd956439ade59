/* The hypercall table: every call with good and bad arguments. */
#include "test_partition_env.h"
#include "hv/hypercall.h"

/* Partition "alpha" (2 vCPUs): RAM at 0 (2 MiB) and at 4 MiB (4 KiB), a
 * read-only window on channel "ro" at 16 MiB; partition "beta" writes it. */
static struct partition *pa, *pb;

static void setup(void)
{
    cfg_reset();
    struct cfg_partition *a = cfg_part("alpha", 0, 2);
    cfg_ram(a, 0, MiB(2));
    cfg_ram(a, MiB(4), KiB(4));
    a->fault = CFG_FAULT_RESTART;
    a->restart_limit = 5;
    struct cfg_partition *b = cfg_part("beta", 2, 1);
    cfg_ram(b, 0, MiB(2));
    struct cfg_channel *c = cfg_chan("ro", KiB(4));
    cfg_member(c, 0, MiB(16), CFG_ACCESS_R);
    cfg_member(c, 1, MiB(16), CFG_ACCESS_RW);
    if (!partitions_create(&env_cfg, &env_bi)) {
        printf("  partitions_create failed: %s\n", con_buf);
        exit(1);
    }
    pa = &partitions[0];
    pb = &partitions[1];
    pa->state = pb->state = PART_RUNNING;
    con_clear();
}

static s64 hc(struct partition *p, u64 nr, u64 a0, u64 a1, bool *stop)
{
    /* Junk in the unused argument registers must not matter. */
    return hypercall_dispatch(p, 0, nr, a0, a1, 0xdeadbeefcafef00dULL, ~0ULL, stop);
}

static void null_yield_unknown(void)
{
    setup();
    bool stop = true;
    CHECK_EQ(hypercall_dispatch(pa, 1, HC_NULL, 1, 2, 3, 4, &stop), 0);
    CHECK(!stop);
    stop = true;
    CHECK_EQ(hc(pa, HC_YIELD, ~0ULL, ~0ULL, &stop), 0);
    CHECK(!stop);
    const u64 bad[] = { HC_COUNT, 0x40, 0xff, 0xffffffffULL, (1ULL << 32) | HC_NULL,
                        (1ULL << 32) | HC_SHUTDOWN, ~0ULL, HC_SMCCC_BASE };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        stop = true;
        CHECK_EQ(hc(pa, bad[i], 0, 0, &stop), (u64)(s64)HC_E_NOSYS);
        CHECK(!stop);
    }
    CHECK_EQ(pa->state, PART_RUNNING);
    CHECK_STR(con_buf, "");
    partitions_destroy();
}

static void console_write(void)
{
    setup();
    bool stop = true;
    CHECK(guest_write(pa, 0x1000, "hi there\n", 9));
    CHECK_EQ(hc(pa, HC_CONSOLE_WRITE, 0x1000, 9, &stop), 9);
    CHECK(!stop);
    CHECK_STR(con_buf, "[alpha] hi there\n");

    /* Partial writes gather into one line. */
    con_clear();
    CHECK_EQ(hc(pa, HC_CONSOLE_WRITE, 0x1000, 3, &stop), 3);
    CHECK_EQ(hc(pa, HC_CONSOLE_WRITE, 0x1003, 6, &stop), 6);
    CHECK_STR(con_buf, "[alpha] hi there\n");

    /* Length 0: nothing, at a valid address; a bad address still faults. */
    con_clear();
    CHECK_EQ(hc(pa, HC_CONSOLE_WRITE, 0x1000, 0, &stop), 0);
    CHECK_EQ(hc(pa, HC_CONSOLE_WRITE, MiB(3), 0, &stop), (u64)(s64)HC_E_FAULT);
    CHECK_STR(con_buf, "");

    /* The largest allowed length, ending at the last byte of RAM. */
    u64 at = MiB(2) - HC_CONSOLE_MAX;
    char *big = malloc(HC_CONSOLE_MAX);
    memset(big, 'x', HC_CONSOLE_MAX);
    big[HC_CONSOLE_MAX - 1] = '\n';
    CHECK(guest_write(pa, at, big, HC_CONSOLE_MAX));
    con_clear();
    CHECK_EQ(hc(pa, HC_CONSOLE_WRITE, at, HC_CONSOLE_MAX, &stop), HC_CONSOLE_MAX);
    u32 lines = 0;
    for (const char *s = con_buf; (s = strstr(s, "[alpha] ")) != NULL; s++)
        lines++;
    CHECK_EQ(lines, (HC_CONSOLE_MAX - 1 + PART_CON_LINE - 1) / PART_CON_LINE);
    free(big);

    /* Too long: INVAL, even where the range would be fine or bad. */
    con_clear();
    CHECK_EQ(hc(pa, HC_CONSOLE_WRITE, 0x1000, HC_CONSOLE_MAX + 1, &stop), (u64)(s64)HC_E_INVAL);
    CHECK_EQ(hc(pa, HC_CONSOLE_WRITE, MiB(3), ~0ULL, &stop), (u64)(s64)HC_E_INVAL);
    /* Outside guest memory: gap, crossing the end of RAM, crossing into the
     * next slot, wrapping, another partition's only RAM. */
    CHECK_EQ(hc(pa, HC_CONSOLE_WRITE, MiB(3), 4, &stop), (u64)(s64)HC_E_FAULT);
    CHECK_EQ(hc(pa, HC_CONSOLE_WRITE, MiB(2) - 4, 5, &stop), (u64)(s64)HC_E_FAULT);
    CHECK_EQ(hc(pa, HC_CONSOLE_WRITE, MiB(4) + KiB(4) - 1, 2, &stop), (u64)(s64)HC_E_FAULT);
    CHECK_EQ(hc(pa, HC_CONSOLE_WRITE, ~0ULL - 2, 8, &stop), (u64)(s64)HC_E_FAULT);
    CHECK_EQ(hc(pb, HC_CONSOLE_WRITE, MiB(4), 4, &stop), (u64)(s64)HC_E_FAULT);
    CHECK_STR(con_buf, "");
    CHECK(!stop);

    /* From a read-only channel window: reading is fine. */
    CHECK(guest_write(pb, MiB(16), "from beta\n", 10));
    CHECK_EQ(hc(pa, HC_CONSOLE_WRITE, MiB(16), 10, &stop), 10);
    CHECK_STR(con_buf, "[alpha] from beta\n");
    CHECK_EQ(pa->state, PART_RUNNING);
    partitions_destroy();
}

static void part_info(void)
{
    setup();
    bool stop = true;
    struct bh_part_info info;
    u8 after[8];
    memset(&info, 0xee, sizeof(info));
    CHECK(guest_write(pa, 0x3000, &info, sizeof(info)));
    memset(after, 0xee, sizeof(after));
    CHECK(guest_write(pa, 0x3000 + sizeof(info), after, sizeof(after)));

    CHECK_EQ(hc(pa, HC_PART_INFO, 0x3000, sizeof(info), &stop), sizeof(info));
    CHECK(!stop);
    memset(&info, 0, sizeof(info));
    CHECK(guest_read(pa, 0x3000, &info, sizeof(info)));
    CHECK_EQ(info.abi_version, HC_ABI_VERSION);
    CHECK_EQ(info.partition, 0);
    CHECK_EQ(info.vcpus, 2);
    CHECK_EQ(info.restarts, 0);
    CHECK_EQ(info.ram_bytes, MiB(2) + KiB(4));
    CHECK_STR(info.name, "alpha");
    char tail[sizeof(info.name)] = { 0 };
    CHECK(memcmp(info.name + 6, tail, sizeof(info.name) - 6) == 0);
    /* Nothing written past the structure even when the buffer is larger. */
    CHECK_EQ(hc(pa, HC_PART_INFO, 0x3000, 4096, &stop), sizeof(info));
    u8 got[8];
    CHECK(guest_read(pa, 0x3000 + sizeof(info), got, sizeof(got)));
    CHECK(memcmp(got, after, sizeof(got)) == 0);

    /* After restarts, and for the other partition. */
    CHECK_EQ(partition_fault(pa, "test", 0, 0, false), PART_ACT_RESTART);
    CHECK_EQ(partition_fault(pa, "test", 0, 0, false), PART_ACT_RESTART);
    CHECK_EQ(hc(pa, HC_PART_INFO, MiB(4) + KiB(4) - sizeof(info), sizeof(info), &stop),
             sizeof(info));
    CHECK(guest_read(pa, MiB(4) + KiB(4) - sizeof(info), &info, sizeof(info)));
    CHECK_EQ(info.restarts, 2);
    CHECK_EQ(hc(pb, HC_PART_INFO, 0x10, sizeof(info), &stop), sizeof(info));
    CHECK(guest_read(pb, 0x10, &info, sizeof(info)));
    CHECK_EQ(info.partition, 1);
    CHECK_EQ(info.vcpus, 1);
    CHECK_EQ(info.ram_bytes, MiB(2));
    CHECK_STR(info.name, "beta");

    /* Bad size, bad ranges (including the read-only channel window). */
    CHECK_EQ(hc(pa, HC_PART_INFO, 0x3000, sizeof(info) - 1, &stop), (u64)(s64)HC_E_INVAL);
    CHECK_EQ(hc(pa, HC_PART_INFO, 0x3000, 0, &stop), (u64)(s64)HC_E_INVAL);
    CHECK_EQ(hc(pa, HC_PART_INFO, MiB(3), 0, &stop), (u64)(s64)HC_E_INVAL);
    CHECK_EQ(hc(pa, HC_PART_INFO, MiB(3), sizeof(info), &stop), (u64)(s64)HC_E_FAULT);
    CHECK_EQ(hc(pa, HC_PART_INFO, MiB(2) - 8, sizeof(info), &stop), (u64)(s64)HC_E_FAULT);
    CHECK_EQ(hc(pa, HC_PART_INFO, MiB(4) + KiB(4) - 8, sizeof(info), &stop),
             (u64)(s64)HC_E_FAULT);
    CHECK_EQ(hc(pa, HC_PART_INFO, ~0ULL - 7, sizeof(info), &stop), (u64)(s64)HC_E_FAULT);
    CHECK_EQ(hc(pa, HC_PART_INFO, MiB(16), sizeof(info), &stop), (u64)(s64)HC_E_FAULT);
    CHECK(!stop);
    /* The refused calls left the read-only window alone. */
    u8 ro[sizeof(info)], zero[sizeof(info)] = { 0 };
    CHECK(guest_read(pb, MiB(16), ro, sizeof(ro)));
    CHECK(memcmp(ro, zero, sizeof(ro)) == 0);
    partitions_destroy();
}

static void shutdown_call(void)
{
    setup();
    bool stop = false;
    CHECK(guest_write(pa, 0, "last words", 10));
    CHECK_EQ(hc(pa, HC_CONSOLE_WRITE, 0, 10, &stop), 10);
    CHECK_EQ(hypercall_dispatch(pa, 1, HC_SHUTDOWN, 42, 7, 8, 9, &stop), 0);
    CHECK(stop);
    CHECK_EQ(pa->state, PART_SHUTDOWN);
    CHECK_EQ(pa->exit_code, 42);
    CHECK_STR(con_buf, "[alpha] last words\npartition alpha: shut down by the guest, exit code 42\n");
    CHECK_EQ(pb->state, PART_RUNNING);
    /* The caller stops the vCPUs and then reports the partition stopped. */
    CHECK_EQ(partitions_running(), 2);
    partition_stopped(pa);
    CHECK_EQ(partitions_running(), 1);

    con_clear();
    stop = false;
    CHECK_EQ(hc(pb, HC_SHUTDOWN, 0, 0, &stop), 0);
    CHECK(stop);
    CHECK_STR(con_buf, "partition beta: shut down by the guest, exit code 0\n");
    hv_end_calls = 0;
    hv_end_armed = true;
    if (setjmp(hv_end_jmp) == 0) {
        partition_stopped(pb);
        CHECK(!"hv_end was not called");
    }
    hv_end_armed = false;
    CHECK_EQ(hv_end_calls, 1);
    partitions_destroy();
}

int main(void)
{
    env_init();
    RUN(null_yield_unknown);
    RUN(console_write);
    RUN(part_info);
    RUN(shutdown_call);
    env_fini();
    return CHECK_DONE();
}
