"""How a GEMM travels through the left core's streams (the host protocol).

The core walks output-column tiles (``cols`` wide) in the outer loop and
reduction tiles (``rows`` deep) in the inner loop. For one GEMM command
``(M, K, N)`` with ``M <= acc_depth`` it consumes, in order on each stream:

* ``i_w``:   for nt, for kt: the ``min(rows, K - kt*rows)`` rows of
  ``W[kt*rows:, nt*cols:]``, one beat of ``cols`` int8 lanes each (lanes past
  N are ignored);
* ``i_act``: for nt, for kt: the M rows of ``A[:, kt*rows:]``, one beat of
  ``rows`` int8 lanes each (lanes past K are ignored);
* ``i_epi``: for nt: one beat with the tile's per-channel bias, multiplier,
  shift and the command-wide zero point, ReLU flag and output mode;
* ``o``:     for nt: M beats of ``cols`` int32 lanes, the rows of
  ``C[:, nt*cols:]`` (lanes past N read 0); the final beat has ``last`` set.

The streams are independent: a host may feed them in any interleaving.
Taller GEMMs are split into commands of at most ``acc_depth`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import left as golden

__all__ = ["EpiBeat", "Command", "GemmStreams", "plan_gemm"]


@dataclass(frozen=True)
class EpiBeat:
    bias: tuple
    multiplier: tuple
    shift: tuple
    zero_point: int
    relu: bool
    requant: bool      # False: raw int32 (acc + bias)


@dataclass
class Command:
    m: int
    k: int
    n: int
    row0: int          # first row of A/C this command covers


@dataclass
class GemmStreams:
    """Every beat of one GEMM, per stream, in the order the core takes them.

    ``act``/``weights`` are int8 arrays (beats x lanes); ``out`` is the
    expected int64 output beats (beats x cols), ``last`` its last flags.
    """
    commands: list = field(default_factory=list)
    weights: np.ndarray = None
    act: np.ndarray = None
    epi: list = field(default_factory=list)
    out: np.ndarray = None
    last: np.ndarray = None
    result: np.ndarray = None  # the M x N golden result


def _pad_to(x, rows, cols):
    out = np.zeros((rows, cols), dtype=np.int64)
    out[: x.shape[0], : x.shape[1]] = x
    return out


def plan_gemm(cfg, A, W, bias=None, multiplier=None, shift=None, zero_point=0,
              relu=False, mode="int8") -> GemmStreams:
    """Split a GEMM into commands and stream beats for a core of config ``cfg``
    (a :class:`rtl.config.LeftConfig`), with the golden result."""
    R, C = cfg.rows, cfg.cols
    A64, W64, bias, multiplier, shift = golden.check_operands(A, W, bias, multiplier, shift, zero_point)
    M, K = A64.shape
    N = W64.shape[1]
    lim = (1 << cfg.dim_bits) - 1
    if K > lim or N > lim:
        raise ValueError(f"K={K}, N={N}: the core's command takes at most {lim}")
    result = golden.gemm(A64, W64, bias, multiplier, shift, zero_point, relu, mode)
    kts = range(0, K, R)
    nts = range(0, N, C)

    s = GemmStreams(result=result)
    w_beats, a_beats, o_beats, last = [], [], [], []
    for row0 in range(0, M, cfg.acc_depth):
        m = min(cfg.acc_depth, M - row0)
        s.commands.append(Command(m=m, k=K, n=N, row0=row0))
        for n0 in nts:
            nc = min(C, N - n0)
            for k0 in kts:
                kr = min(R, K - k0)
                w_beats.append(_pad_to(W64[k0:k0 + kr, n0:n0 + nc], kr, C))
                a_beats.append(_pad_to(A64[row0:row0 + m, k0:k0 + kr], m, R))
            s.epi.append(EpiBeat(
                bias=tuple(int(x) for x in _pad_to(bias[None, n0:n0 + nc], 1, C)[0]),
                multiplier=tuple(int(x) for x in _pad_to(multiplier[None, n0:n0 + nc], 1, C)[0]),
                shift=tuple(int(x) for x in _pad_to(shift[None, n0:n0 + nc], 1, C)[0]),
                zero_point=int(zero_point), relu=bool(relu), requant=(mode == "int8")))
            o_beats.append(_pad_to(result[row0:row0 + m, n0:n0 + nc], m, C))
            lst = np.zeros(m, dtype=bool)
            lst[-1] = n0 + C >= N
            last.append(lst)
    s.weights = np.concatenate(w_beats).astype(np.int8)
    s.act = np.concatenate(a_beats).astype(np.int8)
    s.out = np.concatenate(o_beats)
    s.last = np.concatenate(last)
    return s
