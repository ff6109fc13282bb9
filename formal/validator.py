"""The packet validator at a router's local input (rtl/callosum/validator.py
PacketValidator), 3 x 3 mesh, flit_width 24: its output contract, which
``router_local_check`` assumes in its place.

Environment: anything at all on the input (any flits, any timing); the
output's ``ready`` is free.

Properties (asserted every cycle), on the output stream:

* stream rules (valid holds until taken, the payload stays put);
* only well-formed packets: a HEAD whose length L >= 1 followed by L - 1
  BODY flits and a TAIL, or a SINGLE of length 0;
* every head's destination is inside the mesh;
* no gaps: once a packet's head is out, the rest is on offer every cycle
  (the validator lets a packet out only once it is whole).

Inductive invariants (asserted too): the pointers' order, and the buffer's
contents: the committed part finishes the packet under way at the output
and then holds whole well-formed packets; the uncommitted part is the
packet being written (its head, then bodies, as many as the head's length
and ``remaining`` say), empty unless a packet is being written.
"""

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Cover, Mux, Signal
from amaranth.lib import data

from rtl.callosum.layouts import BODY, HEAD, SINGLE, TAIL, head_layout, link_layout
from rtl.callosum.validator import IN_PACKET, PacketValidator
from rtl.config import CallosumConfig

from .common import Harness, Proof, driven_signals, select

MAX_LEN = 15


class ProbedValidator(PacketValidator):
    """PacketValidator with read-only probes: its pointers and state, and
    ``p_slot[k]``, the buffer entry ``k`` places after the read pointer."""

    def __init__(self, cfg):
        super().__init__(cfg)
        D = self.depth
        pw = D.bit_length()
        lay = link_layout(cfg.flit_width)
        self.p_wr = Signal(pw, name="probe_wr")
        self.p_commit = Signal(pw, name="probe_commit")
        self.p_rd = Signal(pw, name="probe_rd")
        self.p_state = Signal(range(3), name="probe_state")
        self.p_remaining = Signal(4, name="probe_remaining")
        self.p_slot = [Signal(lay.size, name=f"probe_slot{k}") for k in range(D)]

    def elaborate(self, platform):
        m = super().elaborate(platform)
        D = self.depth
        pw = D.bit_length()
        assert D == 1 << (pw - 1), "the probes assume a power-of-two buffer"
        if {"wr", "commit"} <= {sig.name for sig in m._driving.keys()}:
            s = driven_signals(m, {"wr", "commit", "rd", "state", "remaining"})
        else:
            s = self._find_pointers(m, driven_signals(m, {"rd", "state", "remaining"}), pw)
        m.d.comb += [self.p_wr.eq(s["wr"]), self.p_commit.eq(s["commit"]), self.p_rd.eq(s["rd"]),
                     self.p_state.eq(s["state"]), self.p_remaining.eq(s["remaining"])]
        mem = m.submodules.mem
        for k in range(D):
            port = mem.read_port(domain="comb")
            m.d.comb += [port.addr.eq((s["rd"] + k)[:pw - 1]), self.p_slot[k].eq(port.data)]
        return m

    def _find_pointers(self, m, s, pw):
        """The write and commit pointers are unnamed in the RTL (made by
        tuple unpacking): commit is what ``o.valid`` compares ``rd`` with,
        wr the other pointer-wide register."""
        (valid_eq,) = [st for st in m._statements["comb"]
                       if getattr(st, "lhs", None) is self.o.valid]
        rhs = valid_eq.rhs
        assert rhs.operator == "!=" and rhs.operands[0] is s["rd"], rhs
        s["commit"] = rhs.operands[1]
        others = [sig for sig, domains in m._driving.items()
                  if sig.name == "$signal" and len(sig) == pw and sig is not s["commit"]
                  and set(domains) == {"sync"}]
        assert len(others) == 1, others
        s["wr"] = others[0]
        return s


