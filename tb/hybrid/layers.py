"""cocotb runs of the hybrid network's two layers on the bare cores, without
the chip around them (tests/test_hybrid_sim.py; ``make demo`` runs the
network on the chip top): the dense layer on the left core, the LIF layer on
the right core. Every output is checked against the golden model as it
arrives.

Environment: HEMI_NET (the saved HybridNet), HEMI_IMAGES (an .npy of int8
images, or of hidden vectors for the right layer), HEMI_OUT (results JSON),
HEMI_TRACE (right layer: record per-step cycles for one image index).
"""

import json
import os

import cocotb
import numpy as np

from sw_model import right_stream as host
from sw_model.bridges import events_per_step, rate_encode
from sw_model.hybrid import HybridNet
from sw_model.left_stream import plan_gemm
from tb.left.left_tb import LeftTB
from tb.right.right_tb import RightTB


@cocotb.test()
async def dense_layer(dut):
    """All images as one batched GEMM (split into acc_depth-row commands)."""
    net = HybridNet.load(os.environ["HEMI_NET"])
    images = np.load(os.environ["HEMI_IMAGES"])
    tb = LeftTB(dut)
    await tb.reset()
    plan = plan_gemm(tb.cfg, images, net.w1, net.bias1, net.mult1, net.shift1,
                     zero_point=net.zero_point, relu=True, mode="int8")
    tb.submit(plan)
    await tb.check(plan, "dense layer")          # raises on any mismatch
    await tb.drained()
    first = min(s.first_cycle for s in tb.sources if s.first_cycle is not None)
    cycles = tb.out.last_cycle - first + 1
    np.save(os.environ["HEMI_OUT"] + ".npy", plan.result)
    with open(os.environ["HEMI_OUT"], "w") as f:
        json.dump({"cycles": cycles, "images": len(images),
                   "macs": int(images.shape[0] * net.w1.size)}, f)


@cocotb.test()
async def lif_layer(dut):
    """Per image: a fresh state for the output neurons, then ``steps`` steps
    of rate-encoded events; every step's spikes checked against the golden
    model."""
    net = HybridNet.load(os.environ["HEMI_NET"])
    hidden = np.load(os.environ["HEMI_IMAGES"])
    trace_index = int(os.environ.get("HEMI_TRACE", "-1"))
    tb = RightTB(dut)
    await tb.reset()
    cfg = tb.cfg
    params = {k: np.zeros(cfg.neurons, dtype=np.int64) for k in net.lif}
    for k, v in net.lif.items():
        params[k][:net.classes] = v
    await tb.load(params, net.synapse_table(), net.wexp)
    golden = net.lif_model()
    fresh = [(host.addr(region, host.neuron_offset(cfg, n)), 0)
             for n in range(net.classes) for region in (host.U, host.V, host.REF)]
    results, trace = [], []
    regs = (host.REG_INTEGRATE_CYCLES, host.REG_UPDATE_CYCLES)
    for idx, h in enumerate(hidden):
        tb.write_all(fresh)
        await tb.cfg_req.wait_drained()
        golden.reset()
        traced = idx == trace_index
        counts = np.zeros(net.classes, dtype=np.int64)
        before = [await tb.reg(r) for r in regs]
        start = tb.cycles.now
        for t, events in enumerate(events_per_step(rate_encode(h, net.steps))):
            if traced:
                mark = [await tb.reg(r) for r in regs]
                step_start = tb.cycles.now
            tb.submit_step(events)
            got = await tb.collect_step()
            expect = golden.step(events).tolist()
            assert got == expect, f"image {idx} step {t}: spikes {got}, golden {expect}"
            counts[got] += 1
            if traced:
                step_end = tb.spikes.last_cycle
                after = [await tb.reg(r) for r in regs]
                trace.append({"step": t, "events": len(events), "spikes": got,
                              "start": step_start - start, "end": step_end - start,
                              "integrate": after[0] - mark[0], "update": after[1] - mark[1]})
        end = tb.spikes.last_cycle
        after = [await tb.reg(r) for r in regs]
        results.append({"counts": counts.tolist(), "cycles": end - start + 1, "traced": traced,
                        "integrate": after[0] - before[0], "update": after[1] - before[1]})
    with open(os.environ["HEMI_OUT"], "w") as f:
        json.dump({"images": results, "trace": trace}, f)
