"""cocotb run of the digits network on the whole chip, for ``make demo`` and
``make bench``: the compiled network is loaded through the host port, then
each image is one inference (input vector in, STATUS RUN_DONE out), checked
against the golden model as it completes.

Environment: HEMI_NET (saved HybridNet), HEMI_IMAGES (.npy of int8 images),
HEMI_OUT (results JSON), HEMI_TRACE=1 to record the first image's per-node
activity cycle by cycle.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from host.compiler import compile_network
from host.network import hybrid_network
from sw_model.chip_map import HostReg
from sw_model.hybrid import HybridNet
from tb.chip.chip_tb import ChipTB
from tb.chip.test_chip import assert_same


class ActivityProbe:
    """Samples every node's busy bit and the tick each cycle while armed;
    keeps busy intervals per node and the tick cycles."""

    def __init__(self, tb):
        self.tb, self.armed, self.t0 = tb, False, 0
        self.intervals = {i: [] for i in range(tb.cfg.callosum.nodes)}
        self.ticks = []
        self._open = {}
        cocotb.start_soon(self._run())

    def arm(self):
        self.t0, self.armed = self.tb.cycles.now, True

    def disarm(self):
        self.armed = False
        for i, start in self._open.items():
            self.intervals[i].append((start, self.tb.cycles.now - self.t0))
        self._open.clear()

    async def _run(self):
        dut = self.tb.dut
        while True:
            await RisingEdge(dut.clk)
            if not self.armed:
                continue
            now = self.tb.cycles.now - self.t0
            busy = int(dut.busy.value)
            if int(dut.tick.value):
                self.ticks.append(now)
            for i in self.intervals:
                on = (busy >> i) & 1
                if on and i not in self._open:
                    self._open[i] = now
                elif not on and i in self._open:
                    self.intervals[i].append((self._open.pop(i), now))


@cocotb.test()
async def run_images(dut):
    tb = ChipTB(dut)
    await tb.reset()
    hnet = HybridNet.load(os.environ["HEMI_NET"])
    images = np.load(os.environ["HEMI_IMAGES"])
    trace = os.environ.get("HEMI_TRACE") == "1"
    program = compile_network(hybrid_network(hnet), tb.cfg)
    load_start = tb.cycles.now
    await tb.load(program)
    load_cycles = tb.cycles.now - load_start
    probe = ActivityProbe(tb)
    results = []
    for i, x in enumerate(images):
        _, busy0 = await tb.busy_cycles()
        (f0,) = await tb.host_regs(HostReg.FLITS)
        if trace and i == 0:
            probe.arm()
        got, _, cycles = await tb.infer(program, x)
        if trace and i == 0:
            probe.disarm()
        assert_same(got, program.expected(x), f"image {i}", "n/a (no random input)")
        _, busy1 = await tb.busy_cycles()
        (f1,) = await tb.host_regs(HostReg.FLITS)
        results.append({
            "counts": np.asarray(got["outputs"]["out"]).tolist(),
            "cycles": cycles,
            "busy": [b - a for a, b in zip(busy0, busy1)],
            # Flits on the mesh during the inference (host-node register
            # reads are answered by the bridge and never enter the mesh).
            "flits": f1 - f0,
            "raster": np.asarray(got["spikes"]["out"]).astype(int).tolist() if i == 0 else None,
        })
    tb.check_quiet_ports()
    out = {"images": results, "load_cycles": load_cycles,
           "placement": {k: [v[0], list(v[1])] for k, v in program.placement.items()}}
    if trace:
        out["trace"] = {"intervals": {str(k): v for k, v in probe.intervals.items()}, "ticks": probe.ticks}
    with open(os.environ["HEMI_OUT"], "w") as f:
        json.dump(out, f)
