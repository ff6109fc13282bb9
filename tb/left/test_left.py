"""cocotb tests of the left core against the golden model.

Run through pytest (tests/test_left_sim.py); environment: HEMI_CONFIG (the
config TOML), TB_IDLE and TB_BACKPRESSURE (probabilities crossed over every
test), SEED (replay).
"""

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from sw_model.left import INT32_MAX, INT32_MIN
from sw_model.left_stream import Command
from tb.common import fcov
from tb.common.seed import seed_bench
from tb.common.soak_stats import Progress, int_env
from tb.left import cover
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
    M = acc_depth + 3 (two commands), all -128 and all 127 operands, in both
    output modes."""
    tb, rng, nrng = await setup(dut)
    R, C, D = tb.cfg.rows, tb.cfg.cols, tb.cfg.acc_depth
    shapes = [(1, 1, 1), (1, R, C), (min(D, 3), 1, 2 * C + 1), (1, 3 * R + 2, 5),
              (min(D, R + 1), 2 * R + 1, 2 * C + 3), (min(D, 5), 40 * R + 3, C + 1),
              (min(D, 2 * R + 3), R, C),
              (D + 3, R, C)]        # taller than the accumulator: split into two commands
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
    saturation, negative and positive halves, shifts 0 and 31, saturation to
    int8, ReLU; then every shift 0..31 once (one per channel) and acc + bias
    wrapping past both ends of int32, in both output modes."""
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
        dict(bias=3 << 20, multiplier=1 << 30, shift=20),      # and a positive one
        dict(bias=INT32_MAX - 200, multiplier=INT32_MAX, shift=31),
        dict(bias=nrng.integers(INT32_MIN, INT32_MAX, n), multiplier=nrng.integers(INT32_MIN, INT32_MAX, n),
             shift=nrng.integers(0, 32, n)),
        dict(bias=-5000, multiplier=1 << 30, shift=1, zero_point=-100, relu=True),
        dict(bias=5000, multiplier=INT32_MAX, shift=0, zero_point=7),
    ]
    for i, case in enumerate(cases):
        await tb.gemm(A, W, f"epilogue case {i}", mode="int8", **case)
    # Every shift, on random operands and full-range biases and multipliers.
    n = 32
    A = nrng.integers(-128, 128, (3, 2))
    W = nrng.integers(-128, 128, (2, n))
    await tb.gemm(A, W, "shift sweep", mode="int8", shift=np.arange(n),
                  bias=nrng.integers(INT32_MIN, INT32_MAX, n, endpoint=True),
                  multiplier=nrng.integers(INT32_MIN, INT32_MAX, n, endpoint=True),
                  zero_point=int(nrng.integers(-128, 128)))
    # acc + bias wraps: 127 + (INT32_MAX - 50) above, -128 + (INT32_MIN + 50) below.
    A = np.array([[127], [-128]])
    W = np.ones((1, 2), dtype=np.int64)
    for mode in ("int32", "int8"):
        await tb.gemm(A, W, f"bias wrap {mode}", mode=mode, bias=[INT32_MAX - 50, INT32_MIN + 50])
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
        plan = tb.plan(A, W, **random_epilogue(nrng, N))
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
    assert len(bad) == len(cover.BAD_KINDS)     # one of each kind, in that order
    tb.cmd.send(tb.pack_cmd(c) for c in bad)
    await tb.cmd.wait_drained()
    for _ in range(4):
        await cocotb.triggers.RisingEdge(dut.clk)
    assert int(dut.errors.value) == len(bad), \
        f"errors = {int(dut.errors.value)}, expected {len(bad)} (replay: SEED={tb.seed})"
    for kind in cover.BAD_KINDS:
        fcov.sample("left.bad_command.kind", kind)
    A = nrng.integers(-128, 128, (3, 5))
    W = nrng.integers(-128, 128, (5, 3))
    await tb.gemm(A, W, "after bad commands", mode="int32")
    await tb.drained()
    assert int(dut.errors.value) == len(bad)


# ---- reset under traffic -------------------------------------------------------

