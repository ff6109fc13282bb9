"""The left core's golden model against plain integer math and gemmlowp's
reference semantics (written out here with Python ints and C rounding)."""

import numpy as np
import pytest

from rtl.config import LeftConfig
from sw_model import left as g
from sw_model.left_stream import plan_gemm

I32_MIN, I32_MAX = g.INT32_MIN, g.INT32_MAX


def ref_srdhm(a: int, b: int) -> int:
    """gemmlowp fixedpoint.h SaturatingRoundingDoublingHighMul, literally."""
    overflow = a == b == I32_MIN
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else (1 - (1 << 30))
    t = ab + nudge
    q = abs(t) // (1 << 31) * (1 if t >= 0 else -1)   # C division truncates
    return I32_MAX if overflow else q


def ref_rdbpot(x: int, exponent: int) -> int:
    """gemmlowp fixedpoint.h RoundingDivideByPOT, literally."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def test_srdhm_int32_min_saturates():
    assert g.srdhm(I32_MIN, I32_MIN) == I32_MAX
    assert g.srdhm(I32_MIN, I32_MAX) == ref_srdhm(I32_MIN, I32_MAX) == -I32_MAX
    assert g.srdhm(I32_MAX, I32_MAX) == I32_MAX - 1


def test_srdhm_rounding_of_negative_halves():
    # a * b * 2 / 2**32 = -0.5 and -1.5: gemmlowp's nudge rounds these away
    # from zero only after truncation, giving 0 and -1.
    assert g.srdhm(-1, 1 << 30) == ref_srdhm(-1, 1 << 30) == 0
    assert g.srdhm(-3, 1 << 30) == ref_srdhm(-3, 1 << 30) == -1
    assert g.srdhm(3, 1 << 30) == ref_srdhm(3, 1 << 30) == 2


def test_rdbpot_halves_round_away_from_zero():
    xs = np.array([-5, -3, -2, -1, 1, 2, 3, 5])
    assert g.rounding_divide_by_pot(xs, 1).tolist() == [-3, -2, -1, -1, 1, 1, 2, 3]


def test_rdbpot_shift_0_and_31():
    xs = [I32_MIN, -(1 << 30) - 1, -(1 << 30), -1, 0, 1, 1 << 30, I32_MAX]
    for x in xs:
        assert g.rounding_divide_by_pot(x, 0) == x
        assert g.rounding_divide_by_pot(x, 31) == ref_rdbpot(x, 31)
    assert g.rounding_divide_by_pot(I32_MIN, 31) == -1
    assert g.rounding_divide_by_pot(-(1 << 30), 31) == -1      # -0.5 -> -1 (away from zero)
    assert g.rounding_divide_by_pot(-(1 << 30) + 1, 31) == 0   # just above -0.5 -> 0
    assert g.rounding_divide_by_pot(1 << 30, 31) == 1          # +0.5 -> 1
    with pytest.raises(ValueError):
        g.rounding_divide_by_pot(1, 32)


def test_against_reference_random():
    rng = np.random.default_rng(7)
    a = rng.integers(I32_MIN, I32_MAX, 4000, endpoint=True)
    b = rng.integers(I32_MIN, I32_MAX, 4000, endpoint=True)
    s = rng.integers(0, 32, 4000)
    got_m = g.srdhm(a, b)
    got_d = g.rounding_divide_by_pot(got_m, s)
    for i in range(len(a)):
        m = ref_srdhm(int(a[i]), int(b[i]))
        assert got_m[i] == m
        assert got_d[i] == ref_rdbpot(m, int(s[i]))


def test_gemm_int32_matches_int64_numpy():
    rng = np.random.default_rng(1)
    A = rng.integers(-128, 128, (17, 33))
    W = rng.integers(-128, 128, (33, 9))
    bias = rng.integers(-1000, 1000, 9)
    assert np.array_equal(g.gemm(A, W, bias=bias, mode="int32"), A @ W + bias)


def test_gemm_int32_wraps_like_the_accumulator():
    A = np.full((1, 2), -128)
    W = np.full((2, 1), -128)
    out = g.gemm(A, W, bias=I32_MAX, mode="int32")
    assert out[0, 0] == I32_MIN + 2 * 16384 - 1


def test_gemm_requant_relu_and_saturation():
    A = np.array([[100, -100, 1, -1]]).T          # 4 x 1
    W = np.array([[1]])
    out = g.gemm(A, W, multiplier=I32_MAX, shift=0, zero_point=5, mode="int8")
    assert out[:, 0].tolist() == [105, -95, 6, 4]
    out = g.gemm(A * 1, W, multiplier=I32_MAX, shift=0, zero_point=5, relu=True, mode="int8")
    assert out[:, 0].tolist() == [105, 5, 6, 5]
    big = g.gemm(np.full((1, 64), 127), np.full((64, 1), 127), multiplier=I32_MAX, mode="int8")
    assert big[0, 0] == 127


def test_gemm_requant_matches_reference_elementwise():
    rng = np.random.default_rng(3)
    A = rng.integers(-128, 128, (6, 20))
    W = rng.integers(-128, 128, (20, 5))
    bias = rng.integers(-(1 << 20), 1 << 20, 5)
    mult = rng.integers(1 << 30, I32_MAX, 5)
    shift = rng.integers(0, 16, 5)
    out = g.gemm(A, W, bias, mult, shift, zero_point=-7, relu=False, mode="int8")
    acc = A @ W + bias
    for i in range(6):
        for j in range(5):
            y = ref_rdbpot(ref_srdhm(int(acc[i, j]), int(mult[j])), int(shift[j])) - 7
            assert out[i, j] == max(-128, min(127, y))


@pytest.mark.parametrize("bad", [
    dict(A=np.array([[128]]), W=np.array([[1]])),
    dict(A=np.array([[1, 2]]), W=np.array([[1]])),
    dict(A=np.array([[1]]), W=np.array([[1]]), shift=32),
    dict(A=np.array([[1]]), W=np.array([[1]]), zero_point=200),
    dict(A=np.zeros((0, 3)), W=np.zeros((3, 1))),
])
def test_gemm_rejects_bad_operands(bad):
    with pytest.raises(ValueError):
        g.gemm(**bad)


@pytest.mark.parametrize("rows,cols,depth", [(8, 8, 512), (3, 5, 4), (1, 1, 2)])
def test_plan_reassembles_the_result(rows, cols, depth):
    """The output beats of a plan, walked in stream order, rebuild C."""
    cfg = LeftConfig(rows=rows, cols=cols, acc_depth=depth)
    rng = np.random.default_rng(5)
    M, K, N = 11, 13, 7
    A = rng.integers(-128, 128, (M, K))
    W = rng.integers(-128, 128, (K, N))
    plan = plan_gemm(cfg, A, W, mode="int32")
    C = np.zeros((M, N), dtype=np.int64)
    beat = 0
    for cmd in plan.commands:
        for n0 in range(0, N, cols):
            nc = min(cols, N - n0)
            C[cmd.row0:cmd.row0 + cmd.m, n0:n0 + nc] = plan.out[beat:beat + cmd.m, :nc]
            assert not plan.out[beat:beat + cmd.m, nc:].any()
            beat += cmd.m
    assert beat == len(plan.out)
    assert np.array_equal(C, A @ W)
    assert plan.last.sum() == len(plan.commands)
    n_kt, n_nt = -(-K // rows), -(-N // cols)
    assert len(plan.weights) == len(plan.commands) * n_nt * K   # weights re-stream per command
    assert len(plan.act) == M * n_kt * n_nt
