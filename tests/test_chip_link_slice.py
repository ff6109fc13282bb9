"""The link slice between a tile and its router: beats in order and none
lost or doubled under random valid and ready, one beat per cycle when
nothing stalls, every output from a register, and ``busy`` exactly while a
beat is inside."""

import random

import pytest

from rtl.chip.link_slice import LinkSlice
from tb.common.amaranth_sim import simulate


@pytest.mark.parametrize("idle,bp", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.6), (0.4, 0.4)])
def test_link_slice_stream(idle, bp):
    rng = random.Random(int(idle * 10 + bp * 100))
    dut = LinkSlice(16)
    beats = [rng.randrange(1 << 16) for _ in range(400)]
    got = []

    async def bench(ctx):
        i = cycles = 0
        while len(got) < len(beats):
            offer = i < len(beats) and rng.random() >= idle
            take = rng.random() >= bp
            # Outputs come from registers: sample them before driving the inputs.
            out_valid, out, in_ready = ctx.get(dut.o.valid), ctx.get(dut.o.payload), ctx.get(dut.i.ready)
            ctx.set(dut.i.valid, int(offer))
            ctx.set(dut.i.payload, beats[i] if offer else rng.randrange(1 << 16))
            ctx.set(dut.o.ready, int(take))
            assert (ctx.get(dut.o.valid), ctx.get(dut.o.payload), ctx.get(dut.i.ready)) == \
                (out_valid, out, in_ready), "an output follows an input combinationally"
            inside = i - len(got)
            assert ctx.get(dut.busy) == (inside != 0)
            await ctx.tick()
            cycles += 1
            if offer and in_ready:
                i += 1
            if out_valid and take:
                got.append(out)
            assert cycles < 20 * len(beats)
        if idle == 0 and bp == 0:
            assert cycles == len(beats) + 1, "a free-running link loses cycles"

    simulate(dut, bench)
    assert got == beats
