"""Testbench for the whole chip: clock, reset, the host port's word streams
(with idle and back-pressure patterns), and the host side of the protocol:
packets out, packets back, inferences checked against the golden model.

Functional coverage (tb/common/fcov.py, ``chip.<group>.<what>``) is sampled
from what the bench sends and receives: every command the host bridge takes
(destination kind and packet type; the controller registers written), every
packet type and STATUS code that reaches the host, where the chip stood at
each reset; the tests add the rest (test_chip.py: traffic between tiles and
fan-out from the golden model, refusals, readback). The host port's streams
are the back-pressure bins ``chip.backpressure.i_host`` / ``o_host``.
"""

from __future__ import annotations

import os
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge

from host.protocol import PacketParser, packet_words
from rtl.chip.host_bridge import HOST_TYPES, node_kinds
from rtl.config import load_config
from sw_model import callosum as net
from sw_model.callosum import PacketType
from sw_model.chip_map import HostReg, LeftBlock, LeftReg, NodeKind, RightBlock, RightReg, Status, address
from tb.common import fcov
from tb.common.streams import Cycles, StreamSink, StreamSource, random_pattern, reset

#: Where the chip stood when reset was asserted (several may hold): nothing
#: to do; host words still queued (a load or commands under way); the host
#: port inside a packet (its head taken, not all its words); a run in
#: progress; a left tile busy (taking a vector or computing its layer); a
#: right tile busy (in a step, or zeroing its counts after a reset).
RESET_AT = ("quiet", "host_words_queued", "host_mid_packet", "running", "left_busy", "right_busy")
RESET_HOLD_EDGES = (1, 2)
#: Registers that read 0 after a reset (counters and error counts), per tile kind.
TILE_STATUS = {
    NodeKind.LEFT: [address(LeftBlock.TILE_REGS, r) for r in (LeftReg.ERRORS, LeftReg.GEMMS,
                                                              LeftReg.CORE_ERRORS)],
    NodeKind.RIGHT: [address(RightBlock.TILE_REGS, r) for r in (RightReg.ERRORS, RightReg.SPIKES_SENT,
                                                                RightReg.SPIKES_RECEIVED)],
}


