"""The chip's message arbiter (rtl/chip/arbiter.py MessageArbiter): several
message streams share one output, a whole message at a time, fixed priority.

Environment (assumed): each input is a valid/ready stream (valid holds until
taken, the payload stays put) of messages, a head beat whose ``length``
(0..15) says how many word beats follow. The output's ``ready`` is free.

Properties (asserted), every cycle:

* at most one grant: at most one input sees ``ready``; the output moves a
  beat exactly when one input does, and it is that input's beat, unaltered
  (nothing lost, duplicated or made up);
* messages never interleave: once a head is taken, the output takes beats
  from that input only until the message's last beat, and an output
  message starts exactly where an input message starts;
* the output obeys the stream rules (valid holds until taken, payload put);
* ``busy`` is high while a message is on offer or in progress;
* bounded wait (the ``_live`` proof, which also assumes the output always
  ready and no gaps inside a message): an input offering a head is taken
  within 15 cycles unless a lower-numbered input's head is taken meanwhile.
  Fixed priority by design, so this is the bound there is: a higher-numbered
  input can be overtaken without bound (a Cover shows it overtaken twice).

``--negative`` adds ``arbiter_double_grant``: the same harness with input 0's
``ready`` also shown to input 1, which the proof must catch.
"""

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, Const, Cover, Signal
from amaranth.lib import data

from rtl.callosum.ni import tx_layout
from rtl.chip.arbiter import MessageArbiter

from .common import Harness, Proof, driven_signals, popcount, select

MAX_LEN = 15          # word beats after a head (4-bit length)


class ProbedArbiter(MessageArbiter):
    """MessageArbiter with read-only probes of its state (``remaining``,
    ``cur``) for the inductive invariants."""

    def __init__(self, flit_width, inputs):
        super().__init__(flit_width, inputs)
        self.p_remaining = Signal(5, name="probe_remaining")
        self.p_cur = Signal(range(max(inputs, 2)), name="probe_cur")

    def elaborate(self, platform):
        m = super().elaborate(platform)
        s = driven_signals(m, {"remaining", "cur"})
        m.d.comb += [self.p_remaining.eq(s["remaining"]), self.p_cur.eq(s["cur"])]
        return m


