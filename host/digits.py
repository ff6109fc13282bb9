"""The hybrid digits network: train, quantize, evaluate on the golden model.

The data set is scikit-learn's handwritten digits (8 x 8 images, 0..16, it
ships inside the package: no download). A float MLP 64 -> hidden (ReLU) ->
10 is trained with scikit-learn, then mapped onto the cores:

* pixels become int8 ``round(p * 127 / 16)``;
* layer 1 runs on a left core: int8 weights with a per-channel scale, int32
  bias, and TFLite requantization (multiplier, shift) into an int8 hidden
  vector with ReLU, scaled so that the 99.9th percentile of the training
  activations maps to 127;
* the rate bridge turns the hidden vector into spikes over ``steps`` steps;
* layer 2 runs on a right core as non-leaky integrate-and-fire neurons
  (du = 4095: the current is this step's input only; dv = 0: no leak), int8
  synapse weights, the layer bias as the neuron bias, and one threshold set
  from the training logits (the winning neuron typically spikes on a third
  of the steps, since a spike resets v to 0); the class is the neuron with
  the most spikes.

``python -m host.digits`` trains, reports float and golden-model accuracy on
the held-out test split, and saves the quantized network.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sw_model.hybrid import HybridNet

INPUT_SCALE = 127 / 16


@dataclass
class DigitsData:
    x_train: np.ndarray   # int8 images (rows of 64)
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits_split(seed=0, test_size=0.25) -> DigitsData:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    xq = np.rint(d.data * INPUT_SCALE).astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(xq, d.target, test_size=test_size,
                                          random_state=seed, stratify=d.target)
    return DigitsData(xtr, ytr, xte, yte)


def quantize_multiplier(m: float) -> tuple[int, int]:
    """A positive real multiplier below 1 as (int32 multiplier, right shift)
    for SaturatingRoundingDoublingHighMul then RoundingDivideByPOT."""
    if not 0 < m < 1:
        raise ValueError(f"multiplier {m} must lie in (0, 1)")
    shift = -math.floor(math.log2(m)) - 1          # m * 2**shift in [0.5, 1)
    mult = round(m * 2.0 ** (31 + shift))
    if mult == 1 << 31:
        mult //= 2
        shift -= 1
    if not 0 <= shift <= 31:
        raise ValueError(f"multiplier {m} needs shift {shift}, outside 0..31")
    return mult, shift


def mantissa_exponent(value: float) -> tuple[int, int]:
    """``value`` as bias_mant << bias_exp (13-bit mantissa, exponent 0..7)."""
    for exp in range(8):
        mant = round(value / (1 << exp))
        if -4096 <= mant <= 4095:
            return mant, exp
    raise ValueError(f"bias {value} does not fit 13-bit mantissa << 7")


def train(data: DigitsData, hidden=64, steps=32, seed=0, fire_fraction=0.5) -> tuple[HybridNet, float]:
    """Train the float network and quantize it; returns (net, float test accuracy)."""
    from sklearn.neural_network import MLPClassifier

    xf = data.x_train / 127.0
    mlp = MLPClassifier(hidden_layer_sizes=(hidden,), max_iter=600, random_state=seed).fit(xf, data.y_train)
    float_acc = mlp.score(data.x_test / 127.0, data.y_test)
    W1, W2 = mlp.coefs_
    b1, b2 = mlp.intercepts_

    # Layer 1: x ~ x_q / 127, W1 ~ w1q * s_w1 (per output channel).
    s_x = 1 / 127.0
    s_w1 = np.maximum(np.abs(W1).max(axis=0), 1e-9) / 127.0
    w1q = np.clip(np.rint(W1 / s_w1), -127, 127).astype(np.int64)
    bias1 = np.rint(b1 / (s_x * s_w1)).astype(np.int64)
    h_train = np.maximum(xf @ W1 + b1, 0)
    s_h = max(np.percentile(h_train, 99.9), 1e-6) / 127.0
    # A dead hidden unit (all-zero weights) gets multiplier 0: its output is 0.
    mults, shifts = zip(*(quantize_multiplier(s_x * s / s_h) if s_x * s / s_h > 2.0 ** -32 else (0, 0)
                          for s in s_w1))

    # Layer 2: hidden rate ~ h_q / 128 per step, w2 ~ w2q * s_w2.
    wexp = 0
    s_w2 = np.abs(W2).max() / 127.0
    w2q = np.clip(np.rint(W2 / s_w2), -127, 127).astype(np.int64)
    K = 64 * (1 << wexp) / (128 * s_h * s_w2)          # drive per step per unit of logit
    bias = [mantissa_exponent(K * b) for b in b2]
    logits = h_train @ W2 + b2
    z_typ = float(np.median(logits.max(axis=1)))
    vth = int(np.clip(round(K * z_typ / (64 * fire_fraction)), 1, (1 << 17) - 1))
    classes = W2.shape[1]
    lif = {
        "du": np.full(classes, 4095), "dv": np.zeros(classes, dtype=np.int64),
        "vth": np.full(classes, vth),
        "bias_mant": np.array([m for m, _ in bias]), "bias_exp": np.array([e for _, e in bias]),
        "refractory": np.zeros(classes, dtype=np.int64),
    }
    net = HybridNet(w1=w1q, bias1=bias1, mult1=np.array(mults), shift1=np.array(shifts),
                    w2=w2q, wexp=wexp, lif=lif, steps=steps,
                    meta={"float_test_accuracy": float_acc, "hidden": hidden, "seed": seed})
    return net, float_acc


def digits_network(seed=0, hidden=64, steps=32):
    """Train the digits network and describe it for the chip compiler:
    returns ``(network, net, data)`` with ``network`` the
    :class:`host.network.Network` of the trained :class:`HybridNet` ``net``
    and ``data`` the split it was trained on."""
    from host.network import hybrid_network

    data = load_digits_split(seed)
    net, _ = train(data, hidden, steps, seed)
    return hybrid_network(net), net, data


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="build/digits/net.npz")
    args = ap.parse_args(argv)
    data = load_digits_split(args.seed)
    net, float_acc = train(data, args.hidden, args.steps, args.seed)
    pred, _ = net.predict(data.x_test)
    acc = float((pred == data.y_test).mean())
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    net.save(args.out)
    print(f"digits: {len(data.y_train)} train / {len(data.y_test)} test images")
    print(f"float MLP 64-{args.hidden}-10 test accuracy:   {float_acc:.4f}")
    print(f"hybrid golden model test accuracy: {acc:.4f} (int8 left layer, {args.steps}-step rate bridge, "
          f"LIF right layer)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

