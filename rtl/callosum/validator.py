"""Packet validator: the local input of every router.

A FIFO that only lets whole, well-formed packets out. Flits are written
speculatively; a packet becomes visible to the router when its last flit
arrives with the framing its head promised and a destination inside the
mesh; anything else rolls the write pointer back to the last committed
packet and counts one error. Framing rules (the same state machine as
``sw_model.callosum.validate_local``):

* IDLE: HEAD with length >= 1 starts a packet; SINGLE with length 0 is a
  packet; SINGLE with length > 0 is an error (dropped); HEAD with length 0
  or a BODY is an error and discards up to the next tail; a stray TAIL is an
  error.
* IN_PACKET: BODY while more than one flit is due, TAIL for the last; a head
  flit aborts the partial packet (error) and is then handled as in IDLE
  (possibly a second error, if it is malformed itself); an early
  TAIL is an error; a BODY where the TAIL was due is an error and discards up
  to the next tail.
* DISCARD: drop silently until a tail (then IDLE) or a head (handled as in
  IDLE).

Depth is two maximum packets, so one packet can fill while the previous one
drains.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .layouts import BODY, SINGLE, TAIL, head_layout, link_layout

IDLE, IN_PACKET, DISCARD = range(3)


class PacketValidator(wiring.Component):
    def __init__(self, cfg):
        self.cfg = cfg
        self.depth = 2 * cfg.MAX_PACKET_FLITS
        lay = link_layout(cfg.flit_width)
        super().__init__({
            "i": In(stream.Signature(lay)),
            "o": Out(stream.Signature(lay)),
            "errors": Out(16),
            "error_events": Out(2),   # errors counted this cycle (for one mesh-wide counter)
            "drops": Out(2),     # packets dropped this cycle whose head had entered (for in-flight counts)
        })

    def elaborate(self, platform):
        m = Module()
        cfg, D = self.cfg, self.depth
        pw = D.bit_length()           # pointers carry one wrap bit
        lay = link_layout(cfg.flit_width)
        m.submodules.mem = mem = Memory(shape=lay, depth=D, init=[])
        wp = mem.write_port()
        rp = mem.read_port(domain="comb")

        wr, commit, rd = Signal(pw, name="wr"), Signal(pw, name="commit"), Signal(pw, name="rd")
        state = Signal(range(3))
        remaining = Signal(4)
        errors = Signal(16)
        m.d.comb += self.errors.eq(errors)

        flit = self.i.payload
        head = data.View(head_layout(cfg.flit_width), flit.data)
        is_head, is_tail = flit.kind[0], flit.kind[1]
        dst_ok = (head.dst_x < cfg.width) & (head.dst_y < cfg.height)
        space = (wr - rd)[:pw] < D
        m.d.comb += self.i.ready.eq(space)
        take = self.i.valid & self.i.ready

        # What this flit does, decided combinationally from state and kind.
        write = Signal()        # store the flit
        do_commit = Signal()    # the packet ends well here
        restart = Signal()      # drop the partial packet (wr <- commit)
        error = Signal()        # this flit is (or starts) a malformed packet
        aborted = Signal()      # this head cut the partial packet short: a second error
        nxt = Signal(range(3))
        m.d.comb += nxt.eq(state)

        def start_packet():
            """Handle a flit with the head bit as in IDLE."""
            with m.If(flit.kind == SINGLE):
                with m.If((head.length == 0) & dst_ok):
                    m.d.comb += [write.eq(1), do_commit.eq(1), nxt.eq(IDLE)]
                with m.Else():
                    m.d.comb += [error.eq(1), nxt.eq(IDLE)]
            with m.Else():   # HEAD
                with m.If((head.length != 0) & dst_ok):
                    m.d.comb += [write.eq(1), nxt.eq(IN_PACKET)]
                with m.Else():
                    m.d.comb += [error.eq(1), nxt.eq(DISCARD)]

        with m.Switch(state):
            with m.Case(IDLE):
                with m.If(is_head):
                    start_packet()
                with m.Else():
                    m.d.comb += [error.eq(1), nxt.eq(Mux(is_tail, IDLE, DISCARD))]
            with m.Case(IN_PACKET):
                with m.If(is_head):
                    m.d.comb += [restart.eq(1), aborted.eq(1)]
                    start_packet()
                with m.Elif(remaining == 1):
                    with m.If(flit.kind == TAIL):
                        m.d.comb += [write.eq(1), do_commit.eq(1), nxt.eq(IDLE)]
                    with m.Else():   # a BODY where the tail was due
                        m.d.comb += [restart.eq(1), error.eq(1), nxt.eq(DISCARD)]
                with m.Else():
                    with m.If(flit.kind == BODY):
                        m.d.comb += write.eq(1)
                    with m.Else():   # an early TAIL
                        m.d.comb += [restart.eq(1), error.eq(1), nxt.eq(IDLE)]
            with m.Case(DISCARD):
                with m.If(is_head):
                    start_packet()
                with m.Elif(is_tail):
                    m.d.comb += nxt.eq(IDLE)

        base = Mux(restart, commit, wr)
        m.d.comb += [wp.addr.eq(base[:pw - 1]), wp.data.eq(flit), wp.en.eq(take & write)]
        with m.If(take):
            m.d.sync += state.eq(nxt)
            with m.If(write & do_commit):
                m.d.sync += [wr.eq(base + 1), commit.eq(base + 1)]
            with m.Elif(write):
                m.d.sync += wr.eq(base + 1)
            with m.Else():
                m.d.sync += wr.eq(base)
            with m.If(write & is_head):
                m.d.sync += remaining.eq(head.length)
            with m.Elif(write):
                m.d.sync += remaining.eq(remaining - 1)
            m.d.comb += self.error_events.eq(error + aborted)
            count = errors + error + aborted
            m.d.sync += errors.eq(Mux(count > 0xFFFF, 0xFFFF, count))
            # Only packets whose head entered count as dropped packets: a
            # stray body or tail in IDLE is an error but no packet.
            m.d.comb += self.drops.eq((error & (is_head | (state == IN_PACKET))) + aborted)

        m.d.comb += [
            rp.addr.eq(rd[:pw - 1]),
            self.o.payload.eq(rp.data),
            self.o.valid.eq(rd != commit),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += rd.eq(rd + 1)
        return m
