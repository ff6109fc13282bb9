"""The rate-encoder bridge in the Amaranth simulator against
sw_model.bridges.rate_encode, with random back-pressure on its output."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from rtl.bridges import RateEncoder
from sw_model.bridges import events_per_step, rate_encode


def run_encoder(elements, vectors, steps, rng):
    dut = RateEncoder(elements)
    got = []   # per vector: list of per-step event lists

    async def bench(ctx):
        for vec in vectors:
            for i, v in enumerate(vec):
                ctx.set(dut.i_vec.valid, 1)
                ctx.set(dut.i_vec.payload, {"value": int(v), "last": int(i == len(vec) - 1)})
                await ctx.tick().until(dut.i_vec.ready)
            ctx.set(dut.i_vec.valid, 0)
            per_step = []
            for _ in range(steps):
                ctx.set(dut.i_step.valid, 1)
                await ctx.tick().until(dut.i_step.ready)
                ctx.set(dut.i_step.valid, 0)
                events = []
                while True:
                    ready = rng.random() < 0.6
                    ctx.set(dut.o_event.ready, int(ready))
                    valid = ctx.get(dut.o_event.valid)
                    payload = ctx.get(dut.o_event.payload)
                    await ctx.tick()
                    if valid and ready:
                        if payload.end:
                            break
                        events.append(payload.axon)
                ctx.set(dut.o_event.ready, 0)
                per_step.append(events)
            got.append(per_step)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got


@pytest.mark.parametrize("elements", [1, 7, 64])
def test_rate_encoder_matches_golden(elements):
    rng = random.Random(elements)
    nrng = np.random.default_rng(elements)
    vectors = [nrng.integers(-128, 128, int(nrng.integers(1, elements + 1))) for _ in range(3)]
    vectors.append(np.array([127] * elements))
    vectors.append(np.array([-128, 0, 1, 64, 100][:elements]))
    steps = 9
    got = run_encoder(elements, vectors, steps, rng)
    for vec, per_step in zip(vectors, got):
        assert per_step == events_per_step(rate_encode(vec, steps)), f"vector {vec.tolist()}"


def test_rate_encoder_rejects_sizes():
    with pytest.raises(ValueError, match="elements = 0"):
        RateEncoder(0)


def test_rate_encoder_lints_clean(tmp_path):
    from amaranth.back import verilog

    from tools.lint import lint_file

    path = tmp_path / "hemi_rate_encoder.v"
    path.write_text(verilog.convert(RateEncoder(64), name="hemi_rate_encoder", emit_src=False))
    rc, out = lint_file(path, "hemi_rate_encoder")
    assert rc == 0 and "%Warning" not in out, out
