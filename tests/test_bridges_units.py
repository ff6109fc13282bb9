"""The hemisphere bridges in the Amaranth simulator against the golden
model (sw_model.bridges), with random back-pressure on their outputs."""

import random

import numpy as np
import pytest

from rtl.bridges import RateEncoder
from sw_model.bridges import events_per_step, rate_encode
from tb.common.amaranth_sim import simulate


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

    simulate(dut, bench)
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


@pytest.mark.parametrize("make", ["RateEncoder", "SpikeCounter"])
def test_bridges_lint_clean(make, tmp_path):
    from amaranth.back import verilog

    import rtl.bridges
    from tools.lint import lint_file

    path = tmp_path / "bridge.v"
    path.write_text(verilog.convert(getattr(rtl.bridges, make)(64), name="bridge", emit_src=False))
    rc, out = lint_file(path, "bridge")
    assert rc == 0 and "%Warning" not in out, out


def run_counter(neurons, window, steps_spikes, rng, size=0):
    from rtl.bridges import SpikeCounter

    dut = SpikeCounter(neurons)
    vectors = []
    busy_trace = []   # (busy, o_vec.valid) per cycle

    async def bench(ctx):
        ctx.set(dut.window, window)
        ctx.set(dut.size, size)
        current = []

        async def cycle():
            """One clock with random output back-pressure; collects o_vec."""
            nonlocal current
            ready = rng.random() < 0.6
            ctx.set(dut.o_vec.ready, int(ready))
            valid = ctx.get(dut.o_vec.valid)
            payload = ctx.get(dut.o_vec.payload)
            busy_trace.append((ctx.get(dut.busy), valid))
            await ctx.tick()
            if valid and ready:
                current.append(payload.value)
                if payload.last:
                    vectors.append(current)
                    current = []

        for spikes in steps_spikes:
            for beat in [{"neuron": n, "done": 0} for n in spikes] + [{"neuron": 0, "done": 1}]:
                ctx.set(dut.i_spike.valid, 1)
                ctx.set(dut.i_spike.payload, beat)
                while True:
                    ready_in = ctx.get(dut.i_spike.ready)
                    await cycle()
                    if ready_in:
                        break
            ctx.set(dut.i_spike.valid, 0)
        for _ in range(4 * neurons + 20):
            await cycle()

    simulate(dut, bench)
    return vectors, busy_trace


@pytest.mark.parametrize("neurons,window,size", [(1, 1, 0), (10, 4, 0), (16, 200, 0), (10, 4, 7),
                                                 (16, 3, 16), (16, 2, 1), (12, 3, 40)])
def test_spike_counter_matches_golden(neurons, window, size):
    from sw_model.bridges import counts_to_int8

    rng = random.Random(neurons * 7 + window + size)
    n_out = neurons if size == 0 or size > neurons else size   # elements per vector
    nsteps = 2 * window + 1 if window < 50 else window
    steps_spikes = []
    for _ in range(nsteps):
        k = neurons if window >= 50 else rng.randint(0, neurons)     # long windows: saturate
        ids = sorted(rng.sample(range(neurons + 3), k))   # some ids past the end
        steps_spikes.append(ids)
    got, busy_trace = run_counter(neurons, window, steps_spikes, rng, size)
    expect = []
    for w in range(nsteps // window):
        counts = np.zeros(n_out, dtype=np.int64)
        for ids in steps_spikes[w * window:(w + 1) * window]:
            for n in ids:
                if n < n_out:
                    counts[n] += 1
        expect.append(counts_to_int8(counts).tolist())
    assert got == expect
    if window >= 50:
        assert max(max(v) for v in got) == 127       # the saturation was exercised
    # busy: high while zeroing after reset and whenever a vector is on offer,
    # low once everything has left.
    assert all(b for b, _ in busy_trace[:neurons])
    assert all(b for b, valid in busy_trace if valid)
    assert not busy_trace[-1][0]


def test_spike_counter_size_change_between_windows():
    """``size`` may change between windows: each vector has the size in force
    when it leaves, and ids past it are never counted."""
    from rtl.bridges import SpikeCounter

    dut = SpikeCounter(8)
    got = []

    async def bench(ctx):
        ctx.set(dut.window, 1)
        ctx.set(dut.o_vec.ready, 1)
        # (The second window's first id is past the first window's size: a
        # stale size would drop it.)
        for size, ids in [(3, [0, 2, 5]), (0, [5, 1, 7]), (5, [4, 6])]:
            ctx.set(dut.size, size)
            await ctx.tick()        # a new size counts from the next cycle
            vec = []
            for beat in [{"neuron": n, "done": 0} for n in ids] + [{"neuron": 0, "done": 1}]:
                ctx.set(dut.i_spike.valid, 1)
                ctx.set(dut.i_spike.payload, beat)
                await ctx.tick().until(dut.i_spike.ready)
            ctx.set(dut.i_spike.valid, 0)
            while True:
                valid, payload = ctx.get(dut.o_vec.valid), ctx.get(dut.o_vec.payload)
                await ctx.tick()
                if valid:
                    vec.append(payload.value)
                    if payload.last:
                        break
            got.append(vec)
            while ctx.get(dut.busy):
                await ctx.tick()

    simulate(dut, bench)
    assert got == [[1, 0, 1], [0, 1, 0, 0, 0, 1, 0, 1], [0, 0, 0, 0, 1]]
