"""A register slice for a valid/ready link: a two-entry skid buffer.

Every output of the slice comes from a register (``o.valid``, ``o.payload``
and ``i.ready``), so no combinational path crosses it in either direction;
it passes one beat per cycle and adds one cycle of latency. The chip puts one
on each side of every tile's mesh port, so a router's arbitration, a tile
port's packet decoder and the next router's validator are no longer one
combinational chain across the die.

``busy`` is high while the slice holds a beat (for the step controller's
quiet check: a flit inside a slice is neither in its tile nor counted on the
mesh).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


class LinkSlice(wiring.Component):
    def __init__(self, shape):
        super().__init__({
            "i": In(stream.Signature(shape)),
            "o": Out(stream.Signature(shape)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        shape = self.i.payload.shape()
        out, out_valid = Signal(shape), Signal()
        skid, skid_valid = Signal(shape), Signal()
        m.d.comb += [self.o.valid.eq(out_valid), self.o.payload.eq(out), self.i.ready.eq(~skid_valid),
                     self.busy.eq(out_valid | skid_valid)]
        take_in = self.i.valid & ~skid_valid
        with m.If(~out_valid | self.o.ready):
            # The output register is free this cycle: skid first, then the input.
            with m.If(skid_valid):
                m.d.sync += [out.eq(skid), out_valid.eq(1), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += [out.eq(self.i.payload), out_valid.eq(self.i.valid)]
        with m.Elif(take_in):
            m.d.sync += [skid.eq(self.i.payload), skid_valid.eq(1)]
        return m


class LinkWire(LinkSlice):
    """:class:`LinkSlice`'s ports as a plain wire, for a chip built without
    register slices (``chip.link_slices = false``: a slow clock, where a
    slice's flip-flops cost a logic cell each). It holds nothing, so
    ``busy`` is always low: a beat goes from the producer to the consumer on
    one edge, and one of the two counts it as work in every cycle."""

    def elaborate(self, platform):
        m = Module()
        wiring.connect(m, wiring.flipped(self.i), wiring.flipped(self.o))
        return m


def link_slice(shape, registered=True):
    """A :class:`LinkSlice`, or with ``registered=False`` a :class:`LinkWire`."""
    return LinkSlice(shape) if registered else LinkWire(shape)
