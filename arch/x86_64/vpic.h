/* The legacy 8259A pair of a partition at ports 0x20/0x21 and 0xa0/0xa1:
 * present, programmable (ICW1-4, OCW1-3) and masked (IMR 0xff at start);
 * it never raises an interrupt (a partition's interrupts come through its
 * local APIC). Enough for kernels that probe, initialise and mask it. */
#ifndef BULKHEAD_VPIC_H
#define BULKHEAD_VPIC_H

#include "../../hv/types.h"

struct vpic {
    u8 imr[2];
    u8 icw_next[2]; /* 0: not initialising; 2, 3, 4: the ICW expected next */
    u8 icw4[2];     /* ICW1 asked for ICW4 */
    u8 vector[2];   /* ICW2 */
};

void vpic_reset(struct vpic *p);
/* A byte access to 0x20, 0x21, 0xa0 or 0xa1. */
u8 vpic_io(struct vpic *p, u16 port, bool in, u8 val);

#endif
