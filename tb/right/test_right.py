"""cocotb tests of the right core against the golden model.

Environment as for the left core: HEMI_CONFIG, TB_IDLE, TB_BACKPRESSURE, SEED.
Scale knobs of random_network for long runs (tools/soak.py): TB_NETWORKS,
random networks loaded one after another on the same core (default 1), and
TB_STEPS, time steps per network (default 120); TB_STATS / TB_PROGRESS
receive the counts (tb/common/soak_stats.py).
"""

import copy

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from sw_model import right_stream as host
from sw_model.right import RightCoreModel
from tb.common import fcov
from tb.common.seed import seed_bench
from tb.common.soak_stats import Progress, int_env
from tb.right import cover
from tb.right.network import (every_neuron_network, random_params, random_table, random_trains,
                              saturation_network)
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


async def check_steps(tb, model, trains, label, on_step=None):
    """Queue every step, then compare each step's spikes with the golden
    model (and sample its coverage once it matched). ``on_step(t)`` is
    called after step t was checked."""
    for events in trains:
        tb.submit_step(events)
    for t, events in enumerate(trains):
        info = cover.before_step(model, events)
        expect = model.step(events).tolist()
        got = await tb.collect_step()
        assert got == expect, (f"{label} step {t}: spikes {got}, expected {expect} "
                               f"(replay: SEED={tb.seed})")
        cover.after_step(info, model, expect)
        if on_step is not None:
            on_step(t)


async def check_final(tb, model, label):
    """Compare the state of every neuron and the error counter with the
    golden model; return the steps register."""
    u, v, ref = await tb.read_state()
    st = model.state()
    for name, g, e in (("u", u, st["u"]), ("v", v, st["v"]), ("ref", ref, st["ref"])):
        bad = np.nonzero(g != e)[0]
        assert not len(bad), (f"{label}: final {name} differs at neurons {bad[:8].tolist()}: "
                              f"{g[bad[:8]].tolist()} vs {e[bad[:8]].tolist()} (replay: SEED={tb.seed})")
    errors = await tb.reg(host.REG_ERRORS)
    expect = min(model.errors, ERRORS_MAX)
    assert errors == expect, f"{label}: errors register {errors}, expected {expect} (replay: SEED={tb.seed})"
    return await tb.reg(host.REG_STEPS)


async def run_and_check(tb, model, trains, label, reads_pending=0, on_step=None):
    """Queue every step, then compare each step's spikes, the final state and
    the error counter with the golden model. ``reads_pending`` register-ID
    reads were queued before and are answered in between. ``on_step(t)`` is
    called after step t was checked. Returns the steps register."""
    await check_steps(tb, model, trains, label, on_step)
    for _ in range(reads_pending):
        assert await tb.cfg_resp.recv() == host.ID_WORD
    return await check_final(tb, model, label)


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


async def read_back_network(tb, rng, params, table, n=8):
    """Read ``n`` random pointers, synapse slots and neurons' parameter words
    back through the debug port and compare them with what the host wrote;
    write an accumulator, read it back and clear it again."""
    cfg = tb.cfg
    compiled = host.compile_synapses(cfg, table)
    p0, p1 = host.param_words(**params)
    axons = [int(a) for a in rng.choice(cfg.axons, min(n, cfg.axons), replace=False)]
    neurons = [int(x) for x in rng.choice(cfg.neurons, min(n, cfg.neurons), replace=False)]
    entries = [compiled.entries[i] for i in rng.permutation(len(compiled.entries))[:n]]
    checks = [(f"pointer of axon {a}", host.addr(host.PTR, a), base | rows << 16)
              for a in axons for base, rows in [compiled.ptr.get(a, (0, 0))]]
    checks += [(f"synapse row {row} lane {lane}", host.addr(host.SYN, row << host.LANE_BITS | lane),
                (w & 0xFF) | group << 8 | 1 << 31) for row, lane, group, w in entries]
    for x in neurons:
        off = host.neuron_offset(cfg, x)
        checks += [(f"neuron {x} PARAM0", host.addr(host.PARAM0, off), int(p0[x])),
                   (f"neuron {x} PARAM1", host.addr(host.PARAM1, off), int(p1[x]))]
    got = await tb.read_many(addr for _, addr, _ in checks)
    for (what, _, expect), g in zip(checks, got):
        assert g == expect, f"{what}: read {g:#x}, wrote {expect:#x} (replay: SEED={tb.seed})"
    acc = host.addr(host.ACC, host.neuron_offset(cfg, neurons[0]))
    value = int(rng.integers(-(1 << 23), 1 << 23))
    tb.write_all([(acc, value & 0xFFFFFF)])
    assert host.to_signed(await tb.read(acc), 32) == value, f"accumulator read back (replay: SEED={tb.seed})"
    tb.write_all([(acc, 0)])


