/* Virtual CMOS RTC (see vrtc.h). Register layout from the MC146818A data
 * sheet as PC firmware uses it (0x00 seconds ... 0x09 year, 0x0a-0x0d
 * status A-D, 0x32 century). */
#include "vrtc.h"
#include "vlapic.h"
#include "x86.h"
#include "../../hv/string.h"

static u64 boot_secs;  /* seconds since 2000-01-01 at boot_tsc */
static u64 boot_tsc;
static bool host_read;

static u8 cmos(u8 reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

static u32 bcd2bin(u8 v) { return (v & 15) + (v >> 4) * 10; }
static u8 bin2bcd(u32 v) { return (u8)(((v / 10) << 4) | (v % 10)); }

static bool leap(u32 y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
static u32 mdays(u32 y, u32 m)
{
    static const u8 d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

void vrtc_host_init(void)
{
    if (host_read)
        return;
    host_read = true;
    for (u32 i = 0; i < 1000000 && (cmos(0x0a) & 0x80); i++)
        __asm__ volatile("pause");
    u8 b = cmos(0x0b);
    u32 sec = cmos(0), min = cmos(2), hour = cmos(4), day = cmos(7), mon = cmos(8),
        year = cmos(9), cent = cmos(0x32);
    boot_tsc = rdtsc();
    bool pm = false;
    if (!(b & 2)) { /* 12-hour clock */
        pm = hour & 0x80;
        hour &= 0x7f;
    }
    if (!(b & 4)) {
        sec = bcd2bin((u8)sec);
        min = bcd2bin((u8)min);
        hour = bcd2bin((u8)hour);
        day = bcd2bin((u8)day);
        mon = bcd2bin((u8)mon);
        year = bcd2bin((u8)year);
        cent = bcd2bin((u8)cent);
    }
    if (!(b & 2))
        hour = (hour % 12) + (pm ? 12 : 0);
    u32 y = (cent >= 19 && cent <= 30 ? cent : 20) * 100 + year;
    if (y < 2000 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 ||
        sec > 59) {
        boot_secs = 0; /* an unusable RTC: start at 2000-01-01 */
        return;
    }
    u64 days = 0;
    for (u32 yy = 2000; yy < y; yy++)
        days += leap(yy) ? 366 : 365;
    for (u32 m = 1; m < mon; m++)
        days += mdays(y, m);
    days += day - 1;
    boot_secs = ((days * 24 + hour) * 60 + min) * 60 + sec;
}

u64 vrtc_now(void)
{
    u64 khz = x86_tsc_khz();
    if (!khz)
        return boot_secs;
    return boot_secs + (rdtsc() - boot_tsc) / (khz * 1000);
}

void vrtc_reset(struct vrtc *r)
{
    memset(r, 0, sizeof(*r));
    r->reg_b = 0x02; /* 24-hour, BCD */
}

static u8 time_reg(const struct vrtc *r, u8 reg)
{
    u64 t = vrtc_now();
    u32 sec = (u32)(t % 60), min = (u32)(t / 60 % 60), hour = (u32)(t / 3600 % 24);
    u64 days = t / 86400;
    u32 dow = (u32)((days + 6) % 7) + 1; /* 2000-01-01 was a Saturday (7) */
    u32 y = 2000;
    while (days >= (leap(y) ? 366u : 365u)) {
        days -= leap(y) ? 366 : 365;
        y++;
    }
    u32 m = 1;
    while (days >= mdays(y, m)) {
        days -= mdays(y, m);
        m++;
    }
    u32 v;
    bool is_hour = false;
    switch (reg) {
    case 0: v = sec; break;
    case 2: v = min; break;
    case 4: v = hour; is_hour = true; break;
    case 6: v = dow; break;
    case 7: v = (u32)days + 1; break;
    case 8: v = m; break;
    case 9: v = y % 100; break;
    default: v = y / 100; break; /* 0x32 century */
    }
    u8 pm = 0;
    if (is_hour && !(r->reg_b & 2)) { /* 12-hour form: 12, 1..11 with bit 7 for PM */
        pm = v >= 12 ? 0x80 : 0;
        v = v % 12 ? v % 12 : 12;
    }
    return (u8)((r->reg_b & 4) ? v : bin2bcd(v)) | pm;
}

u8 vrtc_io(struct vrtc *r, u16 port, bool in, u8 val)
{
    if (port == 0x70) {
        if (!in)
            r->index = val & 0x7f; /* bit 7 is the NMI mask */
        return in ? 0xff : 0;
    }
    u8 i = r->index;
    if (in) {
        switch (i) {
        case 0: case 2: case 4: case 6: case 7: case 8: case 9: case 0x32:
            return time_reg(r, i);
        case 1: case 3: case 5: return r->ram[i]; /* alarms */
        case 0x0a: return 0x26;  /* 32.768 kHz time base, 1024 Hz rate; never updating */
        case 0x0b: return r->reg_b;
        case 0x0c: return 0;     /* no interrupt flags */
        case 0x0d: return 0x80;  /* valid RAM and time */
        default: return r->ram[i];
        }
    }
    switch (i) {
    case 0: case 2: case 4: case 6: case 7: case 8: case 9: case 0x32:
    case 0x0a: case 0x0c: case 0x0d:
        break; /* the time and the status registers are not writable here */
    case 0x0b: r->reg_b = val & 0x7e; break; /* SET, interrupts, SQW, DM, 24h (no DSE) */
    default: r->ram[i] = val; break;
    }
    return 0;
}
