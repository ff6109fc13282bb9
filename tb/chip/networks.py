"""Random networks for the chip benches, sized to fit a config: a dense
chain from the input on the left tiles, a rate bridge into a spiking layer,
further spiking layers (feed-forward and recurrent) on the other right
tiles, and sometimes a dense layer on the spike counts."""

from __future__ import annotations

from types import SimpleNamespace


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
