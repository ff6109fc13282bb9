"""cocotb tests of the callosum mesh against the golden model: every packet
arrives exactly once, at the right node, intact, in order per
source-destination pair; malformed packets are dropped and counted; the
network drains; every local port holds back when it must; a reset under
traffic leaves the mesh empty and working.

Scale knobs of traffic_patterns for long runs (tools/soak.py): TB_PACKETS,
packets per node per pattern (default 12); TB_ROUNDS, rounds of the four
patterns, each with fresh random traffic (default 1); TB_MIN_CYCLES, further
rounds until at least that many cycles have run (default 0). TB_STATS /
TB_PROGRESS receive the counts (tb/common/soak_stats.py).
"""

import cocotb

from sw_model import callosum as net
from tb.common import fcov
from tb.common.seed import seed_bench
from tb.common.soak_stats import Progress, int_env
from tb.callosum.mesh_tb import MeshTB, classify_errors

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
    """Out-of-mesh destinations, bodies and tails without heads, early and
    late tails, heads cut short by new heads, inconsistent length fields:
    each dropped at its first router and counted, while good traffic around
    them arrives."""
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

    draws = 0
    for _ in range(10):
        for i in range(tb.N):
            src = tb.xy(i)
            good = net.pattern_destination("uniform", src, tb.W, tb.H, rng)
            # The first draws take every kind in turn, so each appears in
            # every run (coverage: callosum.malformed.kind); then at random.
            choice = draws if draws < 8 else rng.randrange(11)
            draws += 1
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
            elif choice == 7:   # a tail without a head
                streams[i] += [body(net.TAIL)]
            p = random_packet(tb, src, good, max_len=4)
            streams[i] += net.to_flits(p, fw)
    expected_errors = 0
    for i, flits in streams.items():
        packets, errors = net.validate_local(flits, tb.W, tb.H, flit_width=fw)
        kinds = classify_errors(flits, tb.W, tb.H)
        assert len(kinds) == errors, (f"bench: classify_errors names {len(kinds)} errors, validate_local "
                                      f"counts {errors} (replay: SEED={tb.seed})")
        for kind in kinds:
            fcov.sample("callosum.malformed.kind", kind)
        expected_errors += errors
        for pk in packets:
            tb.scoreboard.expect(tb.xy(i), pk)
        tb.queue_flits(i, flits)
    await tb.run(until_drained=True, limit=100000)
    tb.scoreboard.check_empty()
    got = await tb.errors()
    assert got == expected_errors, f"errors counter {got}, expected {expected_errors} (replay: SEED={tb.seed})"


def coverage_packet(tb, src, dst, k):
    """Packet ``k`` of a directed set: types and lengths in turn (head only,
    one word, the maximum, several), so every bin comes up in every run."""
    rng = tb.rng
    length = (0, 1, net.MAX_LENGTH, rng.randint(2, net.MAX_LENGTH - 1))[k % 4]
    return net.Packet(src=src, dst=dst, ptype=k % 8, head_payload=rng.getrandbits(tb.fw - 19),
                      words=tuple(rng.getrandbits(tb.fw) for _ in range(length)))


@cocotb.test()
async def every_pair(dut):
    """One packet from every node to every node (itself included: 0 hops),
    all queued at once, types and lengths in turn: every hop count, source,
    destination, type and length class arrives, and the destinations'
    outputs are contended."""
    tb = await setup(dut)
    k = 0
    for i in range(tb.N):
        for j in range(tb.N):
            tb.inject_packet(coverage_packet(tb, tb.xy(i), tb.xy(j), k))
            k += 1
    await tb.run(until_drained=True, limit=100000)
    tb.scoreboard.check_empty()
    assert not tb.queued()
    assert await tb.errors() == 0


