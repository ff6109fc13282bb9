"""cocotb tests of the right core against the golden model.

Environment as for the left core: HEMI_CONFIG, TB_IDLE, TB_BACKPRESSURE, SEED.
Scale knobs of random_network for long runs (tools/soak.py): TB_NETWORKS,
random networks loaded one after another on the same core (default 1), and
TB_STEPS, time steps per network (default 120); TB_STATS / TB_PROGRESS
receive the counts (tb/common/soak_stats.py).
"""

import cocotb
import numpy as np

from sw_model import right_stream as host
from sw_model.right import RightCoreModel
from tb.common.seed import seed_bench
from tb.common.soak_stats import Progress, int_env
from tb.right.network import random_params, random_table, random_trains
from tb.right.right_tb import RightTB, pack_cfg

ERRORS_MAX = (1 << 16) - 1     # the core's dropped-event counter saturates


async def setup(dut):
    tb = RightTB(dut)
    seed = seed_bench(tb, dut._log)
    await tb.reset()
    return tb, np.random.default_rng(seed)


def golden(cfg, params, table, wexp):
    model = RightCoreModel(cfg.neurons, cfg.axons, wexp=wexp)
    model.set_params(**params)
    model.set_synapses(table)
    return model


async def run_and_check(tb, model, trains, label, reads_pending=0, on_step=None):
    """Queue every step, then compare each step's spikes, the final state and
    the error counter with the golden model. ``reads_pending`` register-ID
    reads were queued before and are answered in between. ``on_step(t)`` is
    called after step t was checked."""
    for events in trains:
        tb.submit_step(events)
    for t, events in enumerate(trains):
        expect = model.step(events).tolist()
        got = await tb.collect_step()
        assert got == expect, (f"{label} step {t}: spikes {got}, expected {expect} "
                               f"(replay: SEED={tb.seed})")
        if on_step is not None:
            on_step(t)
    for _ in range(reads_pending):
        assert await tb.cfg_resp.recv() == host.ID_WORD
    u, v, ref = await tb.read_state()
    st = model.state()
    for name, g, e in (("u", u, st["u"]), ("v", v, st["v"]), ("ref", ref, st["ref"])):
        bad = np.nonzero(g != e)[0]
        assert not len(bad), (f"{label}: final {name} differs at neurons {bad[:8].tolist()}: "
                              f"{g[bad[:8]].tolist()} vs {e[bad[:8]].tolist()} (replay: SEED={tb.seed})")
    errors = await tb.reg(host.REG_ERRORS)
    expect = min(model.errors, ERRORS_MAX)
    assert errors == expect, f"{label}: errors register {errors}, expected {expect}"
    steps = await tb.reg(host.REG_STEPS)
    return steps


@cocotb.test()
async def random_network(dut):
    """A random sparse network, random parameters with every extreme mixed
    in, 120 steps of random input trains with out-of-range axons among them.
    With TB_NETWORKS > 1 further random networks follow on the same core
    (each load writes a fresh state; the step and error counters go on)."""
    tb, rng = await setup(dut)
    cfg = tb.cfg
    n_networks = int_env("TB_NETWORKS", 1)
    n_steps = int_env("TB_STEPS", 120)
    stats = Progress("random_network")
    total_steps = errors = 0
    for k in range(n_networks):
        label = "random network" if n_networks == 1 else f"random network {k}"
        params = random_params(cfg, rng)
        table = random_table(cfg, rng)
        wexp = int(rng.integers(0, 8))
        await tb.load(params, table, wexp)
        model = golden(cfg, params, table, wexp)
        model.errors = errors          # the core's error counter is cumulative
        trains = random_trains(cfg, rng, n_steps, rate=0.08, bad_rate=0.05)
        # Register reads race the steps on the config port; the answers are
        # collected afterwards, so a pending answer must not hold events back.
        tb.cfg_req.send(pack_cfg(False, host.addr(host.REGS, host.REG_ID)) for _ in range(20))
        done = total_steps
        steps = await run_and_check(
            tb, model, trains, label, reads_pending=20,
            on_step=lambda t: stats.update(networks=k, steps=done + t + 1, cycles=tb.cycles.now))
        total_steps += len(trains)
        errors = model.errors
        assert steps == total_steps, f"{label}: steps register {steps}, expected {total_steps}"
        stats.update(networks=k + 1, steps=total_steps, cycles=tb.cycles.now)
    await tb.drained()
    stats.done(dut._log, networks=n_networks, steps=total_steps, cycles=tb.cycles.now)


@cocotb.test()
async def extremes(dut):
    """Drive neurons into the corners: u wrap (huge inputs with du = 4095),
    v clamp (dv = 0, maximum bias), int16 saturation of a_in (many events to
    one neuron), vth = 0, long refractory periods, wexp = 7."""
    tb, rng = await setup(dut)
    cfg = tb.cfg
    N = cfg.neurons
    params = {
        "du": np.resize([4095, 0, 1, 2048], N), "dv": np.resize([0, 4095, 0, 1], N),
        "vth": np.resize([0, (1 << 17) - 1, 5, 100000], N),
        "bias_mant": np.resize([4095, -4096, 0, 17], N), "bias_exp": np.resize([7, 7, 0, 3], N),
        "refractory": np.resize([0, 15, 3, 1], N),
    }
    hub = list(range(0, N, 1))
    table = {a: [(n, 127 if (a + n) % 3 else -128) for n in hub[a % 7::5]] for a in range(cfg.axons)}
    table[0] = [(1, 127)] * 40 + [(2, -128)] * 40        # duplicates into one neuron
    wexp = 7
    await tb.load(params, table, wexp)
    model = golden(cfg, params, table, wexp)
    trains = []
    for t in range(40):
        burst = [0] * int(rng.integers(0, 30)) + list(rng.integers(0, cfg.axons, int(rng.integers(0, 40))))
        rng.shuffle(burst)
        trains.append([int(a) for a in burst] if t % 9 else [])
    await run_and_check(tb, model, trains, "extremes")
    await tb.drained()


