"""Random networks for the chip benches, sized to fit a config: a dense
chain from the input on the left tiles, a rate bridge into a spiking layer,
further spiking layers (feed-forward and recurrent) on the other right
tiles, and sometimes a dense layer on the spike counts; and two directed
networks whose traffic does not depend on the draw (coverage_network,
dense_network)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from host.network import Dense, Lif, Network
from tb.right.network import random_params


def _dense(rng, name, k, n, source, relu=True):
    return Dense(name, weights=rng.integers(-128, 128, (k, n)), bias=rng.integers(-3000, 3000, n),
                 multiplier=rng.integers(1 << 30, (1 << 31) - 1, n), shift=rng.integers(5, 11, n),
                 zero_point=int(rng.integers(-4, 5)), relu=relu, source=source)


def _lif(rng, name, neurons, inputs):
    params = random_params(SimpleNamespace(neurons=neurons), rng, extreme_fraction=0.2,
                           vth_max=1500, bias_max=200)
    inputs = tuple((src, rng.integers(-128, 128, (size, neurons))) for src, size in inputs)
    return Lif(name, neurons=neurons, params=params, wexp=int(rng.integers(0, 4)), inputs=inputs)


def random_network(cfg, rng) -> Network:
    lc, rc = cfg.left, cfg.right
    n_left, n_right = len(cfg.chip.left), len(cfg.chip.right)
    assert n_left >= 1 and n_right >= 1, "the chip benches need a left and a right tile"
    inputs = int(rng.integers(1, min(lc.max_k, 40) + 1))
    layers, free_left = [], n_left
    width = int(rng.integers(1, min(lc.max_n, rc.axons // 2, 24) + 1))
    layers.append(_dense(rng, "d0", inputs, width, "input"))
    free_left -= 1
    last = "d0"
    if free_left >= 2 and rng.random() < 0.5:           # keep one left tile for the counts
        nxt = int(rng.integers(1, min(lc.max_n, rc.axons // 2, 24) + 1))
        layers.append(_dense(rng, "d1", width, nxt, "d0"))
        free_left -= 1
        width, last = nxt, "d1"
    n_lif = int(rng.integers(1, n_right + 1))
    sizes = [int(rng.integers(2, min(rc.neurons, rc.axons // 4, 24) + 1)) for _ in range(n_lif)]
    for i in range(n_lif):
        srcs = [(last, width)] if i == 0 else [(f"s{i - 1}", sizes[i - 1])]
        if rng.random() < 0.4:
            srcs.append((f"s{i}", sizes[i]))             # recurrent
        layers.append(_lif(rng, f"s{i}", sizes[i], srcs))
    final = f"s{n_lif - 1}"
    outputs = [final]
    if free_left >= 1 and rng.random() < 0.6:
        layers.append(_dense(rng, "dc", sizes[-1], int(rng.integers(1, min(lc.max_n, 16) + 1)), final,
                             relu=bool(rng.random() < 0.5)))
        outputs = ["dc"] + ([final] if rng.random() < 0.5 else [])
    raster = tuple(f"s{i}" for i in range(n_lif) if rng.random() < 0.5)
    return Network(inputs=inputs, layers=tuple(layers), steps=int(rng.integers(4, 16)),
                   outputs=tuple(outputs), raster=raster)


def _driven_lif(rng, name, neurons, inputs, drivers=2):
    """A Lif layer (as ``_lif``) whose first ``drivers`` neurons spike in
    every step whatever arrives: a bias far above the threshold, no
    refractory period and no negative weight onto them."""
    params = random_params(SimpleNamespace(neurons=neurons), rng, extreme_fraction=0.2,
                           vth_max=1500, bias_max=200)
    for key, value in (("vth", 10), ("bias_mant", 1000), ("bias_exp", 3), ("refractory", 0)):
        params[key][:drivers] = value
    weighted = []
    for src, size in inputs:
        w = rng.integers(-128, 128, (size, neurons))
        w[:, :drivers] = np.abs(w[:, :drivers]).clip(0, 127)
        weighted.append((src, w))
    return Lif(name, neurons=neurons, params=params, wexp=int(rng.integers(0, 3)), inputs=tuple(weighted))


def coverage_network(cfg, rng) -> Network:
    """A small network that sends every kind of traffic the placement allows,
    whatever the draw: the input vector to d0 (left tile 0), its vector to s0
    (right tile 0; recurrent, in the raster, its counts to the host); with a
    second right tile, s1 fed by s0 (so s0's spikes go to two cores in one
    step; s1 recurrent, its spikes to one core), and with a second left tile
    too, dc on s1's counts (counts back to a left tile, a vector to the host).
    s0's and s1's first neurons spike in every step (``_driven_lif``)."""
    rc = cfg.right
    n_left, n_right = len(cfg.chip.left), len(cfg.chip.right)
    inputs = int(rng.integers(4, 17))
    width = int(rng.integers(2, min(rc.axons // 4, 8) + 1))
    n0 = int(rng.integers(3, min(rc.neurons, rc.axons // 4, 8) + 1))
    layers = [_dense(rng, "d0", inputs, width, "input"),
              _driven_lif(rng, "s0", n0, [("d0", width), ("s0", n0)])]
    outputs = ["s0"]
    if n_right >= 2:
        n1 = int(rng.integers(3, min(rc.neurons, rc.axons // 4, 8) + 1))
        layers.append(_driven_lif(rng, "s1", n1, [("s0", n0), ("s1", n1)]))
        if n_left >= 2:
            layers.append(_dense(rng, "dc", n1, int(rng.integers(1, 9)), "s1", relu=bool(rng.random() < 0.5)))
            outputs.append("dc")
    return Network(inputs=inputs, layers=tuple(layers), steps=int(rng.integers(6, 10)),
                   outputs=tuple(outputs), raster=("s0",))


def dense_network(cfg, rng) -> Network:
    """Dense layers only, their vector to the host: d0 on the input, and with
    a second left tile d1 on d0's vector (a left tile feeding a left tile).
    The right tiles idle through the run's steps."""
    inputs = int(rng.integers(1, 25))
    width = int(rng.integers(1, 13))
    layers = [_dense(rng, "d0", inputs, width, "input")]
    if len(cfg.chip.left) >= 2:
        layers.append(_dense(rng, "d1", width, int(rng.integers(1, 13)), "d0", relu=bool(rng.random() < 0.5)))
    return Network(inputs=inputs, layers=tuple(layers), steps=int(rng.integers(1, 4)),
                   outputs=(layers[-1].name,))