class ValidatorHarness(Harness):
    def __init__(self, flit_width=24):
        super().__init__()
        self.cfg = CallosumConfig(width=3, height=3, flit_width=flit_width, fifo_depth=2, local_check=True)

    def harness(self, m):
        cfg = self.cfg
        lay, hlay = link_layout(cfg.flit_width), head_layout(cfg.flit_width)
        m.submodules.dut = dut = ProbedValidator(cfg)
        D, pw = dut.depth, dut.depth.bit_length()
        m.d.comb += [dut.i.valid.eq(AnySeq(1)), dut.i.payload.eq(AnySeq(lay.size)),
                     dut.o.ready.eq(AnySeq(1))]
        o = dut.o
        o_hs = o.valid & o.ready

        def on_mesh(flit):
            h = data.View(hlay, flit.data)
            return (h.dst_x < cfg.width) & (h.dst_y < cfg.height)

        def starts(flit):
            """A flit that may start a packet: HEAD (length >= 1, on the
            mesh) or SINGLE (length 0, on the mesh)."""
            length = data.View(hlay, flit.data).length
            return on_mesh(flit) & (((flit.kind == HEAD) & (length != 0)) |
                                    ((flit.kind == SINGLE) & (length == 0)))

        def follows(flit, left):
            return flit.kind == Mux(left == 1, TAIL, BODY)

        # Output monitor: flits still due in the packet under way.
        om_left = Signal(range(MAX_LEN + 1))
        om_long = Signal()
        f = o.payload
        length = data.View(hlay, f.data).length
        with m.If(o_hs):
            with m.If(om_left == 0):
                m.d.sync += [om_left.eq(Mux(f.kind == HEAD, length, 0)), om_long.eq(length >= 2)]
            with m.Else():
                m.d.sync += om_left.eq(om_left - 1)

        # The contract.
        self.stream_rules(m, o.valid, o.ready, f.as_value(), Assert)
        with m.If(o.valid):
            m.d.comb += Assert(Mux(om_left == 0, starts(f), follows(f, om_left)))
        with m.If(om_left != 0):
            m.d.comb += Assert(o.valid)

        # Inductive invariants.
        wr, commit, rd = dut.p_wr, dut.p_commit, dut.p_rd
        n_c = Signal(pw, name="n_committed")
        n_w = Signal(pw, name="n_written")
        m.d.comb += [n_c.eq(commit - rd), n_w.eq(wr - rd)]
        m.d.comb += [Assert(n_c <= n_w), Assert(n_w <= D), Assert(dut.p_state <= 2)]
        with m.If(dut.p_state != IN_PACKET):
            m.d.comb += Assert(wr == commit)
        with m.Else():
            m.d.comb += [Assert(n_w != n_c), Assert(dut.p_remaining != 0)]
        left = om_left
        for k in range(D):
            slot = data.View(lay, dut.p_slot[k])
            committed = k < n_c
            m.d.comb += Assert(~committed | Mux(left == 0, starts(slot), follows(slot, left)))
            slen = data.View(hlay, slot.data).length
            nxt = Signal(range(MAX_LEN + 1), name=f"chain_left{k}")     # a signal: no blow-up
            m.d.comb += nxt.eq(Mux(committed, Mux(left == 0, Mux(slot.kind == HEAD, slen, 0), left - 1), left))
            left = nxt
            partial = (k >= n_c) & (k < n_w)
            first = k == n_c
            m.d.comb += Assert(~partial | Mux(first, on_mesh(slot) & (slot.kind == HEAD) & (slen != 0),
                                              slot.kind == BODY))
        m.d.comb += Assert(left == 0)
        part_head = data.View(hlay, data.View(lay, select(dut.p_slot, n_c[:pw - 1])).data)
        with m.If(n_w != n_c):
            m.d.comb += Assert(part_head.length == dut.p_remaining + (n_w - n_c) - 1)

        # Reachability.
        errors_seen = Signal()
        with m.If(dut.errors != 0):
            m.d.sync += errors_seen.eq(1)
        m.d.comb += [
            Cover(o_hs & (f.kind == TAIL) & om_long),                  # a 3-flit packet out
            Cover(o_hs & (f.kind == SINGLE) & errors_seen),            # a good packet after a bad one
            Cover(o.valid & ~o.ready & (om_left != 0)),                # the sink stalls mid-packet
            Cover((dut.p_state == IN_PACKET) & (n_c != 0)),            # one packet out while one comes in
            Cover(dut.drops == 2),                                     # an aborted packet and a bad head
        ]


def proofs():
    return [
        Proof("validator", lambda: (lambda h: (h, h.ports()))(ValidatorHarness()),
              (("prove", 2), ("cover", 14)),
              doc="PacketValidator (3x3, flit 24), any input: its output is whole well-formed "
                  "on-mesh packets without gaps, obeying the stream rules",
              memory_map=False),
    ]