@cocotb.test()
async def debug_port(dut):
    """Registers, a loaded network read back from every region (pointers,
    synapse rows, both parameter words, an accumulator written and read), a
    state written through the debug port and read back, one step from that
    state, and unmapped or read-only accesses counted."""
    tb, rng = await setup(dut)
    cfg = tb.cfg
    assert await tb.reg(host.REG_ID) == host.ID_WORD
    assert await tb.reg(host.REG_SHAPE) == cfg.neurons | (cfg.lanes << 16)
    params = random_params(cfg, rng)
    table = random_table(cfg, rng, max_fanout=8)
    await tb.load(params, table, 3)
    assert await tb.reg(host.REG_WEXP) == 3
    await read_back_network(tb, rng, params, table)
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
    assert await tb.read(host.addr(host.SYN, cfg.synapse_rows << 4)) == 0   # past the rows
    assert await tb.read(host.addr(0xF, 0)) == 0                             # no such region
    assert await tb.reg(host.REG_CFG_ERRORS) == before + 6
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


@cocotb.test()
async def corners(dut):
    """Directed corner networks (tb/right/network.py), so every coverage
    bin of a neuron or synapse is reached whatever the seed: every neuron
    spiking in one step, none, one; every refractory period class with
    input arriving during it; every weight exponent (WEXP rewritten between
    steps); the accumulator and a_in saturating both ways, u wrapping both
    ways, v clamped both ways, the decay extremes; dropped events."""
    tb, rng = await setup(dut)
    cfg = tb.cfg
    wexp_reg = host.addr(host.REGS, host.REG_WEXP)
    errors = 0
    for net in (every_neuron_network, saturation_network):
        params, table, steps = net(cfg)
        await tb.load(params, table, steps[0][0])
        model = golden(cfg, params, table, steps[0][0])
        model.errors = errors              # the core's error counter is cumulative
        for t, (wexp, events) in enumerate(steps):
            if wexp != model.wexp:         # between steps, never inside one
                tb.write_all([(wexp_reg, wexp)])
                await tb.cfg_req.wait_drained()
                model.wexp = wexp
            await check_steps(tb, model, [events], f"{net.__name__} step {t}")
        await check_final(tb, model, net.__name__)
        errors = model.errors
    await tb.drained()


# ---- reset under traffic -------------------------------------------------------

async def cycles(tb, n):
    for _ in range(n):
        await RisingEdge(tb.dut.clk)


def new_network(tb, rng):
    cfg = tb.cfg
    params = random_params(cfg, rng)
    table = random_table(cfg, rng, max_fanout=6)
    wexp = int(rng.integers(0, 8))
    return (params, table, wexp), golden(cfg, params, table, wexp)


def plan_steps(model, trains):
    """Run a copy of ``model`` ahead over ``trains``: per step its coverage
    info and spikes, and the state before and after every step."""
    ahead = copy.deepcopy(model)
    infos, spikes, states = [], [], [ahead.state()]
    for events in trains:
        infos.append(cover.before_step(ahead, events))
        spikes.append(ahead.step(events).tolist())
        states.append(ahead.state())
    return infos, spikes, states


