"""The Hemi chip: tiles on the callosum, and the host bridge.

Generated from a :class:`rtl.config.HemiConfig`: a ``width x height`` mesh;
at each node of ``chip.left`` a :class:`LeftTile`, of ``chip.right`` a
:class:`RightTile`, at ``chip.host`` the :class:`HostBridge`; other nodes
are left empty (their local ports sink whatever reaches them).

The top counts packets in flight on the mesh, at its local ports: a head
entering a router counts one up, a tail leaving one counts one down, a
packet a router's validator drops counts one down. The step controller ticks
only when that count is zero and every tile is idle.

Ports: ``i_host`` / ``o_host`` (the host port, words of ``flit_width``
bits), and for observation ``tick``, ``running``, ``busy`` (per node),
``errors`` (refused host packets), ``net_errors`` (packets dropped by the
mesh: always 0 unless a tile misbehaves) and ``cycles`` (the bridge's
free-running CYCLES counter, ``chip.counter_bits`` wide).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..callosum.layouts import link_layout
from ..callosum.mesh import Mesh
from .host_bridge import HostBridge
from .link_slice import link_slice


def _popcount(bits):
    return sum((b for b in bits), start=0) if bits else 0


class Chip(wiring.Component):
    def __init__(self, cfg):
        self.cfg = cfg.check_chip()
        fw = cfg.callosum.flit_width
        super().__init__({
            "i_host": In(stream.Signature(fw)),
            "o_host": Out(stream.Signature(fw)),
            "tick": Out(1),
            "running": Out(1),
            "busy": Out(cfg.callosum.nodes),
            "errors": Out(16),
            "net_errors": Out(16),
            "cycles": Out(cfg.chip.counter_bits),
        })

    def elaborate(self, platform):
        from .left_tile import LeftTile
        from .right_tile import RightTile

        m = Module()
        cfg = self.cfg
        cc = cfg.callosum
        W = cc.width
        # The bridge answers packets for its own node itself (host-node
        # registers) and never sends one into the mesh: no turn L -> L there.
        m.submodules.mesh = mesh = Mesh(cc, no_self=[cfg.chip.host], event_regs=cfg.chip.link_slices)
        m.submodules.bridge = bridge = HostBridge(cfg)
        # The host port's words pass register slices both ways: the bridge's
        # packet checks see registered words, and what drives o_host comes
        # from a register (whatever the host side puts behind it).
        fw = cc.flit_width
        # (chip.link_slices = false: every slice of this file is a plain wire.)
        sliced = cfg.chip.link_slices
        m.submodules.host_rx = hrx = link_slice(fw, sliced)
        m.submodules.host_tx = htx = link_slice(fw, sliced)
        wiring.connect(m, wiring.flipped(self.i_host), hrx.i)
        wiring.connect(m, hrx.o, bridge.i_host)
        wiring.connect(m, bridge.o_host, htx.i)
        wiring.connect(m, htx.o, wiring.flipped(self.o_host))
        m.d.comb += [self.tick.eq(bridge.tick), self.running.eq(bridge.running), self.errors.eq(bridge.errors),
                     self.net_errors.eq(mesh.errors), self.cycles.eq(bridge.cycles)]

        # Each tile meets its router through a register slice each way, so no
        # combinational path runs router -> tile port -> router (arbitration,
        # packet decode, message arbiter and validator in one cycle, across
        # the die). A flit inside a slice counts as its tile's work.
        lay = link_layout(cc.flit_width)
        ends = {}
        for kind, i, (x, y) in cfg.chip.tiles():
            if kind == "left":
                tile = LeftTile(cfg, x, y)
            else:
                tile = RightTile(cfg, x, y)
                m.d.comb += tile.tick.eq(bridge.tick)
            m.submodules[f"{kind}{i}"] = tile
            m.submodules[f"{kind}{i}_tx"] = tx = link_slice(lay, sliced)
            m.submodules[f"{kind}{i}_rx"] = rx = link_slice(lay, sliced)
            wiring.connect(m, tile.o_flit, tx.i)
            wiring.connect(m, rx.o, tile.i_flit)
            m.d.comb += self.busy[y * W + x].eq(tile.busy | tx.busy | rx.busy)
            ends[x, y] = (tx.o, rx.i)
        # The host bridge too: its packet checks and output arbiter are not one
        # path with router (0, 0)'s arbitration.
        m.submodules.bridge_tx = btx = link_slice(lay, sliced)
        m.submodules.bridge_rx = brx = link_slice(lay, sliced)
        wiring.connect(m, bridge.o_flit, btx.i)
        wiring.connect(m, brx.o, bridge.i_flit)
        hx, hy = cfg.chip.host
        m.d.comb += self.busy[hy * W + hx].eq(btx.busy | brx.busy)
        ends[cfg.chip.host] = (btx.o, brx.i)

        injected, delivered, flits = [], [], []
        for y in range(cc.height):
            for x in range(W):
                li, lo = mesh.local_in(x, y), mesh.local_out(x, y)
                end = ends.get((x, y))
                if end is None:
                    m.d.comb += lo.ready.eq(1)      # an empty node sinks stray packets
                else:
                    wiring.connect(m, end[0], li)
                    wiring.connect(m, lo, end[1])
                injected.append(li.valid & li.ready & li.payload.kind[0])
                flits.append(li.valid & li.ready)
                tail_out = lo.valid & lo.ready & lo.payload.kind[1]
                if sliced:
                    # A router's output valid is its FIFO head, routing and
                    # arbitration: registered here, not one path with the
                    # count's adders. A packet then leaves the count a cycle
                    # late (never early: it is already in its slice, whose
                    # busy counts for its tile); an injected head must be
                    # counted at once (the sender's slice is idle after it),
                    # and its terms are registers and FIFO levels.
                    tail_r = Signal(name=f"tail_out_{x}_{y}")
                    m.d.sync += tail_r.eq(tail_out)
                    tail_out = tail_r
                delivered.append(tail_out)

        # Packets in flight: + heads injected, - tails delivered, - packets
        # dropped (a per-cycle count: the error counters saturate). With the
        # link slices the deliveries and the drops are registered (above,
        # and in the mesh): a packet leaves the count a cycle late, never
        # early.
        in_flight = Signal(16)
        m.d.sync += in_flight.eq(in_flight + _popcount(injected) - _popcount(delivered) - mesh.drops)
        # The step controller sees the busy flags and the in-flight count of
        # the previous cycle, both registered here: a tile's busy (an OR over
        # its FIFOs, memories' outputs and state machines) is not one
        # combinational path with the controller across the die. Sampled in
        # the same cycle, the two still agree at every hand-over between a
        # tile and the mesh; the controller's SETTLE window covers the extra
        # cycle after a tick. Without slices (a slow clock) the controller
        # sees them unregistered: one cycle fresher, and the 16 + nodes
        # flip-flops would each cost an iCE40 logic cell.
        if sliced:
            busy_r, in_flight_r = Signal.like(self.busy), Signal.like(in_flight)
            m.d.sync += [busy_r.eq(self.busy), in_flight_r.eq(in_flight)]
        else:
            busy_r, in_flight_r = self.busy, in_flight
        m.d.comb += [bridge.tile_busy.eq(busy_r), bridge.in_flight.eq(in_flight_r),
                     bridge.flits_injected.eq(_popcount(flits))]
        return m
