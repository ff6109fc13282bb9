"""Right-to-left bridge: spike counts over a window of time steps become an
int8 vector, bit-exact with ``sw_model.bridges.counts_to_int8``.

``i_spike`` takes the right core's ``o_spike`` stream unchanged: neuron ids,
and a ``done`` beat closing each step. After ``window`` done beats the
counts of neurons ``0..size-1`` leave on ``o_vec`` (one element per beat,
saturated at 127, ``last`` on the final one), each count restarting at 0 as
it leaves. ``size`` 0 (or above ``neurons``) means ``neurons``; ids
``>= size`` are ignored, so only the first ``size`` counts are ever non-zero
(change ``size`` only between windows; it counts from the next cycle).
Spikes wait while the vector is sent, and for ``neurons`` cycles after a
reset while every count is zeroed.

``busy`` is high while the counter still has work of its own: zeroing after
reset, a count being written back, or a vector being sent. It is low
between the steps of a window (the next step's spikes are not its work), so
a step controller can wait on it.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..common import cmp
from ._check import check_size


class SpikeCounter(wiring.Component):
    def __init__(self, neurons):
        check_size(self, "neurons", neurons, 1, 4096)
        self.neurons = neurons
        super().__init__({
            "i_spike": In(stream.Signature(data.StructLayout({"neuron": unsigned(16), "done": unsigned(1)}))),
            "o_vec": Out(stream.Signature(data.StructLayout({"value": signed(8), "last": unsigned(1)}))),
            "window": In(8),      # steps per window, 1..255 (0 acts as 1)
            "size": In(16),       # neurons counted and sent, 1..neurons (0: neurons)
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        N = self.neurons
        m.submodules.mem = mem = Memory(shape=unsigned(7), depth=N, init=[])
        wp = mem.write_port()
        rp = mem.read_port(transparent_for=(wp,))

        steps = Signal(8)
        emitting = Signal()
        clearing = Signal(init=1)         # after a reset: zero every count first
        idx = Signal(range(N + 1))        # emit/clear position (next to read / to zero)
        e_valid = Signal()                # rp.data holds element w_idx
        # The write-back address, one register for both uses (they never
        # overlap: a count is written back the cycle after its spike, which
        # is never the first cycle of a vector, as a done beat counts
        # nothing): the counted neuron (c_idx) outside a vector, the element
        # on offer (e_idx) while one is sent.
        w_idx = Signal(range(N + 1))

        # Elements of the vector: ``size``, clamped to the memory, and
        # registered: the clamp's compares are not one path with the emit
        # compare, the vector's ``last`` and the sender behind it. (So a new
        # ``size`` counts from the next cycle; it changes only between
        # windows anyway.)
        size = Signal(range(N + 1), init=N)
        m.d.sync += size.eq(Mux((self.size == 0) | cmp.gt(self.size, N), N, self.size))

        spike = self.i_spike.payload
        m.d.comb += self.i_spike.ready.eq(~emitting & ~clearing)
        take = self.i_spike.valid & self.i_spike.ready
        # (The id's bits above the memory's are compared apart: the carry chain
        # is only as long as ``size``.)
        nb = len(size)
        count_it = take & ~spike.done & ~spike.neuron[nb:].any() & (spike.neuron[:nb] < size)

        # Counting: read the neuron's count now, write count + 1 next cycle.
        c_valid = Signal()
        m.d.sync += c_valid.eq(count_it)
        with m.If(~emitting):
            m.d.sync += w_idx.eq(spike.neuron)

        # Emitting: read element idx, offer it the next cycle, clear it as it goes.
        out_taken = self.o_vec.valid & self.o_vec.ready
        advance = ~e_valid | out_taken
        more = idx < size
        issue = emitting & more & advance
        with m.If(emitting):
            m.d.comb += [rp.addr.eq(idx), rp.en.eq(issue)]
        with m.Else():
            m.d.comb += [rp.addr.eq(spike.neuron), rp.en.eq(count_it)]
        with m.If(advance):
            m.d.sync += e_valid.eq(issue)
            with m.If(emitting):
                m.d.sync += w_idx.eq(idx)
            with m.If(issue):
                m.d.sync += idx.eq(idx + 1)

        # Zeroing after reset walks idx (no vector is sent meanwhile, and the
        # first one sets idx to 0).
        with m.If(clearing):
            m.d.comb += [wp.addr.eq(idx), wp.en.eq(1), wp.data.eq(0)]
            m.d.sync += idx.eq(idx + 1)
            with m.If(idx == N - 1):
                m.d.sync += clearing.eq(0)
        with m.Elif(c_valid):
            m.d.comb += [wp.addr.eq(w_idx), wp.en.eq(1),
                         wp.data.eq(Mux(rp.data == 127, 127, rp.data + 1))]
        with m.Elif(out_taken):
            m.d.comb += [wp.addr.eq(w_idx), wp.en.eq(1), wp.data.eq(0)]

        m.d.comb += [
            self.o_vec.valid.eq(e_valid),
            self.o_vec.payload.value.eq(rp.data),
            # While e_valid, idx == w_idx + 1 (both move on the issue that sets
            # e_valid), so ``w_idx >= size - 1`` is ``idx >= size``: the
            # issue's compare, no subtraction. (">=": a size cut mid-vector
            # still ends it.)
            self.o_vec.payload.last.eq(~more),
        ]

        window = Mux(self.window == 0, 1, self.window)
        with m.If(take & spike.done):
            with m.If(steps + 1 >= window):
                m.d.sync += [steps.eq(0), emitting.eq(1), idx.eq(0)]
            with m.Else():
                m.d.sync += steps.eq(steps + 1)
        with m.If(out_taken & ~more):
            m.d.sync += emitting.eq(0)
        # A done beat taken sets `emitting` on the same edge, so there is no
        # idle cycle between the last step of a window and its vector.
        m.d.comb += self.busy.eq(emitting | clearing | c_valid)
        return m
