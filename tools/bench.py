"""``make bench``: performance benchmarks, measured in RTL simulation.

Writes ``build/bench/left.json`` and ``build/bench/right.json``. left.json::

    {"runs": [{"rows", "cols", "M", "K", "N", "cycles", "macs", "utilization",
               "golden_match", "sim_cycles_per_second"}, ...],
     "verilator_build_seconds": {"<rows>x<cols>": s}, "bar": {...}}

``cycles`` run from the first input beat accepted to the last output beat
delivered; ``utilization = macs / (rows * cols * cycles)``. right.json::

    {"runs": [{"neurons", "axons", "lanes", "steps", "input_events",
               "synaptic_ops", "cycles", "integrate_cycles", "update_cycles",
               "sops_per_cycle", ...}, ...], "bars": {...}}

for a fanout-64 network on the default right core at 0/1/10/50 % of the
axons spiking per step; and ``build/bench/callosum.json``::

    {"zero_load": [{"hops", "latency_cycles"}],
     "curves": [{"mesh", "pattern", "packet_flits", "offered", "accepted",
                 "avg_latency", "p99_latency", "lost", "duplicated", ...}],
     "bars": {...}}

(offered and accepted in flits per node per cycle) with the plot
``build/bench/callosum_latency.png``; and ``build/bench/chip.json``::

    {"config", "cycles_per_inference", "inferences_per_s_at_100mhz",
     "busy": {"<tile>": fraction}, "noc_flits", "images", "golden_match", ...}

for the digits demo network on the default config (cycles per inference
from the first input word at the host port to the RUN_DONE word back;
busy: the fraction of those cycles each tile was busy; noc_flits: flits
injected into the mesh per inference); and ``build/bench/fpga.json``:
``{"boards": [<build/fpga/<board>/report.json>, ...], "bars": {...}}``,
every board built with its own config (skip with ``--no-fpga``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from rtl.config import HemiConfig
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


RIGHT_ACTIVITY = [0.0, 0.01, 0.10, 0.50]
RIGHT_STEPS = 20


def bench_right():
    hcfg = HemiConfig.from_dict({}, name="bench-right")
    cfg = hcfg.right
    bench = Bench("right", hcfg, quiet=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "runs.json"
        bench.run("tb.right.bench_right", name="bench",
                  env={"HEMI_BENCH_ACTIVITY": ",".join(map(str, RIGHT_ACTIVITY)),
                       "HEMI_BENCH_STEPS": str(RIGHT_STEPS), "HEMI_BENCH_OUT": str(out)})
        runs = json.loads(out.read_text())
    lanes, groups = cfg.lanes, cfg.groups
    busy = [r for r in runs if r["activity"] > 0]
    worst_rate = min(r["sops_per_cycle"] for r in busy)
    worst_update = max(r["update_cycles_per_step"] for r in runs)
    idle = next(r for r in runs if r["activity"] == 0.0)
    cycles = [r["cycles"] for r in sorted(runs, key=lambda r: r["activity"])]
    bars = {
        "integrate_sops_per_cycle": {"bar": 0.9 * lanes, "measured_min_over_active_runs": worst_rate,
                                     "met": worst_rate >= 0.9 * lanes},
        "update_cycles_per_step": {"bar": groups + 16, "measured_max": worst_update,
                                   "met": worst_update <= groups + 16},
        "idle_is_update_only": {"integrate_cycles_at_0pct": idle["integrate_cycles"],
                                "met": idle["integrate_cycles"] == 0},
        "cycles_grow_with_events": {"cycles": cycles,
                                    "met": all(a < b for a, b in zip(cycles, cycles[1:]))},
        "verilator_build_seconds": round(bench.build_seconds, 1),
    }
    return {"runs": runs, "bars": bars}


CALLOSUM_MESH = {"width": 4, "height": 4, "flit_width": 32, "fifo_depth": 4}
CALLOSUM_LOADS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9, 1.0]
CALLOSUM_CURVES = ["uniform:1", "uniform:4", "transpose:1", "hotspot:1", "neighbour:1"]


def bench_callosum():
    hcfg = HemiConfig.from_dict({"callosum": CALLOSUM_MESH}, name="bench-callosum")
    bench = Bench("callosum", hcfg, quiet=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "curves.json"
        bench.run("tb.callosum.bench_callosum", name="bench",
                  env={"HEMI_BENCH_LOADS": ",".join(map(str, CALLOSUM_LOADS)),
                       "HEMI_BENCH_CURVES": ",".join(CALLOSUM_CURVES), "HEMI_BENCH_OUT": str(out)})
        result = json.loads(out.read_text())
    zl = result["zero_load"]
    per_hop = max(b["latency_cycles"] - a["latency_cycles"] for a, b in zip(zl, zl[1:]))
    const = zl[0]["latency_cycles"]
    uni = [c for c in result["curves"] if c["pattern"] == "uniform" and c["packet_flits"] == 1]
    sat = max(c["accepted"] for c in uni)
    lost = sum(c["lost"] for c in result["curves"])
    dup = sum(c["duplicated"] for c in result["curves"])
    result["bars"] = {
        "zero_load_cycles_per_hop": {"bar": 2, "measured": per_hop, "constant": const, "met": per_hop <= 2},
        "uniform_saturation_flits_per_node_cycle": {"bar": 0.5, "measured": sat, "met": sat >= 0.5},
        "lost_or_duplicated": {"bar": 0, "measured": lost + dup, "met": lost + dup == 0},
        "verilator_build_seconds": round(bench.build_seconds, 1),
    }
    return result


def plot_callosum(result, path):
    """Latency against offered load (left) and accepted against offered
    throughput (right), one line per traffic pattern."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=110)
    for spec in CALLOSUM_CURVES:
        pattern, flits = spec.split(":")
        pts = [c for c in result["curves"] if c["pattern"] == pattern and c["packet_flits"] == int(flits)]
        offered = [c["offered"] for c in pts]
        label = f"{pattern}, {flits}-flit packets"
        ax.plot(offered, [c["avg_latency"] for c in pts], marker="o", ms=3, label=label)
        ax2.plot(offered, [c["accepted"] for c in pts], marker="o", ms=3, label=label)
    mesh = result["curves"][0]["mesh"]
    sat = result["bars"]["uniform_saturation_flits_per_node_cycle"]["measured"]
    ax.set_yscale("log")
    ax.set_xlabel("offered load (flits / node / cycle)")
    ax.set_ylabel("average latency, creation to tail (cycles, log)")
    ax.set_title(f"Callosum {mesh} mesh: latency vs offered load", fontsize=10)
    ax2.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="accepted = offered")
    ax2.axhline(0.5, color="grey", ls="--", lw=1, label="bar: uniform saturation 0.5")
    ax2.set_xlabel("offered load (flits / node / cycle)")
    ax2.set_ylabel("accepted (flits / node / cycle)")
    ax2.set_title(f"throughput (uniform, 1-flit saturates at {sat:.2f})", fontsize=10)
    for a in (ax, ax2):
        a.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


