"""Shared pieces of the formal harnesses: the proof record, the harness base
class (one reset-less ``sync`` domain whose registers start at their reset
values, so a trace starts from the state a reset leaves), past values,
stream rules, and probes into the units under proof.

Probes: a harness states inductive invariants about a unit's internal
state (k-induction needs them), so :class:`ProbedSyncFIFO` adds read ports
that show a FIFO's entries in order, and :func:`driven_signals` finds a
module's named internal signals after its ``elaborate``. Probes only read;
the logic under proof is the unit's own.
"""

from dataclasses import dataclass
from typing import Callable

from amaranth.hdl import ClockDomain, Elaboratable, Module, Mux, Signal, Value
from amaranth.lib import fifo


@dataclass
class Proof:
    """One design and what SymbiYosys does with it.

    ``tasks``: ``(mode, depth)`` pairs, mode ``prove`` (k-induction of
    depth k: unbounded), ``bmc`` (bounded: only traces up to ``depth``
    cycles) or ``cover`` (every ``Cover`` reached within ``depth``).
    ``expect``: ``"fail"`` for a deliberately broken design whose proof
    must fail (it shows the checker can fail).
    """
    name: str
    build: Callable[[], tuple]          # () -> (elaboratable, ports)
    tasks: tuple
    doc: str = ""
    expect: str = "pass"
    # Memories as flip-flops (faster for the small FIFOs); False keeps them
    # SMT arrays (faster for the validator's 32-entry buffer).
    memory_map: bool = True


class Harness(Elaboratable):
    """Base of every harness: ``self.harness(m)`` adds the unit and the
    properties. The ``sync`` domain is reset-less: registers start at their
    reset values, which is the state a reset leaves."""

    def __init__(self):
        self.cd = ClockDomain("sync", reset_less=True)
        self._past_valid = Signal(name="past_valid")

    def ports(self):
        return [self.cd.clk]

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.cd
        m.d.sync += self._past_valid.eq(1)
        self.harness(m)
        return m

    def harness(self, m):
        raise NotImplementedError

    @property
    def past_valid(self):
        """1 from the second cycle on (when past values mean something)."""
        return self._past_valid

    @staticmethod
    def past(m, value, name=None):
        """``value`` one cycle ago (its reset value in the first cycle)."""
        value = Value.cast(value)
        p = Signal(value.shape(), name=name)
        m.d.sync += p.eq(value)
        return p

    def stream_rules(self, m, valid, ready, payload, check):
        """Valid/ready stream rules: once valid, valid stays high and the
        payload stays put until taken. ``check`` is Assume (a source the
        unit relies on) or Assert (a source the unit drives)."""
        waited = self.past(m, valid & ~ready)
        last = self.past(m, payload)
        with m.If(self.past_valid & waited):
            m.d.comb += check(valid)
            m.d.comb += check(Value.cast(payload) == last)


def driven_signals(m, names):
    """The signals named ``names`` that module ``m`` drives (after its
    elaborate); each name must be unique. Reads Amaranth 0.5's module
    bookkeeping (``Module._driving``), pinned by pyproject."""
    found = {}
    for sig in m._driving.keys():
        if sig.name in names:
            if sig.name in found:
                raise LookupError(f"signal name {sig.name!r} is not unique in the module")
            found[sig.name] = sig
    missing = set(names) - set(found)
    if missing:
        raise LookupError(f"signals not found (did the RTL change?): {sorted(missing)}")
    return found


def mod_add(a, k, n):
    """``(a + k) mod n`` for ``a < n`` and constant ``0 <= k < n``."""
    s = a + k
    return Mux(s >= n, s - n, s)[:max(1, (n - 1).bit_length())]


class ProbedSyncFIFO(fifo.SyncFIFO):
    """amaranth.lib.fifo.SyncFIFO with read-only probes: ``p_slot[k]`` is
    the k-th entry from the head (valid for ``k < level``), ``p_produce``
    and ``p_consume`` its pointers. The FIFO's logic is the library's own
    (``super().elaborate``); the probes add comb read ports only."""

    def __init__(self, *, width, depth):
        super().__init__(width=width, depth=depth)
        self.p_slot = [Signal(width, name=f"probe_slot{k}") for k in range(depth)]
        self.p_produce = Signal(range(depth), name="probe_produce")
        self.p_consume = Signal(range(depth), name="probe_consume")

    def elaborate(self, platform):
        m = super().elaborate(platform)
        sigs = driven_signals(m, {"produce", "consume"})
        m.d.comb += [self.p_produce.eq(sigs["produce"]), self.p_consume.eq(sigs["consume"])]
        storage = m.submodules.storage
        for k in range(self.depth):
            port = storage.read_port(domain="comb")
            m.d.comb += [port.addr.eq(mod_add(sigs["consume"], k, self.depth)),
                         self.p_slot[k].eq(port.data)]
        return m


def select(values, index):
    """``values[index]`` as a comb expression (a Mux chain; index 0 for any
    index out of range)."""
    out = Value.cast(values[0])
    for k in range(1, len(values)):
        out = Mux(index == k, values[k], out)
    return out


def popcount(bits):
    total = 0
    for b in bits:
        total = total + b
    return total
