"""The host bridge and step controller: where the host port enters the mesh.

Host port (both directions): words of ``flit_width`` bits; a packet is its
head word (the head flit's data) and ``length`` data words
(sw_model/chip_map.py). From the host, each head is checked before anything
enters the mesh: destination inside the mesh and holding a tile, a type that
tile takes, a word count right for the type. A refused head is dropped with
its words and answered with a ``STATUS`` ``ERROR`` (reason, and the head word
as detail); the bridge then carries on. Packets for the host node itself are
the controller's register accesses (``HostReg``), answered locally.

Packets arriving from the mesh go to the host unchanged; the bridge's own
packets (``STATUS`` and local ``READ_RESPONSE``) go first at packet
boundaries.

Step controller: time steps are global. A run of T steps (``HostReg.RUN``)
issues one ``tick`` per step to every right tile, each only once the chip is
quiet: no packet in flight on the mesh (``in_flight == 0``, counted at the
mesh's local ports by the chip top), every tile idle, and that for
``SETTLE`` cycles after the previous tick. A tick therefore never overtakes a
spike of the previous step, and every spike of step t reaches its tile
before step t + 1 begins. When the run's last step has finished and the chip
is quiet again, a ``STATUS RUN_DONE`` goes to the host. With
``HostReg.MARKERS`` set, a ``STATUS STEP`` mark is sent as each step starts,
before any packet that step produces.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from sw_model.chip_map import HOST_ID, ErrorReason, HostReg, NodeKind, Status

from ..callosum.layouts import PacketType, head_layout, link_layout
from ..callosum.ni import NetworkInterface, tx_word
from .arbiter import MessageArbiter
from .link_slice import link_slice

SETTLE = 4   # cycles after a tick before quiet counts again (tiles register the tick, the chip their busy flags)

#: Packet types the host may send to each kind of tile, with their word-count rule.
HOST_TYPES = {
    NodeKind.LEFT: ("CONFIG_WRITE", "WEIGHTS", "CONFIG_READ", "ACTIVATION"),
    NodeKind.RIGHT: ("CONFIG_WRITE", "WEIGHTS", "CONFIG_READ", "ACTIVATION", "SPIKE"),
    NodeKind.HOST: ("CONFIG_WRITE", "CONFIG_READ"),
}


def length_ok(ptype, length):
    """The word-count rule of each host-sent type (an Amaranth expression)."""
    return {
        PacketType.CONFIG_WRITE: (length >= 2) & ~length[0],
        PacketType.WEIGHTS: length >= 2,
        PacketType.CONFIG_READ: length >= 1,
        PacketType.ACTIVATION: length >= 1,
        PacketType.SPIKE: length == 0,
    }[ptype]


def node_kinds(cfg):
    """Node index (y * width + x) -> NodeKind, for a checked HemiConfig."""
    W = cfg.callosum.width
    kinds = [NodeKind.EMPTY] * cfg.callosum.nodes
    kinds[cfg.chip.host[1] * W + cfg.chip.host[0]] = NodeKind.HOST
    for kind, _, (x, y) in cfg.chip.tiles():
        kinds[y * W + x] = NodeKind.LEFT if kind == "left" else NodeKind.RIGHT
    return kinds


class HostBridge(wiring.Component):
    def __init__(self, cfg):
        self.cfg = cfg.check_chip()
        fw = cfg.callosum.flit_width
        n = cfg.callosum.nodes
        super().__init__({
            "i_host": In(stream.Signature(fw)),
            "o_host": Out(stream.Signature(fw)),
            "i_flit": In(stream.Signature(link_layout(fw))),
            "o_flit": Out(stream.Signature(link_layout(fw))),
            "tick": Out(1),            # one-cycle pulse to every right tile
            "tile_busy": In(n),        # per node (y * width + x)
            "in_flight": In(16),       # packets injected into the mesh, not yet delivered
            "flits_injected": In(8),   # flits entering the mesh this cycle (all nodes)
            "errors": Out(16),         # refused host packets
            "steps": Out(32),
            "running": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        cc = cfg.callosum
        fw, W, H = cc.flit_width, cc.width, cc.height
        hx, hy = cfg.chip.host
        kinds = node_kinds(cfg)
        hl = head_layout(fw)

        m.submodules.ni = ni = NetworkInterface(cc, hx, hy)
        wiring.connect(m, wiring.flipped(self.i_flit), ni.i_flit)
        wiring.connect(m, ni.o_flit, wiring.flipped(self.o_flit))
        # Host-bound packets: [status engine, local read responses, mesh]; the
        # head beat's data is the whole head word.
        m.submodules.out_arb = arb = MessageArbiter(fw, 3)
        status_tx, mesh_tx = arb.input(0), arb.input(2)
        # Local register reads are answered through a slice: the register
        # file's read mux and the arbiter's are one path otherwise, too long
        # for the ECP5 clock. The answer leaves a cycle later (a wire with
        # chip.link_slices = false).
        m.submodules.local_slice = local_slice = link_slice(arb.input(1).payload.shape(),
                                                            cfg.chip.link_slices)
        wiring.connect(m, local_slice.o, arb.input(1))
        local_tx = local_slice.i
        m.d.comb += [self.o_host.valid.eq(arb.o.valid), self.o_host.payload.eq(arb.o.payload.data),
                     arb.o.ready.eq(self.o_host.ready)]

        def head_word(src_x, src_y, ptype, length, payload):
            """A host-bound head word (one expression: see tx_word)."""
            values = {"dst_x": hx, "dst_y": hy, "src_x": src_x, "src_y": src_y, "ptype": ptype,
                      "length": length, "payload": payload}
            return Cat(*(Const(v, f.width) if isinstance(v, int) else Value.cast(v)[:f.width]
                         for v, (_, f) in zip(values.values(), hl)))

        def to_host(length, word):
            """A host-bound beat: only length (for the arbiter) and the word matter."""
            return tx_word(fw, 0, 0, 0, length, word)

        # ---- mesh -> host ------------------------------------------------------
        rx = ni.o_rx.payload
        m.d.comb += [mesh_tx.valid.eq(ni.o_rx.valid), ni.o_rx.ready.eq(mesh_tx.ready),
                     mesh_tx.payload.eq(to_host(rx.length, Mux(rx.first, head_word(rx.src_x, rx.src_y, rx.ptype,
                                                                                   rx.length, rx.data), rx.data)))]

        # ---- registers and counters ----------------------------------------------
        errors = Signal(16)
        steps, cycles = Signal(32), Signal(32)
        run_left = Signal(16)
        finishing = Signal()
        done_pending, done_word = Signal(), Signal(32)   # a run ends once its RUN_DONE has left
        quiet = Signal()
        markers = Signal()
        m.d.comb += [self.errors.eq(errors), self.steps.eq(steps), self.running.eq((run_left != 0) | finishing | done_pending)]
        flits = Signal(32)
        m.d.sync += [cycles.eq(cycles + 1), flits.eq(flits + self.flits_injected)]
        busy_counts = []
        for i in range(cc.nodes):
            c = Signal(32, name=f"busy_cycles_{i}")
            with m.If(self.tile_busy[i]):
                m.d.sync += c.eq(c + 1)
            busy_counts.append(c)

        # ---- status engine: one pending STATUS per source -------------------------
        err_pending, err_reason, err_word = Signal(), Signal(8), Signal(fw)
        mark_pending, mark_word = Signal(), Signal(32)
        # The source is chosen (errors first) one cycle before its head is
        # offered and held until its word has left: a source raised later
        # never replaces a head under a waiting sink. A source cannot be
        # raised again while it is pending, so its fields hold too.
        st_active, st_head_sent = Signal(), Signal()
        st_sel = Signal(2)
        with m.If(~st_active & (err_pending | mark_pending | done_pending)):
            m.d.sync += [st_active.eq(1), st_head_sent.eq(0),
                         st_sel.eq(Mux(err_pending, 0, Mux(mark_pending, 1, 2)))]
        st_code, st_reason, st_word = Signal(4), Signal(8), Signal(fw)
        with m.Switch(st_sel):
            with m.Case(0):
                m.d.comb += [st_code.eq(Status.ERROR), st_reason.eq(err_reason), st_word.eq(err_word)]
            with m.Case(1):
                m.d.comb += [st_code.eq(Status.STEP), st_word.eq(mark_word)]
            with m.Default():
                m.d.comb += [st_code.eq(Status.RUN_DONE), st_word.eq(done_word)]
        st_data = Signal(fw)
        m.d.comb += [status_tx.payload.eq(to_host(1, st_data)), status_tx.valid.eq(st_active)]
        with m.If(~st_head_sent):
            m.d.comb += st_data.eq(head_word(hx, hy, PacketType.STATUS, 1, st_code | (st_reason << 4)))
            with m.If(st_active & status_tx.ready):
                m.d.sync += st_head_sent.eq(1)
        with m.Else():
            m.d.comb += st_data.eq(st_word)
            with m.If(status_tx.ready):
                m.d.sync += [st_head_sent.eq(0), st_active.eq(0)]
                with m.Switch(st_sel):
                    with m.Case(0):
                        m.d.sync += err_pending.eq(0)
                    with m.Case(1):
                        m.d.sync += mark_pending.eq(0)
                    with m.Case(2):
                        m.d.sync += done_pending.eq(0)

        # ---- host -> mesh / local ------------------------------------------------
        IDLE, FWD, DROP, LWRITE, LREAD = range(5)
        state = Signal(range(5))
        left = Signal(4)               # words of the current packet still to come
        have_addr = Signal()
        laddr = Signal(32)
        word = self.i_host.payload
        h = data.View(hl, word)
        dst_in_mesh = (h.dst_x < W) & (h.dst_y < H)
        dst_index = (h.dst_y * W + h.dst_x)[:8]
        dst_kind = Signal(2)
        with m.Switch(dst_index):
            for i, k in enumerate(kinds):
                with m.Case(i):
                    m.d.comb += dst_kind.eq(k)
        type_ok, len_ok = Signal(), Signal()
        for kind, names in HOST_TYPES.items():
            for name in names:
                t = PacketType[name]
                with m.If((dst_kind == kind) & (h.ptype == t)):
                    m.d.comb += [type_ok.eq(1), len_ok.eq(length_ok(t, h.length))]
        to_host_node = dst_kind == NodeKind.HOST
        # A read holds the tile's receive side until its answer has left; with
        # spikes in flight (a tile feeding itself) that can deadlock, so tile
        # reads are refused during a run and otherwise wait for a quiet chip.
        tile_read = (h.ptype == PacketType.CONFIG_READ) & ~to_host_node
        reason = Mux(~dst_in_mesh, ErrorReason.OFF_MESH,
                 Mux(dst_kind == NodeKind.EMPTY, ErrorReason.EMPTY_NODE,
                 Mux(~type_ok, ErrorReason.BAD_TYPE, Mux(~len_ok, ErrorReason.BAD_LENGTH,
                 Mux(tile_read & self.running, ErrorReason.BUSY, 0)))))

        def refuse(m, why, detail):
            """Raise an error STATUS (the caller only does so while none is pending)."""
            m.d.sync += [err_pending.eq(1), err_reason.eq(why), err_word.eq(detail),
                         errors.eq(Mux(errors == 0xFFFF, errors, errors + 1))]

        tx = ni.i_tx.payload
        m.d.comb += [tx.dst_x.eq(h.dst_x), tx.dst_y.eq(h.dst_y), tx.ptype.eq(h.ptype),
                     tx.length.eq(h.length), tx.data.eq(Mux(state == IDLE, h.payload, word))]
        local_reg = Signal(32)
        local_data = Signal(fw)
        m.d.comb += local_tx.payload.eq(to_host(left, local_data))
        with m.Switch(state):
            with m.Case(IDLE):
                with m.If(self.i_host.valid):
                    with m.If(reason != 0):
                        # One error at a time: the head waits while one is pending.
                        m.d.comb += self.i_host.ready.eq(~err_pending)
                        with m.If(~err_pending):
                            refuse(m, reason, word)
                            m.d.sync += [left.eq(h.length), state.eq(Mux(h.length == 0, IDLE, DROP))]
                    with m.Elif(to_host_node):
                        m.d.comb += self.i_host.ready.eq(1)
                        m.d.sync += [left.eq(h.length), have_addr.eq(0),
                                     state.eq(Mux(h.ptype == PacketType.CONFIG_WRITE, LWRITE, LREAD))]
                    with m.Else():
                        hold = tile_read & ~quiet
                        m.d.comb += [ni.i_tx.valid.eq(~hold), self.i_host.ready.eq(ni.i_tx.ready & ~hold)]
                        with m.If(ni.i_tx.ready & ~hold & (h.length != 0)):
                            m.d.sync += [left.eq(h.length), state.eq(FWD)]
            with m.Case(FWD):
                m.d.comb += [ni.i_tx.valid.eq(self.i_host.valid), self.i_host.ready.eq(ni.i_tx.ready)]
            with m.Case(DROP):
                m.d.comb += self.i_host.ready.eq(1)
            with m.Case(LWRITE):
                wr_bad = Signal()
                m.d.comb += wr_bad.eq(have_addr & ~((laddr == HostReg.RUN) | (laddr == HostReg.MARKERS)))
                run_busy = have_addr & (laddr == HostReg.RUN) & self.running
                refusing = wr_bad | run_busy
                m.d.comb += self.i_host.ready.eq(~(refusing & err_pending))
                with m.If(self.i_host.valid & ~have_addr):
                    m.d.sync += [laddr.eq(word[:32]), have_addr.eq(1)]
                with m.If(self.i_host.valid & have_addr & self.i_host.ready):
                    m.d.sync += have_addr.eq(0)
                    with m.If(wr_bad):
                        refuse(m, ErrorReason.BAD_REGISTER, laddr)
                    with m.Elif(run_busy):
                        refuse(m, ErrorReason.BUSY, laddr)
                    with m.Elif(laddr == HostReg.RUN):
                        m.d.sync += [run_left.eq(word[:16]), finishing.eq(word[:16] != 0)]
                    with m.Else():
                        m.d.sync += markers.eq(word[0])
            with m.Case(LREAD):
                # A READ_RESPONSE of `left` words, one register per address word.
                with m.If(~have_addr):
                    m.d.comb += [local_tx.valid.eq(self.i_host.valid),
                                 local_data.eq(head_word(hx, hy, PacketType.READ_RESPONSE, left, 0))]
                    with m.If(self.i_host.valid & local_tx.ready):
                        m.d.sync += have_addr.eq(1)
                with m.Else():
                    m.d.comb += [local_tx.valid.eq(self.i_host.valid), local_data.eq(local_reg),
                                 self.i_host.ready.eq(local_tx.ready)]
                    with m.If(self.i_host.valid & local_tx.ready & ~reg_known(m, word[:32], cc.nodes)):
                        m.d.sync += errors.eq(Mux(errors == 0xFFFF, errors, errors + 1))
        with m.If(self.i_host.valid & self.i_host.ready & (state != IDLE)):
            m.d.sync += left.eq(left - 1)
            with m.If(left == 1):
                m.d.sync += state.eq(IDLE)

        # Local register reads (combinational: the answer leaves with the word).
        raddr = word[:32]
        regs = {
            HostReg.ID: HOST_ID, HostReg.RUN: run_left, HostReg.STEPS: steps, HostReg.CYCLES: cycles,
            HostReg.ERRORS: errors, HostReg.STATE: Cat(self.running, quiet), HostReg.MARKERS: markers,
            HostReg.SHAPE: W | (H << 4) | (hx << 8) | (hy << 12) | (fw << 16),
            HostReg.INFLIGHT: self.in_flight, HostReg.FLITS: flits,
        }
        for i in range(cc.nodes):
            regs[HostReg.BUSY_BASE + i] = busy_counts[i]
            regs[HostReg.KIND_BASE + i] = int(kinds[i])
        with m.Switch(raddr):
            for a, v in regs.items():
                with m.Case(int(a)):
                    m.d.comb += local_reg.eq(v)

        # ---- step controller ------------------------------------------------------
        settle = Signal(range(SETTLE + 1))
        m.d.comb += quiet.eq((self.in_flight == 0) & ~self.tile_busy.any() & (settle == 0))
        ready_to_tick = quiet & ~mark_pending
        tick = Signal()
        m.d.sync += tick.eq(0)
        m.d.comb += self.tick.eq(tick)
        with m.If(settle != 0):
            m.d.sync += settle.eq(settle - 1)
        with m.If((run_left != 0) & ready_to_tick):
            m.d.sync += [tick.eq(1), settle.eq(SETTLE), run_left.eq(run_left - 1), steps.eq(steps + 1)]
            with m.If(markers):
                m.d.sync += [mark_pending.eq(1), mark_word.eq(steps)]
        with m.Elif(finishing & (run_left == 0) & quiet & ~done_pending):
            m.d.sync += [finishing.eq(0), done_pending.eq(1), done_word.eq(steps)]
        return m


def reg_known(m, addr, nodes):
    """Whether ``addr`` is a host-node register (an Amaranth expression)."""
    fixed = Const(0, 1)
    for r in (HostReg.ID, HostReg.RUN, HostReg.STEPS, HostReg.CYCLES, HostReg.ERRORS, HostReg.STATE,
              HostReg.SHAPE, HostReg.MARKERS, HostReg.INFLIGHT, HostReg.FLITS):
        fixed = fixed | (addr == r)
    busy = (addr >= HostReg.BUSY_BASE) & (addr < HostReg.BUSY_BASE + nodes)
    kind = (addr >= HostReg.KIND_BASE) & (addr < HostReg.KIND_BASE + nodes)
    return fixed | busy | kind