@cocotb.test()
async def debug_port(dut):
    """Registers, a state written through the debug port and read back, one
    step from that state, and unmapped or read-only accesses counted."""
    tb, rng = await setup(dut)
    cfg = tb.cfg
    assert await tb.reg(host.REG_ID) == host.ID_WORD
    assert await tb.reg(host.REG_SHAPE) == cfg.neurons | (cfg.lanes << 16)
    params = random_params(cfg, rng)
    table = random_table(cfg, rng, max_fanout=8)
    await tb.load(params, table, 3)
    assert await tb.reg(host.REG_WEXP) == 3
    model = golden(cfg, params, table, 3)
    N = cfg.neurons
    u0 = rng.integers(-(1 << 23) + 1, (1 << 23) + 1, N)
    v0 = rng.integers(-(1 << 23) + 1, 1 << 23, N)
    ref0 = rng.integers(0, 16, N)
    writes = []
    for n in range(N):
        off = host.neuron_offset(cfg, n)
        writes += [(host.addr(host.U, off), int(u0[n]) & 0x1FFFFFF),
                   (host.addr(host.V, off), int(v0[n]) & 0xFFFFFF),
                   (host.addr(host.REF, off), int(ref0[n]))]
    tb.write_all(writes)
    model.u[:], model.v[:], model.ref[:] = u0, v0, ref0
    u, v, ref = await tb.read_state()
    assert np.array_equal(u, u0) and np.array_equal(v, v0) and np.array_equal(ref, ref0)
    events = [int(a) for a in rng.integers(0, cfg.axons, 30)]
    await run_and_check(tb, model, [events], "from a written state")
    before = await tb.reg(host.REG_CFG_ERRORS)
    tb.write_all([(host.addr(host.REGS, host.REG_STEPS), 5),            # read-only
                  (host.addr(host.PTR, cfg.axons), 1),                   # past the table
                  (host.addr(host.U, (cfg.groups << 4)), 1),             # past the neurons
                  (host.addr(0xF, 0), 1)])                               # no such region
    assert await tb.read(host.addr(host.SYN, cfg.synapse_rows << 4)) == 0
    assert await tb.reg(host.REG_CFG_ERRORS) == before + 5
    assert await tb.reg(host.REG_STEPS) == 1
    await tb.drained()


@cocotb.test()
async def partial_update(dut):
    """GROUPS below the core's groups: only the first GROUPS * lanes neurons
    are updated and can spike, bit-exact with the golden model on them; the
    rest keep their state. GROUPS = 0 updates nothing; larger values clamp."""
    tb, rng = await setup(dut)
    cfg = tb.cfg
    params = random_params(cfg, rng)
    table = random_table(cfg, rng, max_fanout=8)
    await tb.load(params, table, 2)
    k = int(rng.integers(1, cfg.groups)) if cfg.groups > 1 else 1
    groups_reg = host.addr(host.REGS, host.REG_GROUPS)
    assert await tb.reg(host.REG_GROUPS) == cfg.groups           # reset value: all
    tb.write_all([(groups_reg, k)])
    assert await tb.reg(host.REG_GROUPS) == k
    u0, v0, ref0 = await tb.read_state()
    model = golden(cfg, params, table, 2)
    active = min(k * cfg.lanes, cfg.neurons)
    for t, events in enumerate(random_trains(cfg, rng, 20, rate=0.1)):
        tb.submit_step(events)
        got = await tb.collect_step()
        expect = [n for n in model.step(events).tolist() if n < active]
        assert got == expect, f"GROUPS={k} step {t}: spikes {got}, expected {expect} (replay: SEED={tb.seed})"
    u, v, ref = await tb.read_state()
    st = model.state()
    for name, g, e, g0 in (("u", u, st["u"], u0), ("v", v, st["v"], v0), ("ref", ref, st["ref"], ref0)):
        assert np.array_equal(g[:active], e[:active]), f"GROUPS={k}: {name} of the updated neurons differs"
        assert np.array_equal(g[active:], g0[active:]), f"GROUPS={k}: {name} of a skipped neuron changed"
    tb.write_all([(groups_reg, 0)])
    cycles_before = await tb.reg(host.REG_UPDATE_CYCLES)
    tb.submit_step([])
    assert await tb.collect_step() == []
    assert await tb.reg(host.REG_UPDATE_CYCLES) == cycles_before, "GROUPS = 0 still walked groups"
    tb.write_all([(groups_reg, cfg.groups + 5)])
    assert await tb.reg(host.REG_GROUPS) == cfg.groups
    await tb.drained()
