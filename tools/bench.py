"""``make bench``: performance benchmarks, measured in RTL simulation.

Writes ``build/bench/left.json``::

    {"runs": [{"rows", "cols", "M", "K", "N", "cycles", "macs", "utilization",
               "golden_match", "sim_cycles_per_second"}, ...],
     "verilator_build_seconds": {"<rows>x<cols>": s}, "bar": {...}}

``cycles`` run from the first input beat accepted to the last output beat
delivered; ``utilization = macs / (rows * cols * cycles)``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from rtl.config import HemiConfig, load_config
from tb.sim import ROOT, Bench

BENCH_DIR = ROOT / "build" / "bench"

# (config overrides, shapes): the two figures plus context.
LEFT_RUNS = [
    ({"rows": 8, "cols": 8, "acc_depth": 512}, ["256x256x256", "8x64x64", "64x64x64", "512x8x8"]),
    ({"rows": 16, "cols": 16, "acc_depth": 512}, ["256x256x256"]),
]
UTILIZATION_BAR = 0.95


def bench_left(quick=False):
    runs, build_seconds = [], {}
    for over, shapes in LEFT_RUNS[:1] if quick else LEFT_RUNS:
        cfg = HemiConfig.from_dict({"left": over}, name=f"bench-{over['rows']}x{over['cols']}")
        bench = Bench("left", cfg, quiet=True)
        build_seconds[f"{over['rows']}x{over['cols']}"] = round(bench.build_seconds, 1)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "runs.json"
            bench.run("tb.left.bench_left", name="bench",
                      env={"HEMI_BENCH_SHAPES": ",".join(shapes), "HEMI_BENCH_OUT": str(out)})
            runs += json.loads(out.read_text())
    big = next(r for r in runs if (r["rows"], r["cols"], r["M"], r["K"], r["N"]) == (8, 8, 256, 256, 256))
    return {
        "runs": runs,
        "verilator_build_seconds": build_seconds,
        "bar": {"utilization_8x8_256cube": UTILIZATION_BAR,
                "measured": big["utilization"], "met": big["utilization"] >= UTILIZATION_BAR},
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="only the 8 x 8 runs")
    args = ap.parse_args(argv)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    left = bench_left(args.quick)
    path = BENCH_DIR / "left.json"
    path.write_text(json.dumps(left, indent=2) + "\n")
    print(f"{'array':>7} {'M':>5} {'K':>5} {'N':>5} {'cycles':>9} {'util':>7} {'sim cyc/s':>10}")
    for r in left["runs"]:
        print(f"{r['rows']:>3}x{r['cols']:<3} {r['M']:>5} {r['K']:>5} {r['N']:>5} {r['cycles']:>9} "
              f"{r['utilization']:>7.4f} {r['sim_cycles_per_second']:>10}")
    bar = left["bar"]
    print(f"bar: 8x8 256-cube utilization {bar['measured']:.4f} >= {bar['utilization_8x8_256cube']}: "
          f"{'met' if bar['met'] else 'MISSED'}")
    print(f"wrote {path}")
    return 0 if bar["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
