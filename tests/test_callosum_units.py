"""Fast Amaranth-simulator tests of the callosum's pieces against the golden
model: the packet validator on random streams full of malformed packets,
one router's XY decisions, and the network interface in a loopback."""

import random

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring

from rtl.config import CallosumConfig
from rtl.callosum import NetworkInterface, PacketValidator, Router
from sw_model import callosum as net
from tb.common.amaranth_sim import simulate



def flit_value(kind, data):
    return {"kind": kind, "data": data}


def random_stream(rng, W, H, fw, n):
    """Good packets mixed with every kind of malformed input."""
    out = []
    for _ in range(n):
        src = (rng.randrange(W), rng.randrange(H))
        dst = (rng.randrange(8), rng.randrange(8)) if rng.random() < 0.15 else (rng.randrange(W), rng.randrange(H))
        length = rng.choice([0, 0, 1, 2, 5, 15])
        kind = net.SINGLE if length == 0 else net.HEAD
        if rng.random() < 0.1:
            kind ^= net.TAIL_BIT                  # SINGLE with a length / HEAD without one
        out.append((kind, net.pack_head(dst[0], dst[1], src[0], src[1], rng.randrange(6), length,
                                        rng.getrandbits(fw - 19), flit_width=fw)))
        actual = length + rng.choice([0, 0, 0, 0, -1, 1]) if length else 0
        for k in range(max(actual, 0)):
            out.append((net.TAIL if k == actual - 1 else net.BODY, rng.getrandbits(fw)))
        if rng.random() < 0.05:
            out.append((rng.choice([net.BODY, net.TAIL]), rng.getrandbits(fw)))   # stray flit
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_validator_matches_golden(seed):
    rng = random.Random(seed)
    cfg = CallosumConfig(width=3, height=2, flit_width=32)
    flits = random_stream(rng, 3, 2, 32, 60)
    expect, errors = net.validate_local(flits, 3, 2, flit_width=32)
    dut = PacketValidator(cfg)
    got = []

    async def bench(ctx):
        i = 0
        current = []
        ctx.set(dut.o.ready, 1)
        for _ in range(len(flits) * 3 + 100):
            if i < len(flits):
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, flit_value(*flits[i]))
            else:
                ctx.set(dut.i.valid, 0)
            ready_in, valid_out = ctx.get(dut.i.ready), ctx.get(dut.o.valid)
            out = ctx.get(dut.o.payload)
            # Random back-pressure on the output.
            take = valid_out and rng.random() < 0.7
            ctx.set(dut.o.ready, int(take))
            out_valid = ctx.get(dut.o.valid)
            drops[0] += ctx.get(dut.drops)
            await ctx.tick()
            if i < len(flits) and ready_in:
                i += 1
            if take and out_valid:
                current.append((out.kind, out.data))
                if out.kind & net.TAIL_BIT:
                    got.append(current)
                    current = []
        assert i == len(flits)
        assert ctx.get(dut.errors) == errors

    drops = [0]

    simulate(dut, bench)
    assert got == [list(p) for p in expect]
    # The chip's in-flight count relies on this: every head that enters
    # leaves as a delivered packet or as one counted drop.
    heads = sum(1 for kind, _ in flits if kind & net.HEAD_BIT)
    assert heads == len(got) + drops[0]