async def check_planned(tb, model, infos, spikes, reads, label, done):
    """The checker of one round: each step's spikes, then the answers of
    ``reads`` ID reads; ``done[0]`` counts the steps checked."""
    for t, expect in enumerate(spikes):
        got = await tb.collect_step()
        assert got == expect, (f"{label} step {t}: spikes {got}, expected {expect} "
                               f"(replay: SEED={tb.seed})")
        cover.after_step(infos[t], model, expect)
        done[0] += 1
    for _ in range(reads):
        assert await tb.cfg_resp.recv() == host.ID_WORD, f"{label}: ID read (replay: SEED={tb.seed})"


def consistent_state(cfg, u, v, ref, states, first):
    """The core's state after a reset cut a step short: the update writes
    whole groups in order, so for some H >= ``first`` (steps done) and some
    group g, groups below g hold the state after step H + 1 and the rest the
    state after step H. Returns (H, g) or None."""
    L, G = cfg.lanes, cfg.groups
    got = np.stack([u, v, ref])

    def per_group(state):
        same = (got == np.stack([state["u"], state["v"], state["ref"]])).all(axis=0)
        padded = np.ones(G * L, dtype=bool)
        padded[:len(same)] = same
        return padded.reshape(G, L).all(axis=1)

    for H in range(first, len(states)):
        old = per_group(states[H])
        new = per_group(states[H + 1]) if H + 1 < len(states) else np.zeros(G, dtype=bool)
        for g in range(G + 1):
            if new[:g].all() and old[g:].all():
                return H, g
    return None


async def check_registers_after_reset(tb, label):
    """Every register at its reset value: WEXP 0 and GROUPS all (so the host
    writes its WEXP again), every counter 0."""
    cfg = tb.cfg
    expect = {host.REG_ID: host.ID_WORD, host.REG_WEXP: 0, host.REG_ERRORS: 0, host.REG_CFG_ERRORS: 0,
              host.REG_STEPS: 0, host.REG_SOPS: 0, host.REG_INTEGRATE_CYCLES: 0,
              host.REG_UPDATE_CYCLES: 0, host.REG_SHAPE: cfg.neurons | (cfg.lanes << 16),
              host.REG_GROUPS: cfg.groups}
    got = dict(zip(expect, await tb.read_many(host.addr(host.REGS, r) for r in expect)))
    assert got == expect, f"{label}: registers after reset {got}, expected {expect} (replay: SEED={tb.seed})"


