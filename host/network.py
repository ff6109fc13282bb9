"""The network description the chip compiler (host/compiler.py) and the golden
model (sw_model/network.py) take.

A :class:`Network` is a set of named layers run once per input vector:

* :class:`Dense`: an int8 layer on a left tile, ``y = requant(x . W + b)``
  (TFLite semantics of ``sw_model.left.gemm``, one row). Its ``source`` is
  ``"input"`` (the host's vector), another Dense layer, or a Lif layer (that
  layer's spike counts over the run, saturated to int8).
* :class:`Lif`: Loihi LIF neurons on a right tile. Each input is a source
  layer and a ``source_size x neurons`` int8 weight matrix. A Dense source is
  rate-encoded on the tile (its spikes arrive in the same step) and takes
  axons ``0..size-1``; at most one per layer. A Lif source's spikes of step
  ``t`` arrive in step ``t + 1`` (self/recurrent edges allowed) and take the
  next axons, in input order.

The run has three phases: Dense layers fed from the input, ``steps`` LIF
steps, then Dense layers fed by spike counts. So a Dense layer fed (even
indirectly) by counts cannot feed a Lif layer: that would need a second run.
All classes are frozen and validate in ``__post_init__`` (ValueError naming
the layer and field); their arrays are read-only int64 copies.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from sw_model.right import PARAM_RANGES, WEXP_MAX
from rtl.config import shown as _shown

__all__ = ["INPUT", "MAX_STEPS", "PARAM_KEYS", "Dense", "Lif", "Network", "hybrid_network"]

INPUT = "input"
MAX_STEPS = 255                    # the spike counter's window register is 8 bits
PARAM_KEYS = tuple(PARAM_RANGES)
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _ints(where, field, value):
    """``value`` as a read-only int64 array; ValueError unless integer-typed."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as e:  # ragged nested lists: numpy's message named no layer
        raise ValueError(f"{where}: {field} is not an integer array ({e})") from None
    if arr.dtype.kind not in "iu" or arr.dtype == bool:
        raise ValueError(f"{where}: {field} must hold integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        # astype(int64) below wraps these silently: uint64 2**64 - 1 became a valid -1.
        raise ValueError(f"{where}: {field} holds {int(arr.max())}: out of range (more than int64 holds)")
    arr = arr.astype(np.int64)            # a copy: the caller's array may change later
    arr.flags.writeable = False
    return arr


def _per_channel(where, field, value, n):
    """A scalar or length-``n`` integer array as a read-only length-``n`` array."""
    arr = _ints(where, field, value)
    if arr.ndim == 0:
        arr = np.full(n, int(arr), dtype=np.int64)
        arr.flags.writeable = False
    elif arr.shape != (n,):
        raise ValueError(f"{where}: {field} has shape {arr.shape}, expected ({n},) or a scalar")
    return arr


def _check_range(where, field, arr, lo, hi):
    """ValueError naming the first element of ``arr`` outside ``lo..hi``."""
    if arr.size:
        bad = np.flatnonzero((arr.reshape(-1) < lo) | (arr.reshape(-1) > hi))
        if bad.size:
            idx = np.unravel_index(int(bad[0]), arr.shape) if arr.ndim else ()
            at = "[" + ", ".join(str(int(i)) for i in idx) + "]" if idx else ""
            raise ValueError(f"{where}: {field}{at} = {int(arr.reshape(-1)[bad[0]])}: out of range, "
                             f"allowed {lo}..{hi}")


def _check_int(where, field, value, lo, hi):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{where}: {field} = {_shown(value)}: must be an integer in {lo}..{hi}")
    if not lo <= value <= hi:
        raise ValueError(f"{where}: {field} = {_shown(value)}: out of range, allowed {lo}..{hi}")
    return int(value)


def _check_name(kind, name):
    if not isinstance(name, str) or not name:
        raise ValueError(f"{kind} layer name = {_shown(name)}: must be a non-empty string")
    if name == INPUT:
        raise ValueError(f"{kind} layer name {INPUT!r} is reserved for the host's input vector")


@dataclass(frozen=True, eq=False)
class Dense:
    """An int8 dense layer: ``weights`` K x N, per-channel ``bias`` (int32),
    ``multiplier`` (0..2**31-1) and ``shift`` (0..31) (scalars broadcast)."""

    name: str
    weights: np.ndarray
    bias: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    zero_point: int = 0
    relu: bool = True
    source: str = INPUT

    kind: ClassVar[str] = "dense"

    def __post_init__(self):
        _check_name("dense", self.name)
        where = f"dense layer {self.name!r}"
        w = _ints(where, "weights", self.weights)
        if w.ndim != 2 or w.size == 0:
            raise ValueError(f"{where}: weights has shape {w.shape}, expected K x N with K, N >= 1")
        object.__setattr__(self, "weights", w)
        n = w.shape[1]
        for field in ("bias", "multiplier", "shift"):
            object.__setattr__(self, field, _per_channel(where, field, getattr(self, field), n))
        if not isinstance(self.relu, (bool, np.bool_)):
            raise ValueError(f"{where}: relu = {_shown(self.relu)}: must be True or False")
        object.__setattr__(self, "relu", bool(self.relu))
        object.__setattr__(self, "zero_point", _check_int(where, "zero_point", self.zero_point, -128, 127))
        if not isinstance(self.source, str) or not self.source:
            raise ValueError(f"{where}: source = {_shown(self.source)}: must be {INPUT!r} or a layer name")
        self.validate()

    def validate(self):
        """Range checks (re-run by the compiler before anything is sent)."""
        where = f"dense layer {self.name!r}"
        _check_range(where, "weights", self.weights, -128, 127)
        _check_range(where, "bias", self.bias, INT32_MIN, INT32_MAX)
        _check_range(where, "multiplier", self.multiplier, 0, INT32_MAX)
        _check_range(where, "shift", self.shift, 0, 31)
        _check_int(where, "zero_point", self.zero_point, -128, 127)

    @property
    def k(self) -> int:
        return self.weights.shape[0]

    @property
    def size(self) -> int:
        """Output elements (N)."""
        return self.weights.shape[1]


@dataclass(frozen=True, eq=False)
class Lif:
    """A layer of LIF neurons. ``params``: every key of
    ``sw_model.right.PARAM_RANGES`` as a scalar or per-neuron integer array;
    ``wexp``: the core's weight exponent; ``inputs``: ``(source, weights)``
    pairs, ``weights`` source_size x neurons int8."""

    name: str
    neurons: int
    params: dict
    wexp: int = 0
    inputs: tuple = ()

    kind: ClassVar[str] = "lif"

    def __post_init__(self):
        _check_name("lif", self.name)
        where = f"lif layer {self.name!r}"
        n = _check_int(where, "neurons", self.neurons, 1, 1 << 16)
        object.__setattr__(self, "neurons", n)
        if not isinstance(self.params, Mapping):
            raise ValueError(f"{where}: params must be a dict of {', '.join(PARAM_KEYS)}")
        # Sorted as text: keys of mixed types (str and int) made sorted()
        # raise a bare TypeError.
        unknown = sorted(_shown(k) for k in set(self.params) - set(PARAM_KEYS))
        missing = [k for k in PARAM_KEYS if k not in self.params]
        if unknown or missing:
            raise ValueError(f"{where}: params " + (f"missing {missing}" if missing else "")
                             + ("; " if unknown and missing else "")
                             + (f"unknown [{', '.join(unknown)}]" if unknown else "")
                             + f" (keys: {', '.join(PARAM_KEYS)})")
        params = {k: _per_channel(where, f"params[{k!r}]", self.params[k], n) for k in PARAM_KEYS}
        object.__setattr__(self, "params", types.MappingProxyType(params))
        if not isinstance(self.inputs, (tuple, list)):
            raise ValueError(f"{where}: inputs must be a tuple of (source, weights) pairs")
        inputs = []
        for i, entry in enumerate(self.inputs):
            try:
                src, w = entry
            except (TypeError, ValueError):
                raise ValueError(f"{where}: inputs[{i}] must be a (source, weights) pair") from None
            if not isinstance(src, str) or not src:
                raise ValueError(f"{where}: inputs[{i}] source = {_shown(src)}: must be a layer name")
            w = _ints(where, f"weights from {src!r}", w)
            if w.ndim != 2 or w.shape[0] < 1 or w.shape[1] != n:
                raise ValueError(f"{where}: weights from {src!r} have shape {w.shape}, "
                                 f"expected (source size, {n})")
            inputs.append((src, w))
        sources = [s for s, _ in inputs]
        dup = sorted({s for s in sources if sources.count(s) > 1})
        if dup:
            raise ValueError(f"{where}: inputs list source(s) {dup} more than once; sum the weights")
        object.__setattr__(self, "inputs", tuple(inputs))
        object.__setattr__(self, "wexp", _check_int(where, "wexp", self.wexp, 0, WEXP_MAX))
        self.validate()

    def validate(self):
        """Range checks (re-run by the compiler before anything is sent)."""
        where = f"lif layer {self.name!r}"
        for k, (lo, hi) in PARAM_RANGES.items():
            _check_range(where, f"params[{k!r}]", self.params[k], lo, hi)
        _check_int(where, "wexp", self.wexp, 0, WEXP_MAX)
        for src, w in self.inputs:
            _check_range(where, f"weights from {src!r}", w, -128, 127)

    @property
    def size(self) -> int:
        return self.neurons


@dataclass(frozen=True, eq=False)
class Network:
    """``inputs``: length of the host's int8 input vector; ``layers``: Dense
    and Lif layers; ``steps``: LIF time steps per inference (1..255);
    ``outputs``: layers whose vectors (Dense) or int8 spike counts (Lif) go to
    the host; ``raster``: Lif layers whose every spike goes to the host."""

    inputs: int
    layers: tuple
    steps: int
    outputs: tuple = ()
    raster: tuple = ()

    def __post_init__(self):
        for field in ("layers", "outputs", "raster"):
            value = getattr(self, field)
            if isinstance(value, str) or not isinstance(value, (tuple, list)):
                raise ValueError(f"network: {field} must be a tuple, got {type(value).__name__}")
            object.__setattr__(self, field, tuple(value))
        self.validate()

    # -- queries ----------------------------------------------------------

    def layer(self, name):
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r}")

    def size(self, name) -> int:
        """Elements a source delivers: the input vector, a Dense output, or a
        Lif layer's neurons (spikes or counts)."""
        return self.inputs if name == INPUT else self.layer(name).size

    @property
    def dense_layers(self) -> list:
        return [l for l in self.layers if l.kind == "dense"]

    @property
    def lif_layers(self) -> list:
        return [l for l in self.layers if l.kind == "lif"]

    def dense_source(self, lif):
        """The Lif layer's Dense source (name, weights), or None."""
        found = [(s, w) for s, w in lif.inputs if s != INPUT and self.layer(s).kind == "dense"]
        return found[0] if found else None

    def axon_offsets(self, name) -> dict:
        """Source name -> first axon on the Lif layer's core: the Dense source
        at 0, then the Lif sources in input order."""
        lif = self.layer(name)
        ordered = sorted(lif.inputs, key=lambda sw: self.layer(sw[0]).kind != "dense")
        offsets, base = {}, 0
        for src, w in ordered:
            offsets[src] = base
            base += w.shape[0]
        return offsets

    def total_axons(self, name) -> int:
        return sum(w.shape[0] for _, w in self.layer(name).inputs)

    def synapse_table(self, name) -> dict:
        """The Lif layer's synapse table ``axon -> [(neuron, weight)]``
        (zero weights left out: they add nothing)."""
        lif = self.layer(name)
        offsets = self.axon_offsets(name)
        table = {}
        for src, w in lif.inputs:
            for j in range(w.shape[0]):
                nz = np.flatnonzero(w[j])
                if nz.size:
                    table[offsets[src] + j] = [(int(n), int(w[j, n])) for n in nz]
        return table

    def dense_consumers(self, name) -> list:
        return [l.name for l in self.dense_layers if l.source == name]

    def lif_consumers(self, name) -> list:
        return [l.name for l in self.lif_layers if any(s == name for s, _ in l.inputs)]

    def counts_fed(self, name) -> bool:
        """Whether a Dense layer computes after the steps (fed, possibly
        through other Dense layers, by spike counts)."""
        seen = set()
        while name != INPUT and self.layer(name).kind == "dense":
            if name in seen:
                raise ValueError(f"network: dense layers {sorted(seen)} feed each other in a cycle")
            seen.add(name)
            name = self.layer(name).source
        return name != INPUT

    # -- validation -------------------------------------------------------

    def validate(self):
        """Every structural rule; re-run by the compiler."""
        _check_int("network", "inputs", self.inputs, 1, 1 << 16)
        _check_int("network", "steps", self.steps, 1, MAX_STEPS)
        if not self.layers:
            raise ValueError("network: no layers")
        names = []
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, (Dense, Lif)):
                raise ValueError(f"network: layers[{i}] is a {type(layer).__name__}, not Dense or Lif")
            layer.validate()
            if layer.name in names:
                raise ValueError(f"network: two layers are named {layer.name!r}")
            names.append(layer.name)
        for d in self.dense_layers:        # sources first: the checks below walk them
            if d.source != INPUT and d.source not in names:
                raise ValueError(f"dense layer {d.name!r}: source {d.source!r} is not {INPUT!r} or a layer")
        for d in self.dense_layers:
            self._check_dense(d)
        for lif in self.lif_layers:
            self._check_lif(lif, names)
        for field in ("outputs", "raster"):
            listed = getattr(self, field)
            for name in listed:
                # str first: `name in names` on a NumPy array raised numpy's
                # "truth value of an array is ambiguous".
                if not isinstance(name, str) or name not in names:
                    raise ValueError(f"network: {field} names {_shown(name)}, which is not a layer")
                if listed.count(name) > 1:
                    raise ValueError(f"network: {field} lists {name!r} twice")
                if field == "raster" and self.layer(name).kind != "lif":
                    raise ValueError(f"network: raster lists {name!r}, a dense layer; only Lif layers spike")
        for d in self.dense_layers:
            if d.name not in self.outputs and not self.dense_consumers(d.name) \
                    and not self.lif_consumers(d.name):
                raise ValueError(f"network: dense layer {d.name!r} feeds nothing; list it in "
                                 f"outputs or use it as a source")

    def _check_dense(self, d):
        if d.source == d.name:
            raise ValueError(f"dense layer {d.name!r}: cannot feed itself")
        if d.k != self.size(d.source):
            raise ValueError(f"dense layer {d.name!r}: weights have {d.k} rows but source "
                             f"{d.source!r} delivers {self.size(d.source)} elements")
        self.counts_fed(d.name)           # raises on a dense-only cycle

    def _check_lif(self, lif, names):
        where = f"lif layer {lif.name!r}"
        dense = []
        for src, w in lif.inputs:
            if src == INPUT:
                raise ValueError(f"{where}: source {INPUT!r} is not allowed; feed the input "
                                 f"through a Dense layer")
            if src not in names:
                raise ValueError(f"{where}: source {src!r} is not a layer")
            if w.shape[0] != self.size(src):
                raise ValueError(f"{where}: weights from {src!r} have {w.shape[0]} rows but "
                                 f"{src!r} delivers {self.size(src)} elements")
            if self.layer(src).kind == "dense":
                dense.append(src)
                if self.counts_fed(src):
                    raise ValueError(f"{where}: dense source {src!r} is fed by spike counts, so it "
                                     f"computes after the steps and cannot drive spikes in the same run")
        if len(dense) > 1:
            raise ValueError(f"{where}: {len(dense)} dense sources {dense}; at most one "
                             f"(the tile has one rate encoder)")


def hybrid_network(net) -> Network:
    """The demo :class:`sw_model.hybrid.HybridNet` as a Network: Dense
    "hidden" from the input, Lif "out" from "hidden", counts and spikes of
    "out" reported to the host."""
    hidden = Dense("hidden", net.w1, net.bias1, net.mult1, net.shift1,
                   zero_point=int(net.zero_point), relu=True, source=INPUT)
    out = Lif("out", net.classes, {k: net.lif[k] for k in PARAM_KEYS}, wexp=int(net.wexp),
              inputs=(("hidden", net.w2),))
    return Network(inputs=net.inputs, layers=(hidden, out), steps=int(net.steps),
                   outputs=("out",), raster=("out",))
