"""Testbench for the callosum mesh (through MeshBenchTop's packed ports).

One coroutine runs the whole mesh each cycle: it samples every node's
handshakes, feeds each node's injection queue, reassembles the packets that
leave each node and hands them to the golden model's scoreboard, then drives
the next cycle's valid, data and (randomly back-pressured) ready vectors.
That keeps the Python cost per cycle to a handful of signal accesses.
"""

from __future__ import annotations

import os
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from rtl.config import load_config
from sw_model import callosum as net
from tb.common.streams import reset


class MeshTB:
    def __init__(self, dut, cfg=None):
        self.dut = dut
        self.cfg = cfg or load_config(os.environ.get("HEMI_CONFIG")).callosum
        c = self.cfg
        self.W, self.H, self.N, self.fw = c.width, c.height, c.nodes, c.flit_width
        self.lw = c.flit_width + 2
        self.mask = (1 << self.lw) - 1
        self.log = dut._log
        self.seed = None
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.cycle = 0
        # Per node: flits waiting to be injected, as (wire value, key); the
        # head flit of a timed packet carries key = (src node, packet id),
        # the id also travels in the head's payload.
        self.queues = [deque() for _ in range(self.N)]
        self.partial = [[] for _ in range(self.N)]
        self.scoreboard = net.Scoreboard(self.W, self.H, self.fw)
        self.generated = {}     # key -> generation cycle
        self.injected = {}      # key -> cycle its head entered the network
        self.records = []       # per timed packet: (src, dst, gen, inject, eject, flits)
        self.delivered_flits = 0
        self.idle_p = 0.0
        self.bp_p = 0.0
        self.rng = None
        self._in_valid = 0
        self._out_ready = 0
        self._in_data = 0
        self._held = 0          # nodes whose output flit was offered but not taken
        self._held_data = 0

    def set_patterns(self, idle, backpressure, rng):
        """Random idle cycles at every source, random back-pressure at every sink."""
        self.idle_p, self.bp_p, self.rng = idle, backpressure, rng

    def node(self, x, y):
        return y * self.W + x

    def xy(self, i):
        return (i % self.W, i // self.W)

    async def reset(self):
        self.dut.in_valid.value = 0
        self.dut.out_ready.value = 0
        self.dut.in_data.value = 0
        await reset(self.dut)

    # ---- traffic -------------------------------------------------------------
    def inject_packet(self, packet, timed=False):
        """Queue a well-formed packet (sw_model Packet) at its source node;
        a timed packet's head payload is its id for latency bookkeeping."""
        src = self.node(*packet.src)
        flits = net.to_flits(packet, self.fw)
        self.scoreboard.expect(packet.src, flits)
        key = None
        if timed:
            key = (src, packet.head_payload)
            self.generated[key] = self.cycle
        self.queue_flits(src, flits, key)
        return flits

    def queue_flits(self, src, flits, key=None):
        q = self.queues[src]
        for k, (kind, data) in enumerate(flits):
            q.append((kind | (data << 2), key if k == 0 else None))

    def queued(self):
        return sum(len(q) for q in self.queues)

    # ---- the cycle loop ----------------------------------------------------------
    async def run(self, cycles=None, until_drained=False, limit=100000, generate=None):
        """Advance ``cycles`` cycles, or until every queue is empty and every
        expected packet has arrived (at most ``limit`` cycles; returns the
        number of cycles run)."""
        dut, rng, lw, mask = self.dut, self.rng, self.lw, self.mask
        start = self.cycle
        while True:
            n = self.cycle - start
            if cycles is not None and n >= cycles:
                return n
            if until_drained and not self.queued() and not self.scoreboard.outstanding():
                return n
            if n >= limit:
                return n
            await RisingEdge(dut.clk)
            self.cycle += 1
            in_ready = dut.in_ready.value.to_unsigned()
            out_valid = dut.out_valid.value.to_unsigned()
            taken = self._in_valid & in_ready
            got = out_valid & self._out_ready
            # Stream rule at every sink: a flit offered and not taken stays
            # offered, unchanged.
            if self._held:
                assert out_valid & self._held == self._held, (
                    f"cycle {self.cycle}: o_local valid dropped before the flit was taken "
                    f"(nodes {self._held & ~out_valid:#x}; replay: SEED={self.seed})")
                now = dut.out_data.value.to_unsigned()
                for i in range(self.N):
                    if self._held >> i & 1:
                        assert (now >> (i * lw)) & mask == (self._held_data >> (i * lw)) & mask, (
                            f"cycle {self.cycle}: node {self.xy(i)} changed its offered flit "
                            f"before it was taken (replay: SEED={self.seed})")
            self._held = out_valid & ~self._out_ready
            if self._held:
                self._held_data = dut.out_data.value.to_unsigned()
            if taken:
                for i in range(self.N):
                    if taken >> i & 1:
                        value, key = self.queues[i].popleft()
                        if key is not None:
                            self.injected[key] = self.cycle
            if got:
                out_data = dut.out_data.value.to_unsigned()
                for i in range(self.N):
                    if got >> i & 1:
                        self._receive(i, (out_data >> (i * lw)) & mask)
            if generate is not None:
                generate(self)
            # Drive the next cycle. A flit offered and not taken stays
            # offered; otherwise a queued flit is offered unless the idle
            # pattern inserts a gap.
            valid = 0
            data = 0
            waiting = self._in_valid & ~taken
            for i in range(self.N):
                q = self.queues[i]
                if q and (waiting >> i & 1 or not (self.idle_p and rng.random() < self.idle_p)):
                    valid |= 1 << i
                    data |= q[0][0] << (i * lw)
            if valid != self._in_valid:
                dut.in_valid.value = valid
                self._in_valid = valid
            if data != self._in_data:
                dut.in_data.value = data
                self._in_data = data
            ready = (1 << self.N) - 1
            if self.bp_p:
                for i in range(self.N):
                    if rng.random() < self.bp_p:
                        ready &= ~(1 << i)
            if ready != self._out_ready:
                dut.out_ready.value = ready
                self._out_ready = ready

    def _receive(self, node, value):
        kind, data = value & 3, value >> 2
        self.partial[node].append((kind, data))
        self.delivered_flits += 1
        if kind & net.TAIL_BIT:
            flits = self.partial[node]
            self.partial[node] = []
            head = net.unpack_head(flits[0][1], self.fw)
            src = (head["src_x"], head["src_y"])
            try:
                self.scoreboard.receive(self.xy(node), flits)
            except AssertionError as e:
                raise AssertionError(f"cycle {self.cycle}: {e} (replay: SEED={self.seed})") from None
            key = (self.node(*src), head["payload"])
            if key in self.generated:
                self.records.append((src, self.xy(node), self.generated.pop(key),
                                     self.injected.pop(key), self.cycle, len(flits)))

    async def errors(self):
        await RisingEdge(self.dut.clk)
        return self.dut.errors.value.to_unsigned()
