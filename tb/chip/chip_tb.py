"""Testbench for the whole chip: clock, reset, the host port's word streams
(with idle and back-pressure patterns), and the host side of the protocol:
packets out, packets back, inferences checked against the golden model."""

from __future__ import annotations

import os
from collections import deque

import cocotb
from cocotb.clock import Clock

from host.protocol import PacketParser, packet_words
from rtl.config import load_config
from sw_model import callosum as net
from sw_model.callosum import PacketType
from sw_model.chip_map import HostReg, Status
from tb.common.streams import Cycles, StreamSink, StreamSource, random_pattern, reset


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

    def set_patterns(self, idle: float, backpressure: float, rng):
        self.src.idle = random_pattern(idle, rng)
        self.sink.backpressure = random_pattern(backpressure, rng)

    async def reset(self):
        await reset(self.dut)

    # ---- packets -----------------------------------------------------------------
    def send(self, packets):
        self.src.send([w for p in packets for w in packet_words(p, self.fw)])

    async def recv(self) -> net.Packet:
        while not self.inbox:
            self.inbox.extend(self.parser.feed([await self.sink.recv()]))
        return self.inbox.popleft()

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
