"""Network interface: messages to flits and back, for one node at (x, y).

A message travels on ``i_tx`` as 1 + length beats: the first carries the
destination, the packet type, the number of words that follow (0..15) and,
in the low ``flit_width - 19`` bits of ``data``, the head payload; each
following beat carries one ``flit_width``-bit word. Every beat becomes one
flit at once (no buffering): the head gets the node's own coordinates as
source and is SINGLE when no words follow; the last word is the TAIL.

``o_rx`` gives arriving packets back in the same shape: a ``first`` beat with
the source, type, length and head payload, one beat per word, ``last`` on
the final beat (every beat repeats the header fields).

With ``repeat_header=False`` the receive side holds nothing: the header
fields are decoded from the flit and mean something on the ``first`` beat
only, and ``data`` is the flit's data unchanged (on the ``first`` beat, the
whole head word: take its payload with ``head_layout``). A consumer that
looks at the header only on the head beat (a tile port) saves the 14
header flip-flops and the data multiplexer, each a logic cell on the iCE40.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import BODY, HEAD, SINGLE, TAIL, PacketType, head_layout, link_layout


def tx_layout(flit_width):
    return data.StructLayout({
        "dst_x": unsigned(3), "dst_y": unsigned(3), "ptype": PacketType, "length": unsigned(4),
        "data": unsigned(flit_width)})


def tx_word(flit_width, dst_x, dst_y, ptype, length, data):
    """A whole ``tx_layout`` payload as one expression. Assign payloads with
    constant fields this way: a field driven only by a constant becomes a
    Verilog ``always @*`` block with nothing to wake it (Verilator: ALWNEVER,
    and the field may never take its value)."""
    values = {"dst_x": dst_x, "dst_y": dst_y, "ptype": ptype, "length": length, "data": data}
    parts = []
    for name, field in tx_layout(flit_width):
        v = values[name]
        width = field.width
        parts.append(Const(int(v), width) if isinstance(v, int) else Value.cast(v)[:width])
    return Cat(*parts)


def rx_layout(flit_width):
    return data.StructLayout({
        "src_x": unsigned(3), "src_y": unsigned(3), "ptype": PacketType, "length": unsigned(4),
        "data": unsigned(flit_width), "first": unsigned(1), "last": unsigned(1)})


class NetworkInterface(wiring.Component):
    def __init__(self, cfg, x, y, repeat_header=True):
        self.cfg, self.x, self.y = cfg, x, y
        self.repeat_header = repeat_header
        fw = cfg.flit_width
        super().__init__({
            "i_tx": In(stream.Signature(tx_layout(fw))),
            "o_flit": Out(stream.Signature(link_layout(fw))),
            "i_flit": In(stream.Signature(link_layout(fw))),
            "o_rx": Out(stream.Signature(rx_layout(fw))),
        })

    def elaborate(self, platform):
        m = Module()
        fw = self.cfg.flit_width
        hl = head_layout(fw)

        # ---- transmit ------------------------------------------------------
        tx = self.i_tx.payload
        remaining = Signal(4)          # words still to send of the open message
        head = Signal(hl)
        m.d.comb += [
            head.dst_x.eq(tx.dst_x), head.dst_y.eq(tx.dst_y),
            head.src_x.eq(self.x), head.src_y.eq(self.y),
            head.ptype.eq(tx.ptype), head.length.eq(tx.length),
            head.payload.eq(tx.data[:fw - 19]),
        ]
        opening = remaining == 0
        m.d.comb += [
            self.o_flit.valid.eq(self.i_tx.valid),
            self.i_tx.ready.eq(self.o_flit.ready),
            self.o_flit.payload.data.eq(Mux(opening, head.as_value(), tx.data)),
            self.o_flit.payload.kind.eq(Mux(opening, Mux(tx.length == 0, SINGLE, HEAD),
                                            Mux(remaining == 1, TAIL, BODY))),
        ]
        with m.If(self.i_tx.valid & self.i_tx.ready):
            m.d.sync += remaining.eq(Mux(opening, tx.length, remaining - 1))

        # ---- receive --------------------------------------------------------
        flit = self.i_flit.payload
        rhead = data.View(hl, flit.data)
        src_x, src_y, ptype, length = Signal(3), Signal(3), Signal(PacketType), Signal(4)
        is_head = flit.kind[0]
        out = self.o_rx.payload
        m.d.comb += [
            self.o_rx.valid.eq(self.i_flit.valid),
            self.i_flit.ready.eq(self.o_rx.ready),
            out.first.eq(is_head),
            out.last.eq(flit.kind[1]),
        ]
        if not self.repeat_header:
            m.d.comb += [out.src_x.eq(rhead.src_x), out.src_y.eq(rhead.src_y), out.ptype.eq(rhead.ptype),
                         out.length.eq(rhead.length), out.data.eq(flit.data)]
            return m
        m.d.comb += [
            out.src_x.eq(Mux(is_head, rhead.src_x, src_x)),
            out.src_y.eq(Mux(is_head, rhead.src_y, src_y)),
            out.ptype.eq(Mux(is_head, rhead.ptype, ptype)),
            out.length.eq(Mux(is_head, rhead.length, length)),
            out.data.eq(Mux(is_head, rhead.payload, flit.data)),
        ]
        with m.If(self.i_flit.valid & self.i_flit.ready & is_head):
            m.d.sync += [src_x.eq(rhead.src_x), src_y.eq(rhead.src_y),
                         ptype.eq(rhead.ptype), length.eq(rhead.length)]
        return m
