"""A buffered synchronous FIFO with fewer logic cells than Amaranth's
``lib.fifo.SyncFIFOBuffered``, cycle for cycle the same at its ports.

Same structure: ``depth - 1`` entries in a memory (read synchronously, so
it can be a block RAM) and an output register that holds the head. What
differs is the bookkeeping: SyncFIFOBuffered keeps an up/down counter of
the memory's entries beside its two pointers, and adds the output register
to it for ``level`` (two more carry chains, and compares of the counter
with 0 and the depth). Here each pointer carries a lap bit (toggled as it
wraps), so the memory is empty when the pointers are equal and full when
only their lap bits differ: equality compares, no counter. ``nonempty``
(``level != 0``, all this project's users ask) is the memory's not-empty or
the output register's valid. ``level`` is there too (for tests; unused, it
costs nothing).

Ports: ``w_en``, ``w_data``, ``w_rdy``, ``r_en``, ``r_data``, ``r_rdy``,
``level``, ``nonempty``, with SyncFIFOBuffered's meaning.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..memattrs import no_collision

__all__ = ["LeanFIFO"]


class LeanFIFO(wiring.Component):
    def __init__(self, *, width, depth):
        if depth < 2:
            self._MustUse__silence = True
            raise ValueError(f"LeanFIFO: depth = {depth}: at least 2")
        self.width, self.depth = width, depth
        super().__init__({
            "w_en": In(1), "w_data": In(width), "w_rdy": Out(1),
            "r_en": In(1), "r_data": Out(width), "r_rdy": Out(1),
            "level": Out(range(depth + 1)), "nonempty": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        inner = self.depth - 1

        # Pointers: an index into the memory and a lap bit above it.
        ib = max(1, (inner - 1).bit_length())
        pow2 = inner == 1 << ib

        def pointer(name):
            return Signal(ib, name=f"{name}_idx"), Signal(name=f"{name}_lap")

        def advance(idx, lap):
            if pow2:
                # The carry out of the index is the lap toggle: one counter.
                return [Cat(idx, lap).eq(Cat(idx, lap) + 1)]
            last = idx == inner - 1
            return [idx.eq(Mux(last, 0, idx + 1)), lap.eq(lap ^ last)]

        # Never read and written at one address in one cycle: a read needs
        # the memory not empty, a write not full, and at equal indices it is
        # one or the other. Marked (rtl.memattrs) for the FPGA flow, as
        # fpga.build marks SyncFIFOBuffered's storage.
        m.submodules.storage = storage = Memory(shape=self.width, depth=inner, init=[],
                                                attrs=no_collision(platform))
        w_port = storage.write_port()
        r_port = storage.read_port()

        p_idx, p_lap = pointer("produce")
        c_idx, c_lap = pointer("consume")
        same_idx = p_idx == c_idx
        inner_empty = same_idx & (p_lap == c_lap)
        inner_full = same_idx & (p_lap != c_lap)

        do_write = self.w_rdy & self.w_en
        do_inner_read = ~inner_empty & (~self.r_rdy | self.r_en)
        m.d.comb += [
            self.w_rdy.eq(~inner_full),
            w_port.addr.eq(p_idx), w_port.data.eq(self.w_data), w_port.en.eq(do_write),
            r_port.addr.eq(c_idx), r_port.en.eq(do_inner_read), self.r_data.eq(r_port.data),
        ]
        with m.If(do_write):
            m.d.sync += advance(p_idx, p_lap)
        with m.If(do_inner_read):
            m.d.sync += advance(c_idx, c_lap)
            m.d.sync += self.r_rdy.eq(1)
        with m.Elif(self.r_en):
            m.d.sync += self.r_rdy.eq(0)

        inner_level = Mux(p_lap == c_lap, p_idx - c_idx, inner + p_idx - c_idx)
        m.d.comb += [
            self.nonempty.eq(~inner_empty | self.r_rdy),
            self.level.eq(inner_level + self.r_rdy),
        ]
        return m
