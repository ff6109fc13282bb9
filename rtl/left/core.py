"""The left core: sequencing, accumulator memory and output buffering around
the systolic array. See sw_model/left_stream.py for the beat order and the
README for ports and timing.

Data path (every register advances on one global ``adv``)::

    i_act -> stage 0 -> SystolicArray (rows+cols-1) -> accumulate (+1)
          -> Epilogue (6) -> output FIFO -> o

With ``left.epilogue = "compact"`` (slow clocks) the accumulator's sum
goes straight into the epilogue: no register stage between them (stage A),
so the epilogue parameters are needed by the token in the accumulate stage
instead. Its one pipeline stage is followed by a sequential one (a shift of
one bit a cycle) that holds the token until ``o`` takes it: there is no
output FIFO, and a token waiting to enter that stage stalls the pipeline
(``adv`` low), so an output row costs at least its shift + 2 cycles. Fine
for a user that makes one row per K cycles (the tile).

With ``acc_depth = 1`` (a user whose commands are all one row, such as a
tile) the accumulator is one register row instead of a memory (and its
read register).

``adv`` is high unless the output FIFO might not absorb every token in
flight (judged a cycle early from its level; compact: unless the epilogue
stalls), or the token about to enter the
epilogue needs an ``i_epi`` beat that has not arrived. Holes in ``i_act``
travel as bubbles, so input gaps cost exactly their length and never stall
the rest of the pipeline. ``adv`` feeds every register of the pipeline, so
(but with the compact epilogue) it is itself a register, decided a cycle
early: a parameter beat that arrives just as its token needs it costs a
cycle.

The weight loader runs ahead of the activations: it fills the bank that the
next tile will use while the current tile streams through the other one. It
starts on a bank only once the last activation of the tile that used it has
entered (``full`` cleared), and then writes one row per step in row order;
since the array sweeps each row write across the columns behind that
activation, row r is never overwritten before it has been read, and a tile
of M rows costs max(M, rows) cycles.
"""

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..common.delay import delay, delay_line
from .array import SystolicArray, psum_width
from .epilogue import Epilogue
from .layouts import LeftLayouts, OutMode


