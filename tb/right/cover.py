"""Functional coverage of the right core's bench (tb/common/fcov.py).

Every point is declared when the bench starts, so a bin that no test hits
shows up in the run's YAML with zero hits. Values come from the golden
model's inputs and state: ``before_step`` reduces one step (the events and
the state they meet) to the events below, without changing the model; the
bench samples them with ``after_step`` once the core's spikes for that step
matched, so a step cut short by a reset counts nothing.

What the Loihi integer model (sw_model/right.py) saturates or wraps: the
24-bit synaptic accumulator saturates (``acc_saturate``), a_in saturates to
int16 (``a_in_saturate``), u wraps into (-2**23, 2**23] (``u_wrap``) and v
is clamped to +-(2**23 - 1) (``v_clamp``, counted where the neuron is not
refractory: a refractory neuron's v is 0 whatever it computed).
"""

from __future__ import annotations

import numpy as np

from sw_model import right as golden
from sw_model import right_stream as host
from tb.common import fcov

RESET_AT = ("zero", "random", "mid_config", "mid_step", "after_done")
REGIONS = {host.REGS: "REGS", host.PTR: "PTR", host.SYN: "SYN", host.PARAM0: "PARAM0",
           host.PARAM1: "PARAM1", host.U: "U", host.V: "V", host.REF: "REF", host.ACC: "ACC"}
EXTREME_DECAY = ["0", "1..4094", "4095"]

POINTS = {
    # The refractory period a spiking neuron loads: 0, 1, in between, the maximum.
    "right.neuron.refractory": ["0", "1", "2..14", "15"],
    # Synaptic input reaching a neuron while its refractory count runs.
    "right.neuron.refractory_input": ["input_while_refractory"],
    "right.step.spikes": ["0", "1", "several", "all"],
    "right.neuron.u_wrap": ["above", "below"],
    "right.neuron.v_clamp": ["high", "low"],
    "right.synapse.acc_saturate": ["high", "low"],
    "right.synapse.a_in_saturate": ["high", "low"],
    # Decays of neurons whose u (du) or v (dv) is not zero: the extremes and between.
    "right.neuron.du": EXTREME_DECAY,
    "right.neuron.dv": EXTREME_DECAY,
    "right.synapse.wexp": list(range(golden.WEXP_MAX + 1)),   # steps with synaptic input
    "right.input.dropped": fcov.buckets((0, 1, 2)),           # events dropped in one step
    "right.config.access": [f"{name}.{op}" for name in [*REGIONS.values(), "unmapped"]
                            for op in ("read", "write")],
    "right.reset.at": list(RESET_AT),
    "right.reset.state": ["busy", "idle"],                    # dut.busy when reset was asserted
    "right.reset.cycles": fcov.buckets((1, 2)),               # '1', '>=2'
    # How the host resumed: a fresh network, or the state read back.
    "right.reset.recovery": ["reload", "read_back"],
}


def declare_all():
    for name, bins in POINTS.items():
        fcov.declare(name, bins)


def _decay_bin(d):
    return "0" if d == 0 else "4095" if d == 4095 else "1..4094"


def before_step(model, events) -> dict:
    """The coverage values of the step ``model.step(events)`` is about to
    take: {point: set of bins}. Changes nothing."""
    ev = np.asarray(events, dtype=np.int64).reshape(-1)
    dropped = int(np.count_nonzero((ev < 0) | (ev >= model.axons)))
    acc = model.accumulate(events)
    a_in = np.clip(acc, golden.A_IN_MIN, golden.A_IN_MAX)
    d = golden.trunc_div4096(model.u * (4096 - (model.du + 1))) + (a_in << golden.ACT_SHIFT)
    u1 = golden.current_update(model.u, a_in, model.du)
    e = golden.trunc_div4096(model.v * (4096 - model.dv)) + u1 + (model.bias_mant << model.bias_exp)
    held = model.ref > 0

    def ends(hi_mask, lo_mask, hi="high", lo="low"):
        return ({hi} if hi_mask.any() else set()) | ({lo} if lo_mask.any() else set())

    return {
        "right.input.dropped": {fcov.bucket(dropped, (0, 1, 2))},
        "right.synapse.wexp": {model.wexp} if acc.any() else set(),
        "right.synapse.acc_saturate": ends(acc == golden.ACC_MAX, acc == golden.ACC_MIN),
        "right.synapse.a_in_saturate": ends(acc > golden.A_IN_MAX, acc < golden.A_IN_MIN),
        "right.neuron.u_wrap": ends(d > golden.UV_LIMIT, d <= -golden.UV_LIMIT, "above", "below"),
        "right.neuron.v_clamp": ends(~held & (e > golden.V_MAX), ~held & (e < golden.V_MIN)),
        "right.neuron.refractory_input": {"input_while_refractory"} if (held & (acc != 0)).any() else set(),
        "right.neuron.du": {_decay_bin(x) for x in np.unique(model.du[model.u != 0])},
        "right.neuron.dv": {_decay_bin(x) for x in np.unique(model.dv[model.v != 0])},
    }


def after_step(info: dict, model, spikes):
    """Sample a checked step: ``info`` from ``before_step``, the spike ids."""
    n = len(spikes)
    info = dict(info)
    info["right.step.spikes"] = {"0" if n == 0 else "1" if n == 1 else
                                 "all" if n == model.neurons else "several"}
    periods = np.unique(model.refractory[np.asarray(spikes, dtype=np.int64)])
    info["right.neuron.refractory"] = {
        "0" if p == 0 else "1" if p == 1 else "15" if p == golden.REF_MAX else "2..14" for p in periods}
    for name, values in info.items():
        for value in values:
            fcov.sample(name, value)


def config_access(address: int, write: bool):
    name = REGIONS.get(address >> host.REGION_SHIFT, "unmapped")
    fcov.sample("right.config.access", f"{name}.{'write' if write else 'read'}")
