"""A 5-port wormhole router with XY routing and round-robin arbitration.

Each input (N, E, S, W, and the local port behind a :class:`PacketValidator`)
has a FIFO of ``fifo_depth`` flits. A head flit's output port is computed by
dimension-order routing (x first, then y: deadlock-free on a mesh) and held
for the rest of its packet. Each output grants one head flit at a time by
round robin among the inputs whose heads want it, then stays with that input
until its tail has passed, so packets never interleave on a link. Links are
valid/ready streams: a flit moves when both are high, and an input FIFO's
ready is simply "not full", so a link carries a flit every cycle.

A flit leaves the FIFO it was written into one cycle later, through the
crossbar into the next router's FIFO in the same cycle: one cycle per hop.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import Port, head_layout, link_layout
from .validator import PacketValidator

PORTS = list(Port)


class Router(wiring.Component):
    def __init__(self, cfg, x, y):
        self.cfg, self.x, self.y = cfg, x, y
        lay = link_layout(cfg.flit_width)
        members = {"errors": Out(16)}
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

        m.submodules.validator = val = PacketValidator(cfg)
        wiring.connect(m, wiring.flipped(self.i_l), val.i)
        orphans = Signal(16)
        m.d.comb += self.errors.eq(val.errors + orphans)

        heads, tails, valids, want, r_ens, datas = [], [], [], [], [], []
        for p in PORTS:
            if p == Port.L:
                src = val.o
                valid, payload = src.valid, src.payload
                r_en = src.ready
            else:
                q = fifo.SyncFIFO(width=lay.size, depth=cfg.fifo_depth)
                m.submodules[f"fifo_{p.name.lower()}"] = q
                link = self.inputs()[p]
                m.d.comb += [q.w_data.eq(link.payload), q.w_en.eq(link.valid), link.ready.eq(q.w_rdy)]
                valid, payload, r_en = q.r_rdy, data.View(lay, q.r_data), q.r_en
            head = data.View(hlay, payload.data)
            # XY routing.
            # XY routing; directions off the mesh edge are left out (the
            # validator admits only destinations inside the mesh).
            route = Signal(range(n), name=f"route_{p.name.lower()}", init=Port.L)
            rules = []
            if self.x < cfg.width - 1:
                rules.append((head.dst_x > self.x, Port.E))
            if self.x > 0:
                rules.append((head.dst_x < self.x, Port.W))
            if self.y < cfg.height - 1:
                rules.append((head.dst_y > self.y, Port.S))
            if self.y > 0:
                rules.append((head.dst_y < self.y, Port.N))
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
            heads.append(is_head); tails.append(is_tail); valids.append(valid)
            want.append((target, orphan, in_pkt)); r_ens.append((r_en, moved, orphan))
            datas.append(payload)
        with m.If(Cat(*(o[1] for o in want)).any() & (orphans != 0xFFFF)):
            m.d.sync += orphans.eq(orphans + 1)

        granted_by = [[] for _ in PORTS]     # per input: transfer conditions
        for o in PORTS:
            out = self.outputs()[o]
            locked = Signal(name=f"locked_{o.name.lower()}")
            owner = Signal(range(n), name=f"owner_{o.name.lower()}")
            prio = Signal(range(n), name=f"prio_{o.name.lower()}")
            # Head flits of idle inputs that want this output.
            req = Cat(*(valids[i] & heads[i] & ~want[i][2] & (want[i][0] == o) for i in range(n)))
            grant = Signal(range(n), name=f"grant_{o.name.lower()}")
            found = Signal(name=f"found_{o.name.lower()}")
            rot = Cat(req, req) >> prio
            for k in reversed(range(n)):
                with m.If(rot[k]):
                    s = prio + k
                    m.d.comb += [grant.eq(Mux(s >= n, s - n, s)), found.eq(1)]
            sel = Signal(range(n), name=f"sel_{o.name.lower()}")
            m.d.comb += sel.eq(Mux(locked, owner, grant))
            sel_valid = Signal(name=f"sel_valid_{o.name.lower()}")
            with m.Switch(sel):
                for i in range(n):
                    with m.Case(i):
                        m.d.comb += out.payload.eq(datas[i])
                        m.d.comb += sel_valid.eq(Mux(locked, valids[i], found))
            m.d.comb += out.valid.eq(sel_valid)
            xfer = out.valid & out.ready
            for i in range(n):
                granted_by[i].append(xfer & (sel == i))
            with m.If(xfer):
                with m.Switch(sel):
                    for i in range(n):
                        with m.Case(i):
                            with m.If(heads[i] & ~tails[i]):
                                m.d.sync += [locked.eq(1), owner.eq(i)]
                            with m.If(tails[i]):
                                m.d.sync += locked.eq(0)
                            with m.If(~locked):
                                m.d.sync += prio.eq(i + 1 if i + 1 < n else 0)
        for i in range(n):
            r_en, moved, orphan = r_ens[i]
            go = Signal(name=f"go_{i}")
            m.d.comb += go.eq(Cat(*granted_by[i]).any())
            m.d.comb += [moved.eq(go), r_en.eq(go | orphan)]
        return m
