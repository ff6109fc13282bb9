"""``make demo``: the hybrid digits network on the RTL cores.

A small ANN/SNN network classifies scikit-learn's 8 x 8 handwritten digits:
a dense int8 layer with ReLU on the left core, a rate bridge, and a layer of
LIF neurons on the right core (one per class; the class is the neuron with
the most spikes). The network is trained and quantized (host/digits.py), run
on the golden model, and run on the generated RTL in Verilator: the dense
layer on the left core for every image at once, then, image by image, the
spike trains through the right core, each step checked against the golden
model. The two cores are driven from the host here; on the chip they will
talk over the callosum (the rate bridge then runs in hardware).

Prints accuracy, agreement with the golden model, cycles per inference and
each core's busy fraction; writes PNGs to build/demo/.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from host.digits import load_digits_split, train
from rtl.config import load_config_cli
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


def run_layers(cfg, net_path, images, tmp):
    """Both layers on the RTL; returns (hidden, left info, right results)."""
    np.save(tmp / "images.npy", images)
    left = Bench("left", cfg, quiet=True)
    out = tmp / "left.json"
    left.run("tb.hybrid.layers", name="demo-dense", testcase="dense_layer",
             env={"HEMI_NET": str(net_path), "HEMI_IMAGES": str(tmp / "images.npy"), "HEMI_OUT": str(out)})
    left_info = json.loads(out.read_text())
    hidden = np.load(str(out) + ".npy")
    # One image alone: the left core's latency for a single inference.
    np.save(tmp / "one.npy", images[:1])
    out1 = tmp / "left1.json"
    left.run("tb.hybrid.layers", name="demo-dense-one", testcase="dense_layer",
             env={"HEMI_NET": str(net_path), "HEMI_IMAGES": str(tmp / "one.npy"), "HEMI_OUT": str(out1)})
    left_info["single_image_cycles"] = json.loads(out1.read_text())["cycles"]
    right = Bench("right", cfg, quiet=True)
    results, trace = [], []
    n = len(images)
    progress(0, n, label="images through the right core")
    for start in range(0, n, CHUNK):
        chunk = hidden[start:start + CHUNK]
        np.save(tmp / "hidden.npy", chunk)
        out = tmp / "right.json"
        right.run("tb.hybrid.layers", name="demo-lif", testcase="lif_layer",
                  env={"HEMI_NET": str(net_path), "HEMI_IMAGES": str(tmp / "hidden.npy"),
                       "HEMI_OUT": str(out), "HEMI_TRACE": "0" if start == 0 else "-1"})
        r = json.loads(out.read_text())
        results += r["images"]
        trace = trace or r["trace"]
        progress(min(start + CHUNK, n), n, label="images through the right core")
    return hidden, left_info, results, trace


def plots(net, image, hidden_raster, out_raster, y_true, y_pred, trace, left_cycles):
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
    axes[1].set(xlabel="time step", ylabel="hidden unit (axon)", title="left -> right: rate-coded hidden layer",
                xlim=(-0.5, net.steps - 0.5), ylim=(-0.5, net.hidden - 0.5))
    t, k = np.nonzero(out_raster)
    axes[2].scatter(t, k, s=30, marker="|", color="tab:red")
    counts = out_raster.sum(axis=0)
    axes[2].set(xlabel="time step", ylabel="output neuron (class)", yticks=range(net.classes),
                title=f"right core: LIF spikes (class {int(np.argmax(counts))})",
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
    # Per-core activity of one inference, at the cycles it happened: the
    # left core's GEMM for this image alone, then each step on the right
    # core (integrate, then update; the rest of a step's span is the tick,
    # spike output and done beat, and the host's turnaround).
    fig, ax = plt.subplots(figsize=(10, 2.8), dpi=110)
    ax.broken_barh([(0, left_cycles)], (10, 8), color="tab:blue")
    for s in trace:
        x = left_cycles + s["start"]
        ax.broken_barh([(x, s["end"] - s["start"] + 1)], (0, 8), facecolor="none", edgecolor="grey", lw=0.5)
        ax.broken_barh([(x, s["integrate"])], (0, 8), color="tab:orange")
        ax.broken_barh([(x + s["integrate"], s["update"])], (0, 8), color="tab:green")
    ax.set_yticks([4, 14], ["right core", "left core"])
    ax.set_xlabel("cycle (left: dense layer for one image; right: integrate orange, update green, "
                  "rest of each step's span in grey outline)")
    ax.set_title("per-core activity of one inference (host-driven: the cores run one after the other)")
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
    cfg = load_config_cli(args.config)
    t0 = time.monotonic()
    net, data, float_acc = get_net(args.seed)
    if net.hidden > cfg.right.axons or net.classes > cfg.right.neurons:
        print(f"error: the network needs {net.hidden} axons and {net.classes} neurons; "
              f"config {cfg.name} has {cfg.right.axons} and {cfg.right.neurons}", file=sys.stderr)
        return 2
    g_pred, g_counts = net.predict(data.x_test)
    g_acc = (g_pred == data.y_test).mean()
    print("Hemi hybrid digits demo: 64 pixels -> [left core: dense int8, ReLU] -> rate bridge "
          f"({net.steps} steps) -> [right core: {net.classes} LIF neurons] -> most spikes wins")
    print(f"  trained and quantized: float accuracy {float_acc:.4f}")
    print(f"golden model, whole test split ({len(data.y_test)} images): accuracy {g_acc:.4f}")
    if args.images < 1:
        print(f"error: --images {args.images}: must be at least 1", file=sys.stderr)
        return 2
    n = len(data.y_test) if args.all else min(args.images, len(data.y_test))
    images, labels = data.x_test[:n], data.y_test[:n]
    print(f"RTL (Verilator, config {cfg.name}): {n} test images; building the models (cached after the first run)")
    net_path = OUT_DIR / f"net-seed{args.seed}.npz"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            hidden, left_info, results, trace = run_layers(cfg, net_path, images, Path(tmp))
    except AssertionError as e:
        print(f"\nFAILED: a bench run failed (a mismatch with the golden model, or a bench error)\n{e}",
              file=sys.stderr)
        return 1
    counts = np.array([r["counts"] for r in results])
    pred = counts.argmax(axis=1)
    acc = (pred == labels).mean()
    same_pred = int((pred == g_pred[:n]).sum())
    same_counts = int((counts == g_counts[:n]).all(axis=1).sum())
    untraced = [r for r in results if not r["traced"]] or results
    right_one = np.mean([r["cycles"] for r in untraced])
    right_busy = np.mean([r["integrate"] + r["update"] for r in untraced])
    left_one = left_info["single_image_cycles"]
    total = left_one + right_one
    print(f"accuracy on the RTL:       {acc:.4f} ({int((pred == labels).sum())}/{n})")
    print(f"equal to the golden model: predictions {same_pred}/{n}, spike counts {same_counts}/{n}, "
          f"hidden layers {n}/{n} (checked beat by beat)")
    print(f"cycles per inference:      {total:.0f} for one image (left core {left_one} for its dense layer, "
          f"right core {right_one:.0f} for {net.steps} steps)")
    print(f"                           left core batched: {left_info['cycles']} cycles for all {n} images "
          f"({left_info['cycles'] / n:.0f} per image)")
    print(f"busy fraction (one image): left core {left_one / total:.2f}, right core {right_busy / total:.2f} "
          f"(its integrate + update cycles; the rest is ticks, spike output and host turnaround)")
    # The raster shows what the RTL did for image 0 (its spikes were traced;
    # the input spikes are the rate bridge's, computed by the host here).
    raster_out = np.zeros((net.steps, net.classes), dtype=bool)
    for s in trace:
        raster_out[s["step"], s["spikes"]] = True
    raster_in = net.infer(images[0])["raster_in"]
    plots(net, images[0], raster_in, raster_out, labels, pred, trace, left_one)
    print(f"pictures: {OUT_DIR / 'spike_raster.png'}, {OUT_DIR / 'confusion_matrix.png'}, "
          f"{OUT_DIR / 'activity_timeline.png'}")
    print(f"done in {time.monotonic() - t0:.0f} s")
    ok = same_pred == n and same_counts == n
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
