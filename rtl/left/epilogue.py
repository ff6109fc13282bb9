"""Output stage: + bias, then TFLite/gemmlowp requantization to int8.

Per lane, over six enable-gated stages (bit-exact with sw_model.left), at
most one carry chain or the multiplier in each, so the epilogue keeps pace
with the array on an FPGA clock:

1. ``v = acc + bias`` (int32, wrapping)
2. ``p = v * multiplier`` (64-bit product)
3. ``t = p + nudge`` (``2**30``, or ``1 - 2**30`` for a negative ``p``)
4. ``x = t / 2**31`` truncated toward zero (SaturatingRoundingDoublingHighMul;
   INT32_MIN * INT32_MIN gives INT32_MAX)
5. ``x >> shift`` and the rounding bit of RoundingDivideByPOT
6. ``y = shifted + round + zero_point``, clamped to
   ``[relu ? zero_point : -128, 127]``; in RAW mode the lane is ``v``.

With ``serial=True`` one 32 x 32 multiplier serves every column: while a
valid token (``s1_valid``) sits in stage 1, ``stall`` is high for
``cols - 1`` cycles as the products of columns 0 .. cols-2 are made and
kept; the last column's product is made as the token moves on. The core
holds its whole pipeline (``en`` low) while ``stall`` is high, so an output
row costs ``cols`` cycles here instead of one. This is for FPGAs with few
DSP blocks (the iCE40UP5K has 8; a 32 x 32 product takes 4).
"""

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .layouts import OutMode

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


class Epilogue(wiring.Component):
    LATENCY = 6

    def __init__(self, layouts, cols, serial=False):
        self.cols, self.serial = cols, serial
        super().__init__({
            "en": In(1),
            "s1_valid": In(1),     # stage 1 holds a token (used when serial)
            "stall": Out(1),       # hold en low: the shared multiplier is busy
            "acc": In(data.ArrayLayout(signed(32), cols)),
            "params": In(layouts.epi),
            "result": Out(data.ArrayLayout(signed(32), cols)),
        })

    def elaborate(self, platform):
        m = Module()
        en, P = self.en, self.params

        def stage(d, name):
            """Register a dict of values (name -> value, shape) on ``en``."""
            regs = {}
            for key, (value, shape) in d.items():
                reg = Signal(shape, name=f"{name}_{key}")
                with m.If(en):
                    m.d.sync += reg.eq(value)
                regs[key] = reg
            return regs

        # zero point, relu and mode ride along to the last stage.
        mode = [(P.zero_point, P.relu, P.mode == OutMode.RAW)]
        for i in range(self.LATENCY - 1):
            zp, relu, raw = Signal(signed(8), name=f"zp{i + 1}"), Signal(name=f"relu{i + 1}"), \
                Signal(name=f"raw{i + 1}")
            with m.If(en):
                m.d.sync += [zp.eq(mode[-1][0]), relu.eq(mode[-1][1]), raw.eq(mode[-1][2])]
            mode.append((zp, relu, raw))
        zp_l, relu_l, raw_l = mode[-1]

        s1s = [stage({
            "v": ((self.acc[c] + P.bias[c])[:32].as_signed(), signed(32)),
            "mul": (P.multiplier[c], signed(32)),
            "sh": (P.shift[c], unsigned(5)),
        }, f"e1_c{c}") for c in range(self.cols)]
        products = self._products(m, s1s)

        # One carry chain (or the multiplier) per stage, so the epilogue
        # keeps up with the array's clock on an FPGA (50 MHz on the ECP5).
        for c in range(self.cols):
            s1 = s1s[c]
            s2 = stage({
                "p": (products[c], signed(64)),
                "ovf": ((s1["v"] == INT32_MIN) & (s1["mul"] == INT32_MIN), unsigned(1)),
                "v": (s1["v"], signed(32)),
                "sh": (s1["sh"], unsigned(5)),
            }, f"e2_c{c}")
            p = s2["p"]
            s3 = stage({
                "t": (p + Mux(p[63], 1 - (1 << 30), 1 << 30), signed(65)),
                "ovf": (s2["ovf"], unsigned(1)),
                "v": (s2["v"], signed(32)),
                "sh": (s2["sh"], unsigned(5)),
            }, f"e3_c{c}")
            t = s3["t"]
            # t / 2**31 truncating toward zero: floor((t + 2**31 - 1) / 2**31) when t < 0.
            q = Signal(signed(65), name=f"e4_q_c{c}")
            m.d.comb += q.eq(Mux(t < 0, t + ((1 << 31) - 1), t) >> 31)
            s4 = stage({
                "x": (Mux(s3["ovf"], INT32_MAX, q[:32].as_signed()), signed(32)),
                "v": (s3["v"], signed(32)),
                "sh": (s3["sh"], unsigned(5)),
            }, f"e4_c{c}")
            x, sh = s4["x"], s4["sh"]
            # RoundingDivideByPOT: x >> sh, plus one when the remainder
            # exceeds half (ties away from zero): rem > (mask >> 1) + sign.
            mask = Signal(unsigned(32), name=f"e5_mask_c{c}")
            m.d.comb += mask.eq((Const(1, unsigned(33)) << sh) - 1)
            rem = Signal(unsigned(32), name=f"e5_rem_c{c}")
            m.d.comb += rem.eq(x.as_unsigned() & mask)
            half = mask >> 1
            # rem > half + sign, without an adder in front of the compare:
            # sign 0: rem > half; sign 1: rem > half + 1, i.e. rem > half and
            # rem != half + 1 (half + 1 is 2**(sh-1), a single bit).
            top = mask - half      # 2**(sh-1), or 0 when sh == 0
            round_up = Mux(x[31], (rem > half) & (rem != top), rem > half)
            s5 = stage({
                "shifted": (x >> sh, signed(32)),
                "up": (round_up, unsigned(1)),
                "v": (s4["v"], signed(32)),
            }, f"e5_c{c}")
            y = Signal(signed(34), name=f"e6_y_c{c}")
            m.d.comb += y.eq(s5["shifted"] + s5["up"] + zp_l)
            lo = Mux(relu_l, zp_l, -128)
            clamped = Mux(y < lo, lo, Mux(y > 127, 127, y))
            out = Signal(signed(32), name=f"e6_out_c{c}")
            with m.If(en):
                m.d.sync += out.eq(Mux(raw_l, s5["v"], clamped))
            m.d.comb += self.result[c].eq(out)
        return m

    def _products(self, m, s1s):
        """``v * mul`` of every column as stage 2 should take it."""
        C = self.cols
        if not self.serial or C == 1:
            return [s1["v"] * s1["mul"] for s1 in s1s]
        j = Signal(range(C), name="mul_col")
        v = Signal(signed(32), name="mul_v")
        mul = Signal(signed(32), name="mul_m")
        with m.Switch(j):
            for c in range(C):
                with m.Case(c):
                    m.d.comb += [v.eq(s1s[c]["v"]), mul.eq(s1s[c]["mul"])]
        prod = Signal(signed(64), name="mul_p")
        m.d.comb += [prod.eq(v * mul), self.stall.eq(self.s1_valid & (j != C - 1))]
        kept = [Signal(signed(64), name=f"mul_kept_c{c}") for c in range(C - 1)]
        with m.If(self.stall):
            m.d.sync += j.eq(j + 1)
            with m.Switch(j):
                for c in range(C - 1):
                    with m.Case(c):
                        m.d.sync += kept[c].eq(prod)
        with m.Elif(self.en):
            m.d.sync += j.eq(0)
        return kept + [prod]
