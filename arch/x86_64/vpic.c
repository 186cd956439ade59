/* Masked 8259A pair (see vpic.h); command sequences per the 8259A data sheet. */
#include "vpic.h"
#include "../../hv/string.h"

void vpic_reset(struct vpic *p)
{
    memset(p, 0, sizeof(*p));
    p->imr[0] = p->imr[1] = 0xff;
}

u8 vpic_io(struct vpic *p, u16 port, bool in, u8 val)
{
    unsigned i = port >= 0xa0;
    bool data = port & 1;
    if (in)
        return data ? p->imr[i] : 0; /* IRR and ISR are always empty */
    if (!data) {
        if (val & 0x10) { /* ICW1: starts initialisation, clears the mask */
            p->icw_next[i] = 2;
            p->icw4[i] = val & 1;
            p->imr[i] = 0;
        }
        return 0; /* OCW2 (EOI, rotation) and OCW3 (read select, poll) change nothing here */
    }
    switch (p->icw_next[i]) {
    case 2:
        p->vector[i] = val & 0xf8;
        p->icw_next[i] = 3;
        break;
    case 3:
        p->icw_next[i] = p->icw4[i] ? 4 : 0;
        break;
    case 4:
        p->icw_next[i] = 0;
        break;
    default:
        p->imr[i] = val; /* OCW1 */
        break;
    }
    return 0;
}
