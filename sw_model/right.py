"""Bit-exact golden model of the right hemisphere (event-driven Loihi LIF core).

Numeric contract, identical to the RTL (and to Lava's bit-accurate Loihi
``LIF`` process). ``trunc(x / 4096)`` is ``sign(x) * (|x| >> 12)``, i.e.
division rounding toward zero.

Neuron, per time step, with ``a_in`` the step's int16 synaptic input::

    d  = trunc(u * (4096 - (du + 1)) / 4096) + a_in * 64
    u' = d - 2**24 if d > 2**23;  d + 2**24 if d <= -2**23;  else d
    e  = trunc(v * (4096 - dv) / 4096) + u' + bias_mant * 2**bias_exp
    v' = clamp(e, -(2**23 - 1), 2**23 - 1)
    spike iff v' > vth * 64;  a spiking neuron's v' becomes 0;  u is never reset

So ``u`` lives in ``(-2**23, 2**23]`` and ``v`` in ``[-(2**23 - 1), 2**23 - 1]``.
Parameters: ``du``, ``dv`` in 0..4095, ``vth`` in 0..131071, ``bias_mant`` in
-4096..4095, ``bias_exp`` in 0..7, ``refractory`` in 0..15.

Refractory counter ``ref`` (0..15, starts at 0): ``u'`` is always computed.
If ``ref > 0`` then ``v' = 0``, no spike and ``ref -= 1``; otherwise ``v'``
and the spike are as above and a spike loads ``ref = refractory``. With
``refractory = 0`` this is exactly the plain model.

Synaptic input of one step: events (axon ids) are taken in arrival order; an
id outside ``0..axons-1`` is dropped and counted as an error. For each event,
for each synapse ``(neuron, w)`` of that axon in table order (int8 ``w``,
duplicates allowed, each counts), the neuron's 24-bit accumulator does the
saturating add ``acc = clamp(acc + (w << wexp), -2**23, 2**23 - 1)``. The
accumulators start each step at 0; at the update ``a_in = clamp(acc, -32768,
32767)``. While no running partial sum leaves 24 bits this is the exact sum
saturated to int16; the model computes exact sums and replays the ordered
saturating adds only for neurons whose running sum does leave 24 bits.

Everything is vectorised over NumPy int64 arrays; it is usable on its own.
"""

from __future__ import annotations


import numpy as np
from ._checks import int_scalar

UV_LIMIT = 1 << 23                 # u wraps into (-2**23, 2**23]
V_MIN, V_MAX = -(UV_LIMIT - 1), UV_LIMIT - 1
ACC_MIN, ACC_MAX = -(1 << 23), (1 << 23) - 1     # 24-bit synaptic accumulator
A_IN_MIN, A_IN_MAX = -(1 << 15), (1 << 15) - 1   # int16 synaptic input
DECAY_SHIFT = 12                   # decays are fractions of 4096
ACT_SHIFT = 6                      # a_in and vth are aligned by << 6
WEIGHT_MIN, WEIGHT_MAX = -128, 127
WEXP_MAX = 7

#: Allowed (inclusive) range of every per-neuron parameter.
PARAM_RANGES = {
    "du": (0, 4095),
    "dv": (0, 4095),
    "vth": (0, 131071),
    "bias_mant": (-4096, 4095),
    "bias_exp": (0, 7),
    "refractory": (0, 15),
}
REF_MAX = PARAM_RANGES["refractory"][1]

__all__ = [
    "UV_LIMIT", "V_MIN", "V_MAX", "ACC_MIN", "ACC_MAX", "A_IN_MIN", "A_IN_MAX",
    "PARAM_RANGES", "trunc_div4096", "current_update", "voltage_update",
    "loihi_lif_step", "loihi_lif_step_refractory", "compile_synapses",
    "accumulate", "synaptic_input", "RightCoreModel",
]


# --------------------------------------------------------------------------
# validation helpers

