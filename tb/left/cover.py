"""Functional coverage of the left core's bench (tb/common/fcov.py).

Every point is declared when the bench starts, so a bin that no test hits
shows up in the run's YAML with zero hits. Values come from what the bench
already computes: a GEMM's operands and epilogue are reduced to the events
below when it is planned (``gemm_events``), and sampled only once the core's
output for it matched the golden model (``LeftTB.check``), so a GEMM cut
short by a reset counts nothing.
"""

from __future__ import annotations

import numpy as np

from sw_model import left as golden
from tb.common import fcov

BAD_KINDS = ("m_zero", "m_over_acc_depth", "k_zero", "n_zero")
RESET_AT = ("zero", "random", "mid_gemm", "after_done")

POINTS = {
    "left.epilogue.mode": ["raw", "requant"],
    "left.epilogue.relu": ["off", "on"],                  # of requantized GEMMs
    "left.epilogue.shift": list(range(32)),               # per requantized channel
    # Requantized values clamped to int8 above / below, or to the ReLU floor.
    "left.epilogue.clamp": ["int8_high", "int8_low", "relu_floor"],
    # gemmlowp's one overflowing input: INT32_MIN x INT32_MIN -> INT32_MAX.
    "left.epilogue.srdhm_saturate": ["int32_min_squared"],
    # RoundingDivideByPOT ties (remainder exactly half), rounded away from 0.
    "left.epilogue.rounding_half": ["negative", "positive"],
    # acc + bias leaving int32 (the add wraps).
    "left.epilogue.bias_wrap": ["above", "below"],
    "left.tiles.k": ["full", "ragged"],                   # K tiles: rows deep or fewer
    "left.tiles.n": ["full", "ragged"],                   # column tiles: cols wide or fewer
    "left.gemm.commands": fcov.buckets((1, 2)),           # '1', '>=2': M > acc_depth split
    "left.bad_command.kind": list(BAD_KINDS),
    "left.reset.at": list(RESET_AT),
    "left.reset.state": ["busy", "idle"],                 # dut.busy when reset was asserted
    "left.reset.cycles": fcov.buckets((1, 2)),            # '1', '>=2'
}


def declare_all():
    for name, bins in POINTS.items():
        fcov.declare(name, bins)


def gemm_events(cfg, A, W, bias=None, multiplier=None, shift=None, zero_point=0,
                relu=False, mode="int8") -> dict:
    """The coverage values of one GEMM: {point: set of bins}."""
    R, C, D = cfg.rows, cfg.cols, cfg.acc_depth
    A64, W64, bias, multiplier, shift = golden.check_operands(A, W, bias, multiplier, shift, zero_point)
    M, K = A64.shape
    N = W64.shape[1]
    ev = {
        "left.epilogue.mode": {"requant" if mode == "int8" else "raw"},
        "left.tiles.k": {"full" if K - k0 >= R else "ragged" for k0 in range(0, K, R)},
        "left.tiles.n": {"full" if N - n0 >= C else "ragged" for n0 in range(0, N, C)},
        "left.gemm.commands": {fcov.bucket(-(-M // D), (1, 2))},
    }
    exact = A64 @ W64 + bias[None, :]             # acc + bias before the int32 wrap
    wrap = set()
    if (exact > golden.INT32_MAX).any():
        wrap.add("above")
    if (exact < golden.INT32_MIN).any():
        wrap.add("below")
    ev["left.epilogue.bias_wrap"] = wrap
    if mode != "int8":
        return ev
    v = golden.wrap_int32(exact)
    mul = np.broadcast_to(multiplier[None, :], v.shape)
    sh = np.broadcast_to(shift[None, :], v.shape)
    x = golden.srdhm(v, mul)
    y = golden.rounding_divide_by_pot(x, sh) + int(zero_point)
    rem = x & ((np.int64(1) << sh) - 1)
    half = (sh > 0) & (rem == (np.int64(1) << np.maximum(sh - 1, 0)))
    clamp = set()
    if (y > 127).any():
        clamp.add("int8_high")
    if (y < -128).any():
        clamp.add("int8_low")
    if relu and (y < max(int(zero_point), -128)).any():
        clamp.add("relu_floor")
    rounding = set()
    if (half & (x < 0)).any():
        rounding.add("negative")
    if (half & (x > 0)).any():
        rounding.add("positive")
    ev.update({
        "left.epilogue.relu": {"on" if relu else "off"},
        "left.epilogue.shift": {int(s) for s in np.unique(shift)},
        "left.epilogue.clamp": clamp,
        "left.epilogue.srdhm_saturate":
            {"int32_min_squared"} if ((v == golden.INT32_MIN) & (mul == golden.INT32_MIN)).any() else set(),
        "left.epilogue.rounding_half": rounding,
    })
    return ev


def sample_events(ev: dict):
    for name, values in ev.items():
        for value in values:
            fcov.sample(name, value)
