"""cocotb tests of the left core against the golden model.

Run through pytest (tests/test_left_sim.py); environment: HEMI_CONFIG (the
config TOML), TB_IDLE and TB_BACKPRESSURE (probabilities crossed over every
test), SEED (replay).
"""

import cocotb
import numpy as np

from sw_model.left import INT32_MAX, INT32_MIN
from sw_model.left_stream import Command, plan_gemm
from tb.common.seed import seed_bench
from tb.common.soak_stats import Progress, int_env
from tb.left.left_tb import LeftTB


async def setup(dut):
    tb = LeftTB(dut)
    seed = seed_bench(tb, dut._log)
    await tb.reset()
    return tb, tb.rng, np.random.default_rng(seed)


def random_epilogue(nrng, n, mode=None):
    mode = mode or nrng.choice(["int8", "int32"])
    return dict(
        bias=nrng.integers(-(1 << 16), 1 << 16, n),
        multiplier=nrng.integers(1 << 29, INT32_MAX, n, endpoint=True),
        shift=nrng.integers(0, 12, n),
        zero_point=int(nrng.integers(-128, 128)),
        relu=bool(nrng.integers(0, 2)),
        mode=mode,
    )


@cocotb.test()
async def directed_shapes(dut):
    """Edge shapes: 1x1x1, single tiles, ragged tiles, K=1, M=1, large K,
    all -128 and all 127 operands, in both output modes."""
    tb, rng, nrng = await setup(dut)
    R, C, D = tb.cfg.rows, tb.cfg.cols, tb.cfg.acc_depth
    shapes = [(1, 1, 1), (1, R, C), (min(D, 3), 1, 2 * C + 1), (1, 3 * R + 2, 5),
              (min(D, R + 1), 2 * R + 1, 2 * C + 3), (min(D, 5), 40 * R + 3, C + 1),
              (min(D, 2 * R + 3), R, C)]
    for M, K, N in shapes:
        for mode in ("int8", "int32"):
            A = nrng.integers(-128, 128, (M, K))
            W = nrng.integers(-128, 128, (K, N))
            await tb.gemm(A, W, f"random {M}x{K}x{N} {mode}", **random_epilogue(nrng, N, mode))
    for value in (-128, 127):
        M, K, N = min(D, 4), 3 * R + 1, C + 2
        A = np.full((M, K), value)
        W = np.full((K, N), -128)
        await tb.gemm(A, W, f"all {value} raw", mode="int32")
        await tb.gemm(A, W, f"all {value} requant", mode="int8",
                      multiplier=INT32_MAX, shift=20, zero_point=-3)
    await tb.drained()


@cocotb.test()
async def epilogue_edges(dut):
    """gemmlowp edge cases reached through the bias: INT32_MIN x INT32_MIN
    saturation, negative halves, shifts 0 and 31, saturation to int8, ReLU."""
    tb, rng, nrng = await setup(dut)
    C = tb.cfg.cols
    n = 2 * C + 1
    M, K = 4, 1
    A = np.zeros((M, K), dtype=np.int64)
    A[1:, 0] = [1, -1, 127]
    W = np.ones((K, n), dtype=np.int64)
    cases = [
        dict(bias=INT32_MIN, multiplier=INT32_MIN, shift=0),
        dict(bias=INT32_MIN, multiplier=INT32_MIN, shift=31),
        dict(bias=-(3 << 20), multiplier=1 << 30, shift=20),   # x = -1.5 * 2**20: a negative half
        dict(bias=INT32_MAX - 200, multiplier=INT32_MAX, shift=31),
        dict(bias=nrng.integers(INT32_MIN, INT32_MAX, n), multiplier=nrng.integers(INT32_MIN, INT32_MAX, n),
             shift=nrng.integers(0, 32, n)),
        dict(bias=-5000, multiplier=1 << 30, shift=1, zero_point=-100, relu=True),
        dict(bias=5000, multiplier=INT32_MAX, shift=0, zero_point=7),
    ]
    for i, case in enumerate(cases):
        await tb.gemm(A, W, f"epilogue case {i}", mode="int8", **case)
    await tb.drained()


@cocotb.test()
async def random_gemms(dut):
    """Random shapes (M up to 2 x acc_depth, so tall GEMMs split into several
    commands), random operands and epilogues, all queued back to back."""
    tb, rng, nrng = await setup(dut)
    R, C, D = tb.cfg.rows, tb.cfg.cols, tb.cfg.acc_depth
    n_gemms = int_env("TB_GEMMS", 12)
    stats = Progress("random_gemms")
    pending = []
    for i in range(n_gemms):
        M = int(nrng.integers(1, min(2 * D, 48) + 1))
        K = int(nrng.integers(1, 4 * R + 1))
        N = int(nrng.integers(1, 3 * C + 1))
        A = nrng.integers(-128, 128, (M, K))
        W = nrng.integers(-128, 128, (K, N))
        plan = plan_gemm(tb.cfg, A, W, **random_epilogue(nrng, N))
        tb.submit(plan)
        pending.append((plan, f"gemm {i} {M}x{K}x{N}"))
    beats = 0
    for i, (plan, label) in enumerate(pending):
        await tb.check(plan, label)
        beats += plan.out.shape[0]
        stats.update(gemms=i + 1, beats=beats, cycles=tb.cycles.now)
    await tb.drained()
    stats.done(dut._log, gemms=len(pending), beats=beats, cycles=tb.cycles.now)


@cocotb.test()
async def bad_commands(dut):
    """M = 0, M > acc_depth, K = 0 and N = 0 are refused and counted; the core
    then runs a good GEMM correctly."""
    tb, rng, nrng = await setup(dut)
    D = tb.cfg.acc_depth
    bad = [Command(0, 4, 4, 0), Command(D + 1, 4, 4, 0), Command(2, 0, 4, 0), Command(2, 4, 0, 0)]
    tb.cmd.send(tb.pack_cmd(c) for c in bad)
    await tb.cmd.wait_drained()
    for _ in range(4):
        await cocotb.triggers.RisingEdge(dut.clk)
    assert int(dut.errors.value) == len(bad), \
        f"errors = {int(dut.errors.value)}, expected {len(bad)} (replay: SEED={tb.seed})"
    A = nrng.integers(-128, 128, (3, 5))
    W = nrng.integers(-128, 128, (5, 3))
    await tb.gemm(A, W, "after bad commands", mode="int32")
    await tb.drained()
    assert int(dut.errors.value) == len(bad)
