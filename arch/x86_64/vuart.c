/* Virtual 16550 register model (see vuart.h). */
#include "vuart.h"

#define IER_ERBFI 0x01
#define IER_ETBEI 0x02
#define IER_ELSI 0x04
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define MCR_OUT2 0x08
#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

void vuart_reset(struct vuart *u)
{
    *u = (struct vuart){ .fcr = FCR_ENABLE };
}

static u32 capacity(const struct vuart *u)
{
    return (u->fcr & FCR_ENABLE) ? VUART_FIFO : 1;
}

static u32 trigger(const struct vuart *u)
{
    static const u8 level[4] = { 1, 4, 8, 14 };
    return (u->fcr & FCR_ENABLE) ? level[u->fcr >> 6] : 1;
}

bool vuart_rx_push(struct vuart *u, u8 c)
{
    if (u->rx_count >= capacity(u)) {
        u->oe = true; /* the byte in the shift register is lost */
        u->overruns++;
        return false;
    }
    u->rx[(u->rx_head + u->rx_count) % VUART_FIFO] = c;
    u->rx_count++;
    return true;
}

static u8 rx_pop(struct vuart *u)
{
    if (!u->rx_count)
        return 0;
    u8 c = u->rx[u->rx_head];
    u->rx_head = (u8)((u->rx_head + 1) % VUART_FIFO);
    u->rx_count--;
    return c;
}

/* IIR bits 3:0 of the highest-priority pending source (1: none). */
static u8 pending_id(const struct vuart *u)
{
    if ((u->ier & IER_ELSI) && u->oe)
        return 0x6;
    if ((u->ier & IER_ERBFI) && u->rx_count)
        return u->rx_count >= trigger(u) ? 0x4 : 0xc;
    if ((u->ier & IER_ETBEI) && u->thre)
        return 0x2;
    return 0x1;
}

bool vuart_irq_line(const struct vuart *u)
{
    return (u->mcr & MCR_OUT2) && pending_id(u) != 0x1;
}

u32 vuart_io(struct vuart *u, unsigned reg, bool in, u8 val, u8 *tx)
{
    bool dlab = u->lcr & 0x80;
    if (!in) {
        switch (reg) {
        case 0:
            if (dlab) {
                u->dll = val;
                return 0;
            }
            *tx = val;
            u->thre = true; /* sent at once: the holding register is empty again */
            return 1;
        case 1:
            if (dlab) {
                u->dlm = val;
            } else {
                if ((val & IER_ETBEI) && !(u->ier & IER_ETBEI))
                    u->thre = true; /* enabling ETBEI with THR empty raises it */
                u->ier = val & 0x0f;
            }
            return 0;
        case 2: /* FCR: enabling or disabling the FIFOs clears them */
            if ((val ^ u->fcr) & FCR_ENABLE || (val & FCR_CLEAR_RX))
                u->rx_head = u->rx_count = 0;
            u->fcr = val & (FCR_ENABLE | 0xc0);
            if (!(u->fcr & FCR_ENABLE))
                u->fcr = 0;
            return 0;
        case 3: u->lcr = val; return 0;
        case 4: u->mcr = val & 0x1f; return 0;
        case 7: u->scr = val; return 0;
        default: return 0; /* LSR and MSR are read-only */
        }
    }
    switch (reg) {
    case 0: return dlab ? u->dll : rx_pop(u);
    case 1: return dlab ? u->dlm : u->ier;
    case 2: {
        u8 id = pending_id(u);
        if (id == 0x2)
            u->thre = false; /* reading IIR with THRE as its cause clears it */
        return ((u->fcr & FCR_ENABLE) ? 0xc0 : 0) | id;
    }
    case 3: return u->lcr;
    case 4: return u->mcr;
    case 5: {
        u32 lsr = LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0) | (u->oe ? LSR_OE : 0);
        u->oe = false; /* error bits clear when LSR is read */
        return lsr;
    }
    case 6: return 0xb0; /* DCD, DSR, CTS */
    default: return u->scr;
    }
}
