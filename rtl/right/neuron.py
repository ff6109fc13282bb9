"""One lane of Loihi's integer LIF neuron update, four pipeline stages.

Bit-exact with ``sw_model.right.loihi_lif_step`` plus Hemi's refractory
counter::

    a_in = clamp(acc, -2**15, 2**15 - 1)
    d    = trunc(u * (4095 - du) / 4096) + a_in * 64   # 4096 - (du + 1)
    u'   = d wrapped into (-2**23, 2**23]
    e    = trunc(v * (4096 - dv) / 4096) + u' + (bias_mant << bias_exp)
    v'   = clamp(e, -(2**23 - 1), 2**23 - 1)
    refractory (ref > 0): v' = 0, no spike, ref - 1
    otherwise: spike iff v' > vth * 64; a spike zeroes v' and loads ref

``trunc`` rounds toward zero: ``(x + (x < 0 ? 4095 : 0)) >> 12``.

Stages (one or two carry chains each, for a 50 MHz FPGA clock): 1 the two
decay products; 2 their truncation, ``d``; 3 the wrap of ``u'`` and
``trunc(v decay) + bias``; 4 ``e``, the clamp and the threshold, compared
side by side (``vth * 64 < 2**23 - 1``, so ``clamp(e) > vth * 64`` is
``e > vth * 64``).
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

U_SHAPE = signed(25)    # u lies in (-2**23, 2**23]
V_SHAPE = signed(24)    # v lies in [-(2**23 - 1), 2**23 - 1]
ACC_SHAPE = signed(24)  # the step's saturating synaptic accumulator
V_MAX = (1 << 23) - 1


def trunc4096(m, x, name):
    """x / 4096 rounded toward zero."""
    q = Signal(signed(len(x) - 12 + 1), name=name)
    m.d.comb += q.eq(Mux(x < 0, x + 4095, x) >> 12)
    return q


class LifLane(wiring.Component):
    LATENCY = 4

    def __init__(self, layouts):
        super().__init__({
            "u": In(U_SHAPE), "v": In(V_SHAPE), "ref": In(4), "acc": In(ACC_SHAPE),
            "p0": In(layouts.param0), "p1": In(layouts.param1), "active": In(1),
            "u_next": Out(U_SHAPE), "v_next": Out(V_SHAPE), "ref_next": Out(4), "spike": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        p0, p1 = self.p0, self.p1

        # Stage 1: the two decay products, the saturated input, the bias.
        s1_mu = Signal(signed(25 + 13), name="s1_mu")
        s1_mv = Signal(signed(24 + 14), name="s1_mv")
        s1_ain = Signal(signed(16), name="s1_ain")
        s1_bias = Signal(signed(13 + 7), name="s1_bias")
        s1_vth = Signal(unsigned(17), name="s1_vth")
        s1_ref = Signal(4, name="s1_ref")
        s1_refr = Signal(4, name="s1_refractory")
        s1_active = Signal(name="s1_active")
        ain = Mux(self.acc > 32767, 32767, Mux(self.acc < -32768, -32768, self.acc))
        m.d.sync += [
            s1_mu.eq(self.u * (4095 - p0.du)),
            s1_mv.eq(self.v * (4096 - p0.dv)),
            s1_ain.eq(ain),
            s1_bias.eq(p1.bias_mant << p0.bias_exp),
            s1_vth.eq(p1.vth), s1_ref.eq(self.ref), s1_refr.eq(p0.refractory),
            s1_active.eq(self.active),
        ]

        # Stage 2: the truncated decays; d.
        s2_d = Signal(signed(27), name="s2_d")
        s2_vdec = Signal(signed(27), name="s2_vdec")
        s2_bias = Signal.like(s1_bias, name="s2_bias")
        s2_vth = Signal.like(s1_vth, name="s2_vth")
        s2_ref, s2_refr, s2_active = Signal(4, name="s2_ref"), Signal(4, name="s2_refractory"), Signal(name="s2_active")
        m.d.sync += [
            s2_d.eq(trunc4096(m, s1_mu, "u_decay") + s1_ain * 64),
            s2_vdec.eq(trunc4096(m, s1_mv, "v_decay")),
            s2_bias.eq(s1_bias), s2_vth.eq(s1_vth),
            s2_ref.eq(s1_ref), s2_refr.eq(s1_refr), s2_active.eq(s1_active),
        ]

        # Stage 3: u' (d wrapped), and the part of e that does not need u'.
        d = s2_d
        s3_u = Signal(U_SHAPE, name="s3_u")
        s3_vb = Signal(signed(28), name="s3_vb")
        s3_vth64 = Signal(unsigned(23), name="s3_vth64")
        s3_ref, s3_refr, s3_active = Signal(4, name="s3_ref"), Signal(4, name="s3_refractory"), Signal(name="s3_active")
        m.d.sync += [
            s3_u.eq(Mux(d > (1 << 23), d - (1 << 24), Mux(d <= -(1 << 23), d + (1 << 24), d))),
            s3_vb.eq(s2_vdec + s2_bias),
            s3_vth64.eq(s2_vth << 6),
            s3_ref.eq(s2_ref), s3_refr.eq(s2_refr), s3_active.eq(s2_active),
        ]

        # Stage 4: integrate, clamp and threshold v; refractory.
        e = Signal(signed(29), name="e")
        m.d.comb += e.eq(s3_vb + s3_u)
        v_new = Signal(V_SHAPE, name="v_new")
        m.d.comb += v_new.eq(Mux(e > V_MAX, V_MAX, Mux(e < -V_MAX, -V_MAX, e)))
        refractory = s3_ref != 0
        fire = ~refractory & s3_active & (e > s3_vth64)
        m.d.sync += [
            self.u_next.eq(s3_u),
            self.v_next.eq(Mux(refractory | fire, 0, v_new)),
            self.ref_next.eq(Mux(refractory, s3_ref - 1, Mux(fire, s3_refr, 0))),
            self.spike.eq(fire),
        ]
        return m
