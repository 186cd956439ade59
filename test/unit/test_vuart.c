/* The x86 partitions' virtual 16550 (arch/x86_64/vuart.c): the receive
 * FIFO and its overrun, LSR.DR/OE, the IIR priorities (line status, then
 * received data / character timeout, then transmitter empty), IER and
 * MCR.OUT2 gating of the IRQ line, FCR (FIFO on/off, clear, trigger level)
 * and the divisor latch. */
#include "check.h"
#include "../../arch/x86_64/vuart.h"

enum { RBR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5 };

static u32 rd(struct vuart *u, unsigned reg)
{
    u8 tx = 0;
    return vuart_io(u, reg, true, 0, &tx);
}

static void wr(struct vuart *u, unsigned reg, u8 v)
{
    u8 tx = 0;
    vuart_io(u, reg, false, v, &tx);
}

static void reset_state(void)
{
    struct vuart u;
    vuart_reset(&u);
    CHECK_EQ(rd(&u, IIR), 0xc1);      /* FIFOs on, nothing pending */
    CHECK_EQ(rd(&u, LSR), 0x60);      /* THR and transmitter empty, no data */
    CHECK(!vuart_irq_line(&u));
    CHECK_EQ(rd(&u, RBR), 0);         /* empty FIFO */
}

static void transmit(void)
{
    struct vuart u;
    vuart_reset(&u);
    u8 tx = 0;
    CHECK_EQ(vuart_io(&u, 0, false, 'A', &tx), 1);
    CHECK_EQ(tx, 'A');
    wr(&u, LCR, 0x83);                /* DLAB: THR becomes DLL */
    tx = 0;
    CHECK_EQ(vuart_io(&u, 0, false, 0x01, &tx), 0);
    CHECK_EQ(tx, 0);
    CHECK_EQ(rd(&u, 0), 0x01);
    wr(&u, LCR, 0x03);
}

static void receive_fifo(void)
{
    struct vuart u;
    vuart_reset(&u);
    for (u32 i = 0; i < VUART_FIFO; i++)
        CHECK(vuart_rx_push(&u, (u8)('a' + i)));
    CHECK_EQ(rd(&u, LSR), 0x61);      /* DR */
    CHECK(!vuart_rx_push(&u, 'X'));   /* full: dropped, overrun */
    CHECK_EQ(u.overruns, 1);
    CHECK_EQ(rd(&u, LSR), 0x63);      /* DR | OE */
    CHECK_EQ(rd(&u, LSR), 0x61);      /* OE clears on read */
    for (u32 i = 0; i < VUART_FIFO; i++)
        CHECK_EQ(rd(&u, RBR), 'a' + i);
    CHECK_EQ(rd(&u, LSR), 0x60);
    /* FIFOs off: a single holding register */
    wr(&u, FCR, 0);
    CHECK_EQ(rd(&u, IIR), 0x01);
    CHECK(vuart_rx_push(&u, '1'));
    CHECK(!vuart_rx_push(&u, '2'));
    CHECK_EQ(rd(&u, RBR), '1');
    CHECK_EQ(rd(&u, LSR), 0x62);      /* no data, overrun reported */
}

static void fcr_clears(void)
{
    struct vuart u;
    vuart_reset(&u);
    vuart_rx_push(&u, 'a');
    vuart_rx_push(&u, 'b');
    wr(&u, FCR, 0x01);                /* FIFOs stay on, no clear: kept */
    CHECK_EQ(rd(&u, LSR) & 1, 1);
    wr(&u, FCR, 0x03);                /* clear the receive FIFO */
    CHECK_EQ(rd(&u, LSR) & 1, 0);
    vuart_rx_push(&u, 'c');
    wr(&u, FCR, 0x00);                /* FIFOs off: cleared too */
    CHECK_EQ(rd(&u, LSR) & 1, 0);
    vuart_rx_push(&u, 'd');
    wr(&u, FCR, 0x01);                /* and on again */
    CHECK_EQ(rd(&u, LSR) & 1, 0);
}

static void interrupts(void)
{
    struct vuart u;
    vuart_reset(&u);
    wr(&u, FCR, 0xc1);                /* trigger level 14 */
    vuart_rx_push(&u, 'a');
    CHECK(!vuart_irq_line(&u));       /* IER 0 */
    wr(&u, IER, 0x01);
    CHECK(!vuart_irq_line(&u));       /* OUT2 off */
    wr(&u, MCR, 0x08);
    CHECK(vuart_irq_line(&u));
    CHECK_EQ(rd(&u, IIR), 0xcc);      /* below the trigger level: character timeout */
    for (u32 i = 0; i < 13; i++)
        vuart_rx_push(&u, 'b');
    CHECK_EQ(rd(&u, IIR), 0xc4);      /* at 14: received data available */
    /* Transmitter empty too: received data still wins. */
    wr(&u, IER, 0x03);
    CHECK_EQ(rd(&u, IIR), 0xc4);
    /* Line status (overrun) beats both, with ELSI. */
    vuart_rx_push(&u, 'c');
    vuart_rx_push(&u, 'd');
    vuart_rx_push(&u, 'e');           /* 17th byte: overrun */
    CHECK_EQ(rd(&u, IIR), 0xc4);      /* ELSI off: not reported in IIR */
    wr(&u, IER, 0x07);
    CHECK_EQ(rd(&u, IIR), 0xc6);
    rd(&u, LSR);                      /* clears OE */
    CHECK_EQ(rd(&u, IIR), 0xc4);
    while (rd(&u, LSR) & 1)
        rd(&u, RBR);
    CHECK(vuart_irq_line(&u));
    CHECK_EQ(rd(&u, IIR), 0xc2);      /* now THRE */
    CHECK_EQ(rd(&u, IIR), 0xc1);      /* reading IIR cleared THRE */
    CHECK(!vuart_irq_line(&u));
    /* FIFOs off: one byte is the trigger. */
    wr(&u, FCR, 0);
    vuart_rx_push(&u, 'z');
    CHECK_EQ(rd(&u, IIR), 0x04);
    CHECK(vuart_irq_line(&u));
    rd(&u, RBR);
    CHECK(!vuart_irq_line(&u));
}

int main(void)
{
    RUN(reset_state);
    RUN(transmit);
    RUN(receive_fifo);
    RUN(fcr_clears);
    RUN(interrupts);
    return CHECK_DONE();
}
