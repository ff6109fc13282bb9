"""Testbench for the right core: clock, reset, the event/tick, spike and
config streams, and helpers that load a network and check every step
against the golden model."""

from __future__ import annotations

import os

import numpy as np
import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from rtl.config import load_config
from sw_model import right_stream as host
from tb.common.streams import (Cycles, StreamSink, StreamSource, expect_steady, random_pattern,
                               reset, reset_under_traffic)
from tb.right import cover

TICK = 1


def pack_event(axon: int) -> int:
    return axon << 1            # kind EVENT (bit 0) | axon [16:1]


def pack_cfg(write: bool, address: int, data: int = 0) -> int:
    return int(write) | (address << 1) | ((data & 0xFFFFFFFF) << 25)


class RightTB:
    def __init__(self, dut, cfg=None):
        self.dut = dut
        self.cfg = cfg or load_config(os.environ.get("HEMI_CONFIG")).right
        self.log = dut._log
        self.seed = None
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.cycles = Cycles(dut.clk)
        self.inp = StreamSource(dut, "i_in", dut.clk, self.cycles)
        self.cfg_req = StreamSource(dut, "i_cfg", dut.clk, self.cycles)
        self.spikes = StreamSink(dut, "o_spike", dut.clk, self.cycles)
        self.cfg_resp = StreamSink(dut, "o_cfg", dut.clk, self.cycles)
        self.sources = [self.inp, self.cfg_req]
        self.sinks = [self.spikes, self.cfg_resp]
        cover.declare_all()

    def set_patterns(self, idle: float, backpressure: float, rng):
        for s in self.sources:
            s.idle = random_pattern(idle, rng)
        self.spikes.backpressure = random_pattern(backpressure, rng)
        self.cfg_resp.backpressure = random_pattern(backpressure, rng)

    async def reset(self):
        await reset(self.dut)

    async def reset_now(self, cycles: int):
        """Reset the core mid-traffic for ``cycles`` edges (see
        tb.common.streams.reset_under_traffic)."""
        await reset_under_traffic(self.dut, self.sources, self.sinks, cycles)

    async def check_idle(self, cycles=4, label=""):
        """After a reset: for ``cycles`` edges no stale valid on either output,
        the core idle with its counters at zero and ready for config."""
        d = self.dut
        expect = {"o_spike__valid": 0, "o_cfg__valid": 0, "busy": 0, "errors": 0,
                  "cfg_errors": 0, "steps": 0, "i_cfg__ready": 1}
        await expect_steady(d, expect, cycles, f"{label} after reset (replay: SEED={self.seed})")

    # ---- config port ---------------------------------------------------------
    def write_all(self, writes):
        writes = list(writes)
        self.cfg_req.send(pack_cfg(True, a, d) for a, d in writes)
        for a in {a >> host.REGION_SHIFT << host.REGION_SHIFT for a, _ in writes}:
            cover.config_access(a, write=True)

    async def read_many(self, addresses):
        addresses = list(addresses)
        self.cfg_req.send(pack_cfg(False, a) for a in addresses)
        answers = [await self.cfg_resp.recv() for _ in addresses]
        for a in {a >> host.REGION_SHIFT << host.REGION_SHIFT for a in addresses}:
            cover.config_access(a, write=False)
        return answers

    async def read(self, address):
        return (await self.read_many([address]))[0]

    async def load(self, params, table, wexp):
        self.write_all(host.load_writes(self.cfg, params, table, wexp))
        await self.cfg_req.wait_drained()

    async def read_state(self):
        """u, v and refractory counters of every neuron, through the debug port."""
        N = self.cfg.neurons
        offs = [host.neuron_offset(self.cfg, n) for n in range(N)]
        u = await self.read_many(host.addr(host.U, o) for o in offs)
        v = await self.read_many(host.addr(host.V, o) for o in offs)
        ref = await self.read_many(host.addr(host.REF, o) for o in offs)
        return (np.array([host.to_signed(x, 32) for x in u]),
                np.array([host.to_signed(x, 32) for x in v]),
                np.array(ref))

    async def reg(self, index):
        return await self.read(host.addr(host.REGS, index))

    # ---- time steps -------------------------------------------------------------
    def submit_step(self, events):
        self.inp.send([pack_event(a) for a in events] + [TICK])

    async def collect_step(self):
        """Spike ids of one step, up to and including its done beat."""
        ids = []
        while True:
            beat = await self.spikes.recv()
            if beat >> 16 & 1:
                return ids
            ids.append(beat & 0xFFFF)

    async def drained(self):
        for s in self.sources:
            await s.wait_drained()
        for _ in range(200):
            if not int(self.dut.busy.value):
                break
            await RisingEdge(self.dut.clk)
        assert not int(self.dut.busy.value), "core still busy after the last step"
        await ClockCycles(self.dut.clk, 4)
        assert not self.spikes.queue, f"{len(self.spikes.queue)} unexpected spike beats"
        assert not self.cfg_resp.queue, f"{len(self.cfg_resp.queue)} unexpected config responses"
