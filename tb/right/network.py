"""Random networks for the right core's benches: synapse tables, neuron
parameters (extremes included) and input spike trains."""

from __future__ import annotations

import numpy as np


def random_table(cfg, rng, max_fanout=24, density=0.7):
    """``{axon: [(neuron, weight), ...]}``: a fraction ``density`` of the axons
    get 0..max_fanout synapses to random neurons (duplicates allowed)."""
    table = {}
    for axon in range(cfg.axons):
        if rng.random() < density:
            k = int(rng.integers(0, max_fanout + 1))
            table[axon] = [(int(n), int(w)) for n, w in
                           zip(rng.integers(0, cfg.neurons, k), rng.integers(-128, 128, k))]
    return table


def balanced_table(cfg, rng, fanout):
    """Every axon targets ``fanout`` distinct neurons spread evenly over the
    lanes (fanout / lanes per lane), so each event costs exactly
    ceil(fanout / lanes) rows."""
    L, G = cfg.lanes, cfg.groups
    per_lane = -(-fanout // L)
    table = {}
    for axon in range(cfg.axons):
        syn = []
        for lane in range(L):
            groups = [g for g in range(G) if g * L + lane < cfg.neurons]
            picks = rng.choice(groups, size=min(per_lane, len(groups)), replace=False)
            syn += [(int(g) * L + lane, int(rng.integers(-128, 128))) for g in picks]
        table[axon] = syn[:fanout] if len(syn) > fanout else syn
    return table


EXTREMES = {
    "du": [0, 1, 4095],
    "dv": [0, 1, 4095],
    "vth": [0, 1, (1 << 17) - 1],
    "bias_mant": [-4096, 0, 4095],
    "bias_exp": [0, 7],
    "refractory": [0, 1, 15],
}
RANGES = {"du": (0, 4095), "dv": (0, 4095), "vth": (0, (1 << 17) - 1),
          "bias_mant": (-4096, 4095), "bias_exp": (0, 7), "refractory": (0, 15)}


def random_params(cfg, rng, extreme_fraction=0.3, vth_max=2000, bias_max=300):
    """Per-neuron parameters: mostly moderate values that make neurons spike
    now and then, with a fraction of every parameter drawn from its extremes."""
    N = cfg.neurons
    p = {
        "du": rng.integers(0, 4096, N),
        "dv": rng.integers(0, 4096, N),
        "vth": rng.integers(0, vth_max, N),
        "bias_mant": rng.integers(-bias_max, bias_max, N),
        "bias_exp": rng.integers(0, 8, N),
        "refractory": np.where(rng.random(N) < 0.5, 0, rng.integers(0, 16, N)),
    }
    for key, values in EXTREMES.items():
        mask = rng.random(N) < extreme_fraction / 2
        p[key] = np.where(mask, rng.choice(values, N), p[key])
    return {k: v.astype(np.int64) for k, v in p.items()}


def random_trains(cfg, rng, steps, rate, bad_rate=0.0):
    """Per step, each axon spikes with probability ``rate`` (order shuffled,
    some axons twice); a fraction ``bad_rate`` of extra events name axons
    outside the core."""
    trains = []
    for _ in range(steps):
        ev = list(np.nonzero(rng.random(cfg.axons) < rate)[0])
        ev += list(rng.choice(cfg.axons, size=len(ev) // 8 + 0)) if ev else []
        if bad_rate:
            nbad = int(rng.binomial(max(len(ev), 1), bad_rate))
            ev += list(rng.integers(cfg.axons, 1 << 16, nbad))
        rng.shuffle(ev)
        trains.append([int(a) for a in ev])
    return trains
