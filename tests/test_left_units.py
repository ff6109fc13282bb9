"""Fast Amaranth-simulator tests of the left core's blocks: the systolic
array (skew, de-skew, double-buffered weights and the bank wavefront) and the
requantization epilogue, each against the golden model."""

import numpy as np
import pytest

from rtl.config import LeftConfig
from rtl.left.array import SystolicArray
from rtl.left.epilogue import Epilogue
from rtl.left.layouts import LeftLayouts, OutMode
from sw_model import left as g
from tb.common.amaranth_sim import simulate
from tb.left.epilogue_bench import play_epilogue



@pytest.mark.parametrize("rows,cols", [(1, 1), (2, 3), (4, 4), (3, 1)])
def test_array_streams_tiles_back_to_back(rows, cols):
    """Two weight tiles in the two banks; activation rows alternate between
    them at random from cycle to cycle; every de-skewed output row must be
    the plain product of its activation row with its bank's tile."""
    rng = np.random.default_rng(rows * 10 + cols)
    dut = SystolicArray(rows, cols)
    tiles = [rng.integers(-128, 128, (rows, cols)) for _ in range(2)]
    n = 24
    acts = rng.integers(-128, 128, (n, rows))
    banks = rng.integers(0, 2, n)
    got = []

    async def bench(ctx):
        ctx.set(dut.en, 1)
        for b in range(2):          # load both banks (lane c lands c steps later)
            for r in range(rows):
                ctx.set(dut.w_we, 1)
                ctx.set(dut.w_bank, b)
                ctx.set(dut.w_row, r)
                ctx.set(dut.w_data, [int(x) for x in tiles[b][r]])
                await ctx.tick()
        ctx.set(dut.w_we, 0)
        for _ in range(cols):
            await ctx.tick()
        for t in range(n + dut.LATENCY):
            if t < n:
                ctx.set(dut.a, [int(x) for x in acts[t]])
                ctx.set(dut.bank, int(banks[t]))
            if t >= dut.LATENCY:
                got.append([ctx.get(dut.psum[c]) for c in range(cols)])
            await ctx.tick()

    simulate(dut, bench)
    for t in range(n):
        assert got[t] == (acts[t] @ tiles[banks[t]]).tolist(), f"row {t}"


def test_array_holds_state_when_disabled():
    """With ``en`` low nothing moves: the output reappears after the stall."""
    dut = SystolicArray(2, 2)
    W = np.array([[1, 2], [3, 4]])
    out = []

    async def bench(ctx):
        ctx.set(dut.en, 1)
        for r in range(2):
            ctx.set(dut.w_we, 1)
            ctx.set(dut.w_bank, 0)
            ctx.set(dut.w_row, r)
            ctx.set(dut.w_data, [int(x) for x in W[r]])
            await ctx.tick()
        ctx.set(dut.w_we, 0)
        await ctx.tick().repeat(2)
        ctx.set(dut.a, [5, -7])
        ctx.set(dut.bank, 0)
        await ctx.tick()
        ctx.set(dut.a, [0, 0])
        ctx.set(dut.en, 0)
        await ctx.tick().repeat(5)        # stall mid-flight
        ctx.set(dut.en, 1)
        await ctx.tick().repeat(dut.LATENCY - 1)
        out.append([ctx.get(dut.psum[c]) for c in range(2)])

    simulate(dut, bench)
    assert out[0] == (np.array([5, -7]) @ W).tolist()


