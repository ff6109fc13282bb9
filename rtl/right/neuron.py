"""One lane of Loihi's integer LIF neuron update, three pipeline stages.

Bit-exact with ``sw_model.right.loihi_lif_step`` plus Hemi's refractory
counter::

    a_in = clamp(acc, -2**15, 2**15 - 1)
    d    = trunc(u * (4095 - du) / 4096) + a_in * 64   # 4096 - (du + 1)
    u'   = d wrapped into (-2**23, 2**23]
    e    = trunc(v * (4096 - dv) / 4096) + u' + (bias_mant << bias_exp)
    v'   = clamp(e, -(2**23 - 1), 2**23 - 1)
    refractory (ref > 0): v' = 0, no spike, ref - 1
    otherwise: spike iff v' > vth * 64; a spike zeroes v' and loads ref

``trunc`` rounds toward zero: ``(x >> 12) + (x < 0 and x % 4096 != 0)``.

Stages (one or two carry chains each, for a 50 MHz FPGA clock): with
``input_regs``, 0 registers the inputs (the core's memory reads), so that
a memory's output and the multiplier it feeds are in separate clock
periods: on the ECP5 a block RAM's unregistered output takes 5.6 ns and
the placer may put the multiplier block far from it; 1 the two
decay products, each as two halves that the multiplier blocks register
themselves; 2 the products, their truncation, ``d`` and ``u'`` (``d``
wrapped: bit selects and an OR; on the iCE40 the OR is in stage 3), and
``trunc(v decay) + bias``; 3 ``e``, the clamp and the threshold.

Few pipeline copies (on the iCE40 a flip-flop that only copies another
costs a logic cell of its own; the UP5K's SB_MAC16 registers its product
for free):

* ``p1`` (vth, bias_mant) is presented :data:`LifLane.P1_DELAY` cycle
  after the other inputs, when stage 2 needs the bias: the core reads that
  memory a cycle later instead of the lane carrying it.
* The refractory state travels as 5 bits: whether the neuron is held, and
  the counter it gets if held or if it fires (``ref - 1`` or
  ``refractory``); plus ``active`` (ANDed with not held) where the core has
  lanes past its last neuron (``gated``).
* The register widths are those of the values' ranges for any input the
  ports can carry (``v`` has 24 bits, so ``|trunc(v decay)| <= 2**23``), not
  those of the generic arithmetic.

(``u_next`` keeps ``u'`` with ``v'``: the core writes a group's whole
state in one cycle, so a reset never leaves it half updated. It is not a
plain copy: config writes of u and ref load it, see ``load``.)
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..common import cmp

U_SHAPE = signed(25)    # u lies in (-2**23, 2**23]
V_SHAPE = signed(24)    # v lies in [-(2**23 - 1), 2**23 - 1]
ACC_SHAPE = signed(24)  # the step's saturating synaptic accumulator
V_MAX = (1 << 23) - 1


def _is_ice40(platform):
    device = str(getattr(platform, "device", "") or "")
    return device.startswith(("iCE40", "iCE5"))


def trunc_parts(m, x, name):
    """x / 4096 rounded toward zero, as ``floor + round_up``: a negative x
    with a remainder rounds up by one. Returned apart so the one-bit term
    can ride on the carry-in of the adder that follows (no adder over the
    12 discarded bits, no multiplexer)."""
    floor = Signal(signed(len(x) - 12), name=f"{name}_floor")
    round_up = Signal(name=f"{name}_round_up")
    m.d.comb += [floor.eq(x >> 12), round_up.eq(x[-1] & x[:12].any())]
    return floor, round_up


def saturate(x, bits):
    """x clamped to ``signed(bits)`` (x signed and wider), from the bits
    above: x fits iff they all equal its sign."""
    top = x[bits - 1:]
    fits = ~top.any() | top.all()
    limit = Mux(x[-1], -(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    return Mux(fits, x[:bits].as_signed(), limit)


class LifLane(wiring.Component):
    """``u``, ``v``, ``ref``, ``acc``, ``p0`` (and ``active``, if ``gated``)
    in cycle c, ``p1`` in cycle c + P1_DELAY; the results in cycle
    c + LATENCY. Without ``gated`` every input is a real neuron (the core's
    lanes divide its neurons). ``input_regs`` (``right.lif_input_regs``):
    a stage 0 that registers the inputs; LATENCY and P1_DELAY are then one
    more (the instance's attributes; the class's are those without it).

    ``load``: ``u_next`` and ``ref_next`` take ``load_data`` (bits 0..24,
    and 0..3) at the next edge instead. The core sends its config writes of
    u and ref through them, so its u/ref memory has one write-data source,
    and ``u_next`` is a multiplexer's register rather than a plain copy of
    the stage before."""

    LATENCY = 3
    P1_DELAY = 1

    def __init__(self, layouts, gated=True, late_sign=None, input_regs=False):
        # late_sign: u's sign made in stage 3 (see there); None: on the iCE40.
        self.gated = gated
        self.late_sign = late_sign
        self.input_regs = input_regs
        self.LATENCY = LifLane.LATENCY + input_regs
        self.P1_DELAY = LifLane.P1_DELAY + input_regs
        ports = {
            "u": In(U_SHAPE), "v": In(V_SHAPE), "ref": In(4), "acc": In(ACC_SHAPE),
            "p0": In(layouts.param0), "p1": In(layouts.param1),
            "load": In(1), "load_data": In(U_SHAPE.width),
            "u_next": Out(U_SHAPE), "v_next": Out(V_SHAPE), "ref_next": Out(4), "spike": Out(1),
        }
        if gated:
            ports["active"] = In(1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        u, v, ref, acc, p0, p1 = self.u, self.v, self.ref, self.acc, self.p0, self.p1
        active = self.active if self.gated else None
        if self.input_regs:
            # Stage 0: the inputs as they came (no reset: stage data).
            def reg(x, name):
                r = Signal.like(x, name=f"s0_{name}", reset_less=True)
                m.d.sync += r.eq(x)
                return r
            u, v, ref, acc, p0 = reg(u, "u"), reg(v, "v"), reg(ref, "ref"), reg(acc, "acc"), reg(p0, "p0")
            if self.gated:
                active = reg(active, "active")

        # The refractory state, carried to stage 4: held (ref > 0); the
        # counter's next value if held or if the neuron fires; may fire.
        def ref_regs(k):
            regs = [Signal(name=f"s{k}_held"), Signal(4, name=f"s{k}_rnext")]
            if self.gated:
                regs.append(Signal(name=f"s{k}_may_fire"))
            return regs

        # Stage 1: the two decay products, as the halves the multiplier
        # blocks make (u and v split at bit 16): a product registered whole
        # keeps its register in the block (iCE40 SB_MAC16, ECP5 MULT18X18D),
        # and the halves are added in stage 2. No reset: stage data, whose
        # validity the core tracks.
        # (Each register exactly as wide as its product's range: a bit left
        # unused would be trimmed, and a partial register stays outside.)
        def halves(x, k, k_max, name):
            lo = Signal(unsigned(16 + len(k)), name=f"s1_{name}_lo", reset_less=True)
            top = 1 << (len(x) - 17)       # x[16:] lies in [-top, top)
            hi = Signal(range(-top * k_max, (top - 1) * k_max + 1), name=f"s1_{name}_hi", reset_less=True)
            m.d.sync += [lo.eq(x[:16] * k), hi.eq(x[16:].as_signed() * Cat(k, 0).as_signed())]
            return lo, hi

        ku = Signal(12, name="ku")      # 4095 - du
        kv = Signal(13, name="kv")      # 4096 - dv, 1..4096
        m.d.comb += [ku.eq(4095 - p0.du), kv.eq(4096 - p0.dv)]
        mu_lo, mu_hi = halves(u, ku, 4095, "mu")     # 25-bit u times 0..4095
        mv_lo, mv_hi = halves(v, kv, 4096, "mv")     # 24-bit v times 1..4096
        s1_ain = Signal(signed(16), name="s1_ain")
        s1_exp = Signal(3, name="s1_bias_exp")
        s1_ref = ref_regs(1)
        held = ref != 0
        m.d.sync += [
            s1_ain.eq(saturate(acc, 16)),
            s1_exp.eq(p0.bias_exp),
            s1_ref[0].eq(held), s1_ref[1].eq(Mux(held, ref - 1, p0.refractory)),
        ]
        if self.gated:
            m.d.sync += s1_ref[2].eq(active & ~held)

        # Stage 2: the products; d's low 24 bits; the truncated v decay plus
        # the bias (p1 arrives now; the rounding bits are the adders' carries
        # in); the threshold. The wrap: u' = d mod 2**24 in (-2**23, 2**23]
        # (one step of +-2**24 gets there, as |d| < 3 * 2**23), so its low 24
        # bits are d's, and it is negative iff those, taken unsigned, exceed
        # 2**23: bit selects and an OR, no carry chain. On the iCE40 (slow
        # clock, logic cells scarce) the OR, u's sign, is made in stage 3
        # from the registered bits, in front of the adder that takes it:
        # fewer logic cells than registering it behind d's adder; elsewhere
        # it stays off stage 3's path.
        mu = Signal(signed(37), name="mu")
        mv = Signal(signed(36), name="mv")
        m.d.comb += [mu.eq(mu_lo + (mu_hi << 16)), mv.eq(mv_lo + (mv_hi << 16))]
        u_floor, u_up = trunc_parts(m, mu, "u_decay")
        v_floor, v_up = trunc_parts(m, mv, "v_decay")
        d = Signal(signed(26), name="d")        # |trunc(u decay)| < 2**24, |a_in * 64| <= 2**21
        m.d.comb += d.eq(u_floor + s1_ain * 64 + u_up)
        late_sign = _is_ice40(platform) if self.late_sign is None else self.late_sign
        s2_d = Signal(24 if late_sign else 25, name="s2_d")     # d mod 2**24 (and u's sign)
        s2_vb = Signal(signed(25), name="s2_vb")        # |trunc(v decay)| <= 2**23, |bias| <= 2**19
        s2_nvth = Signal(17, name="s2_nvth")      # ~vth: -vth - 1 with ones above
        s2_ref = ref_regs(2)
        m.d.sync += [
            s2_d.eq(d[:24] if late_sign else Cat(d[:24], d[23] & d[:23].any())),
            s2_vb.eq(v_floor + (p1.bias_mant << s1_exp) + v_up),
            s2_nvth.eq(~p1.vth),
        ] + [a.eq(b) for a, b in zip(s2_ref, s1_ref)]

        # Stage 3: integrate, clamp and threshold v (``vth * 64 < 2**23 - 1``,
        # so ``clamp(e) > vth * 64`` is ``e > vth * 64``, compared side by
        # side); refractory.
        e = Signal(signed(26), name="e")
        s2_u = Signal(U_SHAPE, name="s2_u")         # u'
        m.d.comb += s2_u.eq(Cat(s2_d, s2_d[23] & s2_d[:23].any()) if late_sign else s2_d)
        m.d.comb += e.eq(s2_vb + s2_u)
        v_new = Signal(V_SHAPE, name="v_new")
        m.d.comb += v_new.eq(Mux(cmp.gt(e, V_MAX), V_MAX, Mux(cmp.lt(e, -V_MAX), -V_MAX, e)))
        held, rnext = s2_ref[0], s2_ref[1]
        may_fire = s2_ref[2] if self.gated else ~held
        # e > vth * 64, on e's bits above the six that vth * 64 lacks:
        # (e >> 6) + (e's low bits != 0) > vth, i.e. (e >> 6) - vth - 1 +
        # any(low) >= 0: one 21-bit adder whose carry in is the OR, not a
        # 26-bit compare.
        over = Signal(signed(21), name="over")
        m.d.comb += over.eq(e[6:].as_signed() + Cat(s2_nvth, Const(0xF, 4)).as_signed() + e[:6].any())
        fire = may_fire & ~over[-1]
        zero = held | fire
        m.d.sync += [
            self.u_next.eq(Mux(self.load, self.load_data, s2_u)),
            self.v_next.eq(Mux(zero, 0, v_new)),
            self.ref_next.eq(Mux(self.load, self.load_data[:4], Mux(zero, rnext, 0))),
            self.spike.eq(fire),
        ]
        return m
