"""The weight-stationary systolic array with its input skew and output de-skew.

PE(r, c) holds two weight registers (a double buffer: one computes while the
other loads). Activations enter row r from the left, skewed by r cycles, and
move one PE right per cycle carrying the bank bit that selects which weight
register they multiply with, so a tile switch sweeps through the array as a
diagonal wavefront with no bubble. Partial sums move one PE down per cycle;
column c leaves the bottom c cycles late and is de-skewed by ``cols-1-c``
stages, so row m of A entering at cycle t leaves as one plain row of partial
sums at cycle ``t + LATENCY``.

Weight writes sweep the same way: lane c of a written row lands c steps after
lane 0, behind the last activation that still reads the old value. A bank's
row r can therefore be rewritten r+1 steps after the last activation of the
tile that used it entered, whatever ``cols`` is, and a tile of M rows costs
max(M, rows) cycles. Every register advances only on ``en``.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..common.delay import delay, delay_line


def psum_width(rows):
    """Signed width that holds any sum of ``rows`` int8 x int8 products."""
    return 16 + max(rows - 1, 0).bit_length()


class SystolicArray(wiring.Component):
    """``rows`` x ``cols`` PEs. Ports:

    * ``en``: advance every pipeline register by one step.
    * ``a``, ``bank``: one row of activations (``rows`` int8 lanes, unskewed)
      and the weight bank it multiplies with.
    * ``w_we``, ``w_bank``, ``w_row``, ``w_data``: write one row of weights
      (``cols`` int8) into one bank; lane c lands c enabled steps later.
    * ``psum``: the de-skewed partial-sum row, ``LATENCY`` enabled cycles after
      its activations were presented.
    """

    def __init__(self, rows, cols):
        self.rows, self.cols = rows, cols
        self.pw = psum_width(rows)
        self.LATENCY = rows + cols - 1
        super().__init__({
            "en": In(1),
            "a": In(data.ArrayLayout(signed(8), rows)),
            "bank": In(1),
            "w_we": In(1),
            "w_bank": In(1),
            "w_row": In(range(max(rows, 2))),   # never zero-width
            "w_data": In(data.ArrayLayout(signed(8), cols)),
            "psum": Out(data.ArrayLayout(signed(self.pw), cols)),
        })

    def elaborate(self, platform):
        m = Module()
        R, C, en = self.rows, self.cols, self.en

        # Weight double buffer, written a row at a time; the write for lane c
        # travels c steps to the right first (the write wavefront).
        weights = [[[Signal(signed(8), name=f"w{b}_r{r}_c{c}") for c in range(C)]
                    for r in range(R)] for b in range(2)]
        wr = Signal(data.StructLayout({"we": 1, "bank": 1, "row": range(max(R, 2))}))
        m.d.comb += [wr.we.eq(self.w_we & en), wr.bank.eq(self.w_bank), wr.row.eq(self.w_row)]
        wr_taps = delay_line(m, wr, C - 1, en, "w_wr")
        for c in range(C):
            lane = wr_taps[c]
            lane_data = delay(m, self.w_data[c], c, en, f"w_data{c}")
            for b in range(2):
                for r in range(R):
                    with m.If(lane.we & (lane.bank == b) & (lane.row == r) & en):
                        m.d.sync += weights[b][r][c].eq(lane_data)

        # Input skew: lane r (and its bank bit) waits r steps.
        a_skew = [delay(m, self.a[r], r, en, f"skew_a{r}") for r in range(R)]
        b_skew = [delay(m, self.bank, r, en, f"skew_b{r}") for r in range(R)]

        psum = [[None] * C for _ in range(R)]
        for r in range(R):
            a_in, b_in = a_skew[r], b_skew[r]
            for c in range(C):
                w = Mux(b_in, weights[1][r][c], weights[0][r][c])
                p_in = psum[r - 1][c] if r > 0 else 0
                p = Signal(signed(self.pw), name=f"psum_r{r}_c{c}")
                with m.If(en):
                    m.d.sync += p.eq(p_in + a_in * w)
                psum[r][c] = p
                if c < C - 1:   # the last column's activations go nowhere
                    a_nxt = Signal(signed(8), name=f"a_r{r}_c{c}")
                    b_nxt = Signal(name=f"bank_r{r}_c{c}")
                    with m.If(en):
                        m.d.sync += [a_nxt.eq(a_in), b_nxt.eq(b_in)]
                    a_in, b_in = a_nxt, b_nxt

        # Output de-skew: column c waits cols-1-c steps.
        for c in range(C):
            m.d.comb += self.psum[c].eq(delay(m, psum[R - 1][c], C - 1 - c, en, f"deskew{c}"))
        return m
