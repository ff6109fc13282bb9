"""A 5-port wormhole router with XY routing and round-robin arbitration.

Each input (N, E, S, W, and the local port behind a :class:`PacketValidator`,
or a plain one where ``cfg.local_check`` is off) has a FIFO of
``fifo_depth`` flits (with ``fifo_depth = 1``, a :class:`FlitRegister`;
with 0, an input from a neighbour is the neighbour's output itself, and
the local input a :class:`FlitRegister`). A head flit's output port is computed by
dimension-order routing (x first, then y: deadlock-free on a mesh) and held
for the rest of its packet. Each output grants one head flit at a time by
round robin among the inputs whose heads want it, then stays with that input
until its tail has passed, so packets never interleave on a link. Links are
valid/ready streams: a flit moves when both are high, and an input FIFO's
ready is simply "not full", so a link carries a flit every cycle.

A flit leaves the FIFO it was written into one cycle later, through the
crossbar into the next router's FIFO in the same cycle: one cycle per hop.

Only what XY routing can use is built. A port facing off the mesh (N at
y = 0, S at y = height-1, W at x = 0, E at x = width-1) has no FIFO and no
output: its input is never ready, its output never valid. The crossbar
holds only XY-legal turns (:data:`XY_TURNS`): a flit from a neighbour
never turns from y back to x and never U-turns, since the neighbour routed
it x first. A neighbour's head therefore carries ``dst_x == x`` on the N
and S inputs, ``dst_x >= x`` on W and ``dst_x <= x`` on E (the formal
harness assumes exactly that of its links); a head that broke it would
still leave by a legal output (the first legal rule that matches, else L).
Arbitration values (``sel``, ``owner``, ``prio``) keep the full port
numbering, so round robin grants in the same order as the 5 x 5 crossbar.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .flit_register import FlitRegister
from .layouts import Port, head_layout, link_layout
from .validator import PacketValidator

PORTS = list(Port)

#: Outputs an input may use under XY routing (x first, then y).
XY_TURNS = {
    Port.L: {Port.N, Port.E, Port.S, Port.W, Port.L},
    Port.W: {Port.E, Port.N, Port.S, Port.L},   # moving east: on east, or turn into y
    Port.E: {Port.W, Port.N, Port.S, Port.L},   # moving west
    Port.N: {Port.S, Port.L},                   # moving south: x is done
    Port.S: {Port.N, Port.L},                   # moving north
}


def present_ports(cfg, x, y):
    """The ports of router (x, y) that lead somewhere: L, and each
    neighbour inside the ``cfg.width x cfg.height`` mesh."""
    ports = {Port.L}
    if y > 0:
        ports.add(Port.N)
    if y < cfg.height - 1:
        ports.add(Port.S)
    if x > 0:
        ports.add(Port.W)
    if x < cfg.width - 1:
        ports.add(Port.E)
    return ports


def legal_turns(cfg, x, y, local_self=True):
    """{input: outputs} of router (x, y): XY-legal turns between present ports.
    ``local_self=False`` leaves out the local input's turn back to the local
    output (a node whose sender never addresses its own node)."""
    present = present_ports(cfg, x, y)
    turns = {p: XY_TURNS[p] & present for p in PORTS if p in present}
    if not local_self and len(turns[Port.L]) > 1:
        turns[Port.L] = turns[Port.L] - {Port.L}
    return turns


class Router(wiring.Component):
    """``local_self=False``: the local input never carries a packet for this
    node (the chip's host bridge answers those itself), so the turn L -> L
    is not built; a head addressed here on the local input then leaves by
    the local input's last legal output (without a validator it is dropped
    and counted, as a destination off the mesh is)."""

    def __init__(self, cfg, x, y, local_self=True):
        self.cfg, self.x, self.y = cfg, x, y
        self.local_self = local_self
        lay = link_layout(cfg.flit_width)
        # errors: this router's saturating count of dropped packets and
        # stray flits; error_events: those of this cycle (the mesh keeps one
        # counter for all routers from these, and this one is then unused).
        members = {"errors": Out(16), "error_events": Out(3), "drops": Out(2)}
        for p in PORTS:
            members[f"i_{p.name.lower()}"] = In(stream.Signature(lay))
            members[f"o_{p.name.lower()}"] = Out(stream.Signature(lay))
        super().__init__(members)

    def inputs(self):
        return [getattr(self, f"i_{p.name.lower()}") for p in PORTS]

    def outputs(self):
        return [getattr(self, f"o_{p.name.lower()}") for p in PORTS]

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        lay = link_layout(cfg.flit_width)
        hlay = head_layout(cfg.flit_width)
        n = len(PORTS)

        val = None
        if cfg.local_check:
            m.submodules.validator = val = PacketValidator(cfg)
            wiring.connect(m, wiring.flipped(self.i_l), val.i)
        orphans = Signal(16)
        total = orphans + (val.errors if val is not None else 0)
        m.d.comb += self.errors.eq(Mux(total > 0xFFFF, 0xFFFF, total))

        bad_drops = Signal()     # local heads off the mesh dropped (no validator)
        turns = legal_turns(cfg, self.x, self.y, self.local_self)
        ins = [p for p in PORTS if p in turns]
        heads, tails, valids, want, r_ens, datas = {}, {}, {}, {}, {}, {}
        for p in ins:
            if p == Port.L and val is not None:
                src = val.o
                valid, payload = src.valid, src.payload
                r_en = src.ready
            elif cfg.fifo_depth == 0 and p != Port.L:
                # No buffer: the neighbour's output (which holds its flit
                # until taken) is this input, and the pop is its ready.
                link = self.inputs()[p]
                r_en = Signal(name=f"pop_{p.name.lower()}")
                m.d.comb += link.ready.eq(r_en)
                valid, payload = link.valid, link.payload
            elif cfg.fifo_depth <= 1:
                # One flit register; a neighbour's input passes the pop
                # through to its ready (see flit_register.py). The local
                # input has one at depth 0 too: a tile's ready may depend
                # on its own output's, so the router must not pass its
                # arbitration through to the tile.
                q = FlitRegister(lay, pass_ready=p != Port.L)
                m.submodules[f"buf_{p.name.lower()}"] = q
                wiring.connect(m, wiring.flipped(self.inputs()[p]), q.i)
                valid, payload, r_en = q.o.valid, q.o.payload, q.o.ready
            else:
                q = fifo.SyncFIFO(width=lay.size, depth=cfg.fifo_depth)
                m.submodules[f"fifo_{p.name.lower()}"] = q
                link = self.inputs()[p]
                m.d.comb += [q.w_data.eq(link.payload), q.w_en.eq(link.valid), link.ready.eq(q.w_rdy)]
                valid, payload, r_en = q.r_rdy, data.View(lay, q.r_data), q.r_en
            head = data.View(hlay, payload.data)
            # XY routing over this input's legal turns: directions off the
            # mesh edge are left out (the validator admits only destinations
            # inside the mesh), and so are the turns XY routing never makes.
            rules = []
            for cond, port in ((head.dst_x > self.x, Port.E), (head.dst_x < self.x, Port.W),
                               (head.dst_y > self.y, Port.S), (head.dst_y < self.y, Port.N)):
                if port in turns[p]:
                    rules.append((cond, port))
            # Where L is not an output of this input (local_self off), the
            # last rule is the default instead.
            default = Port.L if Port.L in turns[p] else rules.pop()[1]
            route = Signal(range(n), name=f"route_{p.name.lower()}", init=default)
            for cond, port in reversed(rules):   # the first rule wins
                with m.If(cond):
                    m.d.comb += route.eq(port)
            in_pkt = Signal(name=f"in_pkt_{p.name.lower()}")
            held = Signal(range(n), name=f"held_{p.name.lower()}")
            is_head, is_tail = payload.kind[0], payload.kind[1]
            target = Signal(range(n), name=f"target_{p.name.lower()}")
            m.d.comb += target.eq(Mux(in_pkt, held, route))
            moved = Signal(name=f"moved_{p.name.lower()}")
            with m.If(moved):
                with m.If(is_head & ~is_tail):
                    m.d.sync += [in_pkt.eq(1), held.eq(route)]
                with m.If(is_tail):
                    m.d.sync += in_pkt.eq(0)
            # A body or tail flit with no packet open cannot come from a
            # neighbour (the source router's validator drops them), but if
            # one does it is dropped and counted rather than misrouted.
            orphan = valid & ~in_pkt & ~is_head
            drop = orphan                 # popped here, never forwarded
            error = orphan                # counted in errors
            if p == Port.L and val is None:
                # No validator: still never route a destination off the
                # mesh (XY routing would deliver it to an edge node). Such
                # a head is dropped and counted, the rest of its packet
                # discarded up to its tail (or the next head).
                dst_ok = (head.dst_x < cfg.width) & (head.dst_y < cfg.height)
                if Port.L not in turns[p]:
                    dst_ok = dst_ok & ((head.dst_x != self.x) | (head.dst_y != self.y))
                discard = Signal(name="discard_l")
                bad_head = valid & is_head & ~in_pkt & ~dst_ok
                m.d.comb += bad_drops.eq(bad_head)
                with m.If(valid & discard & (is_tail | is_head)):
                    m.d.sync += discard.eq(0)
                with m.If(bad_head & ~is_tail):
                    m.d.sync += discard.eq(1)
                orphan = valid & ~in_pkt & ~is_head & ~discard
                drop = orphan | bad_head | (valid & discard & ~is_head)
                error = orphan | bad_head
            heads[p], tails[p], valids[p] = is_head, is_tail, valid & ~drop
            want[p], r_ens[p], datas[p] = (target, error, in_pkt), (r_en, moved, drop), payload
        n_orphans = sum(want[p][1] for p in ins)
        m.d.comb += self.error_events.eq(n_orphans + (val.error_events if val is not None else 0))
        # Packets dropped this cycle, for in-flight counts (orphans are stray
        # flits of no counted packet).
        if val is not None:
            m.d.comb += self.drops.eq(val.drops)
        else:
            m.d.comb += self.drops.eq(bad_drops)
        with m.If(orphans + n_orphans <= 0xFFFF):
            m.d.sync += orphans.eq(orphans + n_orphans)
        with m.Else():
            m.d.sync += orphans.eq(0xFFFF)

        # Named per-input signals, so each expression is built once (bits
        # of absent inputs stay 0).
        v_sig = Signal(n)
        h_sig = Signal(n)
        t_sig = Signal(n)
        busy_sig = Signal(n)
        for i in ins:
            m.d.comb += [v_sig[i].eq(valids[i]), h_sig[i].eq(heads[i]), t_sig[i].eq(tails[i]),
                         busy_sig[i].eq(want[i][2])]
        granted_by = {i: [] for i in ins}    # per input: transfer conditions
        for o in PORTS:
            out = self.outputs()[o]
            name = o.name.lower()
            srcs = [i for i in ins if o in turns[i]]
            if not srcs:
                continue          # off the mesh: never valid
            if len(srcs) == 1:
                # One input can use this output: nothing to arbitrate. Its
                # packets come one after another, and a flit offered holds
                # (with its target) until taken, so the output is that
                # input, valid while its flit is for here; the same
                # transfers, cycle for cycle, as the arbiter below would
                # make with one requester.
                i = srcs[0]
                m.d.comb += [out.payload.eq(datas[i]),
                             out.valid.eq(valids[i] if turns[i] == {o} else valids[i] & (want[i][0] == o))]
                granted_by[i].append(out.valid & out.ready)
                continue
            # Per-output copies with only the inputs that may use it.
            v_o = Signal(n, name=f"v_{name}")
            h_o = Signal(n, name=f"h_{name}")
            t_o = Signal(n, name=f"t_{name}")
            for i in srcs:
                m.d.comb += [v_o[i].eq(v_sig[i]), h_o[i].eq(h_sig[i]), t_o[i].eq(t_sig[i])]
            locked = Signal(name=f"locked_{name}")
            owner = Signal(range(n), name=f"owner_{name}")
            prio = Signal(range(n), name=f"prio_{name}")
            # Head flits of idle inputs that want this output.
            req = Signal(n, name=f"req_{name}")
            for i in srcs:
                m.d.comb += req[i].eq(v_sig[i] & h_sig[i] & ~busy_sig[i] & (want[i][0] == o))
            # Round robin as a one-hot grant straight from req and prio:
            # input i wins if it requests and no input from prio up to i
            # (cyclically) does: a function of 5 + 3 bits, a couple of LUT
            # levels on an FPGA, where rotating req by prio, finding the
            # lowest bit and adding prio back was a chain of them. The
            # winner is the same.
            grant_oh = Signal(n, name=f"grant_oh_{name}")
            for i in srcs:
                wins = []
                for p in range(n):
                    ahead = [(p + k) % n for k in range((i - p) % n)]
                    blockers = [req[j] for j in ahead if j in srcs]
                    wins.append((prio == p) & ~Cat(*blockers).any() if blockers else prio == p)
                m.d.comb += grant_oh[i].eq(req[i] & Cat(*wins).any())
            grant = Signal(range(n), name=f"grant_{name}")
            for i in srcs:
                with m.If(grant_oh[i]):
                    m.d.comb += grant.eq(i)
            # A head offered but not taken stays offered (stream rule: the
            # payload holds until taken), whatever arrives at other inputs.
            pend = Signal(name=f"pend_{name}")
            pend_sel = Signal(range(n), name=f"pend_sel_{name}")
            sel = Signal(range(n), name=f"sel_{name}")
            m.d.comb += sel.eq(Mux(locked, owner, Mux(pend, pend_sel, grant)))
            # The same choice one-hot, for the crossbar and the pops.
            sel_oh = Signal(n, name=f"sel_oh_{name}")
            for i in srcs:
                m.d.comb += sel_oh[i].eq(Mux(locked, owner == i, Mux(pend, pend_sel == i, grant_oh[i])))
            if len(srcs) == 1:
                # One input can use this output: its head is the payload
                # (only looked at while valid), no gating needed.
                crossbar = Value.cast(datas[srcs[0]])
            else:
                crossbar = Const(0, lay.size)
                for i in srcs:
                    crossbar = crossbar | (Value.cast(datas[i]) & sel_oh[i].replicate(lay.size))
            m.d.comb += out.payload.eq(crossbar)
            m.d.comb += out.valid.eq(Mux(locked, v_o.bit_select(owner, 1), pend | req.any()))
            xfer = Signal(name=f"xfer_{name}")
            m.d.comb += xfer.eq(out.valid & out.ready)
            with m.If(out.valid & ~out.ready & ~locked):
                m.d.sync += [pend.eq(1), pend_sel.eq(sel)]
            with m.Elif(xfer):
                m.d.sync += pend.eq(0)
            for i in srcs:
                granted_by[i].append(xfer & sel_oh[i])
            sel_head, sel_tail = (h_o & sel_oh).any(), (t_o & sel_oh).any()
            with m.If(xfer):
                with m.If(sel_head & ~sel_tail):
                    m.d.sync += [locked.eq(1), owner.eq(sel)]
                with m.If(sel_tail):
                    m.d.sync += locked.eq(0)
                with m.If(~locked):
                    m.d.sync += prio.eq(Mux(sel == n - 1, 0, sel + 1))
        for i in ins:
            r_en, moved, orphan = r_ens[i]
            go = Signal(name=f"go_{int(i)}")
            m.d.comb += go.eq(Cat(*granted_by[i]).any())
            m.d.comb += [moved.eq(go), r_en.eq(go | orphan)]
        return m
