"""Golden model of Hemi's hybrid ANN/SNN pipeline, bit-exact with the cores:

1. a dense int8 layer on a left core: ``h = requant(x . W1 + b1)`` with ReLU
   (sw_model.left.gemm, TFLite per-channel semantics);
2. the left-to-right rate bridge: ``h`` becomes spike events over ``steps``
   time steps (sw_model.bridges.rate_encode);
3. a LIF layer on a right core: hidden unit j is axon j, output neuron k has
   synapses ``w2[j, k]`` (sw_model.right.RightCoreModel);
4. the class is the output neuron with the most spikes (lowest index on a
   tie).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import left
from .bridges import events_per_step, rate_encode
from .right import RightCoreModel


@dataclass
class HybridNet:
    w1: np.ndarray            # inputs x hidden, int8
    bias1: np.ndarray         # hidden, int32
    mult1: np.ndarray         # hidden, int32 requant multiplier
    shift1: np.ndarray        # hidden, 0..31
    w2: np.ndarray            # hidden x classes, int8 (synapse weights)
    wexp: int                 # right core weight exponent
    lif: dict                 # per output neuron: du, dv, vth, bias_mant, bias_exp, refractory
    steps: int                # time steps per inference
    zero_point: int = 0       # hidden zero point (ReLU clamps at it)
    meta: dict = field(default_factory=dict)

    @property
    def inputs(self):
        return self.w1.shape[0]

    @property
    def hidden(self):
        return self.w1.shape[1]

    @property
    def classes(self):
        return self.w2.shape[1]

    def synapse_table(self):
        """Right-core synapse table: axon j -> [(k, w2[j, k]) for w2 != 0]."""
        return {j: [(k, int(self.w2[j, k])) for k in range(self.classes) if self.w2[j, k]]
                for j in range(self.hidden)}

    def hidden_layer(self, x):
        """int8 hidden activations for a batch of int8 inputs (rows)."""
        return left.gemm(np.atleast_2d(x), self.w1, self.bias1, self.mult1, self.shift1,
                         zero_point=self.zero_point, relu=True, mode="int8")

    def lif_model(self):
        model = RightCoreModel(self.classes, self.hidden, wexp=self.wexp)
        model.set_params(**self.lif)
        model.set_synapses(self.synapse_table())
        return model

    def infer(self, x):
        """One input vector: returns dict(pred, counts, hidden, raster_in,
        raster_out) with the hidden int8 vector, the input spike raster
        (steps x hidden) and the output raster (steps x classes)."""
        h = self.hidden_layer(x)[0]
        raster_in = rate_encode(h, self.steps)
        model = self.lif_model()
        raster_out = np.zeros((self.steps, self.classes), dtype=bool)
        for t, events in enumerate(events_per_step(raster_in)):
            raster_out[t, model.step(events)] = True
        counts = raster_out.sum(axis=0)
        return {"pred": int(np.argmax(counts)), "counts": counts, "hidden": h,
                "raster_in": raster_in, "raster_out": raster_out}

    def predict(self, X):
        """Predictions and spike counts for a batch of int8 inputs."""
        outs = [self.infer(x) for x in np.atleast_2d(X)]
        return np.array([o["pred"] for o in outs]), np.array([o["counts"] for o in outs])

    def save(self, path):
        np.savez(path, w1=self.w1, bias1=self.bias1, mult1=self.mult1, shift1=self.shift1,
                 w2=self.w2, wexp=self.wexp, steps=self.steps, zero_point=self.zero_point,
                 **{f"lif_{k}": v for k, v in self.lif.items()})

    @classmethod
    def load(cls, path):
        d = np.load(path)
        lif = {k[4:]: d[k] for k in d.files if k.startswith("lif_")}
        return cls(w1=d["w1"], bias1=d["bias1"], mult1=d["mult1"], shift1=d["shift1"], w2=d["w2"],
                   wexp=int(d["wexp"]), lif=lif, steps=int(d["steps"]), zero_point=int(d["zero_point"]))
