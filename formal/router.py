"""The callosum router (rtl/callosum/router.py), the middle router (1, 1) of
a 3 x 3 mesh, so all five ports route; flit_width 24, fifo_depth 2.

Environment (assumed) on each input link: any valid/ready behaviour, with
the flits it hands over forming well-formed packets (a HEAD whose length L
>= 1 is followed by L - 1 BODY flits and a TAIL, or a SINGLE of length 0),
to any destination (3-bit coordinates) that XY routing can bring in by that
link (what the neighbour's proof asserts of its output: the router builds
only XY-legal turns): ``dst_x == x`` and ``dst_y >= y`` on N, ``dst_x ==
x`` and ``dst_y <= y`` on S, ``dst_x >= x`` on W, ``dst_x <= x`` on E, any
on L. The local input without a validator (``local_check=False``) may also carry
destinations off the mesh, which the router drops with the rest of their
packet. With a validator (``local_check=True``, ``router_local_check``)
the validator is replaced by :class:`ValidatorContract`, a free source
assumed to keep the contract that the ``validator`` proof (formal/
validator.py) proves of the real one for any input at all: together they
cover the router with its validator, while the validator's 32-entry buffer
stays out of the router's proof. Outputs: ``ready`` is free.

Properties (asserted every cycle):

* one flit, one place: each popped input flit leaves by exactly one output
  (or is dropped, only where the router must drop: an off-mesh local
  packet), unaltered, and every output transfer is such a flit; at most one
  input is granted per output per cycle;
* XY routing: every flit leaves by the output the golden model
  (sw_model.callosum.output_port) gives for its packet's destination;
* end to end, by a tracked flit: any one flit written into an input FIFO
  (chosen by a free input) comes out exactly once, at its packet's XY
  output, with its data;
* wormhole: once a head takes an output, only its packet's flits use the
  output until its tail; each output carries well-formed packets (what the
  next router's input assumes), and obeys the stream rules;
* bounded wait (``router_live``, which also assumes every output always
  ready and no gaps inside a packet on the links): a head waiting at an
  output is granted within 79 cycles: at most 15 cycles for the packet
  holding the output, then at most 4 packets of at most 16 flits ahead of
  it in round robin order.

The inductive invariants that let k-induction close (the router's lock and
round robin state against the harness's monitors, the FIFOs' contents
against the packet framing) are asserted too, so they are proven as well.
"""

from types import SimpleNamespace

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Assume, Cat, Cover, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

import rtl.callosum.router as router_mod
from rtl.callosum.layouts import BODY, HEAD, SINGLE, TAIL, Port, head_layout, link_layout
from rtl.callosum.router import Router
from rtl.config import CallosumConfig
from sw_model import callosum as golden

from .common import Harness, ProbedSyncFIFO, Proof, driven_signals, popcount, select

PORTS = list(Port)
N = len(PORTS)
DROP = N                       # "dropped" in a 3-bit route code
MAX_FLITS = golden.MAX_LENGTH + 1   # flits in the longest packet
MAX_LEN = golden.MAX_LENGTH


class ValidatorContract(wiring.Component):
    """Stands in for the PacketValidator in ``router_local_check``: the same
    ports, every output free; the harness assumes of its ``o`` only what
    the ``validator`` proof asserts of the real one (stream rules,
    well-formed packets, destinations on the mesh, no gaps in a packet)."""

    def __init__(self, cfg):
        self.cfg = cfg
        lay = link_layout(cfg.flit_width)
        super().__init__({"i": In(stream.Signature(lay)), "o": Out(stream.Signature(lay)),
                          "errors": Out(16), "error_events": Out(2), "drops": Out(2)})

    def elaborate(self, platform):
        m = Module()
        lay = link_layout(self.cfg.flit_width)
        m.d.comb += [self.i.ready.eq(AnySeq(1)), self.o.valid.eq(AnySeq(1)),
                     self.o.payload.eq(AnySeq(lay.size)), self.errors.eq(AnySeq(16)),
                     self.error_events.eq(AnySeq(2)), self.drops.eq(AnySeq(2))]
        return m


