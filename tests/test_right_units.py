"""Fast tests of the right core's pieces: the LIF lane datapath in the
Amaranth simulator against the golden model over the full parameter and
state ranges, and the host-side synapse compiler."""

import numpy as np
import pytest

from rtl.config import HemiConfig, RightConfig
from rtl.right.layouts import RightLayouts
from rtl.right.neuron import LifLane
from sw_model import right as g
from sw_model.right_stream import SynapseTableError, compile_synapses, load_writes
from tb.common.amaranth_sim import simulate


def lif_cases(rng, n):
    u = rng.integers(-(1 << 23) + 1, (1 << 23) + 1, n)
    v = rng.integers(-(1 << 23) + 1, 1 << 23, n)
    acc = rng.integers(-(1 << 23), 1 << 23, n)
    # Mix in the corners: extreme states, inputs around the int16 limits.
    u[:8] = [(1 << 23), -(1 << 23) + 1, 0, 1, -1, (1 << 23) - 1, 4095, -4097]
    v[:8] = [(1 << 23) - 1, -(1 << 23) + 1, 0, -1, 1, 4096, -4096, 12345]
    acc[:8] = [32767, 32768, -32768, -32769, (1 << 23) - 1, -(1 << 23), 0, 1]
    p = {
        "du": rng.choice([0, 1, 2048, 4095], n),
        "dv": rng.choice([0, 1, 2048, 4095], n),
        "vth": rng.choice([0, 1, 1000, (1 << 17) - 1], n),
        "bias_mant": rng.integers(-4096, 4096, n),
        "bias_exp": rng.integers(0, 8, n),
        "refractory": rng.integers(0, 16, n),
    }
    half = n // 2
    for k, lo_hi in (("du", (0, 4096)), ("dv", (0, 4096)), ("vth", (0, 1 << 17))):
        p[k][half:] = rng.integers(*lo_hi, n - half)
    ref = np.where(rng.random(n) < 0.3, rng.integers(0, 16, n), 0)
    return u, v, acc, ref, p


def threshold_cases(rng):
    """States whose v' lands on vth * 64 - 1, vth * 64 and vth * 64 + 1
    (u = 0, no input, no decay of v, no bias: e = v), and on the clamp
    limits (v at its extremes, with bias pushing past them)."""
    vth = np.array([0, 1, 2, 63, 64, 1000, (1 << 17) - 2, (1 << 17) - 1] + list(rng.integers(0, 1 << 17, 16)))
    v = np.concatenate([np.clip(vth * 64 + k, -(1 << 23) + 1, (1 << 23) - 1) for k in (-1, 0, 1)])
    vth = np.tile(vth, 3)
    n = len(v)
    u, acc, ref = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    p = {"du": np.full(n, 4095), "dv": np.zeros(n, dtype=np.int64), "vth": vth,
         "bias_mant": np.zeros(n, dtype=np.int64), "bias_exp": np.zeros(n, dtype=np.int64),
         "refractory": rng.integers(0, 16, n)}
    # Clamp edges: v at +-(2**23 - 1) with a bias of -1, 0, +1 (and one large).
    lim = (1 << 23) - 1
    v2 = np.array([lim, lim, lim, -lim, -lim, -lim, lim, -lim])
    b2 = np.array([-1, 0, 1, -1, 0, 1, 4095, -4096])
    e2 = np.array([0, 0, 0, 0, 0, 0, 7, 7])
    m = len(v2)
    p2 = {"du": np.full(m, 4095), "dv": np.zeros(m, dtype=np.int64), "vth": np.full(m, (1 << 17) - 1),
          "bias_mant": b2, "bias_exp": e2, "refractory": np.zeros(m, dtype=np.int64)}
    cat = lambda a, b: np.concatenate([a, b])   # noqa: E731
    return (cat(u, np.zeros(m, dtype=np.int64)), cat(v, v2), cat(acc, np.zeros(m, dtype=np.int64)),
            cat(ref, np.zeros(m, dtype=np.int64)), {k: cat(p[k], p2[k]) for k in p})


