"""Bit-exact golden model of the left hemisphere (INT8 systolic GEMM core).

Numeric contract, identical to the RTL:

* ``acc = A . W`` with int8 operands, accumulated in int32 with two's
  complement wrap-around (the hardware's 32-bit accumulator).
* ``v = acc + bias`` per output channel, int32, wrapping.
* ``mode="int32"``: the result is ``v``.
* ``mode="int8"``: TFLite/gemmlowp requantization per output channel:
  ``x = SaturatingRoundingDoublingHighMul(v, multiplier)``,
  ``y = RoundingDivideByPOT(x, shift) + zero_point``, saturated to
  ``[-128, 127]``; with ``relu`` the lower bound is ``max(zero_point, -128)``
  (TFLite's fused ReLU in the quantized domain).

Everything is vectorised over NumPy int64 arrays; it is usable on its own.
"""

from __future__ import annotations

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1

__all__ = [
    "INT32_MIN", "INT32_MAX", "wrap_int32", "srdhm", "rounding_divide_by_pot",
    "requantize", "gemm", "check_operands",
]


def wrap_int32(x):
    """Reduce integers to int32 with two's complement wrap-around."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def srdhm(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values.

    ``(a * b * 2 + 2**31) >> 32`` with a nudge that rounds halves away from
    zero and C's truncating division; INT32_MIN * INT32_MIN saturates to
    INT32_MAX (the only overflowing input).
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b                                   # |ab| <= 2**62: exact in int64
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    t = ab + nudge
    # C++ `t / (1 << 31)` truncates toward zero.
    q = np.where(t >= 0, t >> 31, -((-t) >> 31))
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    return np.where(overflow, INT32_MAX, q).astype(np.int64)


def rounding_divide_by_pot(x, shift):
    """gemmlowp RoundingDivideByPOT: x / 2**shift rounded to nearest, halves
    away from zero. ``shift`` in 0..31."""
    x = np.asarray(x, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    if np.any((shift < 0) | (shift > 31)):
        raise ValueError("shift must lie in 0..31")
    mask = (np.int64(1) << shift) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> shift) + (remainder > threshold)


def requantize(v, multiplier, shift, zero_point=0, relu=False):
    """int32 -> int8 requantization (TFLite per-channel semantics)."""
    y = rounding_divide_by_pot(srdhm(v, multiplier), shift) + int(zero_point)
    lo = max(int(zero_point), -128) if relu else -128
    return np.clip(y, lo, 127).astype(np.int64)


def check_operands(A, W, bias=None, multiplier=None, shift=None, zero_point=0):
    """Validate shapes and ranges; returns int64 copies. Raises ValueError."""
    A = np.asarray(A)
    W = np.asarray(W)
    if A.ndim != 2 or W.ndim != 2 or A.shape[1] != W.shape[0]:
        raise ValueError(f"shapes do not chain: A {A.shape}, W {W.shape} (need M x K and K x N)")
    if A.size == 0 or W.size == 0:
        raise ValueError("M, K and N must be at least 1")
    for name, arr in (("A", A), ("W", W)):
        if arr.min() < -128 or arr.max() > 127:
            raise ValueError(f"{name} holds values outside int8 [-128, 127]")
    n = W.shape[1]

    def per_channel(name, x, default, lo, hi):
        x = np.broadcast_to(np.asarray(default if x is None else x, dtype=np.int64), (n,)).copy()
        if x.min() < lo or x.max() > hi:
            raise ValueError(f"{name} outside [{lo}, {hi}]")
        return x

    bias = per_channel("bias", bias, 0, INT32_MIN, INT32_MAX)
    multiplier = per_channel("multiplier", multiplier, INT32_MAX, INT32_MIN, INT32_MAX)
    shift = per_channel("shift", shift, 0, 0, 31)
    if not -128 <= int(zero_point) <= 127:
        raise ValueError("zero_point outside int8 [-128, 127]")
    return A.astype(np.int64), W.astype(np.int64), bias, multiplier, shift


def gemm(A, W, bias=None, multiplier=None, shift=None, zero_point=0, relu=False, mode="int8"):
    """C = epilogue(A . W + bias), bit-exact with the left core.

    ``A``: M x K int8, ``W``: K x N int8, ``bias``/``multiplier``/``shift``:
    per output channel (length N, or scalars). ``mode`` is ``"int8"``
    (requantized) or ``"int32"`` (raw ``acc + bias``). Returns int64 array.
    """
    if mode not in ("int8", "int32"):
        raise ValueError(f"mode must be 'int8' or 'int32', not {mode!r}")
    A, W, bias, multiplier, shift = check_operands(A, W, bias, multiplier, shift, zero_point)
    # Integer matmul in int64 is exact for K < 2**48; the hardware's 32-bit
    # accumulator is modular, so wrapping once at the end is the same.
    acc = wrap_int32(A @ W)
    v = wrap_int32(acc + bias[None, :])
    if mode == "int32":
        return v
    return requantize(v, multiplier[None, :], shift[None, :], zero_point, relu)
