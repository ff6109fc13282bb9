"""The epilogue's split multiply: stage 2 keeps the four 16 x 16 partial
products of ``v * multiplier`` and stages 3-4 add them with the rounding
nudge (``floor((p + 2**30) / 2**31)``). Products whose high-mul result lands
inside int8 show every bit of it at the output (shift 0, zero point 0): random
operands of every magnitude, 16-bit boundaries, rounding ties of both signs
and INT32_MIN, each against the golden model. The compact epilogue makes the
same sum in one stage (and keeps x in 33 bits)."""

import numpy as np
import pytest

from rtl.config import LeftConfig
from rtl.left.epilogue import Epilogue
from rtl.left.layouts import LeftLayouts, OutMode
from sw_model import left as g
from tb.common.amaranth_sim import simulate
from tb.left.epilogue_bench import play_epilogue


def _pairs(rng, n):
    """(v, multiplier) pairs with |v * multiplier| < 127 * 2**31."""
    lim = 127 << 31
    edges = [g.INT32_MIN, g.INT32_MIN + 1, -(1 << 16), -(1 << 15) - 1, -1, 0, 1, (1 << 15), (1 << 16) - 1,
             1 << 16, g.INT32_MAX]
    pairs = []
    for a in edges:                # one operand at an edge, the other as large as allowed
        for sign in (1, -1):
            b = sign * (lim // max(abs(a), 1))
            b = max(min(b, g.INT32_MAX), g.INT32_MIN)
            pairs += [(a, b), (b, a)]
    for a in range(-6, 7):         # ties: a * 2**30 / 2**31 = a / 2
        pairs += [(a, 1 << 30), (a << 16, 1 << 14), (-a, g.INT32_MIN)]
    while len(pairs) < n:
        bits = int(rng.integers(1, 32))
        a = int(rng.integers(-(1 << bits), 1 << bits))
        a = max(min(a, g.INT32_MAX), g.INT32_MIN)
        bmax = min(lim // max(abs(a), 1), g.INT32_MAX)
        b = int(rng.integers(-bmax, bmax, endpoint=True))
        pairs.append((a, b) if rng.integers(0, 2) else (b, a))
    return pairs


@pytest.mark.parametrize("kind", ["parallel", "serial", "compact"])
def test_epilogue_split_multiply(kind):
    cols = 4
    layouts = LeftLayouts(LeftConfig(rows=1, cols=cols))
    serial = kind == "serial"
    dut = Epilogue(layouts, cols, serial=serial, compact=kind == "compact")
    pairs = _pairs(np.random.default_rng(5), 240)
    tokens = [pairs[i:i + cols] for i in range(0, len(pairs) - cols + 1, cols)]
    def apply(ctx, tok):
        ctx.set(dut.acc, [v for v, _ in tok])
        ctx.set(dut.params, {"bias": [0] * cols, "multiplier": [b for _, b in tok],
                             "shift": [0] * cols, "zero_point": 0, "relu": 0, "mode": OutMode.REQUANT})

    bench, results, _ = play_epilogue(dut, tokens, apply, rng=np.random.default_rng(7),
                                      max_cycles=60 * len(tokens) * cols)
    simulate(dut, bench)
    for k, tok in enumerate(tokens):
        v = np.array([a for a, _ in tok], dtype=np.int64)
        mult = np.array([b for _, b in tok], dtype=np.int64)
        expect = g.requantize(v, mult, np.zeros(cols, dtype=np.int64), 0, False)
        assert results[k] == expect.tolist(), f"token {k}: {tok}"