@pytest.mark.parametrize("input_regs", [False, True])    # right.lif_input_regs
@pytest.mark.parametrize("late_sign", [False, True])     # True: the iCE40's form
@pytest.mark.parametrize("cases", ["random", "threshold"])
@pytest.mark.parametrize("gated", [True, False])
def test_lif_lane_matches_golden(gated, cases, late_sign, input_regs):
    rng = np.random.default_rng(21)
    if cases == "random":
        u, v, acc, ref, p = lif_cases(rng, 400)
    else:
        u, v, acc, ref, p = threshold_cases(rng)
    n = len(u)
    lay = RightLayouts(RightConfig())
    dut = LifLane(lay, gated=gated, late_sign=late_sign, input_regs=input_regs)
    assert (dut.LATENCY, dut.P1_DELAY) == (LifLane.LATENCY + input_regs, LifLane.P1_DELAY + input_regs)
    got = []

    async def bench(ctx):
        for i in range(n + dut.LATENCY):
            if i < n:
                ctx.set(dut.u, int(u[i]))
                ctx.set(dut.v, int(v[i]))
                ctx.set(dut.acc, int(acc[i]))
                ctx.set(dut.ref, int(ref[i]))
                if gated:
                    ctx.set(dut.active, 1)
                ctx.set(dut.p0, {"du": int(p["du"][i]), "dv": int(p["dv"][i]),
                                 "bias_exp": int(p["bias_exp"][i]), "refractory": int(p["refractory"][i])})
            # p1 comes P1_DELAY cycles behind the rest (the core reads it later).
            k = i - dut.P1_DELAY
            if 0 <= k < n:
                ctx.set(dut.p1, {"vth": int(p["vth"][k]), "bias_mant": int(p["bias_mant"][k])})
            await ctx.tick()
            if 0 <= i + 1 - dut.LATENCY < n:
                got.append((ctx.get(dut.u_next), ctx.get(dut.v_next), ctx.get(dut.ref_next), ctx.get(dut.spike)))

    simulate(dut, bench)
    a_in = np.clip(acc, -32768, 32767)
    eu, ev, eref, espike = g.loihi_lif_step_refractory(
        u, v, ref, a_in, p["du"], p["dv"], p["vth"], p["bias_mant"], p["bias_exp"], p["refractory"])
    assert len(got) == n
    for i in range(n):
        assert got[i] == (eu[i], ev[i], eref[i], int(espike[i])), f"case {i}"


def test_lif_lane_load_sets_u_and_ref():
    """The core's config writes of u and ref go through the lane's output
    registers (LifLane.load): both take the data word at the next edge."""
    dut = LifLane(RightLayouts(RightConfig()), gated=False)

    async def bench(ctx):
        for word in (0x1ABCDEF, 0x0000003, 0x1000000, 0x0FFFFFF):
            ctx.set(dut.load, 1)
            ctx.set(dut.load_data, word)
            await ctx.tick()
            assert ctx.get(dut.u_next) == word - (1 << 25) * (word >> 24), hex(word)
            assert ctx.get(dut.ref_next) == word & 0xF, hex(word)

    simulate(dut, bench)


def test_compile_buckets_by_lane_and_keeps_order():
    cfg = RightConfig(neurons=16, axons=16, lanes=4, synapse_rows=16)
    table = {3: [(5, 1), (9, 2), (1, 3), (6, -4), (0, 7)], 7: []}
    c = compile_synapses(cfg, table)
    assert c.ptr[3] == (0, 3)          # lane 1 holds neurons 5, 9, 1: three rows
    assert c.ptr[7] == (0, 0)          # no rows: base unused
    lane1 = [(row, grp, w) for row, lane, grp, w in c.entries if lane == 1]
    assert lane1 == [(0, 1, 1), (1, 2, 2), (2, 0, 3)]
    assert c.rows_used == 3


