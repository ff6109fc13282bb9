"""The callosum mesh: W x H routers joined by valid/ready links, a local
flit port per node, and a flattened wrapper for the benches."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import link_layout
from .router import Router


class Mesh(wiring.Component):
    """Ports ``i_local_<x>_<y>`` / ``o_local_<x>_<y>`` (flit streams) per node
    and ``errors``, the packets and stray flits every router has dropped
    (one counter for the mesh, saturating at 0xFFFF: not a counter per
    router and their sum); ``drops``, the packets dropped this cycle (for
    in-flight counts).

    ``no_self``: nodes whose local sender never addresses its own node (the
    chip's host bridge): their routers leave out the turn L -> L.

    ``event_regs``: each router's events of the cycle (errors, drops) are
    registered at the router before the mesh sums them, so ``errors``
    counts them and ``drops`` shows them a cycle later. Without the
    registers a validator's decision, the sum over every router and the
    counter's adder and saturation were one path across the die: on the
    ECP5 at 50 MHz the critical one (20.5 ns). The chip builds them with
    its link slices (``chip.link_slices``); on a slow clock they would only
    cost logic cells."""

    def __init__(self, cfg, no_self=(), event_regs=True):
        self.cfg = cfg
        self.no_self = {tuple(n) for n in no_self}
        self.event_regs = event_regs
        lay = link_layout(cfg.flit_width)
        members = {"errors": Out(16), "drops": Out(8)}
        for y in range(cfg.height):
            for x in range(cfg.width):
                members[f"i_local_{x}_{y}"] = In(stream.Signature(lay))
                members[f"o_local_{x}_{y}"] = Out(stream.Signature(lay))
        super().__init__(members)

    def local_in(self, x, y):
        return getattr(self, f"i_local_{x}_{y}")

    def local_out(self, x, y):
        return getattr(self, f"o_local_{x}_{y}")

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        routers = {}
        for y in range(cfg.height):
            for x in range(cfg.width):
                r = routers[x, y] = Router(cfg, x, y, local_self=(x, y) not in self.no_self)
                m.submodules[f"router_{x}_{y}"] = r
                wiring.connect(m, wiring.flipped(self.local_in(x, y)), r.i_l)
                wiring.connect(m, r.o_l, wiring.flipped(self.local_out(x, y)))
        for (x, y), r in routers.items():
            if (x + 1, y) in routers:
                east = routers[x + 1, y]
                wiring.connect(m, r.o_e, east.i_w)
                wiring.connect(m, east.o_w, r.i_e)
            if (x, y + 1) in routers:
                south = routers[x, y + 1]
                wiring.connect(m, r.o_s, south.i_n)
                wiring.connect(m, south.o_n, r.i_s)
        events, drops = [], []
        for (x, y), r in routers.items():
            if self.event_regs:
                ev = Signal.like(r.error_events, name=f"events_{x}_{y}")
                dr = Signal.like(r.drops, name=f"drops_{x}_{y}")
                m.d.sync += [ev.eq(r.error_events), dr.eq(r.drops)]
            else:
                ev, dr = r.error_events, r.drops
            events.append(ev)
            drops.append(dr)
        errors = Signal(16)
        count = errors + sum(events)
        m.d.sync += errors.eq(Mux(count > 0xFFFF, 0xFFFF, count))
        m.d.comb += [self.errors.eq(errors), self.drops.eq(sum(drops))]
        return m


class MeshBenchTop(wiring.Component):
    """The mesh with every node's local ports packed into vectors (node
    ``i = y * width + x``), so a bench touches six signals per cycle."""

    def __init__(self, cfg):
        self.cfg = cfg
        n, fw = cfg.nodes, cfg.flit_width + 2
        super().__init__({
            "in_valid": In(n), "in_ready": Out(n), "in_data": In(n * fw),
            "out_valid": Out(n), "out_ready": In(n), "out_data": Out(n * fw),
            "errors": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        fw = cfg.flit_width + 2
        m.submodules.mesh = mesh = Mesh(cfg)
        m.d.comb += self.errors.eq(mesh.errors)
        for y in range(cfg.height):
            for x in range(cfg.width):
                i = y * cfg.width + x
                li, lo = mesh.local_in(x, y), mesh.local_out(x, y)
                m.d.comb += [
                    li.valid.eq(self.in_valid[i]), li.payload.eq(self.in_data[i * fw:(i + 1) * fw]),
                    self.in_ready[i].eq(li.ready),
                    self.out_valid[i].eq(lo.valid), self.out_data[i * fw:(i + 1) * fw].eq(lo.payload),
                    lo.ready.eq(self.out_ready[i]),
                ]
        return m
