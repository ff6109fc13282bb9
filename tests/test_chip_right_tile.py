"""A right tile in the Amaranth simulator, driven with golden-model packets.

The bench plays the host at (0, 0) and the rest of the network: it loads a
random network (core parameters and synapses, the tile registers, an output
table that sends every spike to the host and some back to the tile itself),
sends an activation vector, and then runs the time steps the way the step
controller does: a ``tick`` only once the tile's ``busy`` is low and nothing
is in flight. Packets the tile sends to itself are looped back into its
input. Every step's SPIKE packets, the spike-count vectors and register
readbacks are checked against the golden models (sw_model.bridges,
sw_model.right), under random idle and back-pressure on the flit ports.
"""

import random
from collections import deque

import numpy as np
import pytest

from rtl.chip.right_tile import RightTile
from rtl.config import HemiConfig
from sw_model import callosum as net
from sw_model import right_stream as rs
from sw_model.bridges import counts_to_int8, rate_encode
from sw_model.callosum import PacketType
from sw_model.chip_map import (ACT_LAST, MAX_WORDS, NodeKind, RightBlock, RightReg, address, node_word,
                               out_dest_word, pack_int8)
from sw_model.right import RightCoreModel
from tb.common.amaranth_sim import simulate

TILE, HOST = (1, 1), (0, 0)
FW = 32
ENC_AXONS = 20            # the activation vector drives axons 0..19
REC_BASE = ENC_AXONS      # recurrent spikes arrive on axons 20..31


def make_cfg(lanes, slices=True):
    return HemiConfig.from_dict({
        "right": {"neurons": 16, "axons": 32, "lanes": lanes, "synapse_rows": 128, "output_entries": 64},
        "callosum": {"width": 2, "height": 2, "flit_width": FW},
        "chip": {"link_slices": slices},
    })


def packet(ptype, words=(), payload=0, src=HOST):
    return net.Packet(src=src, dst=TILE, ptype=ptype, head_payload=payload, words=tuple(words))


def write_packets(writes):
    """(address, data) writes as packets: runs of consecutive addresses as
    WEIGHTS bursts, the rest as CONFIG_WRITE pairs."""
    out, pairs, i = [], [], 0
    while i < len(writes):
        j = i + 1
        while j < len(writes) and j - i < MAX_WORDS - 1 and writes[j][0] == writes[j - 1][0] + 1:
            j += 1
        if j - i >= 2:
            out.append(packet(PacketType.WEIGHTS, [writes[i][0]] + [d for _, d in writes[i:j]]))
        else:
            pairs.append(writes[i])
            if len(pairs) == MAX_WORDS // 2:
                out.append(packet(PacketType.CONFIG_WRITE, [w for p in pairs for w in p]))
                pairs = []
        i = j
    if pairs:
        out.append(packet(PacketType.CONFIG_WRITE, [w for p in pairs for w in p]))
    return out


def read_packets(addrs):
    return [packet(PacketType.CONFIG_READ, addrs[i:i + MAX_WORDS]) for i in range(0, len(addrs), MAX_WORDS)]


