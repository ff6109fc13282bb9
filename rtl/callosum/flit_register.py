"""A router input of one flit (``callosum.fifo_depth = 1``), for small FPGAs.

A two-flit FIFO on the iCE40 is 68 flip-flops whose D inputs come straight
from the link (each a logic cell of its own, with no LUT to share it) plus a
read multiplexer and pointers. This is one register and a valid bit, and
the output is the register itself.

With ``pass_ready`` the input is ready when the register is empty *or* is
being emptied this cycle, so a link still carries a flit every cycle. The
ready then depends combinationally on the router's arbitration, and through
it on the next hop's ready: used on the inputs from neighbouring routers,
where XY routing never turns a flit back (see ``router.XY_TURNS``), so these
chains end at a local output or at a registered ready and never form a
loop. Without ``pass_ready`` (the local input: a tile's ready may depend on
its own output's) the input is ready only when the register is empty, which
is registered, and a flit enters at most every other cycle.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


class FlitRegister(wiring.Component):
    def __init__(self, shape, pass_ready):
        self.pass_ready = pass_ready
        super().__init__({
            "i": In(stream.Signature(shape)),
            "o": Out(stream.Signature(shape)),
        })

    def elaborate(self, platform):
        m = Module()
        held = Signal(self.i.payload.shape())
        full = Signal()
        leaving = full & self.o.ready
        m.d.comb += [self.o.valid.eq(full), self.o.payload.eq(held),
                     self.i.ready.eq(~full | leaving if self.pass_ready else ~full)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [held.eq(self.i.payload), full.eq(1)]
        with m.Elif(leaving):
            m.d.sync += full.eq(0)
        return m