class ProbedRouter(Router):
    """Router with read-only probes of its state. Its input FIFOs are
    :class:`ProbedSyncFIFO` (the library FIFO plus read ports showing its
    entries), swapped in only while the router elaborates."""

    def __init__(self, cfg, x, y, validator_contract=False):
        super().__init__(cfg, x, y)
        self.validator_contract = validator_contract
        def sig(shape, name):
            return Signal(shape, name=f"probe_{name}")
        nm = [p.name.lower() for p in PORTS]
        self.p_in_pkt = [sig(1, f"in_pkt_{n}") for n in nm]
        self.p_held = [sig(range(N), f"held_{n}") for n in nm]
        self.p_go = [sig(1, f"go_{i}") for i in range(N)]
        self.p_locked = [sig(1, f"locked_{n}") for n in nm]
        self.p_owner = [sig(range(N), f"owner_{n}") for n in nm]
        self.p_prio = [sig(range(N), f"prio_{n}") for n in nm]
        self.p_pend = [sig(1, f"pend_{n}") for n in nm]
        self.p_pend_sel = [sig(range(N), f"pend_sel_{n}") for n in nm]
        self.p_sel = [sig(range(N), f"sel_{n}") for n in nm]
        self.p_xfer = [sig(1, f"xfer_{n}") for n in nm]
        self.p_discard = sig(1, "discard_l")
        # The read side of each input (its FIFO, or the local validator).
        lay = link_layout(cfg.flit_width)
        depth = cfg.fifo_depth
        self.p_r_valid = [sig(1, f"r_valid_{n}") for n in nm]
        self.p_r_data = [Signal(lay, name=f"probe_r_data_{n}") for n in nm]
        self.p_pop = [sig(1, f"pop_{n}") for n in nm]
        self.p_level = [sig(range(depth + 1), f"level_{n}") for n in nm]
        self.p_slot = [[sig(lay.size, f"slot{k}_{n}") for k in range(depth)] for n in nm]

    def elaborate(self, platform):
        saved = router_mod.fifo, router_mod.PacketValidator
        router_mod.fifo = SimpleNamespace(SyncFIFO=ProbedSyncFIFO)
        if self.validator_contract:
            router_mod.PacketValidator = ValidatorContract
        try:
            m = super().elaborate(platform)
        finally:
            router_mod.fifo, router_mod.PacketValidator = saved
        nm = [p.name.lower() for p in PORTS]
        names = set()
        for n in nm:
            names |= {f"in_pkt_{n}", f"held_{n}", f"locked_{n}", f"owner_{n}", f"prio_{n}",
                      f"pend_{n}", f"pend_sel_{n}", f"sel_{n}", f"xfer_{n}"}
        names |= {f"go_{i}" for i in range(N)}
        if not self.cfg.local_check:
            names.add("discard_l")
        s = driven_signals(m, names)
        for i, n in enumerate(nm):
            m.d.comb += [
                self.p_in_pkt[i].eq(s[f"in_pkt_{n}"]), self.p_held[i].eq(s[f"held_{n}"]),
                self.p_go[i].eq(s[f"go_{i}"]), self.p_locked[i].eq(s[f"locked_{n}"]),
                self.p_owner[i].eq(s[f"owner_{n}"]), self.p_prio[i].eq(s[f"prio_{n}"]),
                self.p_pend[i].eq(s[f"pend_{n}"]), self.p_pend_sel[i].eq(s[f"pend_sel_{n}"]),
                self.p_sel[i].eq(s[f"sel_{n}"]), self.p_xfer[i].eq(s[f"xfer_{n}"]),
            ]
        if not self.cfg.local_check:
            m.d.comb += self.p_discard.eq(s["discard_l"])
        for i, n in enumerate(nm):
            if PORTS[i] == Port.L and self.cfg.local_check:
                val = m.submodules.validator
                m.d.comb += [self.p_r_valid[i].eq(val.o.valid), self.p_r_data[i].eq(val.o.payload),
                             self.p_pop[i].eq(val.o.valid & val.o.ready)]
                continue
            q = m.submodules[f"fifo_{n}"]
            assert isinstance(q, ProbedSyncFIFO)
            m.d.comb += [self.p_r_valid[i].eq(q.r_rdy), self.p_r_data[i].eq(q.r_data),
                         self.p_pop[i].eq(q.r_en & q.r_rdy), self.p_level[i].eq(q.level)]
            m.d.comb += [self.p_slot[i][k].eq(q.p_slot[k]) for k in range(q.depth)]
        return m