class Network:
    """A random network for the tile and its golden run."""

    def __init__(self, cfg, seed):
        rc = cfg.right
        g = np.random.default_rng(seed)
        N, A = rc.neurons, rc.axons
        self.params = {
            "du": g.integers(0, 4096, N), "dv": g.integers(0, 4096, N), "vth": g.integers(0, 60, N),
            "bias_mant": g.integers(-60, 120, N), "bias_exp": g.integers(0, 3, N),
            "refractory": g.integers(0, 3, N),
        }
        self.wexp = int(g.integers(0, 2))
        self.table = {}
        for a in range(A):
            fan = int(g.integers(0, 7 if a < ENC_AXONS else 5))
            if fan:
                lo = -20 if a < ENC_AXONS else -70
                self.table[a] = [(int(g.integers(0, N)), int(g.integers(lo, 100))) for _ in range(fan)]
        # Output table: every neuron to the host (axon = neuron) but one,
        # which has no entries; some also back to this tile (recurrence);
        # entries of a neuron in random order, neurons placed shuffled.
        silent = int(g.integers(0, N))
        self.entries = []
        for n in range(N):
            e = [] if n == silent else [(HOST, n)]
            e += [(TILE, REC_BASE + int(g.integers(0, A - REC_BASE))) for _ in range(int(g.integers(0, 3)))]
            g.shuffle(e)
            self.entries.append(e)
        order = g.permutation(N)
        self.ptr, self.dest = [0] * N, []
        for n in order:
            self.ptr[n] = len(self.dest) | (len(self.entries[n]) << 16)
            self.dest += [out_dest_word(*node, axon) for node, axon in self.entries[n]]
        assert len(self.dest) <= rc.output_entries
        self.vector = g.integers(-40, 128, ENC_AXONS)

    @classmethod
    def lone(cls, cfg, neuron):
        """Only ``neuron`` spikes (every step, from its bias), with one
        table entry to the host; no synapses, an all-zero vector. Its spike
        is the only work after the core's update, so every stage of the
        output path must hold ``busy`` by itself."""
        nw = cls.__new__(cls)
        N = cfg.right.neurons
        nw.params = {"vth": np.full(N, 131071), "bias_mant": np.zeros(N, dtype=np.int64)}
        nw.params["vth"][neuron], nw.params["bias_mant"][neuron] = 0, 100
        nw.wexp, nw.table = 0, {}
        nw.entries = [[(HOST, n)] if n == neuron else [] for n in range(N)]
        nw.ptr = [1 << 16 if n == neuron else 0 for n in range(N)]
        nw.dest = [out_dest_word(*HOST, neuron)]
        nw.vector = np.zeros(ENC_AXONS, dtype=np.int64)
        return nw

    def golden(self, cfg, steps, host_spikes, others):
        """Per step: spiking ids and the SPIKE packets ((node, axon), in send
        order). ``host_spikes`` arrive before step 0, ``others[t]`` during
        step t (another tile's spikes of step t: they belong to step t + 1)."""
        model = RightCoreModel.from_config(cfg.right, wexp=self.wexp)
        model.set_params(**self.params)
        model.set_synapses(self.table)
        raster = rate_encode(self.vector, steps)
        carried = list(host_spikes)          # spikes for the next step, arrival order
        ids, sent = [], []
        for t in range(steps):
            events = carried + np.flatnonzero(raster[t]).tolist()
            spiked = model.step(events).tolist()
            pkts = [e for n in spiked for e in self.entries[n]]
            carried = list(others[t]) + [axon for node, axon in pkts if node == TILE]
            ids.append(spiked)
            sent.append(pkts)
        return ids, sent, model


