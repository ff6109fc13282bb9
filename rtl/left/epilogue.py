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

With ``serial=True`` one 32 x 32 multiplier serves every column: after a
valid token (``s0_valid`` as it enters) reaches stage 1, ``stall`` (a
register) is high for
``cols - 1`` cycles as the products of columns 0 .. cols-2 are made and
kept (its four partial products, as stage 2 keeps them); the last
column's are made as the token moves on. The core
holds its whole pipeline (``en`` low) while ``stall`` is high, so an output
row costs ``cols`` cycles here instead of one. This is for FPGAs with few
DSP blocks (the iCE40UP5K has 8; a 32 x 32 product takes 4).

With ``compact=True`` (``left.epilogue = "compact"``, for slow FPGA clocks
such as the iCEBreaker's 12 MHz, where a user makes an output row only every
few cycles: the tile, one row per K) the same arithmetic takes one
pipeline stage and a sequential one, one multiplier per column:

1. ``v = acc + bias``, the multiplier and the shift. ``v`` and the
   multiplier feed only the four 16 x 16 multipliers, so on the iCE40 yosys
   folds their registers into the SB_MAC16s' input registers: the stage
   costs no logic cells for them.
2. ``x``: the product and its nudge (stages 2-4 above) in one cycle, in 33
   bits instead of saturated (see the code: the output is the same), is
   loaded into a register that then shifts itself right one bit a cycle,
   ``shift`` times, keeping the rounding bit and a sticky bit. The result
   (the rounding, the zero point and the clamp, on only the 9 low bits of
   the shifted x and a flag for a value past them) is combinational from
   that register, and leaves as the stream ``o_valid`` / ``o_ready``
   (``LATENCY`` is 1: the stages before it).

