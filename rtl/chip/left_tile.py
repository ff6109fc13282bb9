"""The left tile: a left core that keeps one dense int8 layer resident and
computes it for every activation vector that arrives (protocol and address
map: sw_model/chip_map.py, ``LeftBlock``/``LeftReg``).

::

    i_flit -> TilePort --o_bus--> registers, weight/bias/mult/shift stores
                       --o_act--> activation buffer
    stores, buffer -> 4 feeders (cmd, w, act, epi) -> LeftCore
    LeftCore.o -> lane serialiser -> VectorSender -> TilePort -> o_flit

The host loads K, N, DEST, EPI and the stores with CONFIG_WRITE / WEIGHTS
packets and may read everything back with CONFIG_READ. The weight store
holds the weight beats of one GEMM command in the core's order, so a layer
just reads it from row 0 upward.

An ACTIVATION vector is written element by element into the activation
buffer; its ``last`` element starts the layer: one command ``m=1, k=K, n=N``
and the core's three data streams, each fed from its store by its own
sequencer, so the streams run concurrently (the core needs that: it loads
the next weight tile while the current one computes). The core's output
rows are cut to their first ``min(cols, N - nt*cols)`` lanes and leave as
one ACTIVATION vector to DEST. The next vector waits until the layer is
done, so the buffer is never overwritten under the running layer.

K, N, EPI and DEST are latched when a layer starts, so register writes
during a layer take effect with the next vector. Bus accesses never wait on
the layer (a CONFIG_READ holds the port's sender while it is answered, and
the layer's output needs that sender): a bus read takes a store's read port
for one cycle and the feeder on that port simply skips that cycle (the
epilogue feeder, whose beat waits in the read ports, then reads its beat
again). The weight store is single-port (SPRAM on the iCE40UP5K), so a bus
write to it takes its port for a cycle in the same way.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import enum, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from sw_model.chip_map import (BLOCK_SHIFT, ELEMENTS_PER_WORD, LeftBlock, LeftReg, NodeKind,
                               left_words_per_row)

from ..callosum.layouts import link_layout
from ..left.core import LeftCore
from ..right.core import _has_spram
from ..left.layouts import OutMode
from ..memattrs import no_collision
from .tile_port import TilePort
from .vector_tx import VectorSender

EPI_COL_BITS = 5        # BIAS/MULT/SHIFT offsets: tile << 5 | column


def _sat_inc(m, counter, cond):
    with m.If(cond & (counter != (1 << len(counter)) - 1)):
        m.d.sync += counter.eq(counter + 1)


def _below(value, bound):
    """``value < bound`` for a constant ``bound >= 1``, as a test that the
    bits above the bound's are zero and a compare of the rest: a wide
    address or data word against a small limit is then not a carry chain
    as wide as the word."""
    n = bound.bit_length()
    if len(value) <= n:
        return value < bound
    high_zero = value[n:] == 0
    if bound == 1 << (n - 1):
        return high_zero & ~value[n - 1]
    return high_zero & (value[:n] < bound)


def _divmod_const(value, d, bound):
    """``(value // d, value % d)`` for ``0 <= value < bound`` without a
    divider: multiply by ``ceil(2**s / d)`` and shift. With
    ``2**s >= bound * d`` the error term stays below one step, so the
    quotient is exact over the whole range (a power-of-two ``d`` folds to a
    slice)."""
    if d == 1:
        return value, Const(0, 1)
    s = ceil_log2(bound * d)
    mult = -(-(1 << s) // d)
    v = value[:max(ceil_log2(bound), 1)]
    q = (v * mult)[s:s + max(ceil_log2(bound), 1)]
    r = (v - q * d)[:ceil_log2(d)]
    return q, r


class _ReadStream(wiring.Component):
    """A stream out of a synchronous memory read port.

    The owner drives the port with its own address counter and advances it
    whenever ``issue`` is high; ``more`` says a read may be issued this cycle
    (rows left, and the port not taken by a bus read). ``o``'s valid comes
    from a register (queue 3: from its beat count, one LUT) and its payload
    holds until taken.

    ``queue`` is where a beat waits for the sink:

    * 0: in the port's own data register (it holds while the port is not
      enabled); only for a port nobody else reads. One beat per cycle.
    * 1: in an output register, captured the cycle after the read, since a
      shared port may be re-read before the sink takes the beat. A read is
      issued only when the register will be free: one beat per two cycles,
      enough for streams that are taken rarely.
    * 2: an output and a skid register: one beat per cycle on a shared port.
    * 3: three registers, and a read is issued whenever fewer than three
      beats are stored or in flight: one beat per cycle, and ``issue`` (the
      memory's read enable and the owner's address counter) does not depend
      on the sink's ready. For a sink whose ready is a wide late enable (the
      left core's ``adv`` on the ECP5: with queue 2 the path ``adv`` -> ready
      -> issue -> the weight store's read enable was 22.2 ns).

    ``flush`` empties the queue (and drops a read in flight) at the next
    edge; the owner then restarts its address counter.
    """

    def __init__(self, shape, queue):
        assert queue in (0, 1, 2, 3)
        self.queue = queue
        super().__init__({
            "more": In(1),
            "flush": In(1),
            "issue": Out(1),
            "rdata": In(shape),
            "o": Out(stream.Signature(shape)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        shape = self.o.payload.shape()
        out_valid = Signal()
        take = self.o.valid & self.o.ready
        m.d.comb += self.o.valid.eq(out_valid)
        if self.queue == 0:
            m.d.comb += [self.o.payload.eq(self.rdata), self.issue.eq(self.more & (~out_valid | take)),
                         self.busy.eq(out_valid)]
            with m.If(self.issue):
                m.d.sync += out_valid.eq(1)
            with m.Elif(take):
                m.d.sync += out_valid.eq(0)
            with m.If(self.flush):
                m.d.sync += out_valid.eq(0)
            return m

        inflight = Signal()            # rdata holds a read issued last cycle
        out = Signal(shape)
        m.d.comb += [self.o.payload.eq(out), self.busy.eq(inflight | out_valid)]
        m.d.sync += inflight.eq(self.issue)
        if self.queue == 1:
            m.d.comb += self.issue.eq(self.more & ~inflight & (~out_valid | take))
            with m.If(~out_valid | take):
                m.d.sync += [out.eq(self.rdata), out_valid.eq(inflight)]
            with m.If(self.flush):
                m.d.sync += [out_valid.eq(0), inflight.eq(0)]
            return m

        if self.queue == 3:
            # slots[0] is the output; n slots hold beats, in order.
            slots = [out] + [Signal(shape, name=f"slot{i}") for i in (1, 2)]
            n = Signal(range(4))
            # (n + inflight <= 3 always: a read is issued only with room for it.)
            m.d.comb += [self.issue.eq(self.more & (n + inflight <= 2)), out_valid.eq(n != 0)]
            pos = Signal(range(4))         # where a landing beat goes: after the kept ones
            m.d.comb += pos.eq(n - take)
            for i in range(3):
                nxt = slots[i + 1] if i < 2 else slots[i]
                with m.If(inflight & (pos == i)):
                    m.d.sync += slots[i].eq(self.rdata)
                with m.Elif(take):
                    m.d.sync += slots[i].eq(nxt)
            m.d.sync += n.eq(n + inflight - take)
            with m.If(self.flush):
                m.d.sync += [n.eq(0), inflight.eq(0)]
            return m

        skid, skid_valid = Signal(shape), Signal()
        level = out_valid + skid_valid + inflight
        m.d.comb += self.issue.eq(self.more & ((level <= 1) | ((level == 2) & take)))
        # The queue [out, skid] loses its head on take and gains rdata.
        with m.If(~out_valid | take):
            with m.If(skid_valid):
                m.d.sync += [out.eq(skid), out_valid.eq(1), skid_valid.eq(inflight)]
                with m.If(inflight):
                    m.d.sync += skid.eq(self.rdata)
            with m.Else():
                m.d.sync += [out.eq(self.rdata), out_valid.eq(inflight)]
        with m.Elif(inflight):
            m.d.sync += [skid.eq(self.rdata), skid_valid.eq(1)]
        with m.If(self.flush):
            m.d.sync += [out_valid.eq(0), skid_valid.eq(0), inflight.eq(0)]
        return m


class _Src(enum.Enum, shape=3):
    """Where a pending bus read's answer comes from."""
    REG = 0
    WEIGHTS = 1
    BIAS = 2
    MULT = 3
    SHIFT = 4
    ZERO = 5       # an unmapped register offset: reads as 0


