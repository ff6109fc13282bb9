"""Bit-exact golden model of a multi-layer network on the Hemi chip.

It takes a network description (``host.network.Network``; only its fields
are read, so this module does not depend on the host package) and runs one
inference with the semantics the chip implements:

* Phase A: Dense layers fed, directly or through other Dense layers, by the
  host's input vector compute in dependency order (``sw_model.left.gemm``,
  one row, int8 requantization).
* Phase B: ``steps`` time steps. In step ``t`` each Lif layer takes the
  events ``rate_encode(dense source, steps)[t]`` on axons ``0..H-1`` (its
  Dense source, if any), then, for each Lif source ``S`` in input order,
  ``S``'s spikes of step ``t - 1`` (none at ``t = 0``) on ``S``'s axon range,
  and does one ``RightCoreModel.step``. State starts at zero every inference.
* Phase C: each Lif layer's spike counts, saturated to int8, feed the Dense
  layers that take them, which compute in dependency order.

Axons: the Dense source takes ``0..H-1``, the Lif sources follow in input
order. Zero weights are left out of the synapse tables (they add nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import left
from .bridges import counts_to_int8, rate_encode
from .right import RightCoreModel

__all__ = ["NetworkResult", "NetworkModel"]

INPUT = "input"


@dataclass
class NetworkResult:
    """One inference. ``outputs``: the network's output layers, int8 vectors
    (Dense) or int8-saturated spike counts (Lif); ``counts``: raw int64 spike
    counts of every Lif layer; ``spikes``: every Lif layer's bool raster
    (steps x neurons); ``dense``: every Dense layer's int8 output."""

    outputs: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    spikes: dict = field(default_factory=dict)
    dense: dict = field(default_factory=dict)


def _axon_order(network, lif):
    """``[(source, weights, offset)]``: the Dense source first, then the Lif
    sources in input order, on consecutive axon ranges."""
    kinds = {l.name: l.kind for l in network.layers}
    ordered = [sw for sw in lif.inputs if kinds[sw[0]] == "dense"] + \
              [sw for sw in lif.inputs if kinds[sw[0]] != "dense"]
    out, base = [], 0
    for src, w in ordered:
        out.append((src, w, base))
        base += w.shape[0]
    return out


class NetworkModel:
    """Runs a network one input vector at a time (:meth:`run`)."""

    def __init__(self, network):
        self.network = network
        self._kinds = {l.name: l.kind for l in network.layers}
        self._dense = [l for l in network.layers if l.kind == "dense"]
        self._lif = [l for l in network.layers if l.kind == "lif"]
        self._order = {l.name: _axon_order(network, l) for l in self._lif}
        self._cores = {l.name: self._build_core(l) for l in self._lif}

    def _build_core(self, lif):
        """A right-core model holding the layer's synapses and parameters."""
        order = self._order[lif.name]
        axons = max(1, sum(w.shape[0] for _, w, _ in order))
        core = RightCoreModel(lif.neurons, axons, wexp=lif.wexp)
        core.set_params(**{k: np.asarray(v) for k, v in lif.params.items()})
        table = {}
        for _, w, base in order:
            for j in range(w.shape[0]):
                nz = np.flatnonzero(w[j])
                if nz.size:
                    table[base + j] = [(int(n), int(w[j, n])) for n in nz]
        core.set_synapses(table)
        return core

    def _check_input(self, x):
        x = np.asarray(x)
        if x.dtype.kind not in "iu" or x.shape != (self.network.inputs,):
            raise ValueError(f"input must be {self.network.inputs} integers, got shape {x.shape} "
                             f"dtype {x.dtype}")
        if x.size and (x.min() < -128 or x.max() > 127):
            raise ValueError("input holds values outside int8 -128..127")
        return x.astype(np.int64)

    def _dense_pass(self, vectors, done):
        """Compute every Dense layer whose source vector is available, in
        dependency order; ``vectors`` gains their outputs."""
        pending = [d for d in self._dense if d.name not in done]
        progress = True
        while progress:
            progress = False
            for d in list(pending):
                if d.source in vectors:
                    vectors[d.name] = left.gemm(vectors[d.source][None, :], d.weights, d.bias,
                                                d.multiplier, d.shift, zero_point=d.zero_point,
                                                relu=d.relu, mode="int8")[0]
                    done.add(d.name)
                    pending.remove(d)
                    progress = True

    def run(self, x) -> NetworkResult:
        """One inference of the int8 input vector ``x``."""
        net = self.network
        vectors = {INPUT: self._check_input(x)}
        done = set()
        self._dense_pass(vectors, done)                        # phase A
        rasters = {}                                           # dense source -> raster
        for lif in self._lif:
            for src, _, _ in self._order[lif.name]:
                if self._kinds[src] == "dense" and src not in rasters:
                    if src not in vectors:
                        raise ValueError(f"lif layer {lif.name!r}: dense source {src!r} is not "
                                         f"computed before the steps")
                    rasters[src] = rate_encode(vectors[src], net.steps)
        spikes = {l.name: np.zeros((net.steps, l.neurons), dtype=bool) for l in self._lif}
        for core in self._cores.values():
            core.reset()
        prev = {l.name: np.zeros(0, dtype=np.int64) for l in self._lif}
        for t in range(net.steps):                             # phase B
            now = {}
            for lif in self._lif:
                events = []
                for src, _, base in self._order[lif.name]:
                    ids = np.flatnonzero(rasters[src][t]) if self._kinds[src] == "dense" else prev[src]
                    events.append(base + ids)
                fired = self._cores[lif.name].step(np.concatenate(events) if events else [])
                spikes[lif.name][t, fired] = True
                now[lif.name] = fired
            prev = now
        counts = {name: s.sum(axis=0).astype(np.int64) for name, s in spikes.items()}
        for name, c in counts.items():                         # phase C
            vectors[name] = counts_to_int8(c)
        self._dense_pass(vectors, done)
        outputs = {name: vectors[name].astype(np.int8) for name in net.outputs}
        dense = {d.name: vectors[d.name].astype(np.int8) for d in self._dense}
        return NetworkResult(outputs=outputs, counts=counts, spikes=spikes, dense=dense)