class Bench:
    """Host and network around the tile: flits in (host packets and the
    tile's packets to itself), flits out, ticks as the step controller."""

    def __init__(self, dut, rng, idle, bp):
        self.dut, self.rng, self.idle, self.bp = dut, rng, idle, bp
        self.inq = deque()           # flits for i_flit: whole packets, in order
        self.out = []                # flits of the packet leaving on o_flit
        self.got = []                # (step, packet) for every packet to the host
        self.looped = 0
        self.step = -1               # the step whose packets are arriving now
        self.quiet_prev = False      # last cycle: busy low, nothing in flight, no input
        self.step_cycles = []

    def send(self, *packets):
        for p in packets:
            self.inq.extend(net.to_flits(p, FW))

    def in_flight(self):
        return bool(self.inq) or bool(self.out)

    async def cycle(self, ctx, tick=0):
        dut, rng = self.dut, self.rng
        offer = bool(self.inq) and rng.random() >= self.idle
        ctx.set(dut.tick, tick)
        ctx.set(dut.i_flit.valid, int(offer))
        if offer:
            kind, word = self.inq[0]
            ctx.set(dut.i_flit.payload, {"kind": kind, "data": word})
        take = rng.random() >= self.bp
        ctx.set(dut.o_flit.ready, int(take))
        in_ready, out_valid = ctx.get(dut.i_flit.ready), ctx.get(dut.o_flit.valid)
        flit = ctx.get(dut.o_flit.payload)
        busy = ctx.get(dut.busy)
        # No spontaneous work: once the tile looked idle with nothing in
        # flight, it stays idle until it is given a flit or a tick (a busy
        # gap would let the controller tick too early).
        if self.quiet_prev and not offer:
            assert not busy and not out_valid, "busy rose with no input: a one-cycle busy gap"
        quiet = not busy and not out_valid and not self.in_flight()
        self.quiet_prev = quiet and not tick
        await ctx.tick()
        if offer and in_ready:
            self.inq.popleft()
        if out_valid and take:
            self.out.append((flit.kind, flit.data))
            if flit.kind & net.TAIL_BIT:
                p = net.from_flits(self.out, FW)
                self.out = []
                assert p.src == TILE
                if p.dst == TILE:
                    self.looped += 1
                    self.send(p)
                else:
                    assert p.dst == HOST, p
                    self.got.append((self.step, p))
        return quiet

    async def settle(self, ctx, limit=20000):
        """Cycles until the tile has been idle, with nothing in flight, for
        two cycles (what the step controller waits for); the cycle count."""
        run, n = 0, 0
        while run < 2:
            run = run + 1 if await self.cycle(ctx) else 0
            n += 1
            assert n < limit, "the tile never went quiet"
        return n

    async def tick(self, ctx, *packets, late=(), delay=0):
        """One step: the tick, then ``packets`` (they arrive while the tile
        is still encoding), ``delay`` cycles later the ``late`` packets,
        then the wait for quiet."""
        self.step += 1
        await self.cycle(ctx, tick=1)
        self.send(*packets)
        for _ in range(delay):
            await self.cycle(ctx)
        self.send(*late)
        self.step_cycles.append(1 + delay + await self.settle(ctx))

    def take(self, ptype):
        """Remove and return the host packets of one type: [(step, packet)]."""
        hits = [(s, p) for s, p in self.got if p.ptype == ptype]
        self.got = [(s, p) for s, p in self.got if p.ptype != ptype]
        return hits