class ArbiterHarness(Harness):
    def __init__(self, flit_width=24, inputs=3, live=False, bug=None):
        super().__init__()
        self.fw, self.n, self.live, self.bug = flit_width, inputs, live, bug

    def harness(self, m):
        n, lay = self.n, tx_layout(self.fw)
        m.submodules.dut = dut = ProbedArbiter(self.fw, n)

        valid = [Signal(name=f"env_valid_{k}") for k in range(n)]
        payload = [Signal(lay, name=f"env_payload_{k}") for k in range(n)]
        ready = [Signal(name=f"env_ready_{k}") for k in range(n)]
        for k in range(n):
            i = dut.input(k)
            m.d.comb += [valid[k].eq(AnySeq(1)), payload[k].eq(AnySeq(lay.size)),
                         i.valid.eq(valid[k]), i.payload.eq(payload[k])]
            if self.bug == "double_grant" and k == 1:
                # Broken on purpose: input 1 also sees input 0's ready.
                m.d.comb += ready[k].eq(i.ready | dut.input(0).ready)
            else:
                m.d.comb += ready[k].eq(i.ready)
            self.stream_rules(m, valid[k], ready[k], payload[k], Assume)
        o = dut.o
        if self.live:
            m.d.comb += [o.ready.eq(1)]
        else:
            m.d.comb += o.ready.eq(AnySeq(1))
        hs = [valid[k] & ready[k] for k in range(n)]
        o_hs = o.valid & o.ready

        # Input message monitors: word beats still due (0: the next is a head).
        in_left = [Signal(range(MAX_LEN + 1), name=f"in_left_{k}") for k in range(n)]
        for k in range(n):
            with m.If(hs[k]):
                with m.If(in_left[k] == 0):
                    m.d.sync += in_left[k].eq(data.View(lay, payload[k]).length)
                with m.Else():
                    m.d.sync += in_left[k].eq(in_left[k] - 1)
            if self.live:
                # No gaps inside a message.
                with m.If(in_left[k] != 0):
                    m.d.comb += Assume(valid[k])

        # Output message monitor.
        om_left = Signal(range(MAX_LEN + 1))
        om_owner = Signal(range(max(n, 2)))
        src = Signal(range(max(n, 2)))          # the input moving a beat now
        for k in reversed(range(n)):
            with m.If(hs[k]):
                m.d.comb += src.eq(k)
        with m.If(o_hs):
            with m.If(om_left == 0):
                m.d.sync += [om_left.eq(o.payload.length), om_owner.eq(src)]
            with m.Else():
                m.d.sync += om_left.eq(om_left - 1)

        # At most one grant; the output's beat is exactly the granted input's.
        m.d.comb += Assert(popcount(ready) <= 1)
        m.d.comb += Assert(popcount(hs) <= 1)
        m.d.comb += Assert(o_hs == (popcount(hs) == 1))
        for k in range(n):
            with m.If(hs[k]):
                m.d.comb += Assert(o.payload.as_value() == payload[k].as_value())
        # Messages never interleave.
        with m.If(om_left != 0):
            for k in range(n):
                with m.If(om_owner != k):
                    m.d.comb += [Assert(~hs[k]), Assert(in_left[k] == 0)]
                with m.Else():
                    m.d.comb += Assert(in_left[k] == om_left)
        with m.Else():
            for k in range(n):
                m.d.comb += Assert(in_left[k] == 0)
        # Output stream rules; busy.
        self.stream_rules(m, o.valid, o.ready, o.payload.as_value(), Assert)
        m.d.comb += Assert(dut.busy == ((om_left != 0) | o.valid))

        # Inductive strengthening: the arbiter's state matches the monitors.
        rem, cur = dut.p_remaining, dut.p_cur
        m.d.comb += Assert(cur < n)
        with m.If(om_left != 0):
            m.d.comb += [Assert(rem == om_left), Assert(cur == om_owner)]
        with m.Elif(rem != 0):
            # A head offered but not taken last cycle stays granted.
            cur_payload = data.View(lay, select([p.as_value() for p in payload], cur))
            m.d.comb += [Assert(select(valid, cur)), Assert(rem == cur_payload.length + 1)]

        # Bounded wait (live): cycles an input has offered a head untaken,
        # since it began or a lower-numbered input's head was taken.
        wait = [Signal(range(MAX_LEN + 2), name=f"wait_{k}") for k in range(n)]
        overtaken = [Signal(2, name=f"overtaken_{k}") for k in range(n)]
        for k in range(n):
            offering = valid[k] & (in_left[k] == 0)
            lower_head = Const(0, 1)
            for j in range(k):
                lower_head = lower_head | (hs[j] & (in_left[j] == 0))
            higher_head = Const(0, 1)
            for j in range(k + 1, n):
                higher_head = higher_head | (hs[j] & (in_left[j] == 0))
            with m.If(offering & ~hs[k] & ~lower_head):
                m.d.sync += wait[k].eq(wait[k] + 1)
            with m.Else():
                m.d.sync += wait[k].eq(0)
            with m.If(offering & ~hs[k]):
                with m.If(lower_head & (overtaken[k] != 3)):
                    m.d.sync += overtaken[k].eq(overtaken[k] + 1)
            with m.Else():
                m.d.sync += overtaken[k].eq(0)
            if self.live:
                with m.If(offering):
                    m.d.comb += [Assert(wait[k] + om_left <= MAX_LEN), Assert(~higher_head)]
                    m.d.comb += Assert(wait[k] <= MAX_LEN)
            m.d.comb += Cover(overtaken[k] == 2) if k == n - 1 else Cover(wait[k] >= 3)

        # Reachability.
        if not self.live:
            m.d.comb += Cover(o.valid & ~o.ready & (om_left == 0))    # a head kept on offer
        m.d.comb += [
            Cover(o_hs & (om_left == 1)),                       # a message's last beat
            Cover(popcount([valid[k] & (in_left[k] == 0) for k in range(n)]) == n),  # all contend
            Cover((om_left == 2) & valid[0] & (om_owner == n - 1)),
        ]
        for k in range(n):
            m.d.comb += Cover(hs[k] & (in_left[k] == 0) & (data.View(lay, payload[k]).length == 2))


def _build(**kw):
    h = ArbiterHarness(**kw)
    return h, h.ports()


def proofs():
    return [
        Proof("arbiter", lambda: _build(), (("prove", 4), ("cover", 24)),
              doc="MessageArbiter(24, 3): one grant, whole messages, beats intact, stream rules, busy"),
        Proof("arbiter_live", lambda: _build(live=True), (("prove", 4), ("cover", 24)),
              doc="the same with the output always ready and no gaps in messages: "
                  "a head waits at most 15 cycles unless a lower-numbered input goes first"),
    ]


def negative_proofs():
    return [
        Proof("arbiter_double_grant", lambda: _build(bug="double_grant"), (("prove", 4),),
              doc="input 1 also sees input 0's ready: the one-grant property must fail",
              expect="fail"),
    ]
