"""Testbench for the left core: clock, reset, stream drivers and a checker
that compares every output beat with the golden model."""

from __future__ import annotations

import os

import numpy as np
import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from rtl.config import load_config
from rtl.left.layouts import LeftLayouts, OutMode
from sw_model.left_stream import plan_gemm
from tb.common.streams import (Cycles, StreamSink, StreamSource, expect_steady, random_pattern,
                               reset, reset_under_traffic)
from tb.left import cover


def pack_int8_rows(rows: np.ndarray):
    """int8 matrix (beats x lanes) -> packed ints, lane 0 in the low byte."""
    raw = np.ascontiguousarray(rows.astype(np.int8))
    return [int.from_bytes(raw[i].tobytes(), "little") for i in range(raw.shape[0])]


class LeftTB:
    def __init__(self, dut, cfg=None):
        self.dut = dut
        self.cfg = cfg or load_config(os.environ.get("HEMI_CONFIG")).left
        self.layouts = LeftLayouts(self.cfg)
        self.log = dut._log
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.cycles = Cycles(dut.clk)
        self.cmd = StreamSource(dut, "i_cmd", dut.clk, self.cycles)
        self.w = StreamSource(dut, "i_w", dut.clk, self.cycles)
        self.act = StreamSource(dut, "i_act", dut.clk, self.cycles)
        self.epi = StreamSource(dut, "i_epi", dut.clk, self.cycles)
        self.out = StreamSink(dut, "o", dut.clk, self.cycles)
        self.sources = [self.cmd, self.w, self.act, self.epi]
        self.sinks = [self.out]
        self.seed = None   # set by the test; printed with every mismatch
        cover.declare_all()

    def set_patterns(self, idle: float, backpressure: float, rng):
        """Random idle cycles on every input, random back-pressure on ``o``."""
        for s in self.sources:
            s.idle = random_pattern(idle, rng)
        self.out.backpressure = random_pattern(backpressure, rng)

    async def reset(self):
        await reset(self.dut)

    async def reset_now(self, cycles: int):
        """Reset the core mid-traffic for ``cycles`` edges (see
        tb.common.streams.reset_under_traffic)."""
        await reset_under_traffic(self.dut, self.sources, self.sinks, cycles)

    async def check_idle(self, cycles=4, label=""):
        """After a reset: for ``cycles`` edges no stale output valid, the core
        idle with a zero error count, ready for a command and for nothing
        else (no weights, activations or epilogue beats without one)."""
        d = self.dut
        expect = {"o__valid": 0, "busy": 0, "errors": 0, "i_cmd__ready": 1,
                  "i_w__ready": 0, "i_act__ready": 0, "i_epi__ready": 0}
        await expect_steady(d, expect, cycles, f"{label} after reset (replay: SEED={self.seed})")

    # ---- packing -------------------------------------------------------------
    def pack_cmd(self, c):
        return self.layouts.cmd.const({"m": c.m, "k": c.k, "n": c.n}).as_bits()

    def pack_epi(self, e):
        return self.layouts.epi.const({
            "bias": list(e.bias), "multiplier": list(e.multiplier), "shift": list(e.shift),
            "zero_point": e.zero_point, "relu": int(e.relu),
            "mode": OutMode.REQUANT if e.requant else OutMode.RAW,
        }).as_bits()

    def unpack_out(self, value: int):
        C = self.cfg.cols
        lanes = np.frombuffer((value & ((1 << (32 * C)) - 1)).to_bytes(4 * C, "little"), dtype="<i4")
        return lanes.astype(np.int64), (value >> (32 * C)) & 1

    # ---- transactions ----------------------------------------------------------
    def submit(self, plan):
        """Queue every beat of a planned GEMM on the input streams."""
        self.cmd.send(self.pack_cmd(c) for c in plan.commands)
        self.w.send(pack_int8_rows(plan.weights))
        self.act.send(pack_int8_rows(plan.act))
        self.epi.send(self.pack_epi(e) for e in plan.epi)

    def plan(self, A, W, **kw):
        """plan_gemm for this core, with the GEMM's coverage events attached
        (sampled by ``check`` once the core got it right)."""
        plan = plan_gemm(self.cfg, A, W, **kw)
        plan.cover = cover.gemm_events(self.cfg, A, W, **kw)
        return plan

    async def check(self, plan, label=""):
        """Receive and compare every output beat of ``plan``."""
        for i in range(plan.out.shape[0]):
            got, last = self.unpack_out(await self.out.recv())
            exp = plan.out[i]
            if not np.array_equal(got, exp) or last != plan.last[i]:
                raise AssertionError(
                    f"{label} output beat {i}: got {got.tolist()} last={last}, "
                    f"expected {exp.tolist()} last={int(plan.last[i])} (replay: SEED={self.seed})")
        cover.sample_events(getattr(plan, "cover", {}))

    async def gemm(self, A, W, label="", **kw):
        plan = self.plan(A, W, **kw)
        self.submit(plan)
        await self.check(plan, label)
        return plan

    async def drained(self):
        """All inputs consumed, nothing pending in the output, core idle."""
        for s in self.sources:
            await s.wait_drained()
        for _ in range(64):
            if not int(self.dut.busy.value):
                break
            await RisingEdge(self.dut.clk)
        assert not int(self.dut.busy.value), "core still busy after the last output"
        assert not self.out.queue, f"{len(self.out.queue)} unexpected output beats"
        await ClockCycles(self.dut.clk, 4)
        assert not self.out.queue, f"{len(self.out.queue)} unexpected output beats"
        for s in self.sources:
            assert s.empty(), f"{s.name}: beats left unconsumed"