class RouterHarness(Harness):
    def __init__(self, *, local_check=False, live=False, fifo_depth=2, flit_width=24,
                 bug=None, invariants=True, validator_contract=False):
        super().__init__()
        self.validator_contract = validator_contract
        self.cfg = CallosumConfig(width=3, height=3, flit_width=flit_width,
                                  fifo_depth=fifo_depth, local_check=local_check)
        self.x, self.y = 1, 1
        self.live, self.bug, self.invariants = live, bug, invariants

    def xy_ok(self, port, flit):
        """A head's destination can arrive by ``port`` under XY routing."""
        head = data.View(head_layout(self.cfg.flit_width), flit.data)
        x, y = self.x, self.y
        return {Port.N: (head.dst_x == x) & (head.dst_y >= y),
                Port.S: (head.dst_x == x) & (head.dst_y <= y),
                Port.W: head.dst_x >= x, Port.E: head.dst_x <= x, Port.L: 1}[port]

    # -- the reference: XY routing from the golden model ------------------
    def ref_route(self, m, flit, port, name):
        """Route code of a head flit arriving at ``port``: its output
        (golden model), or DROP for an off-mesh destination on a local
        input that has no validator."""
        cfg = self.cfg
        head = data.View(head_layout(cfg.flit_width), flit.data)
        table = []
        for dy in range(8):
            for dx in range(8):
                code = int(golden.output_port((self.x, self.y), (dx, dy)))
                if port == Port.L and not cfg.local_check and (dx >= cfg.width or dy >= cfg.height):
                    code = DROP
                table.append(code)
        r = Signal(range(N + 1), name=name)
        with m.Switch(Cat(head.dst_x, head.dst_y)):
            for v, code in enumerate(table):
                with m.Case(v):
                    m.d.comb += r.eq(code)
        return r

    def harness(self, m):
        cfg, D = self.cfg, self.cfg.fifo_depth
        lay = link_layout(cfg.flit_width)
        hlay = head_layout(cfg.flit_width)
        m.submodules.dut = dut = ProbedRouter(cfg, self.x, self.y, self.validator_contract)
        contract = self.validator_contract
        ins, outs = dut.inputs(), dut.outputs()
        has_fifo = [not (p == Port.L and cfg.local_check) for p in PORTS]

        # -- environment: input links --------------------------------------
        lk_left = [Signal(range(MAX_LEN + 1), name=f"lk_left_{p}") for p in range(N)]
        hs = [Signal(name=f"in_hs_{p}") for p in range(N)]
        for p in range(N):
            link = ins[p]
            m.d.comb += [link.valid.eq(AnySeq(1)), link.payload.eq(AnySeq(lay.size)),
                         hs[p].eq(link.valid & link.ready)]
            if not has_fifo[p]:
                continue          # the validator's input: anything at all
            self.stream_rules(m, link.valid, link.ready, link.payload.as_value(), Assume)
            f = link.payload
            length = data.View(hlay, f.data).length
            with m.If(hs[p]):
                with m.If(lk_left[p] == 0):
                    m.d.comb += Assume(((f.kind == HEAD) & (length != 0)) | ((f.kind == SINGLE) & (length == 0)))
                    m.d.comb += Assume(self.xy_ok(PORTS[p], f))
                    m.d.sync += lk_left[p].eq(Mux(f.kind == HEAD, length, 0))
                with m.Else():
                    m.d.comb += Assume(f.kind == Mux(lk_left[p] == 1, TAIL, BODY))
                    m.d.sync += lk_left[p].eq(lk_left[p] - 1)
            if self.live:
                with m.If(lk_left[p] != 0):
                    m.d.comb += Assume(link.valid)     # no gaps inside a packet
        for o in range(N):
            m.d.comb += outs[o].ready.eq(1 if self.live else AnySeq(1))

        # -- the read side of each input: what the router pops -------------
        r_valid, r_data, pop, levels = dut.p_r_valid, dut.p_r_data, dut.p_pop, dut.p_level

        rd_left = [Signal(range(MAX_LEN + 1), name=f"rd_left_{p}") for p in range(N)]
        rd_route = [Signal(range(N + 1), name=f"rd_route_{p}") for p in range(N)]
        route_now = []        # route code of the flit at the head of input p
        is_head = []
        for p in range(N):
            f = r_data[p]
            ref = self.ref_route(m, f, PORTS[p], f"ref_{p}")
            h = f.kind[0]
            now = Signal(range(N + 1), name=f"route_now_{p}")
            m.d.comb += now.eq(Mux(rd_left[p] == 0, ref, rd_route[p]))
            route_now.append(now)
            is_head.append(h & (rd_left[p] == 0))
            length = data.View(hlay, f.data).length
            with m.If(pop[p]):
                with m.If(rd_left[p] == 0):
                    m.d.sync += [rd_left[p].eq(Mux(f.kind == HEAD, length, 0)), rd_route[p].eq(ref)]
                with m.Else():
                    m.d.sync += rd_left[p].eq(rd_left[p] - 1)
            # What the router pops is well formed (for a FIFO, what went in,
            # by the framing invariant; for the validator, its contract).
            check = Assume if (contract and not has_fifo[p]) else Assert
            with m.If(r_valid[p]):
                with m.If(rd_left[p] == 0):
                    m.d.comb += check(((f.kind == HEAD) & (length != 0)) | ((f.kind == SINGLE) & (length == 0)))
                    if not has_fifo[p]:
                        head = data.View(hlay, f.data)
                        m.d.comb += check((head.dst_x < cfg.width) & (head.dst_y < cfg.height))
                with m.Else():
                    m.d.comb += check(f.kind == Mux(rd_left[p] == 1, TAIL, BODY))
            if not has_fifo[p]:
                self.stream_rules(m, r_valid[p], pop[p], f.as_value(), check)
                with m.If(rd_left[p] != 0):
                    m.d.comb += check(r_valid[p])       # no gaps in a packet

        # -- crossbar: one flit, one place ---------------------------------
        sel, xfer = dut.p_sel, dut.p_xfer
        grant = [[xfer[o] & (sel[o] == p) for p in range(N)] for o in range(N)]
        for p in range(N):
            expect_drop = route_now[p] == DROP
            m.d.comb += Assert(popcount([grant[o][p] for o in range(N)]) == (pop[p] & ~expect_drop))
            for o in range(N):
                with m.If(grant[o][p]):
                    m.d.comb += [Assert(outs[o].payload.as_value() == r_data[p].as_value()),
                                 Assert(route_now[p] == o)]
        for o in range(N):
            m.d.comb += Assert(xfer[o] == (outs[o].valid & outs[o].ready))
            m.d.comb += Assert(popcount([pop[p] & (route_now[p] == o) for p in range(N)]) <= 1)
            m.d.comb += Assert(popcount([grant[o][p] for p in range(N)]) == xfer[o])

        # -- outputs: wormhole, framing, stream rules ----------------------
        om_left = [Signal(range(MAX_LEN + 1), name=f"om_left_{o}") for o in range(N)]
        om_src = [Signal(range(N), name=f"om_src_{o}") for o in range(N)]
        om_long = [Signal(name=f"om_long_{o}") for o in range(N)]   # packet of >= 3 flits
        for o in range(N):
            out = outs[o]
            f = out.payload
            length = data.View(hlay, f.data).length
            self.stream_rules(m, out.valid, out.ready, f.as_value(), Assert)
            with m.If(out.valid):
                with m.If(om_left[o] == 0):
                    m.d.comb += Assert(((f.kind == HEAD) & (length != 0)) | ((f.kind == SINGLE) & (length == 0)))
                with m.Else():
                    m.d.comb += [Assert(f.kind == Mux(om_left[o] == 1, TAIL, BODY)),
                                 Assert(sel[o] == om_src[o])]
            with m.If(xfer[o]):
                with m.If(om_left[o] == 0):
                    m.d.sync += [om_left[o].eq(Mux(f.kind == HEAD, length, 0)), om_src[o].eq(sel[o]),
                                 om_long[o].eq(length >= 2)]
                with m.Else():
                    m.d.sync += om_left[o].eq(om_left[o] - 1)
            m.d.comb += Cover(xfer[o] & (f.kind == TAIL) & om_long[o])

        # -- the tracked flit ----------------------------------------------
        tp = Signal(range(N), name="track_port")
        m.d.comb += [tp.eq(AnyConst(range(N))), Assume(tp < N)]
        if not has_fifo[Port.L]:
            m.d.comb += Assume(tp != Port.L)
        pick = Signal(name="track_pick")
        m.d.comb += pick.eq(AnySeq(1))
        IDLE, IN, DONE = 0, 1, 2
        tstate = Signal(range(3), name="track_state")
        tdata = Signal(lay.size, name="track_data")
        troute = Signal(range(N + 1), name="track_route")
        ahead = Signal(range(D), name="track_ahead")
        lk_route = [Signal(range(N + 1), name=f"lk_route_{p}") for p in range(N)]
        link_ref = [self.ref_route(m, ins[p].payload, PORTS[p], f"lk_ref_{p}") for p in range(N)]
        for p in range(N):
            with m.If(hs[p] & (lk_left[p] == 0)):
                m.d.sync += lk_route[p].eq(link_ref[p])
        sel_tp = lambda vals: select(vals, tp)
        w_hs = sel_tp(hs)
        w_flit = sel_tp([ins[p].payload.as_value() for p in range(N)])
        w_route = Mux(sel_tp(lk_left) == 0, sel_tp(link_ref), sel_tp(lk_route))
        lvl = sel_tp(levels)
        t_pop = sel_tp(pop)
        with m.If((tstate == IDLE) & w_hs & pick):
            m.d.sync += [tstate.eq(IN), tdata.eq(w_flit), troute.eq(w_route), ahead.eq(lvl - t_pop)]
        with m.If(tstate == IN):
            m.d.comb += Assert(ahead < lvl)
            with m.If(ahead == 0):
                m.d.comb += [Assert(sel_tp(r_valid)), Assert(sel_tp([d.as_value() for d in r_data]) == tdata),
                             Assert(sel_tp(route_now) == troute)]
            with m.If(t_pop):
                with m.If(ahead == 0):
                    m.d.sync += tstate.eq(DONE)
                    with m.If(troute == DROP):
                        m.d.comb += Assert(popcount([select([grant[o][p] for p in range(N)], tp)
                                                     for o in range(N)]) == 0)
                    with m.Else():
                        for o in range(N):
                            with m.If(troute == o):
                                m.d.comb += [Assert(select([grant[o][p] for p in range(N)], tp)),
                                             Assert(outs[o].payload.as_value() == tdata)]
                with m.Else():
                    m.d.sync += ahead.eq(ahead - 1)
        m.d.comb += Assert(tstate != 3)
        behind = Signal(name="track_behind")
        with m.If((tstate == IDLE) & w_hs & pick & (lvl - t_pop != 0)):
            m.d.sync += behind.eq(1)
        m.d.comb += [Cover(tstate == DONE), Cover((tstate == DONE) & behind & (troute != Port.L)),
                     Cover((tstate == DONE) & ~data.View(lay, tdata).kind[0])]

        # -- bounded wait ----------------------------------------------------
        B = (MAX_FLITS - 1) + (N - 1) * MAX_FLITS
        wait = [Signal(range(B + 2), name=f"wait_{p}") for p in range(N)]
        waiting = []
        for p in range(N):
            wt = Signal(name=f"waiting_{p}")
            m.d.comb += wt.eq(r_valid[p] & is_head[p] & (route_now[p] != DROP) & ~pop[p])
            waiting.append(wt)
            with m.If(wt & (wait[p] != B + 1)):
                m.d.sync += wait[p].eq(wait[p] + 1)
            with m.Elif(~wt):
                m.d.sync += wait[p].eq(0)
        # Two inputs contend for one output.
        for o in (Port.E, Port.L):
            m.d.comb += Cover(popcount([r_valid[p] & is_head[p] & (route_now[p] == o) for p in range(N)]) >= 2)
        # Three for one: only W and L may go east under XY routing, but N, E,
        # W and L may all go south.
        m.d.comb += Cover(popcount([r_valid[p] & is_head[p] & (route_now[p] == Port.S) for p in range(N)]) >= 3)
        if not self.live:
            m.d.comb += Cover(outs[Port.E].valid & ~outs[Port.E].ready & (om_left[Port.E] == 0)
                              & self.past(m, outs[Port.E].valid & ~outs[Port.E].ready))
        if not cfg.local_check:
            m.d.comb += Cover(pop[Port.L] & (route_now[Port.L] == DROP) & is_head[Port.L]
                              & (r_data[Port.L].kind == HEAD))
        m.d.comb += Cover(popcount(xfer) >= 4)

        prio, locked, owner = dut.p_prio, dut.p_locked, dut.p_owner
        if self.live:
            dist = lambda o, i: Mux(prio[o] <= i, i - prio[o], i + N - prio[o])
            for p in range(N):
                o_of = route_now[p]
                for o in range(N):
                    with m.If(waiting[p] & (o_of == o)):
                        phi = Mux(locked[o], select(rd_left, owner[o]), 0) + dist(o, p) * MAX_FLITS
                        m.d.comb += [Assert(wait[p] + phi <= B), Assert(wait[p] <= B)]
            m.d.comb += Cover(wait[Port.W] >= 6)
            for o in range(N):
                m.d.comb += Assert(~dut.p_pend[o])
            for p in range(N):
                if has_fifo[p]:
                    with m.If(rd_left[p] != 0):
                        m.d.comb += Assert(r_valid[p])   # a packet under way never runs dry

        if not self.invariants:
            return
        # -- inductive invariants ------------------------------------------
        in_pkt, held = dut.p_in_pkt, dut.p_held
        for o in range(N):
            m.d.comb += [Assert(prio[o] < N), Assert(owner[o] < N), Assert(dut.p_pend_sel[o] < N)]
            m.d.comb += Assert(locked[o] == (om_left[o] != 0))
            with m.If(locked[o]):
                m.d.comb += [Assert(owner[o] == om_src[o]), Assert(select(in_pkt, owner[o])),
                             Assert(select(held, owner[o]) == o),
                             Assert(select(rd_left, owner[o]) == om_left[o])]
            with m.If(dut.p_pend[o]):
                ps = dut.p_pend_sel[o]
                m.d.comb += [Assert(~locked[o]), Assert(select(r_valid, ps)), Assert(select(is_head, ps)),
                             Assert(select(route_now, ps) == o)]
        for p in range(N):
            busy = in_pkt[p] | (dut.p_discard if (p == Port.L and not cfg.local_check) else 0)
            m.d.comb += Assert(busy == (rd_left[p] != 0))
            if p == Port.L and not cfg.local_check:
                m.d.comb += Assert(dut.p_discard == ((rd_left[p] != 0) & (rd_route[p] == DROP)))
            with m.If(in_pkt[p]):
                m.d.comb += [Assert(held[p] == rd_route[p]), Assert(rd_route[p] < N)]
            m.d.comb += Assert(rd_route[p] <= DROP)
            if not has_fifo[p]:
                continue
            # Routes under way on an input are XY-legal turns from it.
            legal = router_mod.XY_TURNS[PORTS[p]]
            if PORTS[p] != Port.L:
                with m.If(rd_left[p] != 0):
                    m.d.comb += Assert(popcount([rd_route[p] == o for o in legal]) == 1)
                with m.If(lk_left[p] != 0):
                    m.d.comb += Assert(popcount([lk_route[p] == o for o in legal]) == 1)
            # The FIFO's entries continue the read side's packet framing and
            # end where the link side is.
            slots = dut.p_slot[p]
            left = rd_left[p]
            route = rd_route[p]
            routes_after = []
            for k in range(D):
                f = data.View(lay, slots[k])
                length = data.View(hlay, f.data).length
                present = k < levels[p]
                ok = Mux(left == 0,
                         ((f.kind == HEAD) & (length != 0)) | ((f.kind == SINGLE) & (length == 0)),
                         f.kind == Mux(left == 1, TAIL, BODY))
                m.d.comb += Assert(~present | ok)
                m.d.comb += Assert(~(present & (left == 0)) | self.xy_ok(PORTS[p], f))
                ref = self.ref_route(m, f, PORTS[p], f"slot_ref_{p}_{k}")
                nxt = Mux(left == 0, Mux(f.kind == HEAD, length, 0), left - 1)
                route = Mux(present & (left == 0), ref, route)
                routes_after.append(route)
                left = Mux(present, nxt, left)
            m.d.comb += Assert(left == lk_left[p])
            with m.If(lk_left[p] != 0):
                m.d.comb += Assert(route == lk_route[p])
            with m.If((tstate == IN) & (tp == p)):
                m.d.comb += [Assert(select(slots, ahead) == tdata),
                             Assert(select(routes_after, ahead) == troute)]


def _build(**kw):
    h = RouterHarness(**kw)
    return h, h.ports()


def proofs():
    return [
        Proof("router", lambda: _build(local_check=False), (("prove", 2), ("cover", 14)),
              doc="Router (1,1) of 3x3, flit 24, FIFO 2, no validator: one flit one place, XY, "
                  "tracked flit end to end, wormhole, output framing and stream rules"),
        Proof("router_live", lambda: _build(local_check=False, live=True), (("prove", 2), ("cover", 14)),
              doc="the same with outputs always ready and no gaps in packets: a waiting head "
                  "is granted within 79 cycles"),
        Proof("router_local_check", lambda: _build(local_check=True, validator_contract=True),
              (("prove", 2), ("cover", 14)),
              doc="local_check=True: the router with its local validator's contract (proven by "
                  "'validator') in its place; the same properties"),
        Proof("router_local_check_live", lambda: _build(local_check=True, validator_contract=True, live=True),
              (("prove", 2), ("cover", 14)),
              doc="local_check=True, outputs always ready: bounded wait"),
    ]


def negative_proofs():
    return []
