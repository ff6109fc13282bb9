"""Performance runs of the left core (used by ``make bench``, not by the tests).

Each GEMM in HEMI_BENCH_SHAPES (``MxKxN,...``) runs alone on free-flowing
streams (no idle, no back-pressure); outputs are still checked against the
golden model. ``cycles`` counts clock edges from the first beat accepted on
any input stream to the last output beat delivered, both included.
Results go to the JSON file named by HEMI_BENCH_OUT.
"""

import json
import os
import time

import cocotb
import numpy as np

from sw_model.left_stream import plan_gemm
from tb.left.left_tb import LeftTB


@cocotb.test()
async def bench_gemms(dut):
    tb = LeftTB(dut)
    await tb.reset()
    rng = np.random.default_rng(1)
    R, C = tb.cfg.rows, tb.cfg.cols
    runs = []
    for shape in os.environ["HEMI_BENCH_SHAPES"].split(","):
        M, K, N = (int(x) for x in shape.split("x"))
        A = rng.integers(-128, 128, (M, K))
        W = rng.integers(-128, 128, (K, N))
        plan = plan_gemm(tb.cfg, A, W, bias=rng.integers(-1000, 1000, N),
                         multiplier=1 << 30, shift=8, mode="int8")
        for s in tb.sources:
            s.first_cycle = None
        t0 = time.monotonic()
        start = tb.cycles.now
        tb.submit(plan)
        await tb.check(plan, f"bench {shape}")
        await tb.drained()
        wall = time.monotonic() - t0
        first = min(s.first_cycle for s in tb.sources if s.first_cycle is not None)
        cycles = tb.out.last_cycle - first + 1
        macs = M * K * N
        runs.append({
            "rows": R, "cols": C, "M": M, "K": K, "N": N,
            "cycles": cycles, "macs": macs,
            "utilization": round(macs / (R * C * cycles), 4),
            "golden_match": True,          # tb.check raised otherwise
            "outputs_checked": M * N,
            "sim_cycles_per_second": round((tb.cycles.now - start) / wall),
        })
        dut._log.info("bench %s: %s", shape, runs[-1])
    with open(os.environ["HEMI_BENCH_OUT"], "w") as f:
        json.dump(runs, f)
