"""Message arbiter: several message streams of a tile share its network
interface, one whole message at a time.

A message is a head beat and ``length`` word beats (the NetworkInterface's
``tx_layout``). When idle, the lowest-numbered input with a message on offer
wins (fixed priority: put the rare, latency-sensitive sources first); the
winner keeps the output until its last beat is taken. A head that is on
offer but not yet taken stays granted, so the output's payload never changes
under a waiting sink.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..callosum.ni import tx_layout


class MessageArbiter(wiring.Component):
    def __init__(self, flit_width, inputs):
        if inputs < 1:
            self._MustUse__silence = True
            raise ValueError(f"MessageArbiter: inputs = {inputs}: at least 1")
        self.n = inputs
        lay = tx_layout(flit_width)
        members = {f"i_{k}": In(stream.Signature(lay)) for k in range(inputs)}
        members["o"] = Out(stream.Signature(lay))
        members["busy"] = Out(1)
        super().__init__(members)

    def input(self, k):
        return getattr(self, f"i_{k}")

    def elaborate(self, platform):
        m = Module()
        ins = [self.input(k) for k in range(self.n)]
        remaining = Signal(5)          # beats of the granted message still to go (head included)
        cur = Signal(range(max(self.n, 2)))
        locked = remaining != 0

        pick = Signal.like(cur)
        for k in reversed(range(self.n)):
            with m.If(ins[k].valid):
                m.d.comb += pick.eq(k)
        sel = Mux(locked, cur, pick)
        # A chain of n - 1 multiplexers ending in the last input (sel never
        # goes past it), not one per input ending in 0.
        valid, payload = ins[-1].valid, ins[-1].payload.as_value()
        for k in reversed(range(self.n - 1)):
            valid = Mux(sel == k, ins[k].valid, valid)
            payload = Mux(sel == k, ins[k].payload.as_value(), payload)
        m.d.comb += [self.o.valid.eq(valid), self.o.payload.eq(payload)]
        for k, i in enumerate(ins):
            m.d.comb += i.ready.eq((sel == k) & self.o.ready)
        taken = self.o.valid & self.o.ready
        length = self.o.payload.length
        with m.If(~locked & self.o.valid):
            m.d.sync += cur.eq(pick)
            m.d.sync += remaining.eq(Mux(taken, length, length + 1))
        with m.Elif(locked & taken):
            m.d.sync += remaining.eq(remaining - 1)
        m.d.comb += self.busy.eq(locked | self.o.valid)
        return m
