"""cocotb tests of the callosum mesh against the golden model: every packet
arrives exactly once, at the right node, intact, in order per
source-destination pair; malformed packets are dropped and counted; the
network drains.

Scale knobs of traffic_patterns for long runs (tools/soak.py): TB_PACKETS,
packets per node per pattern (default 12); TB_ROUNDS, rounds of the four
patterns, each with fresh random traffic (default 1); TB_MIN_CYCLES, further
rounds until at least that many cycles have run (default 0). TB_STATS /
TB_PROGRESS receive the counts (tb/common/soak_stats.py).
"""

import cocotb

from sw_model import callosum as net
from tb.common.seed import seed_bench
from tb.common.soak_stats import Progress, int_env
from tb.callosum.mesh_tb import MeshTB

DRAIN_BOUND = 4000   # cycles after injection stops by which all must arrive


async def setup(dut):
    tb = MeshTB(dut)
    seed_bench(tb, dut._log)
    await tb.reset()
    return tb


def random_packet(tb, src, dst, max_len=15):
    rng = tb.rng
    length = 0 if rng.random() < 0.4 else rng.randint(1, max_len)
    return net.Packet(src=src, dst=dst, ptype=rng.randrange(6),
                      head_payload=rng.getrandbits(tb.fw - 19),
                      words=tuple(rng.getrandbits(tb.fw) for _ in range(length)))


async def run_pattern(tb, pattern, per_node):
    rng = tb.rng
    for _ in range(per_node):
        for i in range(tb.N):
            src = tb.xy(i)
            dst = net.pattern_destination(pattern, src, tb.W, tb.H, rng)
            tb.inject_packet(random_packet(tb, src, dst))
    await tb.run(until_drained=True, limit=200000)
    tb.scoreboard.check_empty()
    assert not tb.queued()


@cocotb.test()
async def traffic_patterns(dut):
    """Uniform, transpose, hotspot and nearest-neighbour traffic, single- and
    multi-flit packets mixed, all queued at once and drained."""
    tb = await setup(dut)
    per_node = int_env("TB_PACKETS", 12)
    rounds = int_env("TB_ROUNDS", 1)
    min_cycles = int_env("TB_MIN_CYCLES", 0)
    stats = Progress("traffic_patterns")
    r = 0
    while r < rounds or tb.cycle < min_cycles:
        for pattern in ("uniform", "transpose", "hotspot", "neighbour"):
            start = tb.cycle
            await run_pattern(tb, pattern, per_node)
            tb.log.info("%s: drained in %d cycles", pattern, tb.cycle - start)
            stats.update(rounds=r, packets=tb.scoreboard.received, flits=tb.delivered_flits,
                         cycles=tb.cycle)
        r += 1
    assert await tb.errors() == 0
    stats.done(dut._log, rounds=r, packets=tb.scoreboard.received, flits=tb.delivered_flits,
               cycles=tb.cycle)


@cocotb.test()
async def drains_within_bound(dut):
    """Saturating uniform traffic of single- and multi-flit packets for a
    while, then injection stops: the network must deliver everything within
    DRAIN_BOUND cycles (plus the flits still queued at the sources)."""
    tb = await setup(dut)
    rng = tb.rng

    def generate(tb):
        if tb.cycle < stop:
            for i in range(tb.N):
                if rng.random() < 0.25:
                    src = tb.xy(i)
                    dst = net.pattern_destination("uniform", src, tb.W, tb.H, rng)
                    tb.inject_packet(random_packet(tb, src, dst, max_len=6))

    stop = tb.cycle + 600
    await tb.run(cycles=600, generate=generate)
    backlog = tb.queued()
    ran = await tb.run(until_drained=True, limit=DRAIN_BOUND + backlog)
    assert not tb.scoreboard.outstanding(), (
        f"{tb.scoreboard.outstanding()} packets undelivered {ran} cycles after injection stopped "
        f"(backlog {backlog} flits; replay: SEED={tb.seed})")
    tb.log.info("drained %d queued flits in %d cycles", backlog, ran)


@cocotb.test()
async def malformed_among_good(dut):
    """Out-of-mesh destinations, bodies without heads, early and late tails,
    heads cut short by new heads, inconsistent length fields: each dropped at
    its first router and counted, while good traffic around them arrives."""
    tb = await setup(dut)
    rng = tb.rng
    fw = tb.fw
    streams = {i: [] for i in range(tb.N)}

    def head(src, dst, length, kind=None):
        kind = kind if kind is not None else (net.SINGLE if length == 0 else net.HEAD)
        return (kind, net.pack_head(dst[0], dst[1], src[0], src[1], 0, length,
                                    rng.getrandbits(fw - 19), flit_width=fw))

    def body(kind=net.BODY):
        return (kind, rng.getrandbits(fw))

    for _ in range(10):
        for i in range(tb.N):
            src = tb.xy(i)
            good = net.pattern_destination("uniform", src, tb.W, tb.H, rng)
            choice = rng.randrange(10)
            if choice == 0:     # destination off the mesh
                bad = (rng.choice([tb.W, 7]) if tb.W < 8 else 0, rng.randrange(tb.H))
                if bad[0] < tb.W:
                    bad = (bad[0], tb.H if tb.H < 8 else 0)
                streams[i] += [head(src, bad, 2), body(), body(net.TAIL)]
            elif choice == 1:   # a body without a head
                streams[i] += [body(), body(net.TAIL)]
            elif choice == 2:   # tail too early
                streams[i] += [head(src, good, 3), body(), body(net.TAIL)]
            elif choice == 3:   # tail too late
                streams[i] += [head(src, good, 1), body(), body(net.TAIL)]
            elif choice == 4:   # a head cut short by the next head
                streams[i] += [head(src, good, 4), body()]
            elif choice == 5:   # SINGLE with a length, HEAD without one
                streams[i] += [head(src, good, 2, kind=net.SINGLE), head(src, good, 0, kind=net.HEAD), body(net.TAIL)]
            elif choice == 6:   # cut short by a head that is malformed itself: two errors
                streams[i] += [head(src, good, 4), body(), head(src, good, 3, kind=net.SINGLE)]
            p = random_packet(tb, src, good, max_len=4)
            streams[i] += net.to_flits(p, fw)
    expected_errors = 0
    for i, flits in streams.items():
        packets, errors = net.validate_local(flits, tb.W, tb.H, flit_width=fw)
        expected_errors += errors
        for pk in packets:
            tb.scoreboard.expect(tb.xy(i), pk)
        tb.queue_flits(i, flits)
    await tb.run(until_drained=True, limit=100000)
    tb.scoreboard.check_empty()
    got = await tb.errors()
    assert got == expected_errors, f"errors counter {got}, expected {expected_errors} (replay: SEED={tb.seed})"
