"""The host bridge and step controller: where the host port enters the mesh.

Host port (both directions): words of ``flit_width`` bits; a packet is its
head word (the head flit's data) and ``length`` data words
(sw_model/chip_map.py). From the host, each head is checked before anything
enters the mesh: destination inside the mesh and holding a tile, a type that
tile takes, a word count right for the type. A refused head is answered
with a ``STATUS`` ``ERROR`` (reason, and the head word as detail) and then
dropped with its words; the bridge then carries on. The head waits on the
host port, not taken, until its STATUS has sent it (the detail is not
copied), so one error is under way at a time. Packets for the host node
itself are the controller's register accesses (``HostReg``), answered
locally.

The bridge makes and takes the host node's flits itself, with no network
interface: a host head word is the head flit's data once the source field
is this node, and a head flit arriving here is already the host's head word.
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
before any packet that step produces; ``STEPS`` then counts the step once its
mark has left (its word is the step's index), without markers as it starts.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from sw_model.chip_map import HOST_ID, ErrorReason, HostReg, NodeKind, Status

from ..callosum.layouts import BODY, HEAD, SINGLE, TAIL, PacketType, head_layout, link_layout
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
            "cycles": Out(cfg.chip.counter_bits),   # the CYCLES counter (a board's heartbeat)
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        cc = cfg.callosum
        fw, W, H = cc.flit_width, cc.width, cc.height
        hx, hy = cfg.chip.host
        kinds = node_kinds(cfg)
        hl = head_layout(fw)

        def head_word(src_x, src_y, ptype, length, payload):
            """A host-bound head word (one expression: see tx_word)."""
            values = {"dst_x": hx, "dst_y": hy, "src_x": src_x, "src_y": src_y, "ptype": ptype,
                      "length": length, "payload": payload}
            return Cat(*(Const(v, f.width) if isinstance(v, int) else Value.cast(v)[:f.width]
                         for v, (_, f) in zip(values.values(), hl)))

        # ---- host-bound words: [status engine, local read responses, mesh] --------
        # Three sources share o_host a whole packet at a time, fixed priority
        # (the bridge's own packets first). Each source says which beat is its
        # packet's last, so no word count is kept here. The mesh's flits go
        # to the host as they are: a head flit that reached this node is
        # already the host's head word (destination this node, source, type,
        # length, payload), so neither a network interface nor a rebuilt head
        # stands in between.
        beat = data.StructLayout({"data": unsigned(fw), "last": unsigned(1)})
        st_valid, st_ready, st_data, st_last = Signal(), Signal(), Signal(fw), Signal()
        # Local register reads are answered through a slice: the register
        # file's read mux and this merge are one path otherwise, too long for
        # the ECP5 clock. The answer leaves a cycle later (a wire with
        # chip.link_slices = false).
        m.submodules.local_slice = local_slice = link_slice(beat, cfg.chip.link_slices)
        local_tx, local_rx = local_slice.i, local_slice.o
        sources = [
            (1, st_valid, st_ready, st_data, st_last),
            (2, local_rx.valid, local_rx.ready, local_rx.payload.data, local_rx.payload.last),
            (3, self.i_flit.valid, self.i_flit.ready, self.i_flit.payload.data, self.i_flit.payload.kind[1]),
        ]
        owner = Signal(2)              # the source whose packet is on offer or under way; 0: none yet
        pick = Signal(2)
        for k, valid, *_ in reversed(sources):
            with m.If(valid):
                m.d.comb += pick.eq(k)
        sel = Signal(2)
        m.d.comb += sel.eq(Mux(owner != 0, owner, pick))
        # Two levels of two-way muxes on sel's bits: sel = 0 (nothing on
        # offer) shows the status engine, which then offers nothing either.
        (_, st_v, _, st_d, st_l), (_, lo_v, _, lo_d, lo_l), (_, me_v, _, me_d, me_l) = sources
        out_last = Signal()
        m.d.comb += [self.o_host.valid.eq(Mux(sel[1], Mux(sel[0], me_v, lo_v), st_v)),
                     self.o_host.payload.eq(Mux(sel[1], Mux(sel[0], me_d, lo_d), st_d)),
                     out_last.eq(Mux(sel[1], Mux(sel[0], me_l, lo_l), st_l))]
        for k, _, ready, *_ in sources:
            m.d.comb += ready.eq(self.o_host.ready & (sel == k))
        # A packet on offer keeps its grant until its last word has left, so
        # the word never changes under a waiting sink.
        with m.If(self.o_host.valid & self.o_host.ready & out_last):
            m.d.sync += owner.eq(0)
        with m.Elif(self.o_host.valid):
            m.d.sync += owner.eq(sel)

        # ---- registers and counters ----------------------------------------------
        errors = Signal(16)
        err_inc = Signal()             # one refused packet or unknown register read this cycle
        with m.If(err_inc & ~errors.all()):
            m.d.sync += errors.eq(errors + 1)
        # Statistics counters are chip.counter_bits wide (they wrap; each
        # bit is a logic cell and a read-mux input on the iCE40) and read
        # zero-extended.
        cb = cfg.chip.counter_bits
        steps, cycles = Signal(cb), Signal(cb)
        run_left = Signal(16)
        finishing = Signal()
        done_pending = Signal()        # a run ends once its RUN_DONE has left
        quiet = Signal()
        markers = Signal()
        m.d.comb += [self.errors.eq(errors), self.steps.eq(steps), self.cycles.eq(cycles),
                     self.running.eq((run_left != 0) | finishing | done_pending)]
        flits = Signal(cb)
        m.d.sync += [cycles.eq(cycles + 1), flits.eq(flits + self.flits_injected)]
        busy_counts = []
        for i in range(cc.nodes):
            c = Signal(cb, name=f"busy_cycles_{i}")
            with m.If(self.tile_busy[i]):
                m.d.sync += c.eq(c + 1)
            busy_counts.append(c)

        # ---- status engine: one pending STATUS per source -------------------------
        # An error's detail word (the refused head, or the address of a
        # refused register write) is not copied: the word stays on i_host,
        # not taken, until the STATUS has sent it (err_detail_left), so
        # err_pending is high only while that word is the one on offer.
        err_pending, err_reason = Signal(), Signal(3)
        err_detail_left = Signal()
        mark_pending = Signal()
        # The source is chosen (errors first) one cycle before its head is
        # offered and held until its word has left: a source raised later
        # never replaces a head under a waiting sink. A source cannot be
        # raised again while it is pending, so its fields hold too. The words
        # of STEP and RUN_DONE are STEPS itself: a step with a mark is counted
        # once its mark has left (see the step controller), and no step
        # starts while either is pending.
        st_active, st_head_sent = Signal(), Signal()
        mark_sent = Signal()
        st_sel = Signal(2)
        with m.If(~st_active & (err_pending | mark_pending | done_pending)):
            m.d.sync += [st_active.eq(1), st_head_sent.eq(0),
                         st_sel.eq(Mux(err_pending, 0, Mux(mark_pending, 1, 2)))]
        st_code, st_reason, st_word = Signal(4), Signal(3), Signal(fw)
        with m.Switch(st_sel):
            with m.Case(0):
                m.d.comb += [st_code.eq(Status.ERROR), st_reason.eq(err_reason)]
            with m.Case(1):
                m.d.comb += st_code.eq(Status.STEP)
            with m.Default():
                m.d.comb += st_code.eq(Status.RUN_DONE)
        m.d.comb += st_word.eq(Mux(st_sel == 0, self.i_host.payload, steps))   # STEP and RUN_DONE send STEPS
        m.d.comb += [st_valid.eq(st_active), st_last.eq(st_head_sent)]
        with m.If(~st_head_sent):
            m.d.comb += st_data.eq(head_word(hx, hy, PacketType.STATUS, 1, Cat(st_code, st_reason)))
            with m.If(st_active & st_ready):
                m.d.sync += st_head_sent.eq(1)
        with m.Else():
            m.d.comb += st_data.eq(st_word)
            with m.If(st_ready):
                m.d.sync += [st_head_sent.eq(0), st_active.eq(0)]
                with m.Switch(st_sel):
                    with m.Case(0):
                        m.d.sync += err_pending.eq(0)
                        m.d.comb += err_detail_left.eq(1)
                    with m.Case(1):
                        m.d.sync += mark_pending.eq(0)
                        m.d.comb += mark_sent.eq(1)
                    with m.Case(2):
                        m.d.sync += done_pending.eq(0)

        # ---- host -> mesh / local ------------------------------------------------
        IDLE, FWD, DROP, LWRITE, LREAD = range(5)
        state = Signal(range(5))
        left = Signal(4)               # words of the current packet still to come
        have_addr = Signal()
        wr_run, wr_markers = Signal(), Signal()   # LWRITE: the address taken is RUN, MARKERS
        word = self.i_host.payload
        h = data.View(hl, word)
        dst_in_mesh = (h.dst_x < W) & (h.dst_y < H)
        dst_kind = Signal(2)
        with m.Switch(Cat(h.dst_x, h.dst_y)):     # (no y * width product)
            for i, k in enumerate(kinds):
                with m.Case((i % W) | (i // W) << 3):
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

        def refuse(m, why):
            """Refuse the word on offer: raise an error STATUS whose detail
            is that word (once), and take the word when the detail has left.
            Returns the condition under which it is taken."""
            with m.If(~err_pending):
                m.d.sync += [err_pending.eq(1), err_reason.eq(why)]
                m.d.comb += err_inc.eq(1)
            m.d.comb += self.i_host.ready.eq(err_detail_left)
            return err_detail_left

        # The host's head word is the head flit's data with this node as the
        # source: the bridge makes its own flits (no network interface).
        idle = state == IDLE
        s0, s1 = hl["src_x"].offset, hl["src_y"].offset + 3
        m.d.comb += [
            self.o_flit.payload.data.eq(Cat(word[:s0], Mux(idle, Const(hx | hy << 3, 6), word[s0:s1]), word[s1:])),
            self.o_flit.payload.kind.eq(Mux(idle, Mux(h.length == 0, SINGLE, HEAD), Mux(left == 1, TAIL, BODY))),
        ]
        # Host-node register addresses: 0x00.., BUSY_BASE + node, KIND_BASE + node.
        raddr = word[:32]
        hi_zero = raddr[8:] == 0
        m.d.comb += local_tx.payload.last.eq(have_addr & (left == 1))
        with m.Switch(state):
            with m.Case(IDLE):
                with m.If(self.i_host.valid):
                    with m.If(err_pending | (reason != 0)):
                        # (err_pending: this head is refused already; its
                        # reason, latched, may not hold any more.)
                        with m.If(refuse(m, reason)):
                            m.d.sync += [left.eq(h.length), state.eq(Mux(h.length == 0, IDLE, DROP))]
                    with m.Elif(to_host_node):
                        m.d.comb += self.i_host.ready.eq(1)
                        m.d.sync += [left.eq(h.length), have_addr.eq(0),
                                     state.eq(Mux(h.ptype == PacketType.CONFIG_WRITE, LWRITE, LREAD))]
                    with m.Else():
                        hold = tile_read & ~quiet
                        m.d.comb += [self.o_flit.valid.eq(~hold), self.i_host.ready.eq(self.o_flit.ready & ~hold)]
                        with m.If(self.o_flit.ready & ~hold & (h.length != 0)):
                            m.d.sync += [left.eq(h.length), state.eq(FWD)]
            with m.Case(FWD):
                m.d.comb += [self.o_flit.valid.eq(self.i_host.valid), self.i_host.ready.eq(self.o_flit.ready)]
            with m.Case(DROP):
                m.d.comb += self.i_host.ready.eq(1)
            with m.Case(LWRITE):
                # A pair: the address decides (RUN, MARKERS; RUN refused
                # during a run), the data word is written or dropped.
                with m.If(~have_addr):
                    is_run = hi_zero & (raddr[:8] == HostReg.RUN)
                    is_markers = hi_zero & (raddr[:8] == HostReg.MARKERS)
                    bad, busy = ~(is_run | is_markers), is_run & self.running
                    with m.If(self.i_host.valid):
                        with m.If(err_pending | bad | busy):
                            with m.If(refuse(m, Mux(bad, ErrorReason.BAD_REGISTER, ErrorReason.BUSY))):
                                m.d.sync += [have_addr.eq(1), wr_run.eq(0), wr_markers.eq(0)]
                        with m.Else():
                            m.d.comb += self.i_host.ready.eq(1)
                            m.d.sync += [have_addr.eq(1), wr_run.eq(is_run), wr_markers.eq(is_markers)]
                with m.Else():
                    m.d.comb += self.i_host.ready.eq(1)
                    with m.If(self.i_host.valid):
                        m.d.sync += have_addr.eq(0)
                        with m.If(wr_run):
                            m.d.sync += [run_left.eq(word[:16]), finishing.eq(word[:16] != 0)]
                        with m.Elif(wr_markers):
                            m.d.sync += markers.eq(word[0])
            with m.Case(LREAD):
                # A READ_RESPONSE of `left` words, one register per address word.
                with m.If(~have_addr):
                    m.d.comb += local_tx.valid.eq(self.i_host.valid)
                    with m.If(self.i_host.valid & local_tx.ready):
                        m.d.sync += have_addr.eq(1)
                with m.Else():
                    m.d.comb += [local_tx.valid.eq(self.i_host.valid), self.i_host.ready.eq(local_tx.ready)]
                    with m.If(self.i_host.valid & local_tx.ready & ~reg_known(raddr, cc.nodes)):
                        m.d.comb += err_inc.eq(1)
        with m.If(self.i_host.valid & self.i_host.ready & ~idle):
            m.d.sync += left.eq(left - 1)
            with m.If(left == 1):
                m.d.sync += state.eq(IDLE)

        # Local register reads (combinational: the answer leaves with the
        # word). The address is decoded in pieces (high bits zero, then the
        # group in bits 7..6, then the low bits), not compared whole against
        # every register: a tree of two-way muxes on the address bits per
        # group (constant branches fold away), unknown addresses read 0.
        fixed = {
            HostReg.ID: HOST_ID, HostReg.RUN: run_left, HostReg.STEPS: steps, HostReg.CYCLES: cycles,
            HostReg.ERRORS: errors, HostReg.STATE: Cat(self.running, quiet), HostReg.MARKERS: markers,
            HostReg.SHAPE: W | (H << 4) | (hx << 8) | (hy << 12) | (fw << 16),
            HostReg.INFLIGHT: self.in_flight, HostReg.FLITS: flits,
        }
        fixed_v = _mux_tree(raddr[:4], [fixed.get(a, 0) for a in range(16)])
        node_bits = max(1, (cc.nodes - 1).bit_length())
        busy_v = _mux_tree(raddr[:node_bits], busy_counts + [0] * ((1 << node_bits) - cc.nodes))
        kind_v = _mux_tree(raddr[:node_bits], [int(k) for k in kinds] + [0] * ((1 << node_bits) - cc.nodes))
        # The READ_RESPONSE's words: its head, then the registers. Gating
        # each group by one enable (an address known, of that group, and past
        # the head) and OR-ing them costs one gate a bit where a chain of
        # two-way muxes (group, known, head) would cost three.
        reg_en = have_addr & reg_known(raddr, cc.nodes)
        m.d.comb += local_tx.payload.data.eq(
            (Mux(raddr[6], busy_v, fixed_v) & (reg_en & ~raddr[7]).replicate(32)) |
            (Value.cast(kind_v) & (reg_en & raddr[7]).replicate(2)) |
            (head_word(hx, hy, PacketType.READ_RESPONSE, left, 0) & (~have_addr).replicate(fw)))

        # ---- step controller ------------------------------------------------------
        settle = Signal(range(SETTLE + 1))
        m.d.comb += quiet.eq((self.in_flight == 0) & ~self.tile_busy.any() & (settle == 0))
        ready_to_tick = quiet & ~mark_pending
        tick = Signal()
        m.d.sync += tick.eq(0)
        m.d.comb += self.tick.eq(tick)
        with m.If(settle != 0):
            m.d.sync += settle.eq(settle - 1)
        # A step is counted in STEPS as it starts, or, with markers, once its
        # STEP mark (whose word is the step's index, STEPS before it) has
        # left: the mark needs no copy of STEPS, and the next tick waits for
        # it anyway. One incrementer serves both.
        step_done = Signal()
        with m.If(step_done):
            m.d.sync += steps.eq(steps + 1)
        m.d.comb += step_done.eq(mark_sent)
        with m.If((run_left != 0) & ready_to_tick):
            m.d.sync += [tick.eq(1), settle.eq(SETTLE), run_left.eq(run_left - 1)]
            with m.If(markers):
                m.d.sync += mark_pending.eq(1)
            with m.Else():
                m.d.comb += step_done.eq(1)
        with m.Elif(finishing & (run_left == 0) & quiet & ~done_pending):
            m.d.sync += [finishing.eq(0), done_pending.eq(1)]
        return m


def _mux_tree(sel, leaves):
    """``leaves[sel]`` as a tree of two-way muxes (``len(leaves) == 2 ** len(sel)``);
    equal constant branches are folded here, not left to synthesis."""
    if len(leaves) == 1:
        return leaves[0]
    half = len(leaves) // 2
    lo, hi = _mux_tree(sel[:-1], leaves[:half]), _mux_tree(sel[:-1], leaves[half:])
    if isinstance(lo, int) and isinstance(hi, int) and lo == hi:
        return lo
    return Mux(sel[-1], hi, lo)


def reg_known(addr, nodes):
    """Whether ``addr`` (32 bits) is a host-node register (an Amaranth expression)."""
    fixed = max(HostReg.ID, HostReg.RUN, HostReg.STEPS, HostReg.CYCLES, HostReg.ERRORS, HostReg.STATE,
                HostReg.SHAPE, HostReg.MARKERS, HostReg.INFLIGHT, HostReg.FLITS)
    assert sorted(int(r) for r in HostReg if r < HostReg.BUSY_BASE) == list(range(fixed + 1))
    assert HostReg.BUSY_BASE == 0x40 and HostReg.KIND_BASE == 0x80 and nodes <= 0x40
    group, low = addr[6:8], addr[:6]
    return (addr[8:] == 0) & (((group == 0) & (low <= fixed)) |
                              (((group == 1) | (group == 2)) & (low < nodes)))
