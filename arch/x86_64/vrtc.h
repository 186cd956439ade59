/* Virtual CMOS RTC (MC146818-compatible) at ports 0x70/0x71 for partitions
 * that were not granted the real one: the time is the machine's RTC, read
 * once at boot, advanced by the TSC. Registers A-D, the date and time
 * registers in BCD or binary and 24- or 12-hour form as register B selects,
 * the century at 0x32; the other bytes are plain CMOS RAM. Writes to the
 * time registers are ignored (the partition cannot set the machine's clock). */
#ifndef BULKHEAD_VRTC_H
#define BULKHEAD_VRTC_H

#include "../../hv/types.h"

struct vrtc {
    u8 index;
    u8 reg_b;
    u8 ram[128];
};

/* Read the machine's RTC (boot CPU, once). */
void vrtc_host_init(void);
void vrtc_reset(struct vrtc *r);
u8 vrtc_io(struct vrtc *r, u16 port, bool in, u8 val);
/* Seconds since 2000-01-01 00:00:00 now (for tests and the hypervisor). */
u64 vrtc_now(void);

#endif