class LeftTile(wiring.Component):
    """A left tile at node ``(x, y)`` of a chip of config ``cfg``
    (:class:`rtl.config.HemiConfig`)."""

    def __init__(self, cfg, x, y):
        self.cfg, self.x, self.y = cfg, x, y
        lay = link_layout(cfg.callosum.flit_width)
        super().__init__({
            "i_flit": In(stream.Signature(lay)),
            "o_flit": Out(stream.Signature(lay)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        lc = self.cfg.left
        R, C = lc.rows, lc.cols
        wpr = left_words_per_row(C)
        w_words = lc.weight_rows * wpr                 # mapped WEIGHTS offsets
        epi_tiles = -(-lc.max_n // C)                  # BIAS/MULT/SHIFT rows
        act_rows = -(-lc.max_k // R)
        assert C <= 1 << EPI_COL_BITS

        m.submodules.port = port = TilePort(
            self.cfg.callosum, self.x, self.y,
            accepts=["CONFIG_WRITE", "WEIGHTS", "CONFIG_READ", "ACTIVATION"], senders=1,
            slices=self.cfg.chip.link_slices)
        m.submodules.vec = vec = VectorSender(self.cfg.callosum.flit_width)
        # The tile only requantizes (int8 vectors out): a core without RAW
        # output, whose output FIFO keeps 8 bits a lane; its commands' K and
        # N are the K and N registers, at most max_k and max_n. Its commands
        # (M = 1, K and N from those registers, which refuse 0 and anything
        # past max_k / max_n) are always valid: it checks none and its error
        # count (CORE_ERRORS) stays 0.
        # K and N stay on its command port for the whole layer (l_k and l_n
        # change only when the next vector starts, after this layer's
        # output has left): the core keeps no copy of them.
        held_epi = self.cfg.chip.link_slices     # (see the epilogue feeder below)
        m.submodules.core = core = LeftCore(lc, raw=False, max_k=lc.max_k, max_n=lc.max_n, checked=False,
                                            steady_cmd=True, registered_adv=held_epi)
        L = core.layouts
        wiring.connect(m, wiring.flipped(self.i_flit), port.i_flit)
        wiring.connect(m, port.o_flit, wiring.flipped(self.o_flit))
        wiring.connect(m, vec.o_tx, port.tx(0))

        # ---- stores ------------------------------------------------------------
        # Every store has one write port (the bus) and one read port, shared
        # by bus reads (first) and the layer's feeder.
        def store(name, shape, depth, granularity=None, attrs=None):
            mem = Memory(shape=shape, depth=depth, init=[], attrs=attrs)
            m.submodules[name] = mem
            wp = mem.write_port(granularity=granularity)
            return wp, mem.read_port()

        # The weight store is the tile's largest memory (4096 x 8 on tiny: 8
        # block RAMs on the iCE40). It is used as a single-port memory (one
        # address for both ports, no read in a cycle that writes; see the
        # weight feeder below), so on an iCE40 with SPRAM (the UP5K) it is
        # marked for SB_SPRAM256KA, which yosys maps only single-port
        # memories to. Elsewhere it stays ordinary block RAM.
        huge = {"ram_style": "huge"} if _has_spram(platform) else None
        # No store is read and written in one cycle (see the feeders below):
        # all are marked so (rtl.memattrs), for the FPGA flow.
        nc = no_collision(platform)
        w_wp, w_rp = store("weights", L.weights, lc.weight_rows, granularity=1,
                           attrs=no_collision(platform, huge))
        b_wp, b_rp = store("bias", L.epi.members["bias"], epi_tiles, granularity=1, attrs=nc)
        k_wp, k_rp = store("mult", L.epi.members["multiplier"], epi_tiles, granularity=1, attrs=nc)
        s_wp, s_rp = store("shift", L.epi.members["shift"], epi_tiles, granularity=1, attrs=nc)
        a_wp, a_rp = store("act", L.act, act_rows, granularity=1, attrs=nc)

        # ---- registers ---------------------------------------------------------
        reg_k = Signal(range(lc.max_k + 1), init=1)
        reg_n = Signal(range(lc.max_n + 1), init=1)
        reg_dest = Signal(6)
        reg_epi = Signal(9)
        bus_errors = Signal(16)
        # A statistics counter: chip.counter_bits wide, wraps, reads
        # zero-extended.
        gemms = Signal(self.cfg.chip.counter_bits)
        errors_sum = port.errors + bus_errors
        errors = Mux(errors_sum[16], 0xFFFF, errors_sum[:16])      # saturated

        # Layer state, latched when a vector's last element is taken.
        running = Signal()
        l_k = Signal.like(reg_k)
        l_n = Signal.like(reg_n)
        l_dest = Signal.like(reg_dest)
        l_zp = Signal(signed(8))
        l_relu = Signal()
        # The vector sender reads its destination while it sends, and the next
        # layer may start (and latch DEST again) before the previous vector
        # has left: the sender gets its own copy, taken with each vector's
        # first element (the only element it takes while idle).
        tx_dest = Signal.like(reg_dest)
        m.d.comb += [vec.dst_x.eq(tx_dest[:3]), vec.dst_y.eq(tx_dest[3:6])]

        # ---- bus ---------------------------------------------------------------
        bus = port.o_bus
        blk = bus.payload.addr[BLOCK_SHIFT:]
        off = bus.payload.addr[:BLOCK_SHIFT]
        wdata = bus.payload.data
        rd_valid = Signal()            # a read's store data arrives this cycle
        ans_valid = Signal()           # its answer waits on i_rdata
        # One read at a time (the port waits for each answer anyway); bus
        # accesses never wait on the layer.
        m.d.comb += bus.ready.eq(~rd_valid & ~ans_valid)
        acc = bus.valid & bus.ready
        wr = acc & bus.payload.write
        rd = acc & ~bus.payload.write

        w_row, w_word = _divmod_const(off, wpr, w_words)
        w_hit = (blk == LeftBlock.WEIGHTS) & _below(off, w_words)
        e_tile, e_col = off[EPI_COL_BITS:], off[:EPI_COL_BITS]
        e_ok = _below(e_tile, epi_tiles) & _below(e_col, C)
        b_hit = (blk == LeftBlock.BIAS) & e_ok
        k_hit = (blk == LeftBlock.MULT) & e_ok
        s_hit = (blk == LeftBlock.SHIFT) & e_ok
        is_reg = (blk == LeftBlock.TILE_REGS)

        # Store writes: a weight word fills lanes 4w..4w+3 of its row; an
        # epilogue word fills one column of its tile.
        m.d.comb += [b_wp.addr.eq(e_tile), k_wp.addr.eq(e_tile), s_wp.addr.eq(e_tile)]
        for c in range(C):
            lane = c % ELEMENTS_PER_WORD
            m.d.comb += [
                w_wp.data[c].eq(wdata.word_select(lane, 8)),
                w_wp.en[c].eq(wr & w_hit & (w_word == c // ELEMENTS_PER_WORD)),
                b_wp.data[c].eq(wdata), k_wp.data[c].eq(wdata), s_wp.data[c].eq(wdata[:5]),
                b_wp.en[c].eq(wr & b_hit & (e_col == c)),
                k_wp.en[c].eq(wr & k_hit & (e_col == c)),
                s_wp.en[c].eq(wr & s_hit & (e_col == c)),
            ]

        # Register writes; anything refused counts in ERRORS.
        bad = Signal()
        k_ok = (wdata != 0) & _below(wdata, lc.max_k + 1)
        n_ok = (wdata != 0) & _below(wdata, lc.max_n + 1)
        # (The eight registers are offsets 0-7: the switch looks at 3 bits,
        # the rest of the offset is tested for zero once.)
        reg_off = _below(off, len(LeftReg))
        with m.If(is_reg & ~reg_off):
            m.d.comb += bad.eq(1)
        with m.Elif(is_reg):
            with m.Switch(off[:3]):
                with m.Case(LeftReg.K):
                    with m.If(wr & k_ok):
                        m.d.sync += reg_k.eq(wdata)
                    m.d.comb += bad.eq(bus.payload.write & ~k_ok)
                with m.Case(LeftReg.N):
                    with m.If(wr & n_ok):
                        m.d.sync += reg_n.eq(wdata)
                    m.d.comb += bad.eq(bus.payload.write & ~n_ok)
                with m.Case(LeftReg.DEST):
                    with m.If(wr):
                        m.d.sync += reg_dest.eq(wdata)
                with m.Case(LeftReg.EPI):
                    with m.If(wr):
                        m.d.sync += reg_epi.eq(wdata)
                with m.Case(LeftReg.KIND, LeftReg.ERRORS, LeftReg.GEMMS, LeftReg.CORE_ERRORS):
                    m.d.comb += bad.eq(bus.payload.write)
                with m.Default():
                    m.d.comb += bad.eq(1)
        with m.Elif(~(w_hit | b_hit | k_hit | s_hit)):
            m.d.comb += bad.eq(1)
        _sat_inc(m, bus_errors, acc & bad)

        # Reads: the register's number (or the store's column/word) is noted
        # when the read is taken; the next cycle the store data is there and
        # the answer, a store's word or the register's value, is registered
        # for i_rdata. (A register is read in that next cycle, not copied
        # when the read is taken: 32 flip-flops fewer. Only the counters may
        # have moved by then; the bus waits, so no register write can.)
        rd_src = Signal(_Src)
        rd_sel = Signal(range(max(wpr, C, len(LeftReg))))
        reg_val = Signal(32)
        assert len(LeftReg) == 8 and max(LeftReg) == 7
        with m.Switch(rd_sel[:3]):
            for reg, val in ((LeftReg.KIND, NodeKind.LEFT), (LeftReg.K, reg_k), (LeftReg.N, reg_n),
                             (LeftReg.DEST, reg_dest), (LeftReg.EPI, reg_epi),
                             (LeftReg.ERRORS, errors), (LeftReg.GEMMS, gemms),
                             (LeftReg.CORE_ERRORS, core.errors)):
                with m.Case(reg):
                    m.d.comb += reg_val.eq(val)
        bus_rd_w, bus_rd_b = rd & w_hit, rd & b_hit
        bus_rd_k, bus_rd_s = rd & k_hit, rd & s_hit
        m.d.sync += rd_valid.eq(rd)
        with m.If(rd):
            m.d.sync += [rd_src.eq(Mux(is_reg & reg_off, _Src.REG, _Src.ZERO)),
                         rd_sel.eq(Mux(is_reg, off[:3], e_col))]
            with m.If(w_hit):
                m.d.sync += [rd_src.eq(_Src.WEIGHTS), rd_sel.eq(w_word)]
            with m.If(b_hit):
                m.d.sync += rd_src.eq(_Src.BIAS)
            with m.If(k_hit):
                m.d.sync += rd_src.eq(_Src.MULT)
            with m.If(s_hit):
                m.d.sync += rd_src.eq(_Src.SHIFT)

        ans = Signal(32)
        rd_col = rd_sel[:ceil_log2(C)] if C > 1 else 0     # (rd_sel also holds a register's number)
        with m.If(rd_valid):
            m.d.sync += ans_valid.eq(1)
            with m.Switch(rd_src):
                with m.Case(_Src.REG):
                    m.d.sync += ans.eq(reg_val)
                with m.Case(_Src.ZERO):
                    m.d.sync += ans.eq(0)
                with m.Case(_Src.WEIGHTS):
                    # The word's four lanes, packed like pack_int8.
                    with m.Switch(rd_sel):
                        for w in range(wpr):
                            lanes = [w_rp.data[c].as_unsigned() if c < C else Const(0, 8)
                                     for c in range(w * 4, w * 4 + 4)]
                            with m.Case(w):
                                m.d.sync += ans.eq(Cat(*lanes))
                with m.Case(_Src.BIAS):
                    m.d.sync += ans.eq(b_rp.data[rd_col].as_unsigned())
                with m.Case(_Src.MULT):
                    m.d.sync += ans.eq(k_rp.data[rd_col].as_unsigned())
                with m.Case(_Src.SHIFT):
                    m.d.sync += ans.eq(s_rp.data[rd_col])
        with m.Elif(port.i_rdata.ready):
            m.d.sync += ans_valid.eq(0)
        m.d.comb += [port.i_rdata.valid.eq(ans_valid), port.i_rdata.payload.eq(ans)]

        # ---- activation input --------------------------------------------------
        act = port.o_act
        # (One row: every element is a row, and the lane counter stays 0,
        # which yosys cannot see.)
        a_lane = Const(0, 1) if R == 1 else Signal(range(max(R, 2)))
        a_row = Signal(range(max(act_rows, 2)))
        a_full = Signal()              # max_k elements taken: drop the rest
        m.d.comb += act.ready.eq(~running)
        a_take = act.valid & act.ready
        m.d.comb += a_wp.addr.eq(a_row)
        for r in range(R):
            m.d.comb += [a_wp.data[r].eq(act.payload.value),
                         a_wp.en[r].eq(a_take & ~a_full & (a_lane == r))]
        start = a_take & act.payload.last
        with m.If(start):
            m.d.sync += [a_row.eq(0), a_full.eq(0)]
            if R > 1:
                m.d.sync += a_lane.eq(0)
        with m.Elif(a_take & ~a_full):
            if R == 1:
                m.d.sync += a_row.eq(a_row + 1)
            else:
                with m.If(a_lane == R - 1):
                    m.d.sync += [a_lane.eq(0), a_row.eq(a_row + 1)]
                with m.Else():
                    m.d.sync += a_lane.eq(a_lane + 1)
            with m.If((a_row == (lc.max_k - 1) // R) & (a_lane == (lc.max_k - 1) % R)):
                m.d.sync += a_full.eq(1)

        # ---- layer start: latch the registers, restart the feeders -------------
        # The three feeders read their stores in the core's order for as long
        # as the layer runs, without counting where the layer ends: the core
        # takes exactly the beats of its command, and what a feeder read past
        # them (rows of the store past the layer, or the activations again)
        # is flushed when the next layer starts, which also restarts their
        # address counters. (The column-tile counters, their compares with N
        # and the per-feeder run flags are not needed.)
        cmd_pending = Signal()
        with m.If(start):
            m.d.sync += [running.eq(1), cmd_pending.eq(1),
                         l_k.eq(reg_k), l_n.eq(reg_n), l_dest.eq(reg_dest),
                         l_zp.eq(reg_epi[:8]), l_relu.eq(reg_epi[8])]

        # Command.
        m.d.comb += [core.i_cmd.valid.eq(cmd_pending), core.i_cmd.payload.m.eq(1),
                     core.i_cmd.payload.k.eq(l_k), core.i_cmd.payload.n.eq(l_n)]
        with m.If(core.i_cmd.valid & core.i_cmd.ready):
            m.d.sync += cmd_pending.eq(0)

        # Weights: store rows 0 upward (per column tile, K rows).
        # (With the link slices, a clock where the core's enable is a wide
        # late net, queue 3: see _ReadStream.)
        fast_queue = 3 if self.cfg.chip.link_slices else None
        m.submodules.w_feed = w_feed = _ReadStream(L.weights, queue=fast_queue or 2)
        w_addr = Signal(range(max(lc.weight_rows, 2)))
        # The weight store is single-port: any bus access to it (a write as
        # well as a read) takes the port's one address for the cycle and the
        # feeder skips that cycle, so no read is issued while it is written.
        # (The feeder never issues while the bus has the port; the read
        # enable is gated with the bus write all the same, so that yosys,
        # which needs to prove that read and write never meet before it maps
        # the store to SPRAM, sees it here and not through the feeder.)
        bus_w, bus_wr_w = acc & w_hit, wr & w_hit
        w_port_addr = Signal(range(max(lc.weight_rows, 2)))
        m.d.comb += [w_port_addr.eq(Mux(bus_w, w_row, w_addr)),
                     w_feed.more.eq(running & ~bus_w), w_feed.rdata.eq(w_rp.data),
                     w_feed.flush.eq(start),
                     w_wp.addr.eq(w_port_addr), w_rp.addr.eq(w_port_addr),
                     w_rp.en.eq((bus_rd_w | w_feed.issue) & ~bus_wr_w)]
        with m.If(w_feed.issue):
            m.d.sync += w_addr.eq(w_addr + 1)
        with m.If(start):
            m.d.sync += w_addr.eq(0)
        wiring.connect(m, w_feed.o, core.i_w)

        # Activations: per column tile, buffer rows 0 .. ceil(K / rows) - 1.
        # (Queue 0 otherwise: the bus never reads the buffer.)
        m.submodules.x_feed = x_feed = _ReadStream(L.act, queue=fast_queue or 0)
        x_row = Signal.like(a_row)
        # (The row's first element, x_row * rows, is not counted apart: a
        # wire for the 1 x 1 and other power-of-two arrays.)
        # (It reads only while the layer runs: the buffer is written only
        # while it does not.)
        m.d.comb += [x_feed.more.eq(running), x_feed.rdata.eq(a_rp.data), x_feed.flush.eq(start),
                     a_rp.addr.eq(x_row), a_rp.en.eq(x_feed.issue)]
        with m.If(x_feed.issue):
            # (One row: x_row < K, so the end is an equality, no carry chain.)
            with m.If(x_row + 1 == l_k if R == 1 else (x_row + 1) * R >= l_k):
                m.d.sync += x_row.eq(0)
            with m.Else():
                m.d.sync += x_row.eq(x_row + 1)
        with m.If(start):
            m.d.sync += x_row.eq(0)
        wiring.connect(m, x_feed.o, core.i_act)

        # Epilogue: one beat per column tile from the three stores. Without
        # the link slices the beat waits in the stores' own read ports (their
        # data holds while not enabled), not in a copy (79 flip-flops, each
        # a logic cell on the iCE40): it is valid from the cycle after its
        # read until it is taken, and a bus read of any of the three stores,
        # which takes that port's data, drops it and it is read again (the
        # tile counter advances only when a beat is taken; the core is built
        # with registered_adv=False for that). Zero point and relu are the
        # layer's, steady while it runs. One beat per two cycles at most.
        e_t = Signal(range(max(epi_tiles, 2)))
        e_have = Signal()              # the read ports hold beat e_t
        # Any bus access to the three stores (a write as well as a read) takes
        # the feeder's cycle, so no store is ever read and written in one
        # cycle: nothing depends on a block RAM's read-during-write behaviour.
        # (The same holds for the weight store, and for the activation
        # buffer, written only between layers and read only during one.)
        bus_e = acc & (b_hit | k_hit | s_hit)
        epi = core.i_epi
        m.d.comb += [epi.payload.zero_point.eq(l_zp), epi.payload.relu.eq(l_relu),
                     epi.payload.mode.eq(OutMode.REQUANT), epi.valid.eq(e_have)]
        e_take = epi.valid & epi.ready
        if held_epi:
            # The core's enable is a register decided a cycle early, which
            # needs a beat to hold until taken: the beat is copied into
            # registers in the cycle after its read (a bus read may take the
            # ports from then on). One beat per three cycles at most.
            e_read = Signal()          # the ports hold beat e_t (read last cycle)
            e_issue = running & ~bus_e & ~e_have & ~e_read
            beat = [Signal.like(epi.payload.bias), Signal.like(epi.payload.multiplier),
                    Signal.like(epi.payload.shift)]
            m.d.sync += e_read.eq(e_issue)
            with m.If(e_read):
                m.d.sync += [r.eq(rp.data) for r, rp in zip(beat, (b_rp, k_rp, s_rp))]
                m.d.sync += e_have.eq(1)
            with m.If(e_take):
                m.d.sync += e_have.eq(0)
            with m.If(start):
                m.d.sync += e_read.eq(0)
        else:
            e_issue = running & ~bus_e & ~e_have
            beat = [b_rp.data, k_rp.data, s_rp.data]
            with m.If(e_issue):
                m.d.sync += e_have.eq(1)
            with m.If(e_take | bus_rd_b | bus_rd_k | bus_rd_s):
                m.d.sync += e_have.eq(0)
        m.d.comb += [epi.payload.bias.eq(beat[0]), epi.payload.multiplier.eq(beat[1]),
                     epi.payload.shift.eq(beat[2])]
        for rp, hit in ((b_rp, bus_rd_b), (k_rp, bus_rd_k), (s_rp, bus_rd_s)):
            m.d.comb += [rp.addr.eq(Mux(hit, e_tile, e_t)), rp.en.eq(hit | e_issue)]
        with m.If(e_take):
            m.d.sync += e_t.eq(e_t + 1)     # (past the last tile: read, never taken, flushed)
        with m.If(start):
            m.d.sync += [e_t.eq(0), e_have.eq(0)]

        # ---- output: row lanes -> vector elements -------------------------------
        o_lane = Signal(range(max(C, 2)))
        o_n0 = Signal(range(lc.max_n + C))
        row = core.o.payload
        # (One column: every row is one element, and o_lane and o_n0 are
        # not needed; yosys cannot see that o_lane stays 0.)
        lane_end = Const(1, 1) if C == 1 else (o_lane == C - 1) | (o_n0 + o_lane + 1 >= l_n)
        elem = vec.i_elem
        m.d.comb += [
            elem.valid.eq(core.o.valid),
            elem.payload.value.eq(row.data[o_lane][:8]),     # requantized: int8 sign-extended
            elem.payload.last.eq(row.last & lane_end),
            core.o.ready.eq(elem.ready & lane_end),
        ]
        with m.If(elem.valid & elem.ready & ~vec.busy):
            m.d.sync += tx_dest.eq(l_dest)
        with m.If(elem.valid & elem.ready):
            if C > 1:
                m.d.sync += o_lane.eq(o_lane + 1)
            with m.If(lane_end):
                if C > 1:
                    m.d.sync += [o_lane.eq(0), o_n0.eq(Mux(row.last, 0, o_n0 + C))]
                with m.If(row.last):
                    # The layer's final element: the vector sender takes it from here.
                    m.d.sync += [running.eq(0), gemms.eq(gemms + 1)]

        # ---- busy ----------------------------------------------------------------
        # `running` is set on the edge that takes the last input element and
        # cleared on the edge that hands the last output element to the vector
        # sender (busy from then on), so there is no idle cycle in between.
        # (The feeders' queues count only while the layer runs: after it,
        # they hold beats read past its end, flushed by the next start.)
        m.d.comb += self.busy.eq(port.busy | vec.busy | core.busy | running | cmd_pending
                                 | rd_valid | ans_valid)
        return m