def run_tile(cfg, nw, idle, bp, window, count_n, steps, seed, foreign=True, table_reads=True):
    """Load ``nw`` into a tile, run ``steps`` steps, read back; with
    ``foreign``, spikes from another tile arrive too; with ``table_reads``,
    the host reads output table entries during every step, at a different
    point of the step each time (a table's one read port is shared by
    those reads and the output walker), and writes some again."""
    rc = cfg.right
    N = rc.neurons
    host_spikes = [3, REC_BASE + 1, 7, 31] if foreign else []    # before step 0
    # Another tile's spikes of step t reach this tile while it still encodes
    # step t: the tile must hold them for step t + 1.
    orng = random.Random(seed + 1)
    # Step 1 brings more than the spike-in FIFO holds, so the port waits.
    others = [[orng.randrange(rc.axons) for _ in range((20 if t == 1 else orng.randrange(6)) if foreign else 0)]
              for t in range(steps - 1)] + [[]]
    ids, sent, model = nw.golden(cfg, steps, host_spikes, others)
    dut = RightTile(cfg, *TILE)
    rng = random.Random(seed)
    bench = Bench(dut, rng, idle, bp)
    results = {"table_reads": []}

    core = lambda a: address(RightBlock.CORE, a)           # noqa: E731
    reg = lambda r: address(RightBlock.TILE_REGS, r)       # noqa: E731
    ptr = lambda n: address(RightBlock.OUT_PTR, n)         # noqa: E731
    dest = lambda e: address(RightBlock.OUT_DEST, e)       # noqa: E731

    async def testbench(ctx):
        await bench.settle(ctx, limit=N + 100)   # the counter zeroes itself after reset
        # KIND answers even before anything is loaded.
        bench.send(*read_packets([reg(RightReg.KIND)]))
        await bench.settle(ctx)
        # Load the network, the registers and the output table.
        writes = [(core(a), d) for a, d in rs.load_writes(rc, nw.params, nw.table, nw.wexp)]
        writes += [(reg(RightReg.WINDOW), window), (reg(RightReg.COUNT_DEST), node_word(*HOST)),
                   (reg(RightReg.COUNT_N), count_n)]
        writes += [(ptr(n), w) for n, w in enumerate(nw.ptr)]
        writes += [(dest(e), w) for e, w in enumerate(nw.dest)]
        bench.send(*write_packets(writes))
        # Refused: writes to a read-only register and past the tables (2),
        # packets the tile does not take (2), reads of unmapped addresses (3).
        bench.send(packet(PacketType.CONFIG_WRITE, [reg(RightReg.KIND), 5, dest(rc.output_entries), 1]),
                   packet(PacketType.READ_RESPONSE, [1, 2]), packet(PacketType.CONFIG_WRITE, [1, 2, 3]))
        bench.send(*read_packets([
            reg(RightReg.KIND), reg(RightReg.WINDOW), reg(RightReg.COUNT_DEST), reg(RightReg.COUNT_N),
            ptr(3), ptr(N - 1), dest(len(nw.dest) - 1), core(rs.addr(rs.REGS, rs.REG_ID)),
            core(rs.addr(rs.REGS, rs.REG_SHAPE)), core(rs.addr(rs.REGS, rs.REG_WEXP)),
            ptr(N), address(7, 0), address(RightBlock.CORE, 1 << 24), reg(RightReg.ERRORS)]))
        await bench.settle(ctx)
        # The vector in two ACTIVATION packets, spikes from "another tile".
        words = pack_int8(nw.vector)
        bench.send(packet(PacketType.ACTIVATION, words[:3]),
                   packet(PacketType.ACTIVATION, words[3:], ACT_LAST),
                   *[packet(PacketType.SPIKE, payload=a, src=(0, 1)) for a in host_spikes])
        await bench.settle(ctx)
        for t in range(steps):
            late, delay = [], 0
            if table_reads:
                rows = [(ptr(n), nw.ptr[n]) for n in orng.choices(range(N), k=4)]
                rows += [(dest(e), nw.dest[e]) for e in orng.choices(range(len(nw.dest)), k=6)]
                orng.shuffle(rows)
                # ... and writes some of them again (the same values), which
                # keep the walker off the table's port for a cycle each.
                late = read_packets([a for a, _ in rows]) + [
                    packet(PacketType.CONFIG_WRITE, [w for row in rows[:7] for w in row])]
                results["table_reads"].append(tuple(w for _, w in rows))
                delay = orng.randrange(10, 80)
            await bench.tick(ctx, *[packet(PacketType.SPIKE, payload=a, src=(0, 1)) for a in others[t]],
                             late=late, delay=delay)
        # Final readback: counters, the core's step count and every neuron's v.
        bench.send(*read_packets(
            [reg(RightReg.SPIKES_SENT), reg(RightReg.SPIKES_RECEIVED), reg(RightReg.ERRORS),
             core(rs.addr(rs.REGS, rs.REG_STEPS)), core(rs.addr(rs.REGS, rs.REG_ERRORS))]
            + [core(rs.addr(rs.V, rs.neuron_offset(rc, n))) for n in range(N)]))
        await bench.settle(ctx)
        results["busy_end"] = ctx.get(dut.busy)

    simulate(dut, testbench)
    return bench, results, (ids, sent, model, host_spikes + sum(others, []))


CASES = [
    # lanes, idle, bp, window, count_n, steps
    (2, 0.0, 0.0, 8, 13, 8),
    (2, 0.4, 0.5, 3, 16, 7),
    (1, 0.0, 0.6, 4, 9, 8),
    (3, 0.3, 0.3, 0, 16, 6),     # counting off
]


