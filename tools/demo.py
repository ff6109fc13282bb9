"""``make demo``: the hybrid digits network on the Hemi chip, in Verilator.

A small ANN/SNN network classifies scikit-learn's 8 x 8 handwritten digits:
a dense int8 layer with ReLU on a left tile, the rate bridge, and a layer of
LIF neurons on a right tile (one per class; the class is the neuron with the
most spikes). The network is trained and quantized (host/digits.py),
compiled for the chip (host/compiler.py) and run on the golden model and on
the generated chip top: the host loads the compiled network through the host
port, then sends each image as an input vector and a RUN of ``steps`` time
steps; the left tile sends its hidden vector over the callosum to the right
tile, whose rate encoder drives its core step by step; the output spikes
come back to the host, and at the end of the window their counts. Every
inference is checked against the golden model as it completes.

Prints accuracy, agreement with the golden model, cycles per inference and
each tile's busy fraction; writes PNGs to build/demo/.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from host.compiler import CompileError, compile_network
from host.digits import load_digits_split, train
from host.network import hybrid_network
from rtl.config import ConfigError, load_config_cli
from tb.sim import ROOT, Bench

OUT_DIR = ROOT / "build" / "demo"
CHUNK = 10


def progress(done, total, width=40, label=""):
    filled = int(width * done / total)
    sys.stdout.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label}")
    sys.stdout.flush()
    if done == total:
        sys.stdout.write("\n")


def get_net(seed):
    """Train and quantize (a few seconds; always fresh, so it never goes stale)."""
    data = load_digits_split(seed)
    net, float_acc = train(data, seed=seed)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    net.save(OUT_DIR / f"net-seed{seed}.npz")
    return net, data, float_acc


def run_on_chip(cfg, net_path, images, trace=True, show_progress=True):
    """Every image through the chip; returns the bench's merged results:
    ``images`` (per image: counts, cycles, busy per node, flits), the first
    image's ``raster`` and activity ``trace``, ``placement``, ``load_cycles``."""
    bench = Bench("chip", cfg, quiet=True)
    merged = {"images": []}
    n = len(images)
    if show_progress:
        progress(0, n, label="images through the chip")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for start in range(0, n, CHUNK):
            np.save(tmp / "images.npy", images[start:start + CHUNK])
            out = tmp / "run.json"
            bench.run("tb.chip.demo_run", name="demo", testcase="run_images",
                      env={"HEMI_NET": str(net_path), "HEMI_IMAGES": str(tmp / "images.npy"),
                           "HEMI_OUT": str(out), "HEMI_TRACE": "1" if trace and start == 0 else "0"})
            r = json.loads(out.read_text())
            merged["images"] += r["images"]
            for key in ("trace", "placement", "load_cycles"):
                merged.setdefault(key, r.get(key))
            if show_progress:
                progress(min(start + CHUNK, n), n, label="images through the chip")
    merged["raster"] = merged["images"][0]["raster"]
    merged["build_seconds"] = bench.build_seconds
    return merged


def tile_names(cfg):
    """Node index -> a label such as 'left0 (0,1)' for every tile."""
    W = cfg.callosum.width
    return {y * W + x: f"{kind}{i} ({x},{y})" for kind, i, (x, y) in cfg.chip.tiles()}


def summarise(cfg, results):
    """Cycles, busy fractions and flits per inference from the bench results."""
    imgs = results["images"]
    cycles = np.array([r["cycles"] for r in imgs])
    total = cycles.sum()
    names = tile_names(cfg)
    busy = {name: float(sum(r["busy"][i] for r in imgs) / total) for i, name in names.items()}
    return {
        "cycles_per_inference": float(cycles.mean()),
        "cycles_min": int(cycles.min()), "cycles_max": int(cycles.max()),
        "inferences_per_s_at_100mhz": float(100e6 / cycles.mean()),
        "busy": busy,
        "noc_flits": float(np.mean([r["flits"] for r in imgs])),
    }