def small_gemm(tb, nrng, min_m=1):
    """A random GEMM of a few tiles; M may pass acc_depth on shallow cores."""
    R, C, D = tb.cfg.rows, tb.cfg.cols, tb.cfg.acc_depth
    M = int(nrng.integers(min_m, max(min_m, min(D + 4, 16)) + 1))
    K = int(nrng.integers(1, 2 * R + 2))
    N = int(nrng.integers(1, 2 * C + 2))
    A = nrng.integers(-128, 128, (M, K))
    W = nrng.integers(-128, 128, (K, N))
    return tb.plan(A, W, **random_epilogue(nrng, N)), f"{M}x{K}x{N}"


async def check_all(tb, plans, label):
    for i, (plan, shape) in enumerate(plans):
        await tb.check(plan, f"{label} gemm {i} {shape}")


async def cycles(tb, n):
    for _ in range(n):
        await RisingEdge(tb.dut.clk)


async def reach(tb, kind, rng, plans, checker):
    """Wait for the moment of a reset of ``kind`` (cover.RESET_AT)."""
    if kind == "random":            # anywhere, finished traffic included
        await cycles(tb, rng.randint(1, sum(p.act.shape[0] + p.out.shape[0] for p, _ in plans)))
    elif kind == "mid_gemm":
        # The first GEMM has >= 8 output beats: right after its first one,
        # at most 4 more leave before the reset lands, so it is mid-GEMM.
        received = tb.out.received
        while tb.out.received == received:
            await RisingEdge(tb.dut.clk)
        await cycles(tb, rng.randint(0, 3))
    elif kind == "after_done":
        await checker
        await tb.drained()
        await cycles(tb, rng.randint(0, 5))


@cocotb.test()
async def reset_under_traffic(dut):
    """Reset at random moments under traffic, one round per kind in
    cover.RESET_AT (at once, after a random wait, mid-GEMM, after everything
    finished) and one more of a random kind, in random order. Each round
    queues random GEMMs (sometimes behind a refused command, so the error
    count is not zero) and checks the outputs until the reset, held for 1..6
    cycles (exactly 1 in the first round, more in the second), with every
    source flushed as an upstream block reset with the core would be. After
    the release the core must be idle for a few cycles: no output valid,
    busy and errors low, ready for a command only. Then new random GEMMs and
    one refused command run fully, checked against the golden model, with
    errors counting from 0. Nothing of the core's memories needs reloading:
    weights and epilogue parameters come with every GEMM, and the
    accumulator memory is overwritten by each tile's first K step."""
    tb, rng, nrng = await setup(dut)
    bad = Command(0, 1, 1, 0)
    kinds = list(cover.RESET_AT) + [rng.choice(cover.RESET_AT)]
    rng.shuffle(kinds)
    for r, kind in enumerate(kinds):
        label = f"reset round {r} ({kind})"
        plans = [small_gemm(tb, nrng, min_m=8)] + [small_gemm(tb, nrng) for _ in range(rng.randint(0, 2))]
        if rng.random() < 0.5:
            tb.cmd.send([tb.pack_cmd(bad)])
        for plan, _ in plans:
            tb.submit(plan)
        checker = cocotb.start_soon(check_all(tb, plans, label))
        await reach(tb, kind, rng, plans, checker)
        busy = int(dut.busy.value)
        if checker.done():
            checker.result()        # a mismatch before the reset fails here
        else:
            checker.cancel()
        # Exactly 1 cycle in the first round, longer in the second: both
        # reset.cycles bins, whatever the seed.
        hold = 1 if r == 0 else rng.randint(2 if r == 1 else 1, 6)
        dut._log.info(f"{label}: reset for {hold} cycles at cycle {tb.cycles.now}, core "
                      f"{'busy' if busy else 'idle'}, {tb.out.received} output beats so far")
        await tb.reset_now(hold)
        await tb.check_idle(label=label)
        fcov.sample("left.reset.at", kind)
        fcov.sample("left.reset.state", "busy" if busy else "idle")
        fcov.sample("left.reset.cycles", fcov.bucket(hold, (1, 2)))
        after = [small_gemm(tb, nrng) for _ in range(2)]
        tb.cmd.send([tb.pack_cmd(bad)])
        for plan, _ in after:
            tb.submit(plan)
        await check_all(tb, after, f"{label}, after the reset")
        assert int(dut.errors.value) == 1, \
            f"{label}: errors = {int(dut.errors.value)} after the reset, expected 1 (replay: SEED={tb.seed})"
    await tb.drained()
