"""The right core: event-driven integration into per-lane accumulators, a
lane-parallel LIF update per time step, spike emission, and a config/debug
port over every memory. See README "The right core" for the protocol.

Neuron n lives in lane ``n % lanes`` of group ``n // lanes``; every per-neuron
memory is banked by lane, so the update reads and writes ``lanes`` neurons per
cycle, and a synapse row (``lanes`` entries, entry j aimed at a neuron of lane
j) adds into ``lanes`` accumulators per cycle without conflicts.

Integrate pipeline (one synapse row per cycle, events back to back)::

    i_in EVENT -> pointer table -> row generator -> synapse memory
               -> accumulator read -> saturating add -> accumulator write

Consecutive rows may hit the same accumulator: its read port is transparent
to its write port, so the sum written in one cycle is the value read in the
same cycle.

Update (after a TICK, once the event pipeline is empty): one group per cycle
through ``LifLane`` (``LATENCY`` stages); the accumulator is cleared as it is read;
groups with spikes queue their lane masks in a FIFO deep enough for every
group, so emission never stalls the update; the serialiser emits ids in
increasing order and then one ``done`` beat.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..memattrs import no_collision
from ..common import cmp
from ..common.fifo import LeanFIFO
from .layouts import ID_WORD, LANE_BITS, REGION_SHIFT, InKind, Reg, Region, RightLayouts
from .neuron import ACC_SHAPE, V_SHAPE, LifLane, saturate

ACC_MAX = (1 << 23) - 1
ACC_MIN = -(1 << 23)


def _has_spram(platform):
    """The platform is an iCE40 with single-port RAM blocks (UltraPlus)."""
    device = str(getattr(platform, "device", "") or "")
    return device.startswith(("iCE40UP", "iCE5LP"))


def _sat_counter(m, sig, inc):
    # Saturation from the incrementer's carry out (no compare with all ones).
    nxt = Signal(len(sig) + 1, name=f"{sig.name}_inc")
    m.d.comb += nxt.eq(sig + 1)
    with m.If(inc & ~nxt[-1]):
        m.d.sync += sig.eq(nxt)


class RightCore(wiring.Component):
    """Event-driven LIF core for a :class:`rtl.config.RightConfig`.

    Streams: ``i_in`` (events and ticks), ``i_cfg`` (config/debug requests)
    in; ``o_spike`` (spike ids, then a done beat per step), ``o_cfg`` (read
    data) out. Status: ``errors`` (dropped events), ``cfg_errors``,
    ``steps``, ``busy``.
    """

    def __init__(self, cfg, counter_bits=32):
        # counter_bits (chip.counter_bits): width of the statistics counters
        # (steps, sops, integrate/update cycles); they wrap modulo
        # 2**counter_bits and read zero-extended.
        self.cfg = cfg
        self.counter_bits = counter_bits
        self.layouts = L = RightLayouts(cfg)
        super().__init__({
            "i_in": In(stream.Signature(L.inp)),
            "o_spike": Out(stream.Signature(L.spike)),
            "i_cfg": In(stream.Signature(L.cfg_req)),
            "o_cfg": Out(stream.Signature(L.cfg_resp)),
            "errors": Out(16),
            "cfg_errors": Out(16),
            "steps": Out(32),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, lay = self.cfg, self.layouts
        NL, G, A, SR = cfg.lanes, cfg.groups, cfg.axons, cfg.synapse_rows
        GB = lay.group_bits
        entry_w = lay.syn_entry.size

        # ---- memories ------------------------------------------------------
        # Marked (rtl.memattrs) for the FPGA flow: memories never read and
        # written at one address in one cycle. The parameters are written
        # only by config (RUN) and read by config or the update (UPDATE);
        # u/ref and v are also written back by the update, LATENCY + 1
        # groups behind its read (ug only grows within a step, and DRAIN
        # waits for the last write-back). Not the accumulators: integrate
        # reads a group the cycle its previous sum is written (transparent).
        nc = no_collision(platform)

        def lane_mems(name, shape, attrs=None):
            mems = []
            for j in range(NL):
                mem = Memory(shape=shape, depth=G, init=[], attrs=attrs)
                m.submodules[f"{name}{j}"] = mem
                mems.append(mem)
            return mems

        p0_mem = lane_mems("param0_", lay.param0, nc)
        p1_mem = lane_mems("param1_", lay.param1, nc)
        # u and the refractory counter share one memory (read and written
        # together by the update): u in bits 0..24, the counter in 28..31, in
        # 4-bit write lanes, so a config write of one leaves the other. On
        # the iCE40 that is 2 block RAMs per lane instead of 3.
        uref_mem = lane_mems("uref_", unsigned(32), nc)
        v_mem = lane_mems("v_", V_SHAPE, nc)
        acc_mem = lane_mems("acc_", ACC_SHAPE)
        # On an iCE40 with SPRAM (the UP5K) the pointer table and the synapse
        # memory go to SB_SPRAM256KA (yosys would pick block RAM by cost):
        # both are single-port (see the port muxing below), never read in a
        # cycle that writes them: marked (rtl.memattrs) as well.
        huge = {"ram_style": "huge"} if _has_spram(platform) else None
        m.submodules.ptr = ptr_mem = Memory(shape=lay.ptr, depth=A, init=[],
                                            attrs=no_collision(platform, huge))
        m.submodules.syn = syn_mem = Memory(shape=unsigned(entry_w * NL), depth=SR, init=[],
                                            attrs=no_collision(platform, huge))

        def ports(mems, transparent=False):
            out = []
            for mem in mems:
                wp = mem.write_port()
                rp = mem.read_port(transparent_for=(wp,) if transparent else ())
                out.append((rp, wp))
            return out

        p0_p, p1_p, v_p = (ports(x) for x in (p0_mem, p1_mem, v_mem))
        uref_p = [(mem.read_port(), mem.write_port(granularity=4)) for mem in uref_mem]
        u_data = [rp.data[:25].as_signed() for rp, _ in uref_p]
        ref_data = [rp.data[28:32] for rp, _ in uref_p]
        acc_p = ports(acc_mem, transparent=True)
        ptr_wp = ptr_mem.write_port()
        ptr_rp = ptr_mem.read_port()
        syn_wp = syn_mem.write_port(granularity=entry_w)
        syn_rp = syn_mem.read_port()

        # ---- registers and counters ---------------------------------------
        wexp = Signal(3)
        # Groups the update walks: a layer smaller than the core skips the rest.
        upd_groups = Signal(range(G + 1), init=G)
        errors, cfg_errors = Signal(16), Signal(16)
        CB = self.counter_bits
        steps, sops = Signal(CB), Signal(CB)
        cyc_int, cyc_upd = Signal(CB), Signal(CB)
        m.d.comb += [self.errors.eq(errors), self.cfg_errors.eq(cfg_errors), self.steps.eq(steps)]

        # Phases: RUN takes events, ticks and config; UPDATE walks the
        # groups; DRAIN waits for write-back and emission; DONE offers the
        # done beat.
        phase = Signal(range(4))
        RUN, UPDATE, DRAIN, DONE = range(4)

        # ---- integrate pipeline ---------------------------------------------
        p_valid = Signal()                 # pointer read data is waiting
        # (Only the synapse memory's address bits: the row is never used wider.)
        rg_row = Signal(range(SR))
        rg_left = Signal(17)
        # rg_left == 0 and rg_left <= 1, kept as registers: they gate the
        # event input's ready and the pointer read, so a 17-bit compare in
        # front of them would sit on the path into the pointer memory.
        rg_zero = Signal(init=1)
        rg_le1 = Signal(init=1)
        s_valid = Signal()                 # synapse row read data is valid
        a_valid = Signal(NL)
        a_weight = [Signal(signed(8), name=f"a_weight{j}") for j in range(NL)]
        a_group = [Signal(GB, name=f"a_group{j}") for j in range(NL)]
        pipe_empty = ~p_valid & rg_zero & ~s_valid & ~a_valid.any()

        take_p = p_valid & rg_le1
        inp = self.i_in.payload
        resp_valid = Signal()
        rd_pending = Signal()
        # A config request pre-empts events only if it can be served once the
        # event pipeline drains (not while a read answer waits to be taken).
        cfg_wants = self.i_cfg.valid & ~resp_valid & ~rd_pending
        run_ok = (phase == RUN) & ~cfg_wants
        is_tick = inp.kind == InKind.TICK
        # Events enter when the pointer slot frees; a tick waits for the
        # pipeline to drain; config requests pre-empt both.
        m.d.comb += self.i_in.ready.eq(run_ok & Mux(is_tick, pipe_empty, ~p_valid | take_p))
        take_in = self.i_in.valid & self.i_in.ready
        in_range = cmp.lt(inp.axon, A)
        accept_event = take_in & ~is_tick & in_range
        _sat_counter(m, errors, take_in & ~is_tick & ~in_range)

        with m.If(take_p):
            rows = ptr_rp.data.rows
            m.d.sync += [rg_row.eq(ptr_rp.data.base), rg_left.eq(rows),
                         rg_zero.eq(rows == 0), rg_le1.eq(cmp.le(rows, 1))]
        with m.Elif(~rg_zero):
            m.d.sync += [rg_row.eq(rg_row + 1), rg_left.eq(rg_left - 1),
                         rg_zero.eq(rg_le1), rg_le1.eq(cmp.le(rg_left, 2))]
        with m.If(accept_event):
            m.d.sync += p_valid.eq(1)
        with m.Elif(take_p):
            m.d.sync += p_valid.eq(0)
        issue_row = ~rg_zero
        m.d.sync += s_valid.eq(issue_row)

        syn_entries = [data.View(lay.syn_entry, syn_rp.data[j * entry_w:(j + 1) * entry_w])
                       for j in range(NL)]
        for j in range(NL):
            e = syn_entries[j]
            m.d.sync += [a_valid[j].eq(s_valid & e.valid), a_weight[j].eq(e.weight), a_group[j].eq(e.group)]
        with m.If(s_valid):
            m.d.sync += sops.eq(sops + sum((e.valid for e in syn_entries), Const(0, 5)))
        with m.If(~pipe_empty):
            m.d.sync += cyc_int.eq(cyc_int + 1)

        # ---- update pipeline -------------------------------------------------
        ug = Signal(range(G + 1))          # next group to read
        # Stage k of the walk: the read (1), then the lane's stages; the
        # last (w) writes the new state back, a whole group in one cycle (a
        # reset never leaves a group half updated). The group of stage 1
        # clears the accumulators, that of stage P1_DELAY reads param1 (the
        # lane takes it P1_DELAY cycles after the rest). The walk reads
        # groups 0, 1, 2, ... one per cycle, so the write-back address is a
        # counter of write-backs rather than a copy of the group through
        # every stage.
        # (The lanes' latencies: one stage more with right.lif_input_regs.)
        gated = G * NL != cfg.neurons      # the last group has lanes past the last neuron
        lanes = [LifLane(lay, gated=gated, input_regs=cfg.lif_input_regs) for _ in range(NL)]
        lane_lat, p1_delay = lanes[0].LATENCY, lanes[0].P1_DELAY
        u_valids = [Signal(name=f"u{k}_valid") for k in range(1, lane_lat + 2)]
        u_groups = [Signal(GB, name=f"u{k}_group") for k in range(1, p1_delay + 1)]
        upd_read = (phase == UPDATE) & (ug < upd_groups)
        m.d.sync += [u_valids[0].eq(upd_read), u_groups[0].eq(ug)]
        for k in range(1, len(u_valids)):
            m.d.sync += u_valids[k].eq(u_valids[k - 1])
        for k in range(1, len(u_groups)):
            m.d.sync += u_groups[k].eq(u_groups[k - 1])
        u1_valid, u1_group = u_valids[0], u_groups[0]
        p1_valid, p1_group = u_valids[p1_delay - 1], u_groups[-1]
        uw_valid = u_valids[-1]
        uw_group = Signal(GB)
        with m.If(uw_valid):
            m.d.sync += uw_group.eq(uw_group + 1)
        # Config writes of u and ref take a cycle more: loaded into the
        # lane's output registers (LifLane.load) and uw_group, they are
        # written from there the next cycle, by the same port and data path
        # as the update's write-back (uref_pend: which lane and field).
        uref_pend_u = Signal(NL)
        uref_pend_ref = Signal(NL)
        uref_pend = (uref_pend_u | uref_pend_ref).any()
        upd_in_flight = Cat(*u_valids).any()
        for j, lane in enumerate(lanes):
            m.submodules[f"lif{j}"] = lane
            m.d.comb += [
                lane.u.eq(u_data[j]), lane.v.eq(v_p[j][0].data), lane.ref.eq(ref_data[j]),
                lane.acc.eq(acc_p[j][0].data), lane.p0.eq(p0_p[j][0].data), lane.p1.eq(p1_p[j][0].data),
            ]
            if gated:
                m.d.comb += lane.active.eq(cmp.lt(u1_group * NL + j, cfg.neurons))
        spike_mask = Cat(*(lane.spike for lane in lanes))

        # Spike masks of whole groups; every group of a step fits (the
        # buffered FIFO keeps depth-1 entries in memory plus its output
        # register), so the update never waits and nothing is dropped.
        # (LeanFIFO: SyncFIFOBuffered's behaviour, fewer logic cells.)
        m.submodules.spikes = sfifo = LeanFIFO(width=GB + NL, depth=G + 1)
        m.d.comb += [sfifo.w_data.eq(Cat(uw_group, spike_mask)),
                     sfifo.w_en.eq(uw_valid & spike_mask.any())]

        # ---- config port -------------------------------------------------------
        req = self.i_cfg.payload
        region = req.addr[REGION_SHIFT:]
        offset = req.addr[:REGION_SHIFT]
        lane_sel = offset[:LANE_BITS]
        index = offset[LANE_BITS:]
        resp_data = Signal(32)
        rd_region = Signal(4)
        rd_lane = Signal(LANE_BITS)
        rd_reg = Signal(32)          # register reads are answered from here
        is_write = req.write
        # (A read waits while a u/ref write is pending: it could read the
        # word being written.)
        cfg_ok = (phase == RUN) & pipe_empty & ~resp_valid & ~rd_pending & ~(uref_pend & ~is_write)
        m.d.comb += self.i_cfg.ready.eq(cfg_ok)
        take_cfg = self.i_cfg.valid & self.i_cfg.ready

        per_neuron = cmp.lt(index, G) & cmp.lt(lane_sel, NL)
        # (Against constants: logic, not carry chains; see cmp.)
        mapped = Mux(region == Region.REGS, cmp.le(offset, max(Reg)),
                 Mux(region == Region.PTR, cmp.lt(offset, A),
                 Mux(region == Region.SYN, cmp.lt(index, SR) & cmp.lt(lane_sel, NL),
                 Mux(cmp.ge(region, Region.PARAM0) & cmp.le(region, Region.ACC), per_neuron, 0))))
        writable_reg = (offset == Reg.WEXP) | (offset == Reg.GROUPS)
        bad = take_cfg & (~mapped | (is_write & (region == Region.REGS) & ~writable_reg))
        _sat_counter(m, cfg_errors, bad)
        cfg_wr = take_cfg & is_write & ~bad
        cfg_rd = take_cfg & ~is_write

        with m.If(cfg_wr & ((region == Region.U) | (region == Region.REF))):
            m.d.sync += uw_group.eq(index[:GB])
        with m.If(cfg_wr & (region == Region.REGS) & (offset == Reg.WEXP)):
            m.d.sync += wexp.eq(req.data[:3])
        with m.If(cfg_wr & (region == Region.REGS) & (offset == Reg.GROUPS)):
            gb = (G + 1).bit_length()
            m.d.sync += upd_groups.eq(Mux(req.data[gb:].any() | cmp.gt(req.data[:gb], G), G, req.data))
        reg_values = {
            Reg.ID: ID_WORD, Reg.WEXP: wexp, Reg.ERRORS: errors, Reg.CFG_ERRORS: cfg_errors,
            Reg.STEPS: steps, Reg.SOPS: sops, Reg.INTEGRATE_CYCLES: cyc_int,
            Reg.UPDATE_CYCLES: cyc_upd, Reg.SHAPE: cfg.neurons | (NL << 16), Reg.GROUPS: upd_groups,
        }
        # Registers are selected by the low offset bits alone, and only as
        # many as tell the mapped ones apart (0..9: 0xxx, 1xx0, 1xx1): a
        # larger offset is unmapped (rd_region 0xF), and answered 0 whatever
        # rd_reg holds.
        assert max(Reg) == 9
        with m.If(cfg_rd):
            m.d.sync += [rd_pending.eq(1), rd_region.eq(Mux(mapped, region, 0xF)), rd_lane.eq(lane_sel)]
            with m.Switch(offset[:4]):
                for k, val in reg_values.items():
                    with m.Case(f"{k:04b}" if k < 8 else f"1--{k & 1}"):
                        m.d.sync += rd_reg.eq(val)

        # Memory port muxing: update > integrate > config (phases never overlap).
        in_update = phase != RUN
        cfg_idx = index[:GB]
        for j in range(NL):
            lane_hit = cfg_wr & (lane_sel == j)
            for reg_ports, reg_region, value in (
                    (p0_p, Region.PARAM0, req.data[:31]), (p1_p, Region.PARAM1, req.data[:30]),
                    (v_p, Region.V, req.data[:24])):
                rp, wp = reg_ports[j]
                upd_addr, upd_en = (p1_group, p1_valid) if reg_region == Region.PARAM1 else (ug, upd_read)
                m.d.comb += [rp.addr.eq(Mux(in_update, upd_addr, cfg_idx)),
                             rp.en.eq(upd_en | (cfg_rd & (region == reg_region)))]
                if reg_region == Region.V:
                    m.d.comb += [wp.addr.eq(Mux(in_update, uw_group, cfg_idx)),
                                 wp.data.eq(Mux(in_update, lanes[j].v_next, value)),
                                 wp.en.eq(Mux(in_update, uw_valid, lane_hit & (region == reg_region)))]
                else:
                    m.d.comb += [wp.addr.eq(cfg_idx), wp.data.eq(value),
                                 wp.en.eq(lane_hit & (region == reg_region))]
            rp, wp = uref_p[j]
            cfg_u, cfg_ref = lane_hit & (region == Region.U), lane_hit & (region == Region.REF)
            m.d.sync += [uref_pend_u[j].eq(cfg_u), uref_pend_ref[j].eq(cfg_ref)]
            m.d.comb += [
                lanes[j].load.eq(cfg_u | cfg_ref), lanes[j].load_data.eq(req.data[:25]),
                rp.addr.eq(Mux(in_update, ug, cfg_idx)),
                rp.en.eq(upd_read | (cfg_rd & ((region == Region.U) | (region == Region.REF)))),
                # (uw_valid only in the update, a pending write only in RUN.)
                wp.addr.eq(uw_group),
                wp.data.eq(Cat(lanes[j].u_next, Const(0, 3), lanes[j].ref_next)),
                wp.en.eq(Cat((uw_valid | uref_pend_u[j]).replicate(7), uw_valid | uref_pend_ref[j])),
            ]
            # Accumulators: integrate reads a row's target groups and writes
            # the sums; the update reads them and clears them behind itself.
            rp, wp = acc_p[j]
            e = syn_entries[j]
            acc_sum = Signal(signed(26), name=f"acc_sum{j}")
            m.d.comb += acc_sum.eq(rp.data + (a_weight[j] << wexp))
            sat = saturate(acc_sum, ACC_SHAPE.width)   # to [ACC_MIN, ACC_MAX]
            with m.If(in_update):
                m.d.comb += [rp.addr.eq(ug), rp.en.eq(upd_read),
                             wp.addr.eq(u1_group), wp.data.eq(0), wp.en.eq(u1_valid)]
            with m.Elif(~pipe_empty):
                m.d.comb += [rp.addr.eq(e.group), rp.en.eq(s_valid),
                             wp.addr.eq(a_group[j]), wp.data.eq(sat), wp.en.eq(a_valid[j])]
            with m.Else():
                m.d.comb += [rp.addr.eq(cfg_idx), rp.en.eq(cfg_rd & (region == Region.ACC)),
                             wp.addr.eq(cfg_idx), wp.data.eq(req.data[:24]),
                             wp.en.eq(lane_hit & (region == Region.ACC))]

        # The pointer table and the synapse memory are single-port memories:
        # config writes happen only in RUN with the event pipeline empty and
        # no event being taken (config pre-empts events), so no read is
        # issued while one is written, and read and write share one address.
        # On the iCE40UP5K (synth_ice40 -spram) both become SB_SPRAM256KA.
        ptr_addr = Signal(range(A), name="ptr_addr")
        syn_addr = Signal(range(SR), name="syn_addr")
        m.d.comb += [
            # Selected by cfg_wants, not by the handshakes: an event is taken
            # only while no config request waits, and a config request only
            # while one does, so the select settles before either handshake.
            ptr_addr.eq(Mux(cfg_wants, offset, inp.axon)),
            ptr_rp.addr.eq(ptr_addr),
            ptr_rp.en.eq(accept_event | (cfg_rd & (region == Region.PTR))),
            ptr_wp.addr.eq(ptr_addr), ptr_wp.data.eq(req.data),
            ptr_wp.en.eq(cfg_wr & (region == Region.PTR)),
            syn_addr.eq(Mux(issue_row, rg_row, index)),
            syn_rp.addr.eq(syn_addr),
            syn_rp.en.eq(issue_row | (cfg_rd & (region == Region.SYN))),
            syn_wp.addr.eq(syn_addr),
            syn_wp.data.eq(Cat(*([req.data[:8], req.data[8:8 + GB], req.data[31]] * NL))),
        ]
        for j in range(NL):
            m.d.comb += syn_wp.en[j].eq(cfg_wr & (region == Region.SYN) & (lane_sel == j))

        # Read responses: one cycle after the request, from the addressed memory.
        def lane_mux(port_list):
            return lane_mux_of([Value.cast(rp.data) for rp, _ in port_list])

        # A mapped per-neuron or synapse read has rd_lane < NL: lane 0 is the
        # default of the chain (no gates at all with one lane).
        def lane_mux_of(words):
            val = words[0]
            for j in range(1, len(words)):
                val = Mux(rd_lane == j, words[j], val)
            return val

        syn_lane = lane_mux_of([Cat(e.weight, e.group, Const(0, 23 - GB), e.valid) for e in syn_entries])
        # The answer as an AND-OR of the sources (one decoded select each),
        # the sign extensions apart: u, v and acc fill bits 24..31 from one
        # shared sign bit, not each its own in every bit.
        # (rd_region 0xF, unmapped: no select, the answer is 0.)
        sel = {r: rd_region == r for r in Region}
        u_w, v_w, acc_w = lane_mux_of(u_data), lane_mux(v_p), lane_mux(acc_p)
        sources = [
            (Region.REGS, rd_reg), (Region.PTR, Value.cast(ptr_rp.data)), (Region.SYN, syn_lane),
            (Region.PARAM0, lane_mux(p0_p)), (Region.PARAM1, lane_mux(p1_p)),
            (Region.U, u_w[:24]), (Region.V, v_w[:24]), (Region.REF, lane_mux_of(ref_data)),
            (Region.ACC, acc_w[:24]),
        ]
        sign = (sel[Region.U] & u_w[24]) | (sel[Region.V] & v_w[23]) | (sel[Region.ACC] & acc_w[23])
        answer = sign.replicate(8) << 24
        for region_, word in sources:
            answer = answer | (sel[region_].replicate(len(word)) & word)
        with m.If(rd_pending):
            m.d.sync += [rd_pending.eq(0), resp_valid.eq(1), resp_data.eq(answer)]
        m.d.comb += [self.o_cfg.valid.eq(resp_valid), self.o_cfg.payload.eq(resp_data)]
        with m.If(self.o_cfg.valid & self.o_cfg.ready):
            m.d.sync += resp_valid.eq(0)

        # ---- phases ----------------------------------------------------------------
        tick = take_in & is_tick
        with m.Switch(phase):
            with m.Case(RUN):
                with m.If(tick):
                    m.d.sync += [phase.eq(Mux(upd_groups == 0, DRAIN, UPDATE)), ug.eq(0), uw_group.eq(0)]
            with m.Case(UPDATE):
                ug_next = ug + 1
                m.d.sync += ug.eq(ug_next)
                # (The increment's sum compared, not a decrement of upd_groups.)
                with m.If(ug_next == upd_groups):
                    m.d.sync += phase.eq(DRAIN)
            with m.Case(DRAIN):
                pass   # left below, once write-back and emission are done
            with m.Case(DONE):
                with m.If(self.o_spike.ready):
                    m.d.sync += [phase.eq(RUN), steps.eq(steps + 1)]
        with m.If((phase == UPDATE) | ((phase == DRAIN) & upd_in_flight)):
            m.d.sync += cyc_upd.eq(cyc_upd + 1)

        # ---- spike serialiser --------------------------------------------------------
        cur_group = Signal(GB)
        cur_mask = Signal(NL)
        low = Signal(range(max(NL, 2)))     # lowest set lane of cur_mask
        for j in reversed(range(NL)):
            with m.If(cur_mask[j]):
                m.d.comb += low.eq(j)
        have = cur_mask.any()
        neuron_id = Signal(16)
        m.d.comb += neuron_id.eq(cur_group * NL + low)
        emitting = self.o_spike.valid & self.o_spike.ready & have
        m.d.comb += sfifo.r_en.eq(~have | (emitting & ((cur_mask & (cur_mask - 1)) == 0)))
        with m.If(sfifo.r_en & sfifo.r_rdy):
            m.d.sync += [cur_group.eq(sfifo.r_data[:GB]), cur_mask.eq(sfifo.r_data[GB:])]
        with m.Elif(emitting):
            m.d.sync += cur_mask.eq(cur_mask & (cur_mask - 1))
        with m.If((phase == DRAIN) & ~upd_in_flight & ~have & ~sfifo.nonempty):
            m.d.sync += phase.eq(DONE)

        m.d.comb += [
            self.o_spike.valid.eq(have | (phase == DONE)),
            self.o_spike.payload.neuron.eq(Mux(have, neuron_id, 0)),
            self.o_spike.payload.done.eq(~have & (phase == DONE)),
            self.busy.eq((phase != RUN) | ~pipe_empty | have | sfifo.nonempty | resp_valid | rd_pending
                         | uref_pend),
        ]
        return m