Stage 2 holds one token: while it does, a token in stage 1 raises
``stall`` (the core holds its pipeline), so a token costs ``shift + 1``
cycles after the one before it plus a cycle for the handoff, which a user
making one row per K >= shift + 2 cycles never sees. There is no barrel
shifter, no output FIFO in the core (``o`` waits in stage 2), and no
pipeline copy of ``v`` or of the 64-bit partial products (about 520
flip-flops for one column, each a whole iCE40 logic cell). ``busy`` is
high while stage 2 holds a token.

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
    cycles earlier (an instance attribute: 6), or, when ``compact``, of the
    token in stage 2 while ``o_valid`` is high (``LATENCY`` is then 1)."""

    def __init__(self, layouts, cols, serial=False, compact=False, raw=True):
        assert not (serial and compact)
        self.cols, self.serial, self.compact, self.raw = cols, serial, compact, raw
        self.LATENCY = 1 if compact else 6
        super().__init__({
            "en": In(1),
            "s1_valid": In(1),     # stage 1 holds a token (used when compact)
            "s0_valid": In(1),     # the token entering stage 1 on en is one (used when serial)
            "stall": Out(1),       # hold en low: the shared multiplier (or stage 2) is busy
            "stall_next": Out(1),  # stall's value next cycle (not compact: it is a register)
            # compact only: the result's stream (valid while stage 2 holds a
            # finished token), and whether stage 2 holds one at all.
            "o_valid": Out(1),
            "o_ready": In(1),
            "busy": Out(1),
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
        # Serial: as the token moves on, column c's v and multiplier are in
        # stage 1's register c + 1 (see _products: they rotate).
        rotated = self.serial and self.cols > 1

        for c in range(self.cols):
            s1 = s1s[c]
            ops = s1s[(c + 1) % self.cols] if rotated else s1
            lo, lh, hl = parts[c]
            s2 = stage({
                "lo": (lo, signed(64)),          # Cat(p_ll, p_hh): the partials that do not overlap
                "lh": (lh, signed(33)),
                "hl": (hl, signed(33)),
                "ovf": ((ops["v"] == INT32_MIN) & (ops["mul"] == INT32_MIN), unsigned(1)),
                "v": (ops["v"], signed(32)),
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

        # Stage 1 (on en): v, the multiplier, the shift, and the token's
        # zero point, relu and mode.
        zp1, relu1 = reg("zp1", P.zero_point, signed(8)), reg("relu1", P.relu, 1)
        raw1 = reg("raw1", raw, 1) if self.raw else Const(0, 1)
        # Stage 2 holds one token from its load until ``o`` takes it.
        full = Signal()
        load = en & self.s1_valid
        # A token in stage 1 waits while stage 2 is taken (the core then
        # holds its pipeline). Not ``o_ready``: that would put the sink's
        # ready on the path to every ``en`` of the core. A following token
        # thus waits one cycle after the output is taken.
        m.d.comb += self.stall.eq(self.s1_valid & full)
        zp2, relu2, raw2 = Signal(signed(8)), Signal(), Signal()
        with m.If(load):
            m.d.sync += [full.eq(1), zp2.eq(zp1), relu2.eq(relu1), raw2.eq(raw1)]
        with m.Elif(self.o_valid & self.o_ready):
            m.d.sync += full.eq(0)
        m.d.comb += self.busy.eq(full)

        done = []
        for c in range(self.cols):
            v_next = Signal(signed(32), name=f"e1_v_next_c{c}")
            m.d.comb += v_next.eq((self.acc[c] + P.bias[c])[:32].as_signed())
            # v and the multiplier feed the multipliers and nothing else (a
            # RAW token takes v into x below; only in a core with RAW), and
            # have no reset: yosys then folds them into the SB_MAC16s' input
            # registers on the iCE40.
            v = reg(f"e1_v_c{c}", v_next, signed(32), reset_less=True)
            mul = reg(f"e1_mul_c{c}", P.multiplier[c], signed(32), reset_less=True)
            sh1 = reg(f"e1_sh_c{c}", P.shift[c], unsigned(5))

            # p = v * mul from its four 16 x 16 products, and
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

            # Stage 2: x is loaded, then shifted right in place one bit a
            # cycle, ``shift`` times (RoundingDivideByPOT without a barrel
            # shifter: at one output row per K cycles there is time).
            # ``r`` is the last bit shifted out (bit shift-1 of x), ``s``
            # the OR of those before it: the remainder exceeds half + sign
            # iff r and (x >= 0 or s).
            x = Signal(signed(33), name=f"e2_x_c{c}")
            cnt = Signal(5, name=f"e2_cnt_c{c}")
            r, s = Signal(name=f"e2_r_c{c}"), Signal(name=f"e2_s_c{c}")
            with m.If(load):
                m.d.sync += [r.eq(0), s.eq(0)]
                if self.raw:   # RAW: x = v, no shift
                    m.d.sync += [x.eq(Mux(raw1, v, u[31:64].as_signed())), cnt.eq(Mux(raw1, 0, sh1))]
                else:
                    m.d.sync += [x.eq(u[31:64].as_signed()), cnt.eq(sh1)]
            with m.Elif(cnt != 0):
                m.d.sync += [x.eq(x >> 1), cnt.eq(cnt - 1), r.eq(x[0]), s.eq(s | r)]
            done.append(cnt == 0)

            # Result, combinational from stage 2 (steady while o waits).
            # Outside 9 bits (|x >> shift| > 256) the result saturates
            # whatever the zero point: 127, or the low bound. Inside,
            # y = (x >> shift) + round + zp in 10 bits.
            sign = x[-1]
            # x[8:] all equal (x >> shift in 9 bits): chunks of 4 bits that
            # share their end bits, one LUT each, not two 25-bit compares.
            top = x[8:]
            fits = Cat(*((top[i:i + 4] == 0) | (top[i:i + 4] == 2 ** len(top[i:i + 4]) - 1)
                         for i in range(0, len(top) - 1, 3))).all()
            up = r & (~sign | s)
            y = Signal(signed(10), name=f"r_y_c{c}")
            m.d.comb += y.eq(x[:9].as_signed() + up + zp2)
            # y > 127 and y < -128 are bit tests, not compares (carry chains),
            # and so is y < zp (relu): y - zp = x9 + up with x9 = x[:9] is
            # below zero only if x9 is, and x9 < 0 gives y <= zp, which
            # clamps to the same zp when equal: the sign of x9 is enough.
            over = ~y[9] & (y[7] | y[8])
            under = Mux(relu2, x[8], y[9] & ~(y[7] & y[8]))
            lo = Mux(relu2, zp2, -128)
            clamped = Mux(fits, Mux(under, lo, Mux(over, 127, y)), Mux(sign, lo, 127))
            if self.raw:
                m.d.comb += self.result[c].eq(Mux(raw2, x[:32].as_signed(), clamped))
            else:
                m.d.comb += self.result[c].eq(clamped)
        m.d.comb += self.o_valid.eq(full & Cat(*done).all())
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
        # Stage 1's v and multiplier registers rotate by one column on each
        # stall cycle, so the shared multiplier always reads register 0
        # (column j after j rotations), and each product enters the kept
        # chain at its top and moves down, so column c's lands in kept[c]
        # after the cols - 1 stall cycles: no column multiplexer in front of
        # the multiplier and no demultiplexer behind it. (With them, the
        # ECP5 left tile's critical path was the column select -> the
        # multiplier placed far from most columns -> a kept register: 21.5
        # ns, 16 of it routing.) The rotation leaves column c in register
        # c + 1 as the token moves on; the stage after reads it there.
        j = Signal(range(C), name="mul_col")
        with m.If(self.stall):
            for c in range(C):
                nxt = s1s[(c + 1) % C]
                m.d.sync += [s1s[c]["v"].eq(nxt["v"]), s1s[c]["mul"].eq(nxt["mul"])]
        v, mul = s1s[0]["v"], s1s[0]["mul"]
        # The shared multiplier's four partial products, each kept straight
        # out of its multiplier, as in the parallel epilogue: a whole 32 x 32
        # product (multipliers and their adder chain in one cycle) was the
        # ECP5 build's critical path.
        al, ah = v[:16], v[16:].as_signed()
        bl, bh = mul[:16], mul[16:].as_signed()
        part = (Cat(al * bl, ah * bh), al * bh, ah * bl)
        # stall is s1_valid & (j != C - 1), kept in a register of its own:
        # it feeds the core's enable, a net across the die, and from a
        # register it starts there one LUT sooner (the ECP5 build's critical
        # path began at s1_valid -> this compare -> the enable). A token
        # entering (j = 0) stalls if valid; a stall cycle ends the stall when
        # it makes column C - 2's products.
        stall = Signal(name="mul_stall")
        m.d.comb += self.stall_next.eq(Mux(stall, j != C - 2, Mux(self.en, self.s0_valid, 0)))
        m.d.sync += stall.eq(self.stall_next)
        m.d.comb += self.stall.eq(stall)
        kept = [tuple(Signal(signed(w), name=f"mul_kept_{k}_c{c}") for k, w in (("lo", 64), ("lh", 33), ("hl", 33)))
                for c in range(C - 1)]
        with m.If(self.stall):
            m.d.sync += j.eq(j + 1)
            m.d.sync += [r.eq(p) for r, p in zip(kept[C - 2], part)]
            for c in range(C - 2):
                m.d.sync += [r.eq(p) for r, p in zip(kept[c], kept[c + 1])]
        with m.Elif(self.en):
            m.d.sync += j.eq(0)
        return kept + [part]