@cocotb.test()
async def sinks_blocked(dut):
    """Every local output held not-ready while each node injects more flits
    than the network can hold ahead of it (its validator, two maximum
    packets, plus the FIFOs on one path): every local input must refuse
    flits at some point and every output must hold one; once the outputs
    open, everything arrives."""
    tb = await setup(dut)
    if tb.N == 1:
        return
    # Node i sends to node i + 1: every node is a destination, no path ends
    # at its own source. Ahead of a node's input fit its validator (two
    # maximum packets) and at most one FIFO per hop of its first packet's
    # path; one maximum packet more than that must stall it.
    flits = net.MAX_LENGTH + 1
    room = 2 * flits + tb.cfg.fifo_depth * (tb.W - 1 + tb.H - 1)
    for i in range(tb.N):
        for _ in range(room // flits + 2):
            tb.inject_packet(coverage_packet(tb, tb.xy(i), tb.xy((i + 1) % tb.N), 2))
    everyone = (1 << tb.N) - 1
    tb.block_sinks = True
    ran = await tb.run(until=lambda tb: tb.stalled_in == everyone and tb.stalled_out == everyone,
                       limit=5000)
    assert tb.scoreboard.received == 0, f"packets delivered to a blocked output (replay: SEED={tb.seed})"
    assert tb.stalled_in == everyone, (
        f"after {ran} cycles with every output blocked, the local inputs of nodes "
        f"{[tb.xy(i) for i in range(tb.N) if not tb.stalled_in >> i & 1]} never refused a flit "
        f"(replay: SEED={tb.seed})")
    assert tb.stalled_out == everyone, (
        f"after {ran} cycles with every output blocked, nodes "
        f"{[tb.xy(i) for i in range(tb.N) if not tb.stalled_out >> i & 1]} never offered a flit "
        f"(replay: SEED={tb.seed})")
    tb.block_sinks = False
    await tb.run(until_drained=True, limit=100000)
    tb.scoreboard.check_empty()
    assert await tb.errors() == 0


def tagged_packet(tb, src, dst, max_len=net.MAX_LENGTH, length=None):
    """A random packet (``length`` words, else as random_packet) whose head
    payload carries the bench's reset epoch in its low 4 bits
    (MeshTB.epoch_tags)."""
    rng = tb.rng
    if length is None:
        length = 0 if not max_len or rng.random() < 0.4 else rng.randint(1, max_len)
    return net.Packet(src=src, dst=dst, ptype=rng.randrange(8),
                      head_payload=(rng.getrandbits(tb.fw - 19) & ~15) | (tb.epoch & 15),
                      words=tuple(rng.getrandbits(tb.fw) for _ in range(length)))


def queue_tagged_traffic(tb, per_node, max_len=net.MAX_LENGTH, malformed=False):
    """Random packets from every node, the first of each several flits long
    (unless ``max_len`` is 0); with ``malformed``, some nodes' streams also
    hold a packet cut short or a stray flit, so the validators are caught
    in every state by a reset. The good packets are expected."""
    rng, fw = tb.rng, tb.fw
    for i in range(tb.N):
        src = tb.xy(i)
        flits = []
        for k in range(per_node):
            dst = net.pattern_destination("uniform", src, tb.W, tb.H, rng)
            length = rng.randint(1, max_len) if k == 0 and max_len else None
            flits += net.to_flits(tagged_packet(tb, src, dst, max_len, length), fw)
            if malformed and rng.random() < 0.3:
                cut = net.to_flits(tagged_packet(tb, src, dst, length=rng.randint(1, net.MAX_LENGTH)), fw)
                flits += cut[:rng.randint(1, len(cut) - 1)]
        packets, _ = net.validate_local(flits, tb.W, tb.H, flit_width=fw)
        for pk in packets:
            tb.scoreboard.expect(src, pk)
        tb.queue_flits(i, flits)


#: When each round's reset comes: before any flit moves; with single-flit
#: packets in flight (traffic, no port inside a packet); as a local input
#: has taken a head; as a local output has delivered a head; after
#: everything arrived; at a random moment.
RESET_PLANS = ("start", "singles", "mid_packet_in", "mid_packet_out", "quiet", "random")


@cocotb.test()
async def reset_under_traffic(dut):
    """Reset asserted under traffic for 1..8 cycles (1 the first time, 2..8
    the last): before the queued traffic starts, with single-flit packets
    in flight, with a node's local input inside a packet, with a node's
    output inside a packet, after everything arrived, and at a random
    moment (RESET_PLANS). Reset clears the mesh (its FIFOs and
    validators; stored flits in memories are unreachable once the pointers
    are reset) and the bench resets its sources with it. After each
    release, for a few cycles no output offers a flit, every input is ready
    and the error counter reads 0; then new traffic arrives whole, exactly
    once, and nothing queued before the reset ever arrives (every head
    carries its reset epoch)."""
    tb = await setup(dut)
    rng = tb.rng
    tb.epoch_tags = True
    plans = RESET_PLANS
    for r, plan in enumerate(plans):
        if plan == "singles":
            queue_tagged_traffic(tb, per_node=6, max_len=0)
        else:
            queue_tagged_traffic(tb, per_node=3, malformed=True)
        if plan == "start":
            pass
        elif plan == "singles":
            await tb.run(cycles=rng.randint(1, 4))
        elif plan == "mid_packet_in":
            await tb.run(until=lambda tb: tb.in_pkt, limit=1000)
        elif plan == "mid_packet_out":
            await tb.run(until=lambda tb: tb.out_pkt, limit=5000)
        elif plan == "quiet":
            await tb.run(until_drained=True, limit=100000)
            tb.scoreboard.check_empty()
        else:
            await tb.run(cycles=rng.randint(0, 200))
        hold = 1 if r == 0 else rng.randint(2, 8) if r == len(plans) - 1 else rng.randint(1, 8)
        tb.log.info("round %d: reset (%s, %s) for %d cycles at cycle %d", r, plan,
                    "/".join(tb.reset_state()), hold, tb.cycle)
        await tb.reset_now(hold)
        await tb.check_quiet(tb.W + tb.H + 4)
        queue_tagged_traffic(tb, per_node=2, max_len=6)
        await tb.run(until_drained=True, limit=100000)
        tb.scoreboard.check_empty()
        assert not tb.queued()
        assert await tb.errors() == 0, f"errors after reset round {r} (replay: SEED={tb.seed})"
