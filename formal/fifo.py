"""The router's input FIFO (amaranth.lib.fifo.SyncFIFO, as rtl/callosum/
router.py instantiates it: one link flit wide, ``fifo_depth`` deep).

Stream contract, by the tracked-token technique: any one write (chosen by a
free ``pick`` input) is tracked with the number of entries ahead of it;
every read moves it up one place; it must be read exactly once, at its
place in the write order, with the data it was written with. Since the
tracked write is arbitrary, this holds for every write: nothing is lost,
duplicated, reordered or altered. The harness also counts entries and
asserts the FIFO's ``level``, ``w_rdy`` and ``r_rdy`` agree with the count,
so nothing appears from nowhere (a read always returns a written entry) and
the FIFO takes a write whenever it has room.
"""

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Cover, Signal

from rtl.callosum.layouts import link_layout

from .common import Harness, ProbedSyncFIFO, Proof, select

IDLE, IN_FIFO, DONE = 0, 1, 2


class FifoHarness(Harness):
    def __init__(self, width, depth):
        super().__init__()
        self.width, self.depth = width, depth

    def harness(self, m):
        W, D = self.width, self.depth
        m.submodules.dut = q = ProbedSyncFIFO(width=W, depth=D)
        m.d.comb += [q.w_data.eq(AnySeq(W)), q.w_en.eq(AnySeq(1)), q.r_en.eq(AnySeq(1))]
        wr = q.w_en & q.w_rdy
        rd = q.r_en & q.r_rdy

        # Entries written and not yet read, counted by the harness.
        occ = Signal(range(D + 1))
        m.d.sync += occ.eq(occ + wr - rd)
        m.d.comb += [Assert(q.level == occ), Assert(q.w_rdy == (occ != D)), Assert(q.r_rdy == (occ != 0))]

        # The tracked write.
        pick = Signal()
        m.d.comb += pick.eq(AnySeq(1))
        state = Signal(range(3))
        data = Signal(W)
        ahead = Signal(range(D))        # entries ahead of it
        with m.If((state == IDLE) & wr & pick):
            m.d.sync += [state.eq(IN_FIFO), data.eq(q.w_data), ahead.eq(occ - rd)]
        with m.If(state == IN_FIFO):
            m.d.comb += [Assert(ahead < occ), Assert(select(q.p_slot, ahead) == data)]
            with m.If(ahead == 0):
                # At the head: on offer (first-word fall-through) with its data.
                m.d.comb += [Assert(q.r_rdy), Assert(q.r_data == data)]
            with m.If(rd):
                with m.If(ahead == 0):
                    m.d.sync += state.eq(DONE)
                with m.Else():
                    m.d.sync += ahead.eq(ahead - 1)
        m.d.comb += Assert(state != 3)

        # Reachability: the tracked entry comes out, from behind a full FIFO,
        # and the FIFO writes and reads in one cycle when full and empty.
        behind = Signal()
        with m.If((state == IDLE) & wr & pick & (occ - rd == D - 1)):
            m.d.sync += behind.eq(1)
        m.d.comb += [
            Cover(state == DONE),
            Cover((state == DONE) & behind),
            Cover(occ == D),
            Cover(wr & rd & (occ == D - 1)),
            Cover(wr & rd & (occ == 1)),
        ]


def proofs():
    out = []
    fw = 24
    W = link_layout(fw).size
    for D in (2, 3, 4):
        out.append(Proof(
            name=f"fifo_d{D}",
            build=lambda D=D: (lambda h: (h, h.ports()))(FifoHarness(W, D)),
            tasks=(("prove", 4 + D), ("cover", 4 * D + 4)),
            doc=f"SyncFIFO {W} bits x {D} (the router's input FIFO at flit_width {fw}): "
                "tracked write read once, in order, intact; level/w_rdy/r_rdy match the count",
        ))
    return out
