"""Output stage: + bias, then TFLite/gemmlowp requantization to int8.

Per lane, over six enable-gated stages (bit-exact with sw_model.left), at
most the multipliers or two carry chains in each, so the epilogue keeps pace
with the array on an FPGA clock:

1. ``v = acc + bias`` (int32, wrapping)
2. the four 16 x 16 partial products of ``p = v * multiplier``, each straight
   out of its multiplier (on the ECP5 a MULT18X18D, whose inputs and outputs
   are far from the logic: no adder may follow it in the same cycle)
3. ``mid = p_lh + p_hl + 2**14`` (the cross products, and the nudge below)
4. ``x = (p + 2**30) >> 31`` with ``p = Cat(p_ll, p_hh) + (mid << 16)``:
   SaturatingRoundingDoublingHighMul (INT32_MIN * INT32_MIN gives
   INT32_MAX). The reference adds the nudge ``2**30`` (``1 - 2**30`` for a
   negative ``p``) and divides by ``2**31`` truncating toward zero; the
   nudge keeps the sign of ``p``, and for a negative ``p`` truncation is
   ``floor((t + 2**31 - 1) / 2**31)``, so both cases are ``floor((p +
   2**30) / 2**31)``.
5. ``x >> shift`` and the rounding bit of RoundingDivideByPOT
6. ``y = shifted + round + zero_point``, clamped to
   ``[relu ? zero_point : -128, 127]``; in RAW mode the lane is ``v``.

With ``serial=True`` one 32 x 32 multiplier serves every column: while a
valid token (``s1_valid``) sits in stage 1, ``stall`` is high for
``cols - 1`` cycles as the products of columns 0 .. cols-2 are made and
kept; the last column's product is made as the token moves on (stage 2
then holds whole products: ``p_ll``/``p_hh`` carry ``p``, the cross
products are 0). The core
holds its whole pipeline (``en`` low) while ``stall`` is high, so an output
row costs ``cols`` cycles here instead of one. This is for FPGAs with few
DSP blocks (the iCE40UP5K has 8; a 32 x 32 product takes 4).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
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
        parts = self._products(m, s1s)

        for c in range(self.cols):
            s1 = s1s[c]
            lo, lh, hl = parts[c]
            s2 = stage({
                "lo": (lo, signed(64)),          # Cat(p_ll, p_hh): the partials that do not overlap
                "lh": (lh, signed(33)),
                "hl": (hl, signed(33)),
                "ovf": ((s1["v"] == INT32_MIN) & (s1["mul"] == INT32_MIN), unsigned(1)),
                "v": (s1["v"], signed(32)),
                "sh": (s1["sh"], unsigned(5)),
            }, f"e2_c{c}")
            s3 = stage({
                "lo": (s2["lo"], signed(64)),
                "mid": (s2["lh"] + s2["hl"] + (1 << 14), signed(35)),
                "ovf": (s2["ovf"], unsigned(1)),
                "v": (s2["v"], signed(32)),
                "sh": (s2["sh"], unsigned(5)),
            }, f"e3_c{c}")
            # p + 2**30, then bits 31..62 (p + 2**30 fits in 64 bits).
            u = Signal(signed(64), name=f"e4_u_c{c}")
            m.d.comb += u.eq(s3["lo"] + (s3["mid"] << 16))
            # RoundingDivideByPOT's mask (2**sh - 1) is decoded from the
            # shift here, a stage early, so stage 5 is only the shifter and
            # the remainder compare.
            mask_next = Signal(unsigned(32), name=f"e4_mask_next_c{c}")
            m.d.comb += mask_next.eq((Const(1, unsigned(33)) << s3["sh"]) - 1)
            s4 = stage({
                "x": (Mux(s3["ovf"], INT32_MAX, u[31:63].as_signed()), signed(32)),
                "v": (s3["v"], signed(32)),
                "sh": (s3["sh"], unsigned(5)),
                "mask": (mask_next, unsigned(32)),
            }, f"e4_c{c}")
            x, sh, mask = s4["x"], s4["sh"], s4["mask"]
            # RoundingDivideByPOT: x >> sh, plus one when the remainder
            # exceeds half (ties away from zero): rem > (mask >> 1) + sign.
            rem = Signal(unsigned(32), name=f"e5_rem_c{c}")
            m.d.comb += rem.eq(x.as_unsigned() & mask)
            half = mask >> 1
            top = mask ^ half      # 2**(sh-1), or 0 when sh == 0: mask's top bit
            # rem > half + sign, without an adder in front of the compare:
            # sign 0: rem > half; sign 1: rem > half + 1, i.e. rem > half and
            # rem != half + 1 (half + 1 is 2**(sh-1), a single bit).
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
        """Stage 2's partial products of every column: ``(lo, lh, hl)`` with
        ``v * mul = lo + ((lh + hl) << 16)``."""
        C = self.cols
        if not self.serial or C == 1:
            parts = []
            for s1 in s1s:
                a, b = s1["v"], s1["mul"]
                al, ah = a[:16], a[16:].as_signed()
                bl, bh = b[:16], b[16:].as_signed()
                parts.append((Cat(al * bl, ah * bh), al * bh, ah * bl))
            return parts
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
        return [(p, Const(0, 1), Const(0, 1)) for p in kept + [prod]]
