"""Left-to-right bridge: an int8 activation vector becomes spike events, one
time step at a time, bit-exact with ``sw_model.bridges.rate_encode``.

Each element keeps an accumulator (starting at 0 when a vector is loaded);
per step it adds the element's value (negative values add 0) and, once the
accumulator reaches 128, the element spikes and 128 is taken off.

Ports:

* ``i_vec``: the vector, one element per beat (``value``), ``last`` on the
  final element; loading resets every accumulator. Taken only between steps;
  elements beyond ``elements`` are ignored.
* ``i_step``: one beat asks for the next step's events.
* ``o_event``: that step's spiking element ids, increasing, then one beat
  with ``end`` set (its ``axon`` is not defined).

The scan reads one element per cycle from a ``lib.memory`` and writes its
accumulator back; a spike waiting on ``o_event`` holds the scan.

The memory is read only by the scan, one element ahead of the write-back,
and written by a load only between steps, when nothing reads it: it is
never read and written at one address in one cycle, and is marked so
(``rtl.memattrs.no_collision``) for the FPGA flow.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..memattrs import no_collision
from ..common import cmp
from ._check import check_size

THRESHOLD = 128


class RateEncoder(wiring.Component):
    def __init__(self, elements):
        check_size(self, "elements", elements, 1, 4096)
        self.elements = elements
        super().__init__({
            "i_vec": In(stream.Signature(data.StructLayout({"value": signed(8), "last": unsigned(1)}))),
            "i_step": In(stream.Signature(unsigned(1))),
            "o_event": Out(stream.Signature(data.StructLayout({"axon": unsigned(16), "end": unsigned(1)}))),
        })

    def elaborate(self, platform):
        m = Module()
        E = self.elements
        # Both fields below 128 (an accumulator is left below THRESHOLD after
        # each step), so their sum is below 256: it reaches THRESHOLD iff its
        # bit 7 is set, and taking THRESHOLD off clears that bit. The fire
        # and the new accumulator are bits of the adder, no compare or
        # subtraction.
        entry = data.StructLayout({"value": unsigned(7), "acc": unsigned(7)})
        # Written in 7-bit lanes (value, acc): a load writes both fields, the
        # scan only the accumulator (so no multiplexer puts the value back).
        m.submodules.mem = mem = Memory(shape=unsigned(entry.size), depth=E, init=[],
                                        attrs=no_collision(platform))
        wp = mem.write_port(granularity=7)
        rp = mem.read_port()
        rd = data.View(entry, rp.data)
        wd = data.View(entry, wp.data)

        count = Signal(range(E + 1))       # elements in the loaded vector
        load_idx = Signal(range(E + 1))
        scanning = Signal()
        scan_idx = Signal(range(E + 1))    # next element to read
        s1_valid = Signal()                # rp.data holds element s1_idx
        s1_idx = Signal(range(E + 1))
        ending = Signal()                  # the end beat is on offer

        new_acc = Signal(8)
        m.d.comb += new_acc.eq(rd.acc + rd.value)
        fire = s1_valid & new_acc[7]
        stall = fire & ~self.o_event.ready
        advance = ~stall

        # Loading: negative values are stored as 0 (they never add).
        vec = self.i_vec.payload
        # Elements past ``elements`` are taken and ignored.
        m.d.comb += self.i_vec.ready.eq(~scanning & ~ending)
        taking = self.i_vec.valid & self.i_vec.ready
        load_ok = cmp.lt(load_idx, E)
        loading = taking & load_ok

        # Scan pipeline: read element scan_idx, then update it one cycle later.
        # (While scanning, scan_idx <= count: it starts at 0 and stops there,
        # and count changes only on a load, never during a scan; so "<" is
        # "!=", an equality and no carry chain.)
        at_end = scan_idx == count
        issue = scanning & ~at_end & advance
        # Enabled only to issue (the write-back is at s1_idx = scan_idx - 1;
        # loads write only while not scanning).
        m.d.comb += [rp.addr.eq(scan_idx), rp.en.eq(issue)]
        with m.If(advance):
            m.d.sync += [s1_valid.eq(issue), s1_idx.eq(scan_idx)]
            with m.If(issue):
                m.d.sync += scan_idx.eq(scan_idx + 1)

        m.d.comb += wd.value.eq(Mux(vec.value[-1], 0, vec.value))
        with m.If(loading):
            m.d.comb += [wp.addr.eq(load_idx), wp.en.eq(0b11), wd.acc.eq(0)]
        with m.Else():
            m.d.comb += [wp.addr.eq(s1_idx), wp.en.eq(Cat(0, s1_valid & advance)),
                         wd.acc.eq(new_acc[:7])]
        with m.If(taking):
            m.d.sync += load_idx.eq(Mux(vec.last, 0, Mux(load_ok, load_idx + 1, load_idx)))
            with m.If(vec.last):
                m.d.sync += count.eq(Mux(load_ok, load_idx + 1, E))

        m.d.comb += self.i_step.ready.eq(~scanning & ~ending & ~self.i_vec.valid)
        with m.If(self.i_step.valid & self.i_step.ready):
            m.d.sync += [scanning.eq(1), scan_idx.eq(0)]
        with m.If(scanning & at_end & ~s1_valid):
            m.d.sync += [scanning.eq(0), ending.eq(1)]
        with m.If(scanning & at_end & s1_valid & advance):
            m.d.sync += [scanning.eq(0), ending.eq(1)]

        m.d.comb += [
            self.o_event.valid.eq(fire | ending),
            # (The end beat's axon is not defined: s1_idx, no gating.)
            self.o_event.payload.axon.eq(s1_idx),
            self.o_event.payload.end.eq(~fire & ending),
        ]
        with m.If(ending & ~fire & self.o_event.ready):
            m.d.sync += ending.eq(0)
        return m
