"""Performance runs of the right core (``make bench``, not the tests).

A fanout-64 network (every axon reaches 64 distinct neurons spread evenly
over the lanes) runs HEMI_BENCH_STEPS steps at each activity in
HEMI_BENCH_ACTIVITY (fraction of axons spiking per step) on free-flowing
streams; spikes are still checked against the golden model. The core's own
counters give synaptic ops, integrate cycles and update cycles; ``cycles``
counts clock edges from the first input beat accepted to the last done beat.
Results go to the JSON file named by HEMI_BENCH_OUT.
"""

import json
import os

import cocotb
import numpy as np

from sw_model import right_stream as host
from sw_model.right import RightCoreModel
from tb.right.network import balanced_table
from tb.right.right_tb import RightTB

FANOUT = 64


@cocotb.test()
async def bench_activity(dut):
    tb = RightTB(dut)
    await tb.reset()
    cfg = tb.cfg
    rng = np.random.default_rng(2)
    N = cfg.neurons
    params = {"du": np.full(N, 410), "dv": np.full(N, 205), "vth": rng.integers(200, 800, N),
              "bias_mant": np.zeros(N, dtype=np.int64), "bias_exp": np.zeros(N, dtype=np.int64),
              "refractory": np.full(N, 2)}
    table = balanced_table(cfg, rng, FANOUT)
    wexp = 2
    await tb.load(params, table, wexp)
    steps = int(os.environ.get("HEMI_BENCH_STEPS", "20"))
    runs = []
    for activity in (float(a) for a in os.environ["HEMI_BENCH_ACTIVITY"].split(",")):
        # The same network from a fresh state for every activity level.
        await tb.load(params, table, wexp)
        model = RightCoreModel(N, cfg.axons, wexp=wexp)
        model.set_params(**params)
        model.set_synapses(table)
        k = int(round(activity * cfg.axons))
        trains = [[int(a) for a in rng.choice(cfg.axons, size=k, replace=False)] for _ in range(steps)]
        regs = (host.REG_SOPS, host.REG_INTEGRATE_CYCLES, host.REG_UPDATE_CYCLES)
        before = [await tb.reg(r) for r in regs]
        tb.inp.first_cycle = None
        for events in trains:
            tb.submit_step(events)
        spikes = 0
        for t, events in enumerate(trains):
            got = await tb.collect_step()
            expect = model.step(events).tolist()
            assert got == expect, f"bench activity {activity} step {t}: spikes differ from the golden model"
            spikes += len(got)
        last = tb.spikes.last_cycle
        after = [await tb.reg(r) for r in regs]
        sops, integ, upd = (a - b for a, b in zip(after, before))
        expected_sops = sum(sum(len(table.get(a, [])) for a in ev) for ev in trains)
        assert sops == expected_sops, f"SOPS counter {sops}, expected {expected_sops}"
        runs.append({
            "neurons": N, "axons": cfg.axons, "lanes": cfg.lanes, "fanout": FANOUT,
            "activity": activity, "steps": steps,
            "input_events": sum(len(e) for e in trains), "synaptic_ops": sops,
            "output_spikes": spikes,
            "cycles": last - tb.inp.first_cycle + 1,
            "integrate_cycles": integ, "update_cycles": upd,
            "update_cycles_per_step": upd / steps,
            "sops_per_cycle": round(sops / integ, 4) if integ else 0.0,
            "golden_match": True,
        })
        dut._log.info("bench %s", runs[-1])
    with open(os.environ["HEMI_BENCH_OUT"], "w") as f:
        json.dump(runs, f)