def test_network_interface_loopback():
    rng = random.Random(5)
    cfg = CallosumConfig(width=4, height=4, flit_width=32)
    ni = NetworkInterface(cfg, 2, 1)
    top = Module()
    top.submodules.ni = ni
    wiring.connect(top, ni.o_flit, ni.i_flit)     # loop the flits straight back
    msgs = []
    for _ in range(30):
        n = rng.choice([0, 0, 1, 3, 15])
        msgs.append(net.Packet(src=(2, 1), dst=(rng.randrange(4), rng.randrange(4)), ptype=rng.randrange(6),
                               head_payload=rng.getrandbits(13), words=tuple(rng.getrandbits(32) for _ in range(n))))
    beats_in = []
    for p in msgs:
        beats_in.append({"dst_x": p.dst[0], "dst_y": p.dst[1], "ptype": int(p.ptype), "length": len(p.words),
                         "data": p.head_payload})
        beats_in += [{"dst_x": 0, "dst_y": 0, "ptype": 0, "length": 0, "data": w} for w in p.words]
    flits_seen, rx = [], []

    async def bench(ctx):
        i = 0
        for _ in range(len(beats_in) * 3):
            if i < len(beats_in):
                ctx.set(ni.i_tx.valid, 1)
                ctx.set(ni.i_tx.payload, beats_in[i])
            else:
                ctx.set(ni.i_tx.valid, 0)
            take = rng.random() < 0.6
            ctx.set(ni.o_rx.ready, int(take))
            valid = ctx.get(ni.o_rx.valid)
            f = ctx.get(ni.o_flit.payload)
            r = ctx.get(ni.o_rx.payload)
            await ctx.tick()
            if take and valid:
                i += 1
                flits_seen.append((f.kind, f.data))
                rx.append((r.first, r.last, r.src_x, r.src_y, int(r.ptype.value if hasattr(r.ptype, "value") else r.ptype), r.length, r.data))
        assert i == len(beats_in)

    simulate(top, bench)
    expect_flits = [f for p in msgs for f in net.to_flits(p, 32)]
    assert flits_seen == expect_flits
    k = 0
    for p in msgs:
        n = len(p.words)
        assert rx[k][:6] == (1, int(n == 0), 2, 1, int(p.ptype), n) and rx[k][6] == p.head_payload
        for j, w in enumerate(p.words):
            assert rx[k + 1 + j] == (0, int(j == n - 1), 2, 1, int(p.ptype), n, w)
        k += 1 + n


def _xy_arrives(port, here, dst):
    """``dst`` can reach router ``here`` by input ``port`` under XY routing."""
    (x, y), (dx, dy) = here, dst
    return {net.Port.N: dx == x and dy >= y, net.Port.S: dx == x and dy <= y,
            net.Port.W: dx >= x, net.Port.E: dx <= x, net.Port.L: True}[net.Port(port)]


def _leaves_by(cfg, here, port, dst):
    """The outputs a single-flit packet for ``dst`` entering ``here`` at
    ``port`` is offered on, over a few cycles."""
    dut = Router(cfg, *here)
    seen = []

    async def bench(ctx):
        i = dut.inputs()[port]
        ctx.set(i.valid, 1)
        ctx.set(i.payload, flit_value(net.SINGLE, net.pack_head(dst[0], dst[1], 0, 1, 0, 0, 0)))
        for o in dut.outputs():
            ctx.set(o.ready, 1)
        # Unbuffered inputs (fifo_depth = 0) offer it in this very cycle.
        seen.append([ctx.get(o.valid) for o in dut.outputs()])
        await ctx.tick()
        ctx.set(i.valid, 0)
        for _ in range(4):
            seen.append([ctx.get(o.valid) for o in dut.outputs()])
            await ctx.tick()

    simulate(dut, bench)
    return [p for row in seen for p, v in enumerate(row) if v]


@pytest.mark.parametrize("depth", [4, 1, 0])
def test_router_routes_xy(depth):
    """A head at each input of router (1, 1) in a 3 x 3 mesh, for every
    destination XY routing can bring in by that input, leaves by the port
    the golden model's output_port names (with FIFOs, and with flit
    registers)."""
    cfg = CallosumConfig(width=3, height=3, flit_width=32, fifo_depth=depth)
    checked = 0
    for port in net.Port:
        for dst in [(x, y) for x in range(3) for y in range(3)]:
            if not _xy_arrives(port, (1, 1), dst):
                continue
            expect = net.output_port((1, 1), dst)
            fired = _leaves_by(cfg, (1, 1), port, dst)
            assert fired == [int(expect)], f"in {port.name}, dst {dst}: left by {fired}, expected {int(expect)}"
            checked += 1
    assert checked == 9 + 2 + 2 + 6 + 6    # L, N, S, W, E