@cocotb.test()
async def reset_under_traffic(dut):
    """Reset at random moments under traffic, one round per kind in
    cover.RESET_AT (in random order): at once, after a random wait, in the
    middle of loading a network (config writes with a read among them), in
    the middle of a step (after the first step's spikes, once busy), after
    everything finished; held for 1..6 cycles (exactly 1 in the first
    round, more in the second), every source flushed as an upstream block
    reset with the core would be. After the release: no stale valid on either output and the
    core idle with every counter at zero for a few cycles, and every
    register at its reset value through the debug port.

    What the host must do after a reset: a reset clears the core's registers
    (WEXP to 0, GROUPS to all, the counters) but none of its memories, so
    parameters, pointers and synapse rows survive, and so do u, v and ref,
    whole per group as the update left them (the update writes a group's
    state in one cycle, groups in order), but the accumulators may hold the
    partial sums of a step that was cut short. So the host either reloads
    the network (load_writes writes a fresh state and zero accumulators:
    required when the reset cut a load short), or keeps it (always after a
    step cut short, at random after the other kinds): it reads u, v
    and ref back (checked here: for some H >= the steps it saw finish, a
    prefix of the groups holds the state after step H + 1 and the rest the
    state after step H), writes WEXP again and zeroes every accumulator;
    the golden model then goes on from the state read back. Either way new
    random steps (with dropped events, counted from 0 again) then run and
    are checked step by step, with the final state."""
    tb, rng = await setup(dut)
    cfg = tb.cfg
    network, model = new_network(tb, rng)
    await tb.load(*network)
    kinds = [cover.RESET_AT[i] for i in rng.permutation(len(cover.RESET_AT))]
    for r, kind in enumerate(kinds):
        label = f"reset round {r} ({kind})"
        done, checker, cut_load, states = [0], None, False, None
        if kind == "mid_config":
            network, model = new_network(tb, rng)
            writes = host.load_writes(cfg, *network)
            sent = tb.cfg_req.sent
            tb.write_all(writes[:len(writes) // 2])
            tb.cfg_req.send([pack_cfg(False, host.addr(host.REGS, host.REG_ID))])
            tb.write_all(writes[len(writes) // 2:])
            target = sent + int(rng.integers(1, len(writes)))
            while tb.cfg_req.sent < target:
                await RisingEdge(dut.clk)
            cut_load = True
        else:
            trains = random_trains(cfg, rng, 4, rate=0.1, bad_rate=0.05)
            infos, spikes, states = plan_steps(model, trains)
            for events in trains:
                tb.submit_step(events)
            reads = int(rng.integers(0, 4))
            tb.cfg_req.send([pack_cfg(False, host.addr(host.REGS, host.REG_ID))] * reads)
            checker = cocotb.start_soon(check_planned(tb, model, infos, spikes, reads, label, done))
            if kind == "random":
                await cycles(tb, int(rng.integers(1, 4 * (cfg.groups + 40))))
            elif kind == "mid_step":
                # After the first step's spikes and a little more, but while
                # two steps are left (the core is at most one ahead of the
                # checker), so it is certain to be busy again: then at once.
                while done[0] == 0:
                    await RisingEdge(dut.clk)
                for _ in range(int(rng.integers(0, 30))):
                    if done[0] >= len(trains) - 2:
                        break
                    await RisingEdge(dut.clk)
                while not int(dut.busy.value) and not checker.done():
                    await RisingEdge(dut.clk)
            elif kind == "after_done":
                await checker
                await tb.drained()
                await cycles(tb, int(rng.integers(0, 6)))
        busy = int(dut.busy.value)
        if checker is not None:
            if checker.done():
                checker.result()        # a mismatch before the reset fails here
            else:
                checker.cancel()
        # Exactly 1 cycle in the first round, longer in the second: both
        # reset.cycles bins, whatever the seed.
        hold = 1 if r == 0 else int(rng.integers(2 if r == 1 else 1, 7))
        dut._log.info(f"{label}: reset for {hold} cycles at cycle {tb.cycles.now}, core "
                      f"{'busy' if busy else 'idle'}, {done[0]} steps checked")
        await tb.reset_now(hold)
        await tb.check_idle(label=label)
        await check_registers_after_reset(tb, label)
        fcov.sample("right.reset.at", kind)
        fcov.sample("right.reset.state", "busy" if busy else "idle")
        fcov.sample("right.reset.cycles", fcov.bucket(hold, (1, 2)))

        # A cut load must be reloaded; a step cut short is always read back
        # (the state check matters most there); otherwise either.
        if cut_load or (kind != "mid_step" and rng.random() < 0.5):
            network, model = new_network(tb, rng)
            await tb.load(*network)
            recovery = "reload"
        else:
            u, v, ref = await tb.read_state()
            where = consistent_state(cfg, u, v, ref, states, done[0])
            assert where is not None, (f"{label}: the state read back after the reset is no step's "
                                       f"state, nor one cut short between groups (replay: SEED={tb.seed})")
            dut._log.info(f"{label}: state read back is step {where[0]}'s, one step further "
                          f"below group {where[1]}")
            model.u, model.v, model.ref = u, v, ref
            model.errors = 0
            tb.write_all([(host.addr(host.REGS, host.REG_WEXP), model.wexp)] +
                         [(host.addr(host.ACC, host.neuron_offset(cfg, n)), 0) for n in range(cfg.neurons)])
            await tb.cfg_req.wait_drained()
            recovery = "read_back"
        fcov.sample("right.reset.recovery", recovery)
        trains = random_trains(cfg, rng, 4, rate=0.1, bad_rate=0.05)
        steps = await run_and_check(tb, model, trains, f"{label}, after the reset ({recovery})")
        assert steps == len(trains), (f"{label}: steps register {steps} after the reset, expected "
                                      f"{len(trains)} (replay: SEED={tb.seed})")
    await tb.drained()