def plots(cfg, net, image, hidden_raster, out_raster, y_true, y_pred, trace):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    # Spike raster of one inference.
    fig, axes = plt.subplots(1, 3, figsize=(12, 4), dpi=110, gridspec_kw={"width_ratios": [1, 3, 3]})
    axes[0].imshow(image.reshape(8, 8), cmap="gray_r")
    axes[0].set_title("input (8 x 8)")
    axes[0].axis("off")
    t, j = np.nonzero(hidden_raster)
    axes[1].scatter(t, j, s=4, marker="|", color="tab:blue")
    axes[1].set(xlabel="time step", ylabel="hidden unit (axon)",
                title="left -> right: rate-coded hidden layer\n(inside the chip; shown from the golden model)",
                xlim=(-0.5, net.steps - 0.5), ylim=(-0.5, net.hidden - 0.5))
    t, k = np.nonzero(out_raster)
    axes[2].scatter(t, k, s=30, marker="|", color="tab:red")
    counts = out_raster.sum(axis=0)
    axes[2].set(xlabel="time step", ylabel="output neuron (class)", yticks=range(net.classes),
                title=f"right tile: LIF spikes sent to the host by the chip\n(class {int(np.argmax(counts))})",
                xlim=(-0.5, net.steps - 0.5), ylim=(-0.5, net.classes - 0.5))
    fig.tight_layout()
    fig.savefig(OUT_DIR / "spike_raster.png")
    plt.close(fig)
    # Confusion matrix.
    cm = np.zeros((10, 10), dtype=int)
    for a, b in zip(y_true, y_pred):
        cm[a, b] += 1
    fig, ax = plt.subplots(figsize=(5, 4.5), dpi=110)
    ax.imshow(cm, cmap="Blues")
    for a in range(10):
        for b in range(10):
            if cm[a, b]:
                ax.text(b, a, cm[a, b], ha="center", va="center", fontsize=7,
                        color="white" if cm[a, b] > cm.max() / 2 else "black")
    ax.set(xlabel="predicted (RTL)", ylabel="true", xticks=range(10), yticks=range(10),
           title=f"confusion matrix, {len(y_true)} test images")
    fig.tight_layout()
    fig.savefig(OUT_DIR / "confusion_matrix.png")
    plt.close(fig)
    # Per-tile activity of one inference, sampled every cycle from the
    # chip's busy bits, with the step controller's ticks.
    names = tile_names(cfg)
    fig, ax = plt.subplots(figsize=(11, 1.2 + 0.6 * len(names)), dpi=110)
    colors = {"left": "tab:blue", "right": "tab:orange"}
    for row, (node, name) in enumerate(sorted(names.items(), key=lambda kv: kv[1])):
        spans = [(a, b - a) for a, b in trace["intervals"].get(str(node), [])]
        ax.broken_barh(spans, (row * 10, 8), color=colors["left" if name.startswith("left") else "right"])
    for t in trace["ticks"]:
        ax.axvline(t, color="grey", lw=0.4, alpha=0.6)
    ax.set_yticks([row * 10 + 4 for row in range(len(names))], sorted(names.values()))
    ax.set_xlabel("cycle within the inference (input packets in at 0; grey lines: step ticks)")
    ax.set_title("per-tile busy cycles of one inference on the chip")
    fig.tight_layout()
    fig.savefig(OUT_DIR / "activity_timeline.png")
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=None, help="config TOML (default: configs/default.toml)")
    ap.add_argument("--images", type=int, default=100, help="test images to run on the RTL (default 100)")
    ap.add_argument("--all", action="store_true", help="run the whole test split on the RTL")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.images < 1:
        print(f"error: --images {args.images}: must be at least 1", file=sys.stderr)
        return 2
    cfg = load_config_cli(args.config)
    t0 = time.monotonic()
    net, data, float_acc = get_net(args.seed)
    try:
        program = compile_network(hybrid_network(net), cfg.check_chip())
    except (ConfigError, CompileError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    g_pred, g_counts = net.predict(data.x_test)
    g_acc = (g_pred == data.y_test).mean()
    print("Hemi hybrid digits demo: 64 pixels -> [left tile: dense int8, ReLU] -> callosum -> rate bridge "
          f"({net.steps} steps) -> [right tile: {net.classes} LIF neurons] -> most spikes wins")
    print(f"  trained and quantized: float accuracy {float_acc:.4f}")
    print(f"golden model, whole test split ({len(data.y_test)} images): accuracy {g_acc:.4f}")
    placed = ", ".join(f"{name} on the {kind} tile at {tuple(node)}" for name, (kind, node) in program.placement.items())
    print(f"compiled for config {cfg.name}: {placed}")
    n = len(data.y_test) if args.all else min(args.images, len(data.y_test))
    images, labels = data.x_test[:n], data.y_test[:n]
    print(f"RTL (the chip top in Verilator): {n} test images; building the model (cached after the first run)")
    net_path = OUT_DIR / f"net-seed{args.seed}.npz"
    try:
        results = run_on_chip(cfg, net_path, images)
    except AssertionError as e:
        print(f"\nFAILED: a bench run failed (a mismatch with the golden model, or a bench error)\n{e}",
              file=sys.stderr)
        return 1
    counts = np.array([r["counts"] for r in results["images"]])
    pred = counts.argmax(axis=1)
    acc = (pred == labels).mean()
    same_pred = int((pred == g_pred[:n]).sum())
    same_counts = int((counts == g_counts[:n]).all(axis=1).sum())
    summary = summarise(cfg, results)
    print(f"accuracy on the RTL:       {acc:.4f} ({int((pred == labels).sum())}/{n})")
    print(f"equal to the golden model: predictions {same_pred}/{n}, spike counts {same_counts}/{n} "
          f"(and every step's output spikes, checked in the bench)")
    print(f"cycles per inference:      {summary['cycles_per_inference']:.0f} "
          f"(min {summary['cycles_min']}, max {summary['cycles_max']}; host port to host port: input vector "
          f"in, {net.steps} steps, counts and RUN_DONE out) = "
          f"{summary['inferences_per_s_at_100mhz']:.0f} inferences/s at 100 MHz")
    print("busy fraction per tile:    " + ", ".join(f"{k} {v:.2f}" for k, v in summary["busy"].items()))
    print(f"callosum traffic:          {summary['noc_flits']:.0f} flits per inference; "
          f"loading the network took {results['load_cycles']} cycles")
    raster_out = np.array(results["raster"], dtype=bool)
    raster_in = net.infer(images[0])["raster_in"]
    plots(cfg, net, images[0], raster_in, raster_out, labels, pred, results["trace"])
    print(f"pictures: {OUT_DIR / 'spike_raster.png'}, {OUT_DIR / 'confusion_matrix.png'}, "
          f"{OUT_DIR / 'activity_timeline.png'}")
    (OUT_DIR / "summary.json").write_text(json.dumps({"config": cfg.name, "images": n, "accuracy": acc,
                                                      "golden_accuracy": g_acc, "same_predictions": same_pred,
                                                      "same_counts": same_counts, **summary}, indent=2) + "\n")
    print(f"done in {time.monotonic() - t0:.0f} s")
    return 0 if same_pred == n and same_counts == n else 1


if __name__ == "__main__":
    sys.exit(main())