def test_compile_refuses_a_table_that_does_not_fit():
    cfg = RightConfig(neurons=16, axons=16, lanes=2, synapse_rows=4)
    table = {0: [(0, 1)] * 5}
    with pytest.raises(SynapseTableError, match=r"needs 5 rows of 2 entries, the core has 4 \(right.synapse_rows\)"):
        compile_synapses(cfg, table)


@pytest.mark.parametrize("table,match", [
    ({16: [(0, 1)]}, "axon 16 outside 0..15"),
    ({0: [(16, 1)]}, "neuron 16 outside 0..15"),
    ({0: [(1, 128)]}, "weight 128 outside int8"),
])
def test_compile_rejects_bad_entries(table, match):
    cfg = RightConfig(neurons=16, axons=16, lanes=2, synapse_rows=64)
    with pytest.raises(SynapseTableError, match=match):
        compile_synapses(cfg, table)


def test_load_writes_cover_every_axon_and_neuron():
    cfg = RightConfig(neurons=20, axons=16, lanes=4, synapse_rows=64)
    writes = load_writes(cfg, {"vth": 3}, {2: [(0, 5)]}, wexp=1)
    addrs = [a for a, _ in writes]
    assert len(set(addrs)) == len(addrs)
    regions = [a >> 20 for a in addrs]
    assert regions.count(1) == 16                 # every axon's pointer
    assert regions.count(2) == 4                  # one row, every lane
    for region in (3, 4, 5, 6, 7, 8):             # params and a fresh state
        assert regions.count(region) == 20


def test_right_config_validation():
    from rtl.config import ConfigError
    for bad, msg in (({"lanes": 0}, "right.lanes = 0: out of range, allowed 1..16"),
                     ({"neurons": 8}, "right.neurons = 8: out of range, allowed 16..4096"),
                     ({"axons": 5000}, "right.axons = 5000: out of range, allowed 16..4096"),
                     ({"synapse_rows": 0}, "right.synapse_rows = 0: out of range, allowed 1..65536")):
        with pytest.raises(ConfigError, match=msg):
            HemiConfig.from_dict({"right": bad})


@pytest.mark.parametrize("depth", [2, 3, 4, 5, 8, 9, 16, 17, 32, 65])
def test_lean_fifo_matches_sync_fifo_buffered(depth):
    """LeanFIFO against Amaranth's SyncFIFOBuffered, side by side on the same
    random pushes and pops (bursts, idle, the reader holding r_en while
    empty): every port equal in every cycle."""
    import random

    from amaranth.hdl import Module
    from amaranth.lib.fifo import SyncFIFOBuffered

    from rtl.common.fifo import LeanFIFO

    width = 7
    m = Module()
    m.submodules.ref = ref = SyncFIFOBuffered(width=width, depth=depth)
    m.submodules.lean = lean = LeanFIFO(width=width, depth=depth)
    rng = random.Random(depth)

    async def bench(ctx):
        mode = 0
        for cycle in range(3000):
            if cycle % 150 == 0:
                mode = rng.randrange(4)       # 0 balanced, 1 fill, 2 drain, 3 idle-heavy
            p_w, p_r = ((0.5, 0.5), (0.9, 0.2), (0.2, 0.9), (0.1, 0.1))[mode]
            w_en, r_en, w_data = rng.random() < p_w, rng.random() < p_r, rng.randrange(1 << width)
            for f in (ref, lean):
                ctx.set(f.w_en, w_en)
                ctx.set(f.r_en, r_en)
                ctx.set(f.w_data, w_data)
            got = [ctx.get(lean.w_rdy), ctx.get(lean.r_rdy), ctx.get(lean.level)]
            assert got == [ctx.get(ref.w_rdy), ctx.get(ref.r_rdy), ctx.get(ref.level)], f"cycle {cycle}"
            assert ctx.get(lean.nonempty) == (ctx.get(ref.level) != 0)
            if ctx.get(ref.r_rdy):
                assert ctx.get(lean.r_data) == ctx.get(ref.r_data), f"cycle {cycle}"
            await ctx.tick()

    simulate(m, bench)