@pytest.mark.parametrize("slices", [True, False], ids=["slices", "wires"])     # chip.link_slices
@pytest.mark.parametrize("lanes,idle,bp,window,count_n,steps", CASES)
def test_right_tile_network(lanes, idle, bp, window, count_n, steps, slices):
    seed = lanes * 1000 + window * 10 + steps
    cfg = make_cfg(lanes, slices)
    nw = Network(cfg, seed)
    bench, results, golden = run_tile(cfg, nw, idle, bp, window, count_n, steps, seed)
    ids, sent = golden[:2]
    assert sum(len(s) for s in ids) > steps, "the network hardly spikes: a weak test"
    assert any(node == TILE for s in sent for node, _ in s), "no recurrent spike exercised"
    check_run(cfg, nw, bench, results, golden, window, count_n, steps)
    print(f"cycles per step (tick to quiet): {bench.step_cycles}")


@pytest.mark.parametrize("slices", [True, False], ids=["slices", "wires"])
@pytest.mark.parametrize("neuron", [0, 15])
def test_right_tile_lone_spike(neuron, slices):
    """One spike per step and nothing else: its packet must leave within
    its own step (busy held through the spike buffer and the table walk)."""
    cfg = make_cfg(2, slices)
    nw = Network.lone(cfg, neuron)
    bench, results, golden = run_tile(cfg, nw, 0.0, 0.0, 0, 16, 4, seed=neuron, foreign=False)
    assert golden[0] == [[neuron]] * 4
    check_run(cfg, nw, bench, results, golden, 0, 16, 4)


def check_run(cfg, nw, bench, results, golden, window, count_n, steps):
    """Every host packet of a run against the golden run."""
    ids, sent, model, host_spikes = golden
    rc = cfg.right
    N = rc.neurons

    # Read responses, in order.
    reads = [p.words for _, p in bench.take(PacketType.READ_RESPONSE)]
    mid = results["table_reads"]
    assert len(reads) == 1 + 1 + len(mid) + 2
    assert reads[2:2 + len(mid)] == mid, "table reads during the steps"
    reads = reads[:2] + reads[2 + len(mid):]
    assert reads[0] == (NodeKind.RIGHT,)
    assert reads[1] == (NodeKind.RIGHT, window, node_word(*HOST), count_n, nw.ptr[3], nw.ptr[N - 1],
                        nw.dest[-1], rs.ID_WORD, N | (rc.lanes << 16), nw.wexp, 0, 0, 0, 2 + 2 + 3)
    total_sent = sum(len(s) for s in sent)
    looped = sum(1 for s in sent for node, _ in s if node == TILE)
    assert bench.looped == looped
    final = reads[2] + reads[3]
    assert final[:5] == (total_sent, looped + len(host_spikes), 7, steps, 0)
    v = [rs.to_signed(w, 24) for w in final[5:]]
    assert v == model.v.tolist()

    # SPIKE packets to the host, step by step (between ticks), in order.
    spikes = bench.take(PacketType.SPIKE)
    for t in range(steps):
        got = [p.head_payload for s, p in spikes if s == t]
        assert got == [axon for node, axon in sent[t] if node == HOST], f"step {t}"
    assert all(0 <= s < steps for s, _ in spikes)

    # Count vectors: one per whole window, right after its last step.
    vecs = bench.take(PacketType.ACTIVATION)
    expect = []
    if window:
        for w in range(steps // window):
            counts = np.zeros(count_n, dtype=np.int64)
            for t in range(w * window, (w + 1) * window):
                for n in ids[t]:
                    if n < count_n:
                        counts[n] += 1
            words = pack_int8(counts_to_int8(counts))
            expect.append(((w + 1) * window - 1, tuple(words), ACT_LAST))
    assert [(s, p.words, p.head_payload) for s, p in vecs] == expect
    assert not bench.got, f"unexpected packets: {bench.got}"
    assert results["busy_end"] == 0
