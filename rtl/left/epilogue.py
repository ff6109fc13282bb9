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
kept (its four partial products, as stage 2 keeps them); the last
column's are made as the token moves on. The core
holds its whole pipeline (``en`` low) while ``stall`` is high, so an output
row costs ``cols`` cycles here instead of one. This is for FPGAs with few
DSP blocks (the iCE40UP5K has 8; a 32 x 32 product takes 4).

With ``compact=True`` (``left.epilogue = "compact"``, for slow FPGA clocks
such as the iCE40's 18 MHz) the same arithmetic takes two stages, one
multiplier per column:

1. ``v = acc + bias``, the multiplier and the shift. ``v`` and the
   multiplier feed only the four 16 x 16 multipliers, so on the iCE40 yosys
   folds their registers into the SB_MAC16s' input registers: the stage
   costs no logic cells for them.
2. ``x``: the product and its nudge (stages 2-4 above) in one cycle, in 33
   bits instead of saturated (see the code: the output is the same).

and the result (stages 5-6) is combinational from stage 2, written
straight into the core's output FIFO: the rounding is one adder before the
shifter, and the shifter keeps only the 9 bits that can survive the clamp
(with a flag for a result past them). Every pipeline copy of ``v`` and of
the 64-bit partial products is gone (about 520 flip-flops for one column,
each a whole iCE40 logic cell). ``stall`` stays low.

``raw=False`` builds no RAW path (a core that only requantizes): ``v`` is
then not carried to the end.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .layouts import OutMode

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


class Epilogue(wiring.Component):
    """``result`` is the output of the token that entered ``LATENCY`` enabled
    cycles earlier (an instance attribute: 6, or 2 when ``compact``)."""

    def __init__(self, layouts, cols, serial=False, compact=False, raw=True):
        assert not (serial and compact)
        self.cols, self.serial, self.compact, self.raw = cols, serial, compact, raw
        self.LATENCY = 2 if compact else 6
        super().__init__({
            "en": In(1),
            "s1_valid": In(1),     # stage 1 holds a token (used when serial)
            "stall": Out(1),       # hold en low: the shared multiplier is busy
            "acc": In(data.ArrayLayout(signed(32), cols)),
            "params": In(layouts.epi),
            "result": Out(data.ArrayLayout(signed(32), cols)),
        })

    def elaborate(self, platform):
        if self.compact:
            return self._elaborate_compact()
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
        mode = [(P.zero_point, P.relu, (P.mode == OutMode.RAW) if self.raw else Const(0, 1))]
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

    def _elaborate_compact(self):
        m = Module()
        en, P = self.en, self.params
        raw = (P.mode == OutMode.RAW) if self.raw else Const(0, 1)

        def reg(name, value, shape, reset_less=False):
            r = Signal(shape, name=name, reset_less=reset_less)
            with m.If(en):
                m.d.sync += r.eq(value)
            return r

        # zero point, relu and mode ride along both stages.
        zp1, relu1 = reg("zp1", P.zero_point, signed(8)), reg("relu1", P.relu, 1)
        zp2, relu2 = reg("zp2", zp1, signed(8)), reg("relu2", relu1, 1)
        if self.raw:
            raw2 = reg("raw2", reg("raw1", raw, 1), 1)
        for c in range(self.cols):
            v_next = Signal(signed(32), name=f"e1_v_next_c{c}")
            m.d.comb += v_next.eq((self.acc[c] + P.bias[c])[:32].as_signed())
            # v and the multiplier feed the multipliers and nothing else (RAW
            # keeps its own copy), and have no reset: yosys then folds them
            # into the SB_MAC16s' input registers on the iCE40.
            v = reg(f"e1_v_c{c}", v_next, signed(32), reset_less=True)
            mul = reg(f"e1_mul_c{c}", P.multiplier[c], signed(32), reset_less=True)
            sh1 = reg(f"e1_sh_c{c}", P.shift[c], unsigned(5))

            # Stage 2: p = v * mul from its four 16 x 16 products, and
            # x = floor((p + 2**30) / 2**31), bits 31..63 of u = p + 2**30.
            # x is kept in 33 bits instead of being saturated: it leaves 32
            # bits only for INT32_MIN * INT32_MIN (x = 2**31, where the
            # reference saturates to 2**31 - 1), and both round to the same
            # value for every shift (2**(31 - shift), or past 127 for shift
            # 0), so the output is the same without the flag and the mux.
            al, ah = v[:16], v[16:].as_signed()
            bl, bh = mul[:16], mul[16:].as_signed()
            mid = Signal(signed(35), name=f"e2_mid_c{c}")
            m.d.comb += mid.eq(al * bh + ah * bl + (1 << 14))
            u = Signal(signed(64), name=f"e2_u_c{c}")
            m.d.comb += u.eq(Cat(al * bl, ah * bh).as_signed() + (mid << 16))
            x = reg(f"e2_x_c{c}", u[31:64].as_signed(), signed(33))
            sh = reg(f"e2_sh_c{c}", sh1, unsigned(5))

            # Result, combinational. RoundingDivideByPOT(x, sh) is
            # (x >> sh) + (rem > 2**(sh-1) - 1 + sign), i.e. with
            # x = q * 2**sh + rem: (x + 2**(sh-1) - sign) >> sh for sh > 0,
            # and x for sh = 0: one adder before the shifter instead of a
            # mask, a remainder compare and an adder after it. The nudge is
            # decoded from the shift: 2**(sh-1) (one-hot) for x >= 0, the
            # thermometer 2**(sh-1) - 1 for x < 0, 0 for sh = 0.
            nudge = self._nudge(sh, ~x[-1])
            t = Signal(signed(33), name=f"r_t_c{c}")           # |x| <= 2**31, nudge <= 2**30
            m.d.comb += t.eq(x + nudge)
            s9, fits = self._shift_narrow(m, t, sh, 9, f"r_s_c{c}")
            # Outside 9 bits (|s| > 256) the result saturates whatever the
            # zero point: 127, or the low bound. Inside, y = s + zp in 10.
            y = Signal(signed(10), name=f"r_y_c{c}")
            m.d.comb += y.eq(s9 + zp2)
            # y > 127 and y < -128 are bit tests, not compares (carry chains).
            over = ~y[9] & (y[7] | y[8])
            under = Mux(relu2, y < zp2, y[9] & ~(y[7] & y[8]))
            lo = Mux(relu2, zp2, -128)
            clamped = Mux(fits, Mux(under, lo, Mux(over, 127, y)), Mux(t[-1], lo, 127))
            if self.raw:
                v2 = reg(f"e2_vraw_c{c}", reg(f"e1_vraw_c{c}", v_next, signed(32)), signed(32))
                m.d.comb += self.result[c].eq(Mux(raw2, v2, clamped))
            else:
                m.d.comb += self.result[c].eq(clamped)
        return m

    @staticmethod
    def _nudge(sh, one_hot):
        """RoundingDivideByPOT's nudge for the shift ``sh`` (5 bits): bit
        ``j - 1`` (j = 1 .. 31) is ``sh == j`` when ``one_hot``, else
        ``sh > j``; all zero for ``sh = 0``. Plain logic, decoded from the
        shift's high 2 and low 3 bits, so no compare becomes a carry chain."""
        def gt(v, k):
            """``v > k`` for a constant ``k``, as logic."""
            terms = []
            for p in range(len(v)):
                if not (k >> p) & 1:
                    higher = [v[q] if (k >> q) & 1 else ~v[q] for q in range(p + 1, len(v))]
                    terms.append(Cat(v[p], *higher).all())
            return Cat(*terms).any() if terms else Const(0, 1)
        lo, hi = sh[:3], sh[3:]
        sel_lo = [Mux(one_hot, lo == k, gt(lo, k)) for k in range(8)]
        hi_gt = [~one_hot & gt(hi, k) for k in range(4)]
        return Cat(*(((hi == j >> 3) & sel_lo[j & 7]) | hi_gt[j >> 3] for j in range(1, 32)))

    @staticmethod
    def _shift_narrow(m, t, sh, k, name):
        """``(s, fits)``: ``s`` the low ``k`` bits of ``t >> sh`` (signed),
        and whether that is all of it. A barrel shifter that keeps at each
        of its five steps only the bits that can still reach the low ``k``
        (k + 15, k + 7, ... wide instead of ``len(t)``); every bit it drops
        is checked against the sign instead (a dropped bit that differs
        from it means ``t >> sh`` needs more than ``k`` bits)."""
        sign = t[-1]
        vec = [t[i] for i in range(len(t))]
        bad = Const(0, 1)
        for j in reversed(range(len(sh))):
            d, b = 1 << j, sh[j]
            width = k + d - 1           # what the remaining steps can shift into 0 .. k-1

            def at(i):
                return vec[i] if i < len(vec) else sign
            new = [Signal(name=f"{name}_d{j}_{i}") for i in range(width)]
            m.d.comb += [bit.eq(Mux(b, at(i + d), at(i))) for i, bit in enumerate(new)]
            # Bits above the new window, shifted or not, end above bit k-1.
            dropped_s = [vec[i] ^ sign for i in range(width + d, len(vec))]
            dropped_k = [vec[i] ^ sign for i in range(width, len(vec))]
            bad = bad | Mux(b, Cat(*dropped_s).any() if dropped_s else 0,
                            Cat(*dropped_k).any() if dropped_k else 0)
            vec = new
        s = Signal(signed(k), name=name)
        fits = Signal(name=f"{name}_fits")
        m.d.comb += [s.eq(Cat(*vec)), fits.eq(~bad & (vec[-1] == sign))]
        return s, fits

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
        # The shared multiplier's four partial products, each kept straight
        # out of its multiplier, as in the parallel epilogue: a whole 32 x 32
        # product (multipliers and their adder chain in one cycle) was the
        # ECP5 build's critical path.
        al, ah = v[:16], v[16:].as_signed()
        bl, bh = mul[:16], mul[16:].as_signed()
        part = (Cat(al * bl, ah * bh), al * bh, ah * bl)
        m.d.comb += self.stall.eq(self.s1_valid & (j != C - 1))
        kept = [tuple(Signal(signed(w), name=f"mul_kept_{k}_c{c}") for k, w in (("lo", 64), ("lh", 33), ("hl", 33)))
                for c in range(C - 1)]
        with m.If(self.stall):
            m.d.sync += j.eq(j + 1)
            with m.Switch(j):
                for c in range(C - 1):
                    with m.Case(c):
                        m.d.sync += [r.eq(p) for r, p in zip(kept[c], part)]
        with m.Elif(self.en):
            m.d.sync += j.eq(0)
        return kept + [part]