def test_router_builds_only_xy_turns():
    """The crossbar holds only XY-legal turns between ports on the mesh: a
    head that breaks XY routing (a neighbour never sends one) still leaves
    by exactly one legal output of its input, never by a U-turn or a turn
    from y back to x."""
    from rtl.callosum.router import XY_TURNS, legal_turns
    cfg = CallosumConfig(width=3, height=3, flit_width=32)
    assert legal_turns(cfg, 1, 1) == XY_TURNS
    for port in net.Port:
        for dst in [(x, y) for x in range(3) for y in range(3)]:
            if _xy_arrives(port, (1, 1), dst):
                continue
            fired = _leaves_by(cfg, (1, 1), port, dst)
            assert len(fired) == 1 and net.Port(fired[0]) in XY_TURNS[port], (port, dst, fired)


def test_router_edge_ports_absent():
    """A router's ports facing off the mesh take nothing and offer nothing,
    and its legal turns are those of XY routing among the ports it has."""
    from rtl.callosum.router import legal_turns, present_ports
    cfg = CallosumConfig(width=3, height=1, flit_width=32)
    assert present_ports(cfg, 0, 0) == {net.Port.L, net.Port.E}
    assert present_ports(cfg, 1, 0) == {net.Port.L, net.Port.E, net.Port.W}
    assert legal_turns(cfg, 0, 0) == {net.Port.L: {net.Port.L, net.Port.E}, net.Port.E: {net.Port.L}}
    assert legal_turns(cfg, 2, 0) == {net.Port.L: {net.Port.L, net.Port.W}, net.Port.W: {net.Port.L}}
    dut = Router(cfg, 0, 0)
    readies = []

    async def bench(ctx):
        for p in (net.Port.N, net.Port.S, net.Port.W):
            ctx.set(dut.inputs()[p].valid, 1)
            ctx.set(dut.inputs()[p].payload, flit_value(net.SINGLE, net.pack_head(0, 0, 0, 0, 0, 0, 0)))
        for o in dut.outputs():
            ctx.set(o.ready, 1)
        for _ in range(4):
            readies.append([ctx.get(dut.inputs()[p].ready) for p in (net.Port.N, net.Port.S, net.Port.W)]
                           + [ctx.get(o.valid) for o in dut.outputs()])
            await ctx.tick()

    simulate(dut, bench)
    assert readies == [[0] * 8] * 4


@pytest.mark.parametrize("depth", [4, 1, 0])
def test_router_holds_an_offered_head(depth):
    """An output that offers a head and is not ready keeps offering that same
    head when another input's head for the same output arrives."""
    cfg = CallosumConfig(width=3, height=3, flit_width=32, fifo_depth=depth)
    dut = Router(cfg, 1, 1)
    a = net.pack_head(1, 1, 0, 1, 0, 0, 111)
    b = net.pack_head(1, 1, 1, 0, 0, 0, 222)
    offered = []

    async def bench(ctx):
        # Each source holds its flit until the router takes it (an
        # unbuffered input, fifo_depth = 0, takes it only as it leaves).
        pending = {dut.i_w: None, dut.i_n: None}

        async def tick():
            took = {i: ctx.get(i.valid) and ctx.get(i.ready) for i in pending}
            await ctx.tick()
            for i, t in took.items():
                if t:
                    ctx.set(i.valid, 0)

        ctx.set(dut.o_l.ready, 0)
        ctx.set(dut.i_w.valid, 1)
        ctx.set(dut.i_w.payload, flit_value(net.SINGLE, a))
        await tick()
        await tick()                          # the W head is now offered on L
        ctx.set(dut.i_n.valid, 1)
        ctx.set(dut.i_n.payload, flit_value(net.SINGLE, b))
        await tick()
        for _ in range(4):                    # N's head is waiting too now
            offered.append((ctx.get(dut.o_l.valid), ctx.get(dut.o_l.payload).data))
            await tick()
        ctx.set(dut.o_l.ready, 1)
        for _ in range(3):
            offered.append((ctx.get(dut.o_l.valid), ctx.get(dut.o_l.payload).data))
            await tick()

    simulate(dut, bench)
    assert offered[:4] == [(1, a)] * 4
    assert offered[4:6] == [(1, a), (1, b)]