class LeftCore(wiring.Component):
    """INT8 weight-stationary GEMM core for a :class:`rtl.config.LeftConfig`.

    Streams: ``i_cmd`` (GEMM commands), ``i_w`` (weight rows), ``i_act``
    (activation rows), ``i_epi`` (epilogue parameters per column tile) in;
    ``o`` (output rows) out. Status: ``busy``, and ``errors`` counting
    refused commands (M outside 1..acc_depth, K or N zero).

    ``raw=False`` makes a core that only requantizes (a user that never
    asks for RAW output, such as the left tile): every ``i_epi`` beat is
    taken as REQUANT, so each output lane is an int8 sign-extended to 32
    bits, and the output FIFO keeps only its 8 bits (1 x 1 on the iCE40:
    9 bits a row, one block RAM instead of three for 33). ``o`` is the same.

    ``max_k`` / ``max_n``, for a user whose commands never exceed them (a
    tile, whose K and N registers are bounded by its config): the command's
    K and N and the tile walkers count in that many bits instead of 16, and
    a command with a larger K or N is refused like one with a zero.

    ``checked=False``, for a user whose commands are all valid by
    construction (the left tile: M = 1, K and N from registers it bounds):
    commands are not checked and ``errors`` stays 0 (no 16-bit counter).

    ``steady_cmd=True``, for a user that holds a command's payload on
    ``i_cmd`` from the command's start until the core has taken its last
    activation and weight row (the left tile: K and N are the layer's,
    latched until its output has left): the core reads K and N from there
    instead of keeping its own copy.

    ``registered_adv=True`` (not with the compact epilogue): the pipeline's
    enable is a register, decided a cycle early; it relies on ``i_epi``
    keeping the stream rule that a valid beat holds until taken. ``False``
    for a user that may withdraw a beat (the left tile without link slices,
    whose parameter stores' read ports are shared with the bus).
    """

    def __init__(self, cfg, raw=True, max_k=None, max_n=None, checked=True, steady_cmd=False,
                 registered_adv=True):
        self.cfg = cfg
        self.registered_adv = registered_adv
        self.raw = raw
        self.checked = checked
        self.steady_cmd = steady_cmd
        self.max_k, self.max_n = max_k, max_n
        self.layouts = L = LeftLayouts(cfg)
        super().__init__({
            "i_cmd": In(stream.Signature(L.cmd)),
            "i_w": In(stream.Signature(L.weights)),
            "i_act": In(stream.Signature(L.act)),
            "i_epi": In(stream.Signature(L.epi)),
            "o": Out(stream.Signature(L.out)),
            "busy": Out(1),
            "errors": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        R, C, D = cfg.rows, cfg.cols, cfg.acc_depth

        m.submodules.array = array = SystolicArray(R, C)
        m.submodules.epilogue = epi = Epilogue(self.layouts, C, serial=cfg.epilogue == "serial",
                                               compact=cfg.epilogue == "compact", raw=self.raw)
        LAT = array.LATENCY
        # Stage A, a register between the accumulator and the epilogue, is
        # left out with the compact epilogue (at its slow clock the sum's
        # adder and the bias adder fit in one cycle).
        stage_a = not epi.compact
        # Tokens in flight between stage 0 and the FIFO's write port.
        in_flight = 1 + LAT + stage_a + epi.LATENCY
        fifo_depth = in_flight + 8
        # The FIFO's row: lanes of 32 bits (or 8 without RAW), then `last`.
        lane_bits = 32 if self.raw else 8
        # The compact epilogue's last stage holds its token until ``o`` takes
        # it and stalls the pipeline behind it meanwhile: no output FIFO.
        if not epi.compact:
            m.submodules.fifo = ofifo = fifo.SyncFIFOBuffered(width=C * lane_bits + 1, depth=fifo_depth)

        adv = Signal()
        m.d.comb += [array.en.eq(adv), epi.en.eq(adv)]

        # ---- command -------------------------------------------------------
        k_lim = (1 << cfg.dim_bits) - 1 if self.max_k is None else self.max_k
        n_lim = (1 << cfg.dim_bits) - 1 if self.max_n is None else self.max_n
        # (M is at most acc_depth: larger commands are refused.)
        cmd_m, cmd_k, cmd_n = Signal(range(D + 1)), Signal(range(k_lim + 1)), Signal(range(n_lim + 1))
        if self.steady_cmd:
            m.d.comb += [cmd_k.eq(self.i_cmd.payload.k), cmd_n.eq(self.i_cmd.payload.n)]
        ld_active, inj_active = Signal(), Signal()
        m.d.comb += self.i_cmd.ready.eq(~ld_active & ~inj_active)
        errors = Signal(16)
        m.d.comb += self.errors.eq(errors)
        pc = self.i_cmd.payload
        cmd_ok = (pc.m >= 1) & (pc.m <= D) & (pc.k >= 1) & (pc.n >= 1)
        if self.max_k is not None:
            cmd_ok &= pc.k <= k_lim
        if self.max_n is not None:
            cmd_ok &= pc.n <= n_lim
        if not self.checked:
            cmd_ok = Const(1, 1)

        # ---- bank bookkeeping ----------------------------------------------
        full = Signal(2)                      # bank holds a loaded, unfinished tile

        def tile_walker(prefix):
            """Column tiles outer, K tiles inner, counted down: ``k_rem`` and
            ``n_rem`` are the rows and columns still to do (loaded when a
            command is taken), so a tile's size and whether it is the last
            come from a register and a constant. (Counting k0 up instead
            puts a K - k0 subtractor ahead of them, and the loader's
            last-row test and step behind it: the slowest path of the ULX3S
            build.) Returns the walker's state as a namespace."""
            w = SimpleNamespace()
            # 0 < k_rem <= K and 0 < n_rem <= N while active: the command's widths.
            w.k_rem = Signal.like(cmd_k, name=f"{prefix}_k_rem")
            w.n_rem = Signal.like(cmd_n, name=f"{prefix}_n_rem")
            w.first_k = Signal(init=1, name=f"{prefix}_first_k")
            # (The tile's column count, for the output tags; a tile of one
            # column is always whole.)
            w.nc = Const(1, 2) if C == 1 else Mux(w.n_rem >= C, C, w.n_rem)[:len(Const(C)) + 1]
            w.last_k = w.k_rem == 1 if R == 1 else w.k_rem <= R
            w.last_n = w.n_rem == 1 if C == 1 else w.n_rem <= C
            return w

        def load_walker(w):
            m.d.sync += [w.k_rem.eq(pc.k), w.n_rem.eq(pc.n)]

        def step_tile(w, active):
            with m.If(w.last_k):
                m.d.sync += [w.k_rem.eq(cmd_k), w.first_k.eq(1)]
                with m.If(w.last_n):
                    m.d.sync += active.eq(0)
                with m.Else():
                    m.d.sync += w.n_rem.eq(w.n_rem - C)
            with m.Else():
                m.d.sync += [w.k_rem.eq(w.k_rem - R), w.first_k.eq(0)]

        # ---- weight loader -------------------------------------------------
        # With a 1 x 1 array every tile is one row of one weight, and the
        # loader needs no walker of its own: it has loaded L = I + |full|
        # tiles when the injector has finished I of the command's T, so it
        # may load another (L < T) while the injector has more than |full|
        # tiles left: at least one (inj_active) with no bank full, at least
        # two (not at its last tile) with one full; both full, it waits
        # anyway. Exactly when its own walker would be active.
        ld_walker = not (R == 1 and C == 1)
        if ld_walker:
            ld = tile_walker("ld")
        ld_bank = Signal()
        ld_row = Signal(range(max(R, 2)))   # indices never zero-width
        # Writes enter the array's write wavefront, so they advance with it.
        m.d.comb += self.i_w.ready.eq(ld_active & ~full.bit_select(ld_bank, 1) & adv)
        m.d.comb += [
            array.w_we.eq(self.i_w.valid & self.i_w.ready),
            array.w_bank.eq(ld_bank),
            array.w_row.eq(ld_row),
        ]
        # Channels past N load as zero (c < min(n_rem, C) is n_rem > c).
        for c in range(C):
            keep = Const(1, 1) if C == 1 else ld.n_rem > c
            m.d.comb += array.w_data[c].eq(Mux(keep, self.i_w.payload[c], 0))
        # The tile's last row: row kr - 1, kr = min(k_rem, R); as a row
        # below R - 1 is the last only when k_rem = row + 1 < R, that is
        # row = R - 1 or k_rem = row + 1, with no minimum ahead of it.
        if R == 1:
            ld_last_row = Const(1, 1)
        else:
            ld_last_row = (ld_row == R - 1) | (ld.k_rem == ld_row + 1)
        with m.If(self.i_w.valid & self.i_w.ready):
            with m.If(ld_last_row):
                m.d.sync += [ld_row.eq(0), ld_bank.eq(~ld_bank), full.bit_select(ld_bank, 1).eq(1)]
                if ld_walker:
                    step_tile(ld, ld_active)
            with m.Else():
                m.d.sync += ld_row.eq(ld_row + 1)

        # ---- activation injector (stage 0) ---------------------------------
        inj = tile_walker("in")
        if not ld_walker:
            m.d.comb += ld_active.eq(inj_active & ((full == 0) | ~(inj.last_k & inj.last_n)))
        in_bank = Signal()
        in_row = Signal(range(max(D, 2)))
        tag_fields = {
            "valid": 1, "row": range(max(D, 2)), "first_k": 1, "last_k": 1,
            "last_row": 1, "last": 1, "nc": range(C + 1),
        }
        # (Row and column count are constants with one accumulator row or
        # one column: no tag bits for them then.)
        if D == 1:
            del tag_fields["row"], tag_fields["last_row"]
        if C == 1:
            del tag_fields["nc"]
        tag_layout = data.StructLayout(tag_fields)
        tag0 = Signal(tag_layout)
        a0 = Signal(data.ArrayLayout(signed(8), R))
        bank0 = Signal()
        can_inject = inj_active & full.bit_select(in_bank, 1)
        m.d.comb += self.i_act.ready.eq(adv & can_inject)
        take = self.i_act.valid & self.i_act.ready
        # (acc_depth 1: M is 1, every row the last; a larger M is refused.)
        last_row = Const(1, 1) if D == 1 else in_row == cmd_m - 1
        with m.If(adv):
            m.d.sync += tag0.valid.eq(take)
            with m.If(take):
                m.d.sync += [
                    bank0.eq(in_bank),
                    tag0.first_k.eq(inj.first_k), tag0.last_k.eq(inj.last_k),
                    tag0.last.eq(last_row & inj.last_k & inj.last_n),
                ]
                if D > 1:
                    m.d.sync += [tag0.row.eq(in_row), tag0.last_row.eq(last_row)]
                if C > 1:
                    m.d.sync += tag0.nc.eq(inj.nc)
                # Lanes past K multiply stale weights: feed them zeros
                # (r < min(k_rem, R) is k_rem > r).
                if R == 1:
                    m.d.sync += a0[0].eq(self.i_act.payload[0])
                else:
                    m.d.sync += [a0[r].eq(Mux(inj.k_rem > r, self.i_act.payload[r], 0)) for r in range(R)]
                with m.If(last_row):
                    m.d.sync += [
                        in_row.eq(0), in_bank.eq(~in_bank),
                        full.bit_select(in_bank, 1).eq(0),
                    ]
                    step_tile(inj, inj_active)
                with m.Else():
                    m.d.sync += in_row.eq(in_row + 1)
        m.d.comb += [array.a.eq(a0), array.bank.eq(bank0)]

        with m.If(self.i_cmd.valid & self.i_cmd.ready):
            with m.If(cmd_ok):
                m.d.sync += [cmd_m.eq(pc.m), inj_active.eq(1)]
                load_walker(inj)
                if ld_walker:
                    m.d.sync += ld_active.eq(1)
                    load_walker(ld)
                if not self.steady_cmd:
                    m.d.sync += [cmd_k.eq(pc.k), cmd_n.eq(pc.n)]
            if self.checked:
                with m.Elif(errors != 0xFFFF):
                    m.d.sync += errors.eq(errors + 1)

        # ---- accumulate (stage LAT -> stage A) -----------------------------
        tags = delay_line(m, tag0, LAT + stage_a, adv, "tag")
        tag_pre, tag_acc, tag_a = tags[LAT - 1], tags[LAT], tags[-1]

        # The accumulator is 32 bits (it wraps like the reference's int32),
        # unless K is bounded (max_k): a sum of at most max_k int8 products
        # then never leaves psum_width(max_k) bits (22 for 64), so it
        # neither wraps nor needs the upper bits, which are its sign.
        acc_w = 32 if self.max_k is None else min(32, psum_width(self.max_k))
        total = Signal(data.ArrayLayout(signed(acc_w), C))
        acc_we = adv & tag_acc.valid & ~tag_acc.last_k
        if D == 1:
            # One row: a register. It holds the sums of every K tile before
            # the last, as the memory row would (a write is seen by the next
            # token's read, as through the transparent read port).
            acc_row = Signal(data.ArrayLayout(signed(acc_w), C))
            with m.If(acc_we):
                m.d.sync += acc_row.eq(total)
            prev_row = acc_row
        else:
            acc = Memory(shape=data.ArrayLayout(signed(acc_w), C), depth=D, init=[])
            m.submodules.acc = acc
            wp = acc.write_port()
            rp = acc.read_port(transparent_for=(wp,))
            m.d.comb += [
                rp.en.eq(adv), rp.addr.eq(tag_pre.row),
                wp.en.eq(acc_we), wp.addr.eq(tag_acc.row), wp.data.eq(total),
            ]
            prev_row = rp.data
        for c in range(C):
            prev = Mux(tag_acc.first_k, 0, prev_row[c])
            m.d.comb += total[c].eq(prev + array.psum[c])
        if stage_a:
            sum_a = Signal(data.ArrayLayout(signed(32), C))
            with m.If(adv):
                m.d.sync += [sum_a[c].eq(total[c]) for c in range(C)]     # (per lane: sign-extended)
        else:
            sum_a = total

        # ---- epilogue (stage A, or the accumulate stage -> FIFO) -----------
        out_token = tag_a.valid & tag_a.last_k
        need_epi = out_token
        m.d.comb += [
            self.i_epi.ready.eq(adv & out_token & (tag_a.last_row if D > 1 else 1)),
            *(epi.acc[c].eq(sum_a[c]) for c in range(C)),          # (per lane: sign-extended)
            epi.params.eq(self.i_epi.payload),
        ]
        if not self.raw:
            m.d.comb += epi.params.mode.eq(OutMode.REQUANT)
        e_valids = delay_line(m, out_token, epi.LATENCY, adv, "e_valid")
        e_valid = e_valids[-1]
        m.d.comb += [epi.s0_valid.eq(e_valids[0]), epi.s1_valid.eq(e_valids[1])]
        e_last = delay(m, tag_a.last, epi.LATENCY, adv, "e_last")
        e_nc = delay(m, tag_a.nc, epi.LATENCY, adv, "e_nc") if C > 1 else Const(1, 1)

        if epi.compact:
            # The token's tags enter the epilogue's stage 2 with it (its
            # load: stage 1 valid and advancing; stage 2 is then free).
            o_last, o_nc = Signal(), Signal.like(e_nc)
            with m.If(adv & e_valid):
                m.d.sync += [o_last.eq(e_last), o_nc.eq(e_nc)]
            m.d.comb += [
                adv.eq(~(need_epi & ~self.i_epi.valid) & ~epi.stall),
                self.o.valid.eq(epi.o_valid),
                epi.o_ready.eq(self.o.ready),
                self.o.payload.last.eq(o_last),
            ]
            # (Lanes past N are zero; with one column there are none.)
            m.d.comb += [self.o.payload.data[c].eq(epi.result[c] if C == 1 else Mux(c < o_nc, epi.result[c], 0))
                         for c in range(C)]
            out_busy = epi.busy
        else:
            lanes = [Mux(c < e_nc, epi.result[c], 0)[:lane_bits] for c in range(C)]
            r_lanes = [ofifo.r_data.word_select(c, lane_bits).as_signed() for c in range(C)]
            # The FIFO's room, a cycle early: its level grows by at most one
            # a cycle, so level + 1 <= depth - in_flight now means every
            # token in flight fits next cycle (a read meanwhile only helps).
            # A slot of the 8 spare ones stays unused. ``adv`` is the core's
            # enable, thousands of flip-flops across the die, so it is
            # decided a cycle early: not the FIFO's level adder and compare
            # (the ULX3S build's critical path: 22.6 ns, 20.5 of it routing).
            room_next = ofifo.level + 1 <= fifo_depth - in_flight
            if self.registered_adv:
                # adv itself a register, from each term's next value: the
                # epilogue's stall (its register's input), whether the token
                # then in stage A needs a parameter beat, and whether one is
                # sure to be there (on i_epi now and not taken: it holds
                # until taken). A beat that arrives just in time costs a
                # cycle. The enable's net then starts at a flip-flop (with
                # the inputs combined in a LUT, its routing across the die
                # followed 6.5 ns of routing to that LUT on the ULX3S).
                need_next = Mux(adv, tags[-2].valid & tags[-2].last_k, need_epi)
                epi_next = self.i_epi.valid & ~self.i_epi.ready
                adv_r = Signal(init=1)
                m.d.sync += adv_r.eq(room_next & ~epi.stall_next & ~(need_next & ~epi_next))
                m.d.comb += adv.eq(adv_r)
            else:
                room = Signal(init=1)
                m.d.sync += room.eq(room_next)
                m.d.comb += adv.eq(room & ~(need_epi & ~self.i_epi.valid) & ~epi.stall)
            m.d.comb += [
                ofifo.w_data.eq(Cat(*lanes, e_last)),
                ofifo.w_en.eq(adv & e_valid),
                self.o.valid.eq(ofifo.r_rdy),
                self.o.payload.last.eq(ofifo.r_data[-1]),
                ofifo.r_en.eq(self.o.ready),
            ]
            # (A REQUANT lane is an int8 sign-extended: its low 8 bits are all of it.)
            m.d.comb += [self.o.payload.data[c].eq(r_lanes[c]) for c in range(C)]
            out_busy = ofifo.level != 0

        # ---- status ----------------------------------------------------------
        pipe_busy = Cat(*(t.valid for t in tags), *e_valids[1:])
        m.d.comb += self.busy.eq(ld_active | inj_active | pipe_busy.any() | out_busy)
        return m

