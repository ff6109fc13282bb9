"""Valid/ready stream drivers and monitors for Amaranth ``lib.stream`` ports.

An Amaranth stream port ``x`` appears in the generated Verilog as
``x__valid``, ``x__ready`` and ``x__payload``. Payloads are plain integers
(packed bits); the unit's bench packs and unpacks them.

The handshake is sampled at each rising edge (as cocotbext-axi does): a beat
moves when valid and ready were both high at that edge. Idle and
back-pressure come from generators of booleans, so every test can be crossed
with any pattern.
"""

from __future__ import annotations

import random
from collections import deque

import cocotb
from cocotb.triggers import ClockCycles, Event, FallingEdge, RisingEdge

from tb.common import fcov


def random_pattern(p: float, rng: random.Random):
    """Endless booleans, True with probability ``p`` (None when p == 0)."""
    if p <= 0:
        return None

    def gen():
        while True:
            yield rng.random() < p
    return gen()


async def reset(dut, cycles=3):
    """Hold the synchronous, active-high ``rst`` for ``cycles`` clock edges."""
    dut.rst.value = 1
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


async def reset_under_traffic(dut, sources, sinks, cycles: int):
    """Assert ``rst`` now, mid-traffic, for ``cycles`` edges: every source
    drops its queue and the beat on the wire (what an upstream block reset
    with the DUT does). A beat offered before the first reset edge may still
    be taken at it; the sinks forget those. Any beat they take after it, up
    to and including the first edge out of reset, came from a stale valid
    and fails here. Returns after the first edge out of reset."""
    dut.rst.value = 1
    for s in sources:
        s.flush()
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)     # the monitors have handled that edge
    for s in sinks:
        s.flush()
    if cycles > 1:
        await ClockCycles(dut.clk, cycles - 1)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    for s in sinks:
        assert not s.queue, (f"{s.name}: {len(s.queue)} beat(s) taken during or right after a reset "
                             f"(a stale valid)")


async def expect_steady(dut, expect: dict, cycles: int, what: str):
    """``expect`` ({signal name: value}) holds at each of the next ``cycles``
    edges; ``what`` names the situation (and the seed) in the message."""
    for i in range(cycles):
        got = {name: int(getattr(dut, name).value) for name in expect}
        assert got == expect, f"{what}, cycle {i}: {got}, expected {expect}"
        await RisingEdge(dut.clk)


class Cycles:
    """Counts rising edges of the clock: the bench's time base."""

    def __init__(self, clk):
        self.clk = clk
        self.now = 0
        cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            await RisingEdge(self.clk)
            self.now += 1


class StreamSource:
    """Drives ``<prefix>__valid``/``__payload`` from a queue of integers."""

    def __init__(self, dut, prefix, clk, cycles: Cycles):
        self.name = prefix
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.clk, self.cycles = clk, cycles
        self.queue: deque[int] = deque()
        self.idle = None
        self.sent = 0
        self.stalls = 0             # edges with valid high and ready low
        self.first_cycle = None     # edge at which the first beat was taken
        self.last_cycle = None
        self._valid = False
        self._wake = Event()
        self._drained = Event()
        self.valid.value = 0
        fcov.watch_port(self, "input")
        cocotb.start_soon(self._run())

    def send(self, beats):
        self.queue.extend(beats)
        self._drained.clear()
        self._wake.set()

    def empty(self):
        return not self.queue and self._drained.is_set()

    def flush(self):
        """Drop every queued beat and the one on the wire (valid low now):
        what an upstream block does when it is reset with the DUT."""
        self.queue.clear()
        self._valid = False
        self.valid.value = 0
        self._drained.set()

    async def wait_drained(self):
        await self._drained.wait()

    async def _run(self):
        self._valid = False
        while True:
            if not self._valid and not self.queue:
                self._drained.set()
                self._wake.clear()
                await self._wake.wait()
            await RisingEdge(self.clk)
            if self._valid:
                if self.ready.value:
                    self._valid = False
                    self.sent += 1
                    if self.first_cycle is None:
                        self.first_cycle = self.cycles.now
                    self.last_cycle = self.cycles.now
                else:
                    self.stalls += 1
            if not self._valid and self.queue and not (self.idle is not None and next(self.idle)):
                self.payload.value = self.queue.popleft()
                self._valid = True
                self.valid.value = 1
            elif not self._valid:
                self.valid.value = 0


class StreamSink:
    """Takes beats from ``<prefix>__valid``/``__payload`` into a queue,
    applying back-pressure from a generator."""

    def __init__(self, dut, prefix, clk, cycles: Cycles):
        self.name = prefix
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.clk, self.cycles = clk, cycles
        self.queue: deque[int] = deque()
        self.backpressure = None
        self.received = 0
        self.stalls = 0             # edges with valid high and ready low
        self.last_cycle = None
        self._got = Event()
        self.ready.value = 0
        fcov.watch_port(self, "output")
        cocotb.start_soon(self._run())

    async def recv(self) -> int:
        while not self.queue:
            self._got.clear()
            await self._got.wait()
        return self.queue.popleft()

    def flush(self):
        """Forget the beats received and not yet taken by the test."""
        self.queue.clear()

    async def _run(self):
        ready = False
        while True:
            await RisingEdge(self.clk)
            if ready and self.valid.value:
                self.queue.append(self.payload.value.to_unsigned())
                self.received += 1
                self.last_cycle = self.cycles.now
                self._got.set()
            elif not ready and self.valid.value:
                self.stalls += 1
            new = not (self.backpressure is not None and next(self.backpressure))
            if new != ready:
                ready = new
                self.ready.value = int(ready)