@pytest.mark.parametrize("depth", [2, 1, 0])
def test_router_without_validator_drops_off_mesh_packets(depth):
    """With callosum.local_check off the local input is a plain FIFO, but a
    packet for a node off the mesh is still dropped whole and counted (XY
    routing alone would hand it to an edge node), a stray flit is dropped,
    and good packets around them pass unchanged."""
    cfg = CallosumConfig(width=3, height=1, flit_width=32, fifo_depth=depth, local_check=False)
    dut = Router(cfg, 1, 0)
    H = net.pack_head
    stream = [
        (net.SINGLE, H(2, 0, 1, 0, 0, 0, 1)),                 # -> E
        (net.SINGLE, H(5, 0, 1, 0, 0, 0, 2)),                 # off the mesh (x)
        (net.HEAD, H(1, 3, 1, 0, 0, 2, 3)), (net.BODY, 30), (net.TAIL, 31),   # off the mesh (y)
        (net.HEAD, H(0, 0, 1, 0, 0, 1, 4)), (net.TAIL, 40),   # -> W
        (net.BODY, 99),                                       # stray: no packet open
        (net.HEAD, H(7, 7, 1, 0, 0, 1, 5)), (net.TAIL, 50),   # off the mesh, then
        (net.SINGLE, H(1, 0, 1, 0, 0, 0, 6)),                 # -> L
    ]
    got = {o: [] for o in ("e", "w", "l", "n", "s")}
    drops = []

    async def bench(ctx):
        for o in got:
            ctx.set(getattr(dut, f"o_{o}").ready, 1)
        k = 0
        for _ in range(60):
            if k < len(stream):
                ctx.set(dut.i_l.valid, 1)
                ctx.set(dut.i_l.payload, flit_value(*stream[k]))
            else:
                ctx.set(dut.i_l.valid, 0)
            took = k < len(stream) and ctx.get(dut.i_l.ready)
            for o in got:
                port = getattr(dut, f"o_{o}")
                if ctx.get(port.valid):
                    got[o].append((ctx.get(port.payload).kind, ctx.get(port.payload).data))
            drops.append(ctx.get(dut.drops))
            await ctx.tick()
            k += bool(took)
        assert ctx.get(dut.errors) == 4      # three off-mesh heads, one stray flit

    simulate(dut, bench)
    assert got["e"] == [stream[0]]
    assert got["w"] == [stream[5], stream[6]]
    assert got["l"] == [stream[10]]
    assert got["n"] == got["s"] == []
    assert sum(drops) == 3                   # packets whose head entered, for in-flight counts


def test_router_flit_registers_pass_a_flit_per_cycle_between_routers():
    """With fifo_depth = 1 an input from a neighbour still takes a flit every
    cycle (its ready passes the pop through), in order and unchanged, and
    stops taking them the cycle its output stalls; the local input, whose
    ready is only "empty", takes one every other cycle."""
    cfg = CallosumConfig(width=3, height=1, flit_width=32, fifo_depth=1, local_check=False)
    dut = Router(cfg, 1, 0)
    H = net.pack_head
    west = [flit_value(net.SINGLE, H(2, 0, 0, 0, 0, 0, k)) for k in range(8)]   # W -> E
    local = [flit_value(net.SINGLE, H(0, 0, 1, 0, 0, 0, k)) for k in range(4)]  # L -> W
    took_w, took_l, out_e, out_w = [], [], [], []

    async def bench(ctx):
        ctx.set(dut.o_w.ready, 1)
        kw = kl = 0
        for cycle in range(20):
            ctx.set(dut.o_e.ready, int(cycle not in (6, 7)))    # a two-cycle stall
            ctx.set(dut.i_w.valid, int(kw < len(west)))
            ctx.set(dut.i_w.payload, west[min(kw, len(west) - 1)])
            ctx.set(dut.i_l.valid, int(kl < len(local)))
            ctx.set(dut.i_l.payload, local[min(kl, len(local) - 1)])
            w_took = kw < len(west) and ctx.get(dut.i_w.ready)
            l_took = kl < len(local) and ctx.get(dut.i_l.ready)
            took_w.append(int(w_took))
            took_l.append(int(l_took))
            if ctx.get(dut.o_e.valid) and ctx.get(dut.o_e.ready):
                out_e.append(ctx.get(dut.o_e.payload).data)
            if ctx.get(dut.o_w.valid):
                out_w.append(ctx.get(dut.o_w.payload).data)
            await ctx.tick()
            kw += w_took
            kl += l_took

    simulate(dut, bench)
    assert out_e == [w["data"] for w in west]
    assert out_w == [f["data"] for f in local]
    # W: one per cycle, except while E stalls (the register is full then).
    assert took_w[:6] == [1] * 6 and took_w[6:8] == [0, 0] and sum(took_w) == len(west)
    assert took_l[:8] == [1, 0] * 4