@pytest.mark.parametrize("kind", ["parallel", "serial", "compact"])
def test_epilogue_matches_golden(kind):
    cols = 4
    cfg = LeftConfig(rows=1, cols=cols)
    layouts = LeftLayouts(cfg)
    serial = kind == "serial"
    dut = Epilogue(layouts, cols, serial=serial, compact=kind == "compact")
    rng = np.random.default_rng(11)
    cases = []
    for i in range(120):
        acc = rng.integers(g.INT32_MIN, g.INT32_MAX, cols, endpoint=True)
        bias = rng.integers(g.INT32_MIN, g.INT32_MAX, cols, endpoint=True)
        mult = rng.integers(g.INT32_MIN, g.INT32_MAX, cols, endpoint=True)
        shift = rng.integers(0, 32, cols)
        if i >= 40:  # results near int8, so the rounding and the clamp show
            mult = rng.integers(1 << 30, 1 << 31, cols) * rng.choice([-1, 1], cols)
            if i % 3 == 0:   # x = v / 2 exactly or half way: rounding ties
                mult[:] = 1 << 30
            target = rng.integers(-300 << 8, 300 << 8, cols)      # result * 256
            v = [max(min((int(t) << int(sh) + 23) // int(mu), g.INT32_MAX), g.INT32_MIN)
                 for t, sh, mu in zip(target, shift, mult)]
            if i % 3 == 0:
                v = [(int(t) >> 7) << int(sh) if sh < 24 else int(t) << 23 for t, sh in zip(target, shift)]
            acc = np.array(v, dtype=np.int64) - bias
            acc = g.wrap_int32(acc)
        if i == 0:   # INT32_MIN x INT32_MIN, shift 0 and 31
            acc[:] = 0
            bias[:] = g.INT32_MIN
            mult[:] = g.INT32_MIN
            shift[:] = [0, 31, 1, 30]
        if i == 1:   # exact negative halves
            acc[:] = [-(3 << 19), -(1 << 20), -3, -1]
            bias[:] = 0
            mult[:] = 1 << 30
            shift[:] = [19, 20, 1, 0]
        if i in (2, 3):  # x >> shift at the edges of 9 bits (the compact epilogue's shifter)
            sh = 0 if i == 2 else 5
            acc[:] = [(2 * r) << sh for r in (255, 256, -256, -257)]
            bias[:] = 0
            mult[:] = 1 << 30
            shift[:] = sh
        zp = int(rng.integers(-128, 128))
        relu = bool(rng.integers(0, 2))
        raw = i % 5 == 4
        cases.append((acc, bias, mult, shift, zp, relu, raw))
    def apply(ctx, case):
        acc, bias, mult, shift, zp, relu, raw = case
        ctx.set(dut.acc, [int(x) for x in acc])
        ctx.set(dut.params, {
            "bias": [int(x) for x in bias], "multiplier": [int(x) for x in mult],
            "shift": [int(x) for x in shift], "zero_point": zp, "relu": int(relu),
            "mode": OutMode.RAW if raw else OutMode.REQUANT})

    # Play the core (tb.left.epilogue_bench); the compact epilogue also
    # under random holds, gaps and output back-pressure.
    bench, results, stall_cycles = play_epilogue(dut, cases, apply, rng=np.random.default_rng(3),
                                                 max_cycles=60 * len(cases) * cols)
    simulate(dut, bench)
    # A serial epilogue spends cols - 1 stall cycles per token, a parallel one
    # none; a compact one stalls a token while the one before it is shifted.
    if kind != "compact":
        assert sum(stall_cycles) == (len(cases) * (cols - 1) if serial else 0)
    for k, (acc, bias, mult, shift, zp, relu, raw) in enumerate(cases):
        v = g.wrap_int32(acc + bias)
        expect = v if raw else g.requantize(v, mult, shift, zp, relu)
        assert results[k] == expect.tolist(), f"case {k}"


def test_core_with_bounded_k_and_n_refuses_larger_commands():
    """A core built with max_k / max_n (as a tile builds it) counts K and N
    in fewer bits: a command past either bound is refused and counted, like
    one with a zero, instead of being truncated; one at the bounds runs."""
    from rtl.left.core import LeftCore

    dut = LeftCore(LeftConfig(rows=1, cols=1, acc_depth=2), raw=False, max_k=4, max_n=3)

    async def bench(ctx):
        for m_, k, n, refused in ((1, 5, 3, True), (1, 4, 4, True), (1, 20, 1, True), (1, 4, 3, False)):
            ctx.set(dut.i_cmd.payload, {"m": m_, "k": k, "n": n})
            ctx.set(dut.i_cmd.valid, 1)
            assert ctx.get(dut.i_cmd.ready)
            errors = ctx.get(dut.errors)
            await ctx.tick()
            ctx.set(dut.i_cmd.valid, 0)
            assert ctx.get(dut.errors) == errors + refused, (k, n)
            assert ctx.get(dut.busy) == (not refused)

    simulate(dut, bench)


@pytest.mark.parametrize("epilogue", ["parallel", "compact"])
def test_core_with_bounded_k_accumulates_extremes(epilogue):
    """With ``max_k`` the accumulator is only psum_width(max_k) bits wide
    (a tile's core): K = max_k products of -128 x -128 (the largest sum) and
    of -128 x 127 (the most negative) come out exact, RAW and requantized."""
    from rtl.left.core import LeftCore

    K, N = 4, 3
    cfg = LeftConfig(rows=1, cols=1, acc_depth=1, epilogue=epilogue)
    dut = LeftCore(cfg, raw=True, max_k=K, max_n=N, checked=False)
    A = np.full((1, K), -128)
    W = np.array([[-128, 127, -128]] * K)
    bias = np.array([0, -5, 7])
    mult = np.array([1 << 30, 1 << 30, 1 << 30])
    shift = np.array([20, 3, 0])
    gemms = [("int32", 0, 0), ("int8", 3, 1)]
    streams = {"i_cmd": [], "i_w": [], "i_act": [], "i_epi": []}
    want = []
    for mode, zp, relu in gemms:
        streams["i_cmd"].append({"m": 1, "k": K, "n": N})
        for n in range(N):
            streams["i_w"] += [[int(W[k, n])] for k in range(K)]
            streams["i_act"] += [[int(A[0, k])] for k in range(K)]
            streams["i_epi"].append({"bias": [int(bias[n])], "multiplier": [int(mult[n])],
                                     "shift": [int(shift[n])], "zero_point": zp, "relu": relu,
                                     "mode": OutMode.RAW if mode == "int32" else OutMode.REQUANT})
        v = g.wrap_int32(A @ W + bias)[0]
        want += (v if mode == "int32" else g.requantize(v, mult, shift, zp, relu)).tolist()
    got = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        for _ in range(400):
            for name, q in streams.items():
                port = getattr(dut, name)
                ctx.set(port.valid, bool(q))
                if q:
                    ctx.set(port.payload, q[0])
            taken = [name for name, q in streams.items() if q and ctx.get(getattr(dut, name).ready)]
            if ctx.get(dut.o.valid):
                got.append(ctx.get(dut.o.payload.data[0]))
            await ctx.tick()
            for name in taken:
                streams[name].pop(0)
            if len(got) == len(want):
                break

    simulate(dut, bench)
    assert got == want