CHIP_IMAGES = 20


def bench_chip():
    from host.digits import load_digits_split, train
    from rtl.config import load_config
    from tools.demo import run_on_chip, summarise

    cfg = load_config("default")
    data = load_digits_split(0)
    net, _ = train(data)
    images = data.x_test[:CHIP_IMAGES]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.npz"
        net.save(path)
        results = run_on_chip(cfg, path, images, trace=False, show_progress=False)
    _, g_counts = net.predict(images)
    counts = [r["counts"] for r in results["images"]]
    return {"config": cfg.name, **summarise(cfg, results), "images": len(images),
            "golden_match": counts == g_counts.tolist(), "load_cycles": results["load_cycles"],
            "verilator_build_seconds": round(results["build_seconds"], 1)}


def print_bars(bars) -> bool:
    """Print each bar's verdict; True if all are met."""
    ok = True
    for name, b in bars.items():
        if isinstance(b, dict):
            print(f"bar {name}: {'met' if b['met'] else 'MISSED'} "
                  f"({', '.join(f'{k}={v}' for k, v in b.items() if k != 'met')})")
            ok &= b["met"]
    return ok


def bench_fpga(reuse=False):
    """Every board's build (fpga/build.py) with its own config: resources and
    Fmax. ``reuse``: take the reports ``make fpga`` left in build/fpga/
    instead of building again (the ECP5 place-and-route takes a while)."""
    from fpga.boards import BOARDS
    from fpga.build import BuildError, build_board

    reports = []
    for b in BOARDS:
        path = ROOT / "build" / "fpga" / b / "report.json"
        old = json.loads(path.read_text()) if reuse and path.exists() else None
        # Only a report of the board's own config at its own clock stands in.
        if old and old.get("config_file") == BOARDS[b].config and \
                old.get("pll", {}).get("output_mhz") == BOARDS[b].target_mhz:
            reports.append(old)
            continue
        try:
            reports.append(build_board(b, quiet=True))
        except BuildError as e:
            reports.append({"board": b, "error": str(e), "fits": False, "bar_met": False,
                            "clocks": [], "resources": {}, "bar_mhz": BOARDS[b].bar_mhz})
    bars = {}
    for r in reports:
        fmax = min((c["fmax_mhz"] for c in r["clocks"]), default=0.0)
        bars[f"{r['board']}_fits"] = {"measured": r["fits"], "met": r["fits"]}
        bars[f"{r['board']}_fmax_mhz"] = {"bar": r["bar_mhz"], "measured": fmax,
                                          "met": r["bar_met"]}
        if r["board"] == "ulx3s-85f":
            # The left core's multipliers belong in DSP blocks, not LUTs.
            dsp = r.get("left_multipliers_in_dsp") or 0
            bars["ulx3s-85f_left_multipliers_in_dsp"] = {
                "bar": r["left_multipliers"], "measured": dsp, "met": dsp == r["left_multipliers"]}
    return {"boards": reports, "bars": bars, "reused_reports": reuse}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="only the 8 x 8 runs")
    ap.add_argument("--no-fpga", action="store_true", help="skip the FPGA builds (fpga.json)")
    ap.add_argument("--fpga-reuse", action="store_true",
                    help="fpga.json from the reports make fpga left, building only boards without one")
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
    print(f"wrote {path}\n")
    ok = bar["met"]

    right = bench_right()
    path = BENCH_DIR / "right.json"
    path.write_text(json.dumps(right, indent=2) + "\n")
    print(f"{'activity':>8} {'events':>7} {'sops':>7} {'cycles':>7} {'integ':>7} {'update':>7} "
          f"{'upd/step':>8} {'sops/cyc':>8} {'spikes':>6}")
    for r in right["runs"]:
        print(f"{r['activity']:>8.2f} {r['input_events']:>7} {r['synaptic_ops']:>7} {r['cycles']:>7} "
              f"{r['integrate_cycles']:>7} {r['update_cycles']:>7} {r['update_cycles_per_step']:>8.1f} "
              f"{r['sops_per_cycle']:>8.3f} {r['output_spikes']:>6}")
    ok &= print_bars(right["bars"])
    print(f"wrote {path}\n")

    cal = bench_callosum()
    path = BENCH_DIR / "callosum.json"
    path.write_text(json.dumps(cal, indent=2) + "\n")
    plot = BENCH_DIR / "callosum_latency.png"
    plot_callosum(cal, plot)
    print("zero-load latency (hops: cycles): "
          + ", ".join(f"{z['hops']}: {z['latency_cycles']}" for z in cal["zero_load"]))
    print(f"{'pattern':>10} {'flits':>5} {'offered':>7} {'accepted':>8} {'avg lat':>8} {'p99':>5} {'lost':>4}")
    for c in cal["curves"]:
        print(f"{c['pattern']:>10} {c['packet_flits']:>5} {c['offered']:>7.2f} {c['accepted']:>8.3f} "
              f"{c['avg_latency']:>8.1f} {c['p99_latency']:>5} {c['lost']:>4}")
    ok &= print_bars(cal["bars"])
    print(f"wrote {path} and {plot}\n")

    chip = bench_chip()
    path = BENCH_DIR / "chip.json"
    path.write_text(json.dumps(chip, indent=2) + "\n")
    print(f"chip ({chip['config']}), digits network, {chip['images']} images: "
          f"{chip['cycles_per_inference']:.0f} cycles/inference = {chip['inferences_per_s_at_100mhz']:.0f} "
          f"inferences/s at 100 MHz, {chip['noc_flits']:.0f} flits/inference, golden match: {chip['golden_match']}")
    print("busy: " + ", ".join(f"{k} {v:.2f}" for k, v in chip["busy"].items()))
    ok &= chip["golden_match"]
    print(f"wrote {path}\n")

    if not args.no_fpga:
        fpga = bench_fpga(args.fpga_reuse)
        path = BENCH_DIR / "fpga.json"
        path.write_text(json.dumps(fpga, indent=2) + "\n")
        from fpga.build import table
        for report in fpga["boards"]:
            print(table(report))
        ok &= print_bars(fpga["bars"])
        print(f"wrote {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