def test_router_without_local_self_turn():
    """``local_self=False`` (the host bridge's node): no turn L -> L; a head
    from the local input for another node still leaves by its XY output, one
    addressed to this node is dropped and counted (no validator), never
    offered."""
    from rtl.callosum.router import legal_turns
    cfg = CallosumConfig(width=3, height=1, flit_width=32, fifo_depth=0, local_check=False)
    assert legal_turns(cfg, 0, 0, local_self=False) == {net.Port.L: {net.Port.E}, net.Port.E: {net.Port.L}}
    for dst, expect_out, expect_drop in (((2, 0), [int(net.Port.E)], 0), ((0, 0), [], 1)):
        dut = Router(cfg, 0, 0, local_self=False)
        seen, drops = [], []

        async def bench(ctx):
            i = dut.inputs()[net.Port.L]
            ctx.set(i.valid, 1)
            ctx.set(i.payload, flit_value(net.SINGLE, net.pack_head(dst[0], dst[1], 0, 0, 0, 0, 0)))
            for o in dut.outputs():
                ctx.set(o.ready, 1)
            await ctx.tick()
            ctx.set(i.valid, 0)
            for _ in range(3):
                seen.extend(p for p, o in enumerate(dut.outputs()) if ctx.get(o.valid))
                drops.append(ctx.get(dut.drops))
                await ctx.tick()

        simulate(dut, bench)
        assert seen == expect_out and sum(drops) == expect_drop, (dst, seen, drops)


def test_mesh_event_regs_delay_errors_and_drops_by_one_cycle():
    """Mesh(event_regs=True) registers each router's error and drop events
    before summing them (a timing cut on the ECP5): the counts are those
    of event_regs=False, one cycle later, and none is lost."""
    from rtl.callosum.mesh import Mesh

    cfg = CallosumConfig(width=3, height=1, flit_width=32, fifo_depth=2, local_check=False)
    H = net.pack_head
    stream = [
        (net.SINGLE, H(2, 0, 1, 0, 0, 0, 1)),                 # -> (2, 0)
        (net.SINGLE, H(5, 0, 1, 0, 0, 0, 2)),                 # off the mesh: dropped
        (net.BODY, 99),                                       # stray: an error, not a drop
        (net.HEAD, H(7, 7, 1, 0, 0, 1, 5)), (net.TAIL, 50),   # off the mesh: dropped
        (net.SINGLE, H(0, 0, 1, 0, 0, 0, 6)),                 # -> (0, 0)
    ]

    def run(event_regs):
        dut = Mesh(cfg, event_regs=event_regs)
        trace = []

        async def bench(ctx):
            for x in range(3):
                ctx.set(dut.local_out(x, 0).ready, 1)
            src = dut.local_in(1, 0)
            k = 0
            for _ in range(40):
                if k < len(stream):
                    ctx.set(src.valid, 1)
                    ctx.set(src.payload, flit_value(*stream[k]))
                else:
                    ctx.set(src.valid, 0)
                took = k < len(stream) and ctx.get(src.ready)
                trace.append((ctx.get(dut.drops), ctx.get(dut.errors)))
                await ctx.tick()
                k += bool(took)

        simulate(dut, bench)
        return trace

    plain, registered = run(False), run(True)
    assert sum(d for d, _ in plain) == 2 and plain[-1][1] == 3
    assert registered[1:] == plain[:-1] and registered[0] == (0, 0)