def _int_array(name, x, lo, hi):
    """``x`` as an int64 array after checking it holds integers in lo..hi."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        if arr.size == 0:
            return arr.astype(np.int64)
        raise ValueError(f"{name} must be integers in {lo}..{hi}, got dtype {arr.dtype}")
    if arr.size and (int(arr.min()) < lo or int(arr.max()) > hi):
        raise ValueError(f"{name} outside its allowed range {lo}..{hi}")
    return arr.astype(np.int64)


def _param(name, x):
    lo, hi = PARAM_RANGES[name]
    return _int_array(name, x, lo, hi)


_int_scalar = int_scalar


# --------------------------------------------------------------------------
# neuron dynamics

def trunc_div4096(x):
    """``x / 4096`` rounded toward zero: ``sign(x) * (|x| >> 12)``."""
    x = np.asarray(x, dtype=np.int64)
    return np.where(x >= 0, x >> DECAY_SHIFT, -((-x) >> DECAY_SHIFT))


def current_update(u, a_in, du):
    """``u'``: decay by ``(du + 1) / 4096``, add ``a_in * 64``, wrap into
    ``(-2**23, 2**23]``. Inputs are assumed validated."""
    u = np.asarray(u, dtype=np.int64)
    d = trunc_div4096(u * (4096 - (np.asarray(du, dtype=np.int64) + 1))) \
        + (np.asarray(a_in, dtype=np.int64) << ACT_SHIFT)
    return np.where(d > UV_LIMIT, d - 2 * UV_LIMIT,
                    np.where(d <= -UV_LIMIT, d + 2 * UV_LIMIT, d))


def voltage_update(v, u_next, dv, bias_mant, bias_exp):
    """``v'`` before the spike check: decay by ``dv / 4096``, add ``u'`` and
    ``bias_mant * 2**bias_exp``, clamp to ``[-(2**23 - 1), 2**23 - 1]``."""
    v = np.asarray(v, dtype=np.int64)
    bias = np.asarray(bias_mant, dtype=np.int64) << np.asarray(bias_exp, dtype=np.int64)
    e = trunc_div4096(v * (4096 - np.asarray(dv, dtype=np.int64))) \
        + np.asarray(u_next, dtype=np.int64) + bias
    return np.clip(e, V_MIN, V_MAX)


def _check_step_operands(u, v, a_in, du, dv, vth, bias_mant, bias_exp):
    return (
        _int_array("u", u, -UV_LIMIT + 1, UV_LIMIT),
        _int_array("v", v, V_MIN, V_MAX),
        _int_array("a_in", a_in, A_IN_MIN, A_IN_MAX),
        _param("du", du), _param("dv", dv), _param("vth", vth),
        _param("bias_mant", bias_mant), _param("bias_exp", bias_exp),
    )


def _step(u, v, a_in, du, dv, vth, bias_mant, bias_exp):
    u1 = current_update(u, a_in, du)
    v1 = voltage_update(v, u1, dv, bias_mant, bias_exp)
    spiked = v1 > (vth << ACT_SHIFT)
    v1 = np.where(spiked, 0, v1)
    shape = np.broadcast_shapes(u1.shape, v1.shape)
    return (np.broadcast_to(u1, shape).astype(np.int64),
            np.broadcast_to(v1, shape).astype(np.int64),
            np.broadcast_to(spiked, shape).copy())


def loihi_lif_step(u, v, a_in, du, dv, vth, bias_mant, bias_exp):
    """One time step of the plain (non-refractory) LIF neuron.

    All arguments are integer scalars or arrays that broadcast together
    (parameters may be scalars or per-neuron arrays). ``u`` must lie in
    ``(-2**23, 2**23]``, ``v`` in ``[-(2**23 - 1), 2**23 - 1]``, ``a_in`` in
    int16, parameters in :data:`PARAM_RANGES`; otherwise ValueError.
    Returns ``(u_next, v_next, spiked)``: int64, int64 and bool arrays.
    """
    ops = _check_step_operands(u, v, a_in, du, dv, vth, bias_mant, bias_exp)
    return _step(*ops)


def loihi_lif_step_refractory(u, v, ref, a_in, du, dv, vth, bias_mant, bias_exp,
                              refractory=0):
    """One time step with the refractory counter ``ref`` (0..15).

    ``u`` always evolves. Where ``ref > 0``: ``v' = 0``, no spike,
    ``ref' = ref - 1``. Elsewhere the plain step applies and a spike loads
    ``ref' = refractory``. Returns ``(u_next, v_next, ref_next, spiked)``.
    """
    ops = _check_step_operands(u, v, a_in, du, dv, vth, bias_mant, bias_exp)
    ref = _int_array("ref", ref, 0, REF_MAX)
    refractory = _param("refractory", refractory)
    u1, v1, spiked = _step(*ops)
    shape = np.broadcast_shapes(u1.shape, ref.shape, refractory.shape)
    u1 = np.broadcast_to(u1, shape).astype(np.int64)
    held = np.broadcast_to(ref > 0, shape)
    spiked = np.broadcast_to(spiked, shape) & ~held
    v1 = np.where(held, 0, np.broadcast_to(v1, shape)).astype(np.int64)
    ref1 = np.where(held, ref - 1, np.where(spiked, refractory, 0)).astype(np.int64)
    return u1, v1, ref1, spiked


# --------------------------------------------------------------------------
# synaptic input

def compile_synapses(table, neurons, axons):
    """Validate a synapse table and pack it as CSR arrays.

    ``table``: dict ``axon -> list of (neuron, weight)`` (axons absent from
    it have no synapses). Returns ``(ptr, post, weight)``: the synapses of
    axon ``a`` are ``post[ptr[a]:ptr[a+1]]`` / ``weight[...]`` in list order.
    """
    if not isinstance(table, dict):
        raise ValueError(f"synapse table must be a dict axon -> [(neuron, weight), ...], "
                         f"got {type(table).__name__}")
    counts = np.zeros(axons, dtype=np.int64)
    rows = {}
    for key, syns in table.items():
        axon = _int_scalar("synapse table axon", key, 0, axons - 1)
        if axon in rows:
            raise ValueError(f"synapse table lists axon {axon} twice")
        post, weight = [], []
        for i, entry in enumerate(syns):
            try:
                n, w = entry
            except (TypeError, ValueError):
                raise ValueError(f"axon {axon} synapse {i}: expected (neuron, weight), "
                                 f"got {entry!r}") from None
            post.append(_int_scalar(f"axon {axon} synapse {i} neuron", n, 0, neurons - 1))
            weight.append(_int_scalar(f"axon {axon} synapse {i} weight", w,
                                      WEIGHT_MIN, WEIGHT_MAX))
        rows[axon] = (post, weight)
        counts[axon] = len(post)
    ptr = np.zeros(axons + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    post = np.zeros(int(ptr[-1]), dtype=np.int64)
    weight = np.zeros(int(ptr[-1]), dtype=np.int64)
    for axon, (p, w) in rows.items():
        post[ptr[axon]:ptr[axon + 1]] = p
        weight[ptr[axon]:ptr[axon + 1]] = w
    return ptr, post, weight


def _events_array(events):
    ev = np.asarray(events)
    if ev.size == 0:
        return np.zeros(0, dtype=np.int64)
    if ev.dtype.kind not in "iu":
        raise ValueError(f"events must be integer axon ids, got dtype {ev.dtype}")
    return ev.reshape(-1).astype(np.int64)


def _saturating_sum(values):
    acc = 0
    for w in values:
        acc = min(max(acc + w, ACC_MIN), ACC_MAX)
    return acc


def _accumulate(events, ptr, post, weight, wexp, neurons):
    """Core of :func:`accumulate` on compiled arrays; returns (acc, dropped)."""
    axons = len(ptr) - 1
    ev = _events_array(events)
    valid = (ev >= 0) & (ev < axons)
    dropped = int(ev.size - np.count_nonzero(valid))
    ev = ev[valid]
    acc = np.zeros(neurons, dtype=np.int64)
    starts = ptr[ev]
    lens = ptr[ev + 1] - starts
    total = int(lens.sum())
    if total == 0:
        return acc, dropped
    # Every synapse touched this step, in arrival order.
    idx = np.arange(total, dtype=np.int64) + np.repeat(starts - (np.cumsum(lens) - lens), lens)
    p = post[idx]
    x = weight[idx] << wexp
    np.add.at(acc, p, x)
    # A running sum can only leave 24 bits if the sum of magnitudes does.
    mag = np.zeros(neurons, dtype=np.int64)
    np.add.at(mag, p, np.abs(x))
    cand = mag > ACC_MAX
    if cand.any():
        sel = cand[p]
        p, x = p[sel], x[sel]
        order = np.argsort(p, kind="stable")         # keeps arrival order per neuron
        p, x = p[order], x[order]
        first = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
        bounds = np.r_[first, len(p)]
        cs = np.cumsum(x)
        running = cs - np.repeat(cs[first] - x[first], np.diff(bounds))
        leaves = (running > ACC_MAX) | (running < ACC_MIN)
        for g in np.unique(np.searchsorted(first, np.flatnonzero(leaves), side="right") - 1):
            lo, hi = int(bounds[g]), int(bounds[g + 1])
            acc[p[lo]] = _saturating_sum(x[lo:hi].tolist())
    return acc, dropped


def accumulate(events, table, neurons, axons, wexp=0):
    """The 24-bit accumulator values at the end of one step's events.

    Returns ``(acc, dropped)``: int64 array of length ``neurons`` and the
    number of events dropped for an axon id outside ``0..axons-1``.
    """
    wexp = _int_scalar("wexp", wexp, 0, WEXP_MAX)
    ptr, post, weight = compile_synapses(table, neurons, axons)
    return _accumulate(events, ptr, post, weight, wexp, neurons)


def synaptic_input(events, table, neurons, axons, wexp=0):
    """The step's ``a_in`` (accumulators saturated to int16) and the number
    of dropped events: ``(a_in, dropped)``."""
    acc, dropped = accumulate(events, table, neurons, axons, wexp)
    return np.clip(acc, A_IN_MIN, A_IN_MAX), dropped


# --------------------------------------------------------------------------
# the core

class RightCoreModel:
    """A core of ``neurons`` LIF neurons fed by ``axons`` input axons.

    Parameters (``du``, ``dv``, ``vth``, ``bias_mant``, ``bias_exp``,
    ``refractory``) are per-neuron int64 arrays, default 0; state ``u``,
    ``v``, ``ref`` starts at 0. ``errors`` counts dropped events.
    """

    def __init__(self, neurons, axons, wexp=0):
        self.neurons = _int_scalar("neurons", neurons, 1, 1 << 20)
        self.axons = _int_scalar("axons", axons, 1, 1 << 20)
        self.wexp = wexp
        for name in PARAM_RANGES:
            setattr(self, name, np.zeros(self.neurons, dtype=np.int64))
        self.set_synapses({})
        self.reset()

    @classmethod
    def from_config(cls, cfg, wexp=0):
        """Build from a :class:`rtl.config.RightConfig`."""
        return cls(cfg.neurons, cfg.axons, wexp=wexp)

    @property
    def wexp(self):
        """Per-core weight exponent (0..7): a synapse adds ``w << wexp``."""
        return self._wexp

    @wexp.setter
    def wexp(self, value):
        self._wexp = _int_scalar("wexp", value, 0, WEXP_MAX)

    def reset(self):
        """Zero the state (u, v, ref) and the error count; keep parameters."""
        self.u = np.zeros(self.neurons, dtype=np.int64)
        self.v = np.zeros(self.neurons, dtype=np.int64)
        self.ref = np.zeros(self.neurons, dtype=np.int64)
        self.errors = 0

    def set_params(self, **params):
        """Set parameters from scalars or length-``neurons`` arrays.

        All values are validated before any is stored.
        """
        staged = {}
        for name, value in params.items():
            if name not in PARAM_RANGES:
                raise ValueError(f"unknown neuron parameter {name!r}; "
                                 f"known: {', '.join(PARAM_RANGES)}")
            arr = _param(name, value)
            if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != self.neurons):
                raise ValueError(f"{name} must be a scalar or have shape ({self.neurons},), "
                                 f"got {arr.shape}")
            staged[name] = np.broadcast_to(arr, (self.neurons,)).copy()
        for name, arr in staged.items():
            setattr(self, name, arr)

    def set_synapses(self, table):
        """Replace the synapse table: dict ``axon -> [(neuron, weight), ...]``."""
        self._ptr, self._post, self._weight = compile_synapses(table, self.neurons, self.axons)

    def accumulate(self, events):
        """The 24-bit accumulators for ``events``; changes nothing."""
        return _accumulate(events, self._ptr, self._post, self._weight,
                           self._wexp, self.neurons)[0]

    def synaptic_input(self, events):
        """The ``a_in`` (int16-saturated) that ``events`` would produce;
        changes nothing (not even ``errors``)."""
        return np.clip(self.accumulate(events), A_IN_MIN, A_IN_MAX)

    def step(self, events):
        """Deliver one step's events, update every neuron, return the ids of
        the neurons that spiked, increasing."""
        acc, dropped = _accumulate(events, self._ptr, self._post, self._weight,
                                   self._wexp, self.neurons)
        self.errors += dropped
        a_in = np.clip(acc, A_IN_MIN, A_IN_MAX)
        self.u, self.v, self.ref, spiked = loihi_lif_step_refractory(
            self.u, self.v, self.ref, a_in, self.du, self.dv, self.vth,
            self.bias_mant, self.bias_exp, self.refractory)
        return np.flatnonzero(spiked)

    def run(self, steps_events):
        """Run one step per entry of ``steps_events``; per-step spike ids."""
        return [self.step(events) for events in steps_events]

    def state(self):
        """Copies of the state arrays: ``dict(u=..., v=..., ref=...)``."""
        return dict(u=self.u.copy(), v=self.v.copy(), ref=self.ref.copy())
