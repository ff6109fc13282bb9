"""``make demo-gemm``: run a quantized GEMM through the generated left core in
Verilator and check every output against the golden model.

(The left hemisphere on its own: an int8
dense layer, C = requant(A . W + bias), on the systolic array.)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from rtl.config import load_config_cli
from tb.sim import Bench


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default=None, help="config TOML (default: configs/default.toml)")
    ap.add_argument("--shape", default="64x200x50", help="MxKxN of the GEMM (default 64x200x50)")
    args = ap.parse_args(argv)
    cfg = load_config_cli(args.config)
    try:
        M, K, N = (int(x) for x in args.shape.lower().split("x"))
        if min(M, K, N) < 1:
            raise ValueError
    except ValueError:
        print(f"error: --shape {args.shape!r}: expected MxKxN with positive integers", file=sys.stderr)
        return 2
    R, C = cfg.left.rows, cfg.left.cols
    print(f"Hemi left core ({cfg.name}: {R} x {C} INT8 systolic array, acc depth {cfg.left.acc_depth})")
    print(f"GEMM: C[{M} x {N}] = requant_int8(A[{M} x {K}] . W[{K} x {N}] + bias), per-channel scale")
    t0 = time.monotonic()
    print("building the Verilator model (cached after the first run) ...", flush=True)
    bench = Bench("left", cfg, quiet=True)
    print(f"  built in {time.monotonic() - t0:.1f} s ({bench.build_dir})")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        t1 = time.monotonic()
        try:
            bench.run("tb.left.bench_left", name="demo",
                      env={"HEMI_BENCH_SHAPES": f"{M}x{K}x{N}", "HEMI_BENCH_OUT": str(out)})
        except AssertionError as e:
            print(f"FAILED: the RTL disagrees with the golden model\n{e}", file=sys.stderr)
            return 1
        run = json.loads(out.read_text())[0]
    print(f"  simulated in {time.monotonic() - t1:.1f} s")
    print(f"check:        {run['outputs_checked']} of {M * N} outputs equal the golden model (bit-exact)")
    print(f"cycles:       {run['cycles']} (first input accepted -> last output delivered)")
    print(f"MACs:         {run['macs']}")
    print(f"utilization:  {run['utilization']:.3f} (MACs / ({R}*{C} PEs * cycles))")
    padded = -(-K // R) * R * -(-N // C) * C
    if padded != K * N:
        print(f"              (K and N pad to whole {R} x {C} tiles: at most {K * N / padded:.3f} "
              f"is reachable for this shape)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