class ChipTB:
    def __init__(self, dut, cfg=None):
        self.dut = dut
        self.cfg = (cfg or load_config(os.environ.get("HEMI_CONFIG"))).check_chip()
        self.fw = self.cfg.callosum.flit_width
        self.host = self.cfg.chip.host
        self.log = dut._log
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.cycles = Cycles(dut.clk)
        self.src = StreamSource(dut, "i_host", dut.clk, self.cycles)
        self.sink = StreamSink(dut, "o_host", dut.clk, self.cycles)
        self.parser = PacketParser(self.fw)
        self.inbox: deque = deque()
        self.seed = None
        W = self.cfg.callosum.width
        kinds = node_kinds(self.cfg)
        self.kinds = {(i % W, i // W): k for i, k in enumerate(kinds)}
        # Host-port position, in words since the last reset: queued, and the
        # ends of the packets queued (the port is between packets there).
        self._sent_base = 0
        self._queued = 0
        self._ends = {0}
        self._declare_coverage()

    def _declare_coverage(self):
        fcov.declare("chip.host.command", [f"{kind.name.lower()}.{t}" for kind, types in HOST_TYPES.items()
                                           if kind in self.kinds.values() for t in types])
        fcov.declare("chip.host.register_write", [HostReg.RUN.name, HostReg.MARKERS.name])
        fcov.declare("chip.host.received", [t.name for t in (PacketType.SPIKE, PacketType.ACTIVATION,
                                                            PacketType.READ_RESPONSE, PacketType.STATUS)])
        fcov.declare("chip.host.status", [s.name for s in Status])
        fcov.declare("chip.reset.at", RESET_AT)
        fcov.declare("chip.reset.hold", fcov.buckets(RESET_HOLD_EDGES))

    def node_index(self, node) -> int:
        """The node's bit in ``busy`` (y * width + x)."""
        return node[1] * self.cfg.callosum.width + node[0]

    def kind(self, node) -> NodeKind:
        """The NodeKind at ``node``; EMPTY off the mesh too."""
        return self.kinds.get(tuple(node), NodeKind.EMPTY)

    def set_patterns(self, idle: float, backpressure: float, rng):
        self.src.idle = random_pattern(idle, rng)
        self.sink.backpressure = random_pattern(backpressure, rng)

    async def reset(self):
        await reset(self.dut)

    # ---- packets -----------------------------------------------------------------
    def send(self, packets, cover=True):
        """Queue packets on the host port. ``cover``: they are commands the
        bridge accepts (coverage of chip.host.command); tests of refusals
        pass False."""
        words = []
        for p in packets:
            words += packet_words(p, self.fw)
            self._queued += 1 + len(p.words)
            self._ends.add(self._queued)
            if cover:
                fcov.sample("chip.host.command", f"{self.kind(p.dst).name.lower()}.{PacketType(p.ptype).name}")
                if tuple(p.dst) == tuple(self.host) and p.ptype == PacketType.CONFIG_WRITE:
                    for addr in p.words[0::2]:
                        if addr in HostReg._value2member_map_:
                            fcov.sample("chip.host.register_write", HostReg(addr).name)
        self.src.send(words)

    async def recv(self) -> net.Packet:
        while not self.inbox:
            self.inbox.extend(self.parser.feed([await self.sink.recv()]))
        p = self.inbox.popleft()
        name = getattr(p.ptype, "name", str(p.ptype))
        fcov.sample("chip.host.received", name)
        if p.ptype == PacketType.STATUS and p.head_payload & 0xF in Status._value2member_map_:
            fcov.sample("chip.host.status", Status(p.head_payload & 0xF).name)
        return p

    async def recv_until(self, stop):
        """Packets up to and including the first for which ``stop`` is true."""
        out = []
        while True:
            p = await self.recv()
            out.append(p)
            if stop(p):
                return out

    async def read(self, dst, addrs) -> list:
        """Read registers at node ``dst`` (the host node: the controller's)."""
        from host.protocol import config_read

        addrs = list(addrs)
        self.send(config_read(self.host, dst, addrs))
        words = []
        while len(words) < len(addrs):
            p = await self.recv()
            assert p.ptype == PacketType.READ_RESPONSE and p.src == tuple(dst), \
                f"expected a read response from {dst}, got {p} (replay: SEED={self.seed})"
            words += p.words
        return words

    async def host_regs(self, *regs):
        return await self.read(self.host, [int(r) for r in regs])

    # ---- inferences ---------------------------------------------------------------
    async def load(self, program):
        self.send(program.load_packets())
        await self.src.wait_drained()

    async def infer(self, program, x):
        """One inference: returns (decoded result, packets, cycles from the
        first input word taken to the RUN_DONE word received)."""
        self.send(program.inference_packets(x))
        start = self.cycles.now
        packets = await self.recv_until(lambda p: p.ptype == PacketType.STATUS
                                        and p.head_payload & 0xF == Status.RUN_DONE)
        cycles = self.cycles.now - start
        return program.decode(packets), packets, cycles

    async def busy_cycles(self):
        """Per-node busy cycle counters and the cycle counter of the controller."""
        n = self.cfg.callosum.nodes
        words = await self.host_regs(HostReg.CYCLES, *[HostReg.BUSY_BASE + i for i in range(n)])
        return words[0], words[1:]

    def check_quiet_ports(self):
        assert int(self.dut.net_errors.value) == 0, "the mesh dropped a packet (a tile sent a malformed one)"

    # ---- reset under traffic -------------------------------------------------------
    def words_sent(self) -> int:
        """Words the host port has taken since the last reset."""
        return self.src.sent - self._sent_base

    def host_mid_packet(self) -> bool:
        """Whether the host port has taken a packet's head but not all its words."""
        return self.words_sent() not in self._ends

    def reset_state(self) -> list:
        """Where the chip stands now (RESET_AT names; several may hold)."""
        busy = int(self.dut.busy.value)
        at = []
        if not self.src.empty():
            at.append("host_words_queued")
        if self.host_mid_packet():
            at.append("host_mid_packet")
        if self.dut.running.value:
            at.append("running")
        for kind in (NodeKind.LEFT, NodeKind.RIGHT):
            if any(busy >> self.node_index(node) & 1 for node, k in self.kinds.items() if k == kind):
                at.append(f"{kind.name.lower()}_busy")
        return at or ["quiet"]

    async def reset_now(self, cycles, settled=False):
        """Assert reset for ``cycles`` clock edges under whatever traffic is
        under way, from the next rising edge on. ``settled``: the caller is
        at a falling edge (else the call waits for one), where the signals
        show what that edge will interrupt. The host side is reset with the
        chip: the words not yet sent and the one on the wire are dropped,
        and what arrived and was not yet taken by the test is forgotten.
        Returns half a cycle after release, with nothing received since."""
        if not settled:
            await FallingEdge(self.dut.clk)
        for at in self.reset_state():
            fcov.sample("chip.reset.at", at)
        fcov.sample("chip.reset.hold", fcov.bucket(cycles, RESET_HOLD_EDGES))
        self.dut.rst.value = 1
        self.src.flush()
        self._sent_base, self._queued, self._ends = self.src.sent, 0, {0}
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0
        # Beats the sink took while reset was held are not packets (the
        # outputs are settled only after the first reset edge).
        await FallingEdge(self.dut.clk)
        self.sink.flush()
        self.parser = PacketParser(self.fw)
        self.inbox.clear()

    async def check_after_reset(self, cycles=16):
        """Right after ``reset_now``: the host output offers nothing (no
        stale valid) and there is no run, tick or error, for ``cycles``
        cycles and until every tile is idle, which must come within the
        right tiles' start-up (each spike counter zeroes its counts, one
        neuron a cycle, busy meanwhile); then the controller reads quiet and
        not running, nothing in flight, no step, no error, no run left; and
        every tile's error and activity counters read 0."""
        dut, where = self.dut, f"(replay: SEED={self.seed})"
        received = self.sink.received
        bound = cycles + (self.cfg.right.neurons if self.cfg.chip.right else 0)
        for k in range(bound + 1):
            await FallingEdge(dut.clk)
            for name in ("o_host__valid", "running", "tick", "errors", "net_errors"):
                value = int(getattr(dut, name).value)
                assert value == 0, f"{name} = {value:#x} in cycle {k} after reset, expected 0 {where}"
            busy = int(dut.busy.value)
            if k >= cycles and not busy:
                break
        assert not busy, f"tiles still busy {bound} cycles after reset (busy = {busy:#x}) {where}"
        assert self.sink.received == received, f"a word reached the host after reset {where}"
        regs = (HostReg.STATE, HostReg.INFLIGHT, HostReg.STEPS, HostReg.ERRORS, HostReg.RUN)
        got = await self.host_regs(*regs)
        want = [0b10, 0, 0, 0, 0]        # STATE: quiet (bit 1), not running (bit 0)
        assert got == want, (f"after reset, host registers {[r.name for r in regs]} read {got}, "
                             f"expected {want} {where}")
        for node, kind in sorted(self.kinds.items()):
            if kind in TILE_STATUS:
                got = await self.read(node, TILE_STATUS[kind])
                assert got == [0] * len(got), (f"after reset, {kind.name.lower()} tile {node} status "
                                               f"registers read {got}, expected 0 {where}")
