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


# ---- directed corner networks -----------------------------------------------------

def _params(cfg, **per_neuron):
    """Every parameter 0 except the given ones (scalars or length-N arrays)."""
    N = cfg.neurons
    p = {k: np.zeros(N, dtype=np.int64) for k in RANGES}
    for k, v in per_neuron.items():
        p[k] = np.broadcast_to(np.asarray(v, dtype=np.int64), (N,)).copy()
    return p


def every_neuron_network(cfg):
    """Refractory periods, spike counts and the weight exponent.

    Every neuron has vth = 0 and no bias, so it spikes exactly when its input
    is positive (its u and v are 0 otherwise), and refractory periods
    0, 1, 7, 15 in turn. Axon 0 reaches every neuron, axon 1 neuron 0,
    axon 2 neurons 1..3. Steps (wexp, events): all spike; none; one; the
    neurons whose count ran out spike while the others get input during
    their refractory period; then one step per weight exponent 0..7.
    """
    N = cfg.neurons
    params = _params(cfg, du=4095, dv=4095, refractory=np.resize([0, 1, 7, 15], N))
    table = {0: [(n, 1) for n in range(N)], 1: [(0, 1)], 2: [(1, 1), (2, 1), (3, 1)]}
    steps = [(0, [0]), (0, []), (0, [1]), (0, [0])] + [(w, [0, 2]) for w in range(8)]
    return params, table, steps


def saturation_network(cfg):
    """Saturation, wrap and clamp events and the decay extremes.

    Neuron 0: 24 synapses of +127 from axon 0; with wexp = 7, 22 events of
    axon 0 in one step saturate its 24-bit accumulator high, one event
    saturates a_in high, and du = 0 keeps u growing by 2**21 a step until it
    wraps above 2**23. Neuron 1: the same with -128 (saturations low, u
    wraps below) and dv = 0, so its v sinks to the low clamp. Neuron 2: no
    decay of v, the maximum bias and threshold: v climbs until it is clamped
    high (and spikes), with u driven a little (du = 4095). Neurons 3 and 4:
    three synapses of -128 / +127 saturate a_in but not the accumulator;
    dv = 4095. Neuron 5: decays halfway (du = dv = 2048), driven with
    neuron 2. The first steps also name axons outside the core (1, then 2
    dropped events). Every other neuron sits at rest (vth at its maximum).
    """
    N, A = cfg.neurons, cfg.axons
    vth_max = RANGES["vth"][1]
    du = np.zeros(N, dtype=np.int64)
    dv = np.zeros(N, dtype=np.int64)
    du[[2, 3, 4]] = 4095
    dv[[0, 3, 4]] = 4095
    du[5] = dv[5] = 2048
    bias_mant = np.zeros(N, dtype=np.int64)
    bias_exp = np.zeros(N, dtype=np.int64)
    bias_mant[2], bias_exp[2] = 4095, 7
    params = _params(cfg, du=du, dv=dv, vth=vth_max, bias_mant=bias_mant, bias_exp=bias_exp)
    table = {0: [(0, 127)] * 24, 1: [(1, -128)] * 24, 2: [(2, 1), (5, 1)], 3: [(3, -128)] * 3, 4: [(4, 127)] * 3}
    every = [0, 1, 2, 3, 4]
    steps = [(7, [0] * 22 + [1] * 22 + [2, 3, 4, A]), (7, every + [A, 0xFFFF])]
    steps += [(7, every) for _ in range(18)]
    return params, table, steps
