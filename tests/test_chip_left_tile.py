"""The left tile in the Amaranth simulator: a host at (0, 0) loads a dense
int8 layer into the tile at (0, 1) with golden-model packets, reads
registers and stores back, then sends int8 vectors; every output vector must
equal the golden layer (sw_model.left.gemm), under random idle and
back-pressure on the flit ports, with several reduction and column tiles
(K and N not multiples of the array), store words of 1..3 per row, vectors
back to back, store reads and weight writes while a layer runs, and refused
accesses counted."""

import random

import numpy as np
import pytest
from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from rtl.chip.left_tile import LeftTile, _divmod_const, _ReadStream
from rtl.config import HemiConfig
from sw_model import callosum as net
from sw_model import left as golden
from sw_model.callosum import PacketType
from sw_model.chip_map import (ACT_LAST, LeftBlock, LeftReg, NodeKind, address, left_epi_offset,
                               left_words_per_row, node_word, pack_int8, unpack_int8)
from sw_model.left_stream import plan_gemm
from tb.common.amaranth_sim import simulate

HOST, NODE = (0, 0), (0, 1)
M32 = 0xFFFFFFFF
PATTERNS = {"free": (0.0, 0.0), "idle": (0.5, 0.0), "bp": (0.0, 0.6), "both": (0.4, 0.4)}
MAX_CYCLES = 40000


def make_cfg(rows, cols, max_k=32, max_n=32, weight_rows=64, slices=True, left=None):
    return HemiConfig.from_dict({
        "left": {"rows": rows, "cols": cols, "acc_depth": 16, "weight_rows": weight_rows,
                 "max_k": max_k, "max_n": max_n, **(left or {})},
        "callosum": {"width": 2, "height": 2, "flit_width": 32},
        "chip": {"link_slices": slices},
    })


def packet(ptype, words=(), payload=0):
    return net.Packet(src=HOST, dst=NODE, ptype=ptype, head_payload=payload, words=tuple(words))


def reg(r):
    return address(LeftBlock.TILE_REGS, r)


class Layer:
    """A random dense layer and the packets that load it."""

    def __init__(self, cfg, K, N, rng):
        lc = cfg.left
        self.cfg, self.K, self.N = cfg, K, N
        self.W = rng.integers(-128, 128, (K, N))
        # Scaled so that outputs spread over the int8 range instead of
        # saturating (a saturated output would hide a wrong bias or beat).
        spread = 128 * 128 / 3 * np.sqrt(K)      # about the accumulator's deviation
        base = int(round(np.log2(spread * 0.6 / 40)))
        self.bias = rng.integers(-int(spread), int(spread) + 1, N)
        self.mult = rng.integers(1 << 29, 1 << 31, N)
        self.shift = rng.integers(max(base - 1, 0), base + 2, N)
        self.zp = int(rng.integers(-20, 21))
        self.relu = bool(rng.integers(0, 2))
        self.epi_word = (self.zp & 0xFF) | (self.relu << 8)
        # The weight store's rows are the core's weight beats for this layer.
        rows = plan_gemm(lc, np.zeros((1, K), dtype=np.int64), self.W).weights
        assert rows.shape == (-(-N // lc.cols) * K, lc.cols)
        self.wpr = left_words_per_row(lc.cols)
        self.wwords = [w for r in rows for w in pack_int8(r)]
        assert len(self.wwords) == len(rows) * self.wpr

    def epi_store(self, block, ch):
        v = {LeftBlock.BIAS: self.bias, LeftBlock.MULT: self.mult, LeftBlock.SHIFT: self.shift}[block]
        return int(v[ch]) & M32

    def load(self):
        """Config writes (with refused ones mixed in), weights, epilogue.
        Returns (packets, refused accesses)."""
        ps = [packet(PacketType.CONFIG_WRITE, [
            reg(LeftReg.K), 0,                         # out of range: refused
            reg(LeftReg.K), self.K, reg(LeftReg.N), self.N,
            reg(LeftReg.DEST), node_word(*HOST), reg(LeftReg.EPI), self.epi_word,
            reg(LeftReg.KIND), 5,                      # read-only: refused
            address(7, 3), 1,                          # no such block: refused
        ])]
        for i in range(0, len(self.wwords), 14):
            ps.append(packet(PacketType.WEIGHTS, [address(LeftBlock.WEIGHTS, i)] + self.wwords[i:i + 14]))
        pairs = [(address(b, left_epi_offset(self.cfg.left.cols, ch)), self.epi_store(b, ch))
                 for b in (LeftBlock.BIAS, LeftBlock.MULT, LeftBlock.SHIFT) for ch in range(self.N)]
        for i in range(0, len(pairs), 7):
            ps.append(packet(PacketType.CONFIG_WRITE, [w for p in pairs[i:i + 7] for w in p]))
        return ps, 3

    def readback(self, rng, errors):
        """CONFIG_READs of every register and some store words; returns
        (packets, expected READ_RESPONSE words, refused reads)."""
        lc = self.cfg.left
        regs = [(reg(LeftReg.KIND), NodeKind.LEFT), (reg(LeftReg.K), self.K), (reg(LeftReg.N), self.N),
                (reg(LeftReg.DEST), node_word(*HOST)), (reg(LeftReg.EPI), self.epi_word),
                (reg(LeftReg.ERRORS), errors), (reg(LeftReg.GEMMS), 0), (reg(LeftReg.CORE_ERRORS), 0),
                (reg(9), 0)]                           # unmapped: reads 0, refused
        stores = [(address(LeftBlock.WEIGHTS, i), self.wwords[i])
                  for i in sorted(rng.choice(len(self.wwords), 6, replace=False))]
        stores.append((address(LeftBlock.WEIGHTS, len(self.wwords) - 1), self.wwords[-1]))
        for b in (LeftBlock.BIAS, LeftBlock.MULT, LeftBlock.SHIFT):
            for ch in (0, self.N - 1):
                stores.append((address(b, left_epi_offset(lc.cols, ch)), self.epi_store(b, ch)))
        tiles = -(-lc.max_n // lc.cols)
        stores.append((address(LeftBlock.BIAS, tiles << 5), 0))     # past the store: refused
        stores.append((address(LeftBlock.WEIGHTS, lc.weight_rows * self.wpr), 0))   # refused
        reads = regs + stores
        ps, want = [], []
        for i in range(0, len(reads), 15):
            chunk = reads[i:i + 15]
            ps.append(packet(PacketType.CONFIG_READ, [a for a, _ in chunk]))
            want.append(tuple(int(v) for _, v in chunk))
        return ps, want, 3

    def expect(self, x, zp, relu):
        xs = np.asarray(x[:self.K], dtype=np.int64)
        return golden.gemm(xs[None], self.W, self.bias, self.mult, self.shift, zp, relu,
                           mode="int8")[0].tolist()


def vector_packets(x):
    words = pack_int8(x)
    out = []
    for i in range(0, len(words), 15):
        last = i + 15 >= len(words)
        out.append(packet(PacketType.ACTIVATION, words[i:i + 15], ACT_LAST if last else 0))
    return out


def run_tile(cfg, phases, idle, bp, seed):
    """Drive the tile with ``phases`` (``flits_of`` tuples; each phase starts
    once the tile is quiet) and return the packets received, the cycles at
    which vectors entered and left (``marks``), and the cycles in which busy
    was low while a vector was inside the tile."""
    rng = random.Random(seed)
    dut = LeftTile(cfg, *NODE)
    got, marks, gaps = [], {"in": [], "out": [], "first_in": []}, []

    async def bench(ctx):
        cycle = 0
        current = []
        outstanding = 0                       # vectors whose output has not left yet
        for flits, tails, firsts in phases:
            i, quiet = 0, 0
            while quiet < 30:
                assert cycle < MAX_CYCLES, "tile hung"
                offer = i < len(flits) and rng.random() >= idle
                ctx.set(dut.i_flit.valid, int(offer))
                if offer:
                    ctx.set(dut.i_flit.payload, {"kind": flits[i][0], "data": flits[i][1]})
                take = rng.random() >= bp
                ctx.set(dut.o_flit.ready, int(take))
                in_ready, out_valid = ctx.get(dut.i_flit.ready), ctx.get(dut.o_flit.valid)
                out = ctx.get(dut.o_flit.payload)
                busy = ctx.get(dut.busy)
                if outstanding and not busy:
                    gaps.append(cycle)
                await ctx.tick()
                cycle += 1
                if offer and in_ready:
                    if i in firsts:
                        marks["first_in"].append(cycle)
                    if i in tails:
                        marks["in"].append(cycle)
                        outstanding += 1
                    i += 1
                if out_valid and take:
                    current.append((out.kind, out.data))
                    if out.kind & net.TAIL_BIT:
                        p = net.from_flits(current)
                        got.append(p)
                        current = []
                        if p.ptype == PacketType.ACTIVATION and p.head_payload & ACT_LAST:
                            marks["out"].append(cycle)
                            outstanding -= 1
                quiet = quiet + 1 if i == len(flits) and not busy and not out_valid else 0
            assert not current, "a packet left half sent"

    simulate(dut, bench)
    return got, marks, gaps


def flits_of(packets, vector_starts=()):
    """Flits of ``packets``; the indices of the tail flits of the vectors'
    final packets and of the vectors' first flits."""
    flits, tails, firsts = [], set(), set()
    for k, p in enumerate(packets):
        if k in vector_starts:
            firsts.add(len(flits))
        flits += net.to_flits(p)
        if p.ptype == PacketType.ACTIVATION and p.head_payload & ACT_LAST:
            tails.add(len(flits) - 1)
    return flits, tails, firsts


def vectors_to_packets(xs):
    ps, starts = [], []
    for x in xs:
        starts.append(len(ps))
        ps += vector_packets(x)
    return ps, starts


CASES = [
    # rows, cols, K, N, patterns: K and N leave partial reduction/column tiles
    pytest.param(4, 4, 13, 10, list(PATTERNS), id="4x4-K13-N10"),
    pytest.param(3, 5, 11, 12, list(PATTERNS), id="3x5-K11-N12"),
    pytest.param(2, 9, 7, 11, ["free", "bp"], id="2x9-K7-N11"),          # 3 weight words per row
    pytest.param(4, 4, 32, 8, ["free", "both"], id="4x4-K32-N8-full"),   # max_k, every weight row
    pytest.param(4, 1, 5, 12, ["free", "idle"], id="4x1-K5-N12"),        # an epilogue beat every few cycles
    # As on the iCE40 (tiny): one accumulator row and the compact epilogue.
    pytest.param(1, 1, 9, 6, ["free", "both"], {"acc_depth": 1, "epilogue": "compact"}, id="1x1-K9-N6-compact"),
    pytest.param(3, 2, 7, 5, ["free", "bp"], {"acc_depth": 1, "epilogue": "compact"}, id="3x2-K7-N5-compact"),
]
CASES = [c if len(c.values) == 6 else pytest.param(*c.values, {}, id=c.id) for c in CASES]


@pytest.mark.parametrize("slices", [True, False], ids=["slices", "wires"])     # chip.link_slices
@pytest.mark.parametrize("rows,cols,K,N,patterns,left", CASES)
def test_left_tile_layer(rows, cols, K, N, patterns, left, slices):
    for pattern in patterns:
        idle, bp = PATTERNS[pattern]
        seed = rows * 1000 + cols * 100 + K + N + list(PATTERNS).index(pattern)
        rng = np.random.default_rng(seed)
        cfg = make_cfg(rows, cols, slices=slices, left=left)
        lay = Layer(cfg, K, N, rng)
        load, refused_w = lay.load()
        reads, want_reads, refused_r = lay.readback(rng, errors=refused_w)
        # Vectors: exact length, short word padding, longer than max_k (the
        # rest is dropped, the layer uses the first K), two packets long.
        lens = [K, K, cfg.left.max_k + 9, K, 64]
        xs = [rng.integers(-128, 128, n).tolist() for n in lens]
        vec_ps, starts = vectors_to_packets(xs)
        # Between vectors 2 and 3 (while layer 2 runs): new EPI and DEST,
        # which must apply from vector 3 on, and reads of the stores whose
        # read ports the running layer's feeders use.
        zp2, relu2, dest2 = -lay.zp - 3, not lay.relu, (1, 1)
        epi2 = (zp2 & 0xFF) | (relu2 << 8)
        stores = [(address(LeftBlock.WEIGHTS, i), lay.wwords[i]) for i in (1, 2, 3, len(lay.wwords) - 1)]
        stores += [(address(b, left_epi_offset(cols, ch)), lay.epi_store(b, ch))
                   for ch in (0, N - 1, 1) for b in (LeftBlock.BIAS, LeftBlock.MULT, LeftBlock.SHIFT)]
        # The weight store is single-port: weight writes during the layer (of
        # the values already there, so the layer's result stays the same)
        # take its port from the feeder for a cycle each.
        rewrite = packet(PacketType.WEIGHTS, [address(LeftBlock.WEIGHTS, 0)] + lay.wwords[:14])
        # The same for the epilogue stores (no store is read in a cycle that writes it).
        epi_rewrite = packet(PacketType.CONFIG_WRITE, [
            w for ch in range(min(N, 2)) for b in (LeftBlock.BIAS, LeftBlock.MULT, LeftBlock.SHIFT)
            for w in (address(b, left_epi_offset(cols, ch)), lay.epi_store(b, ch))])
        mid = [packet(PacketType.CONFIG_WRITE, [reg(LeftReg.EPI), epi2, reg(LeftReg.DEST), node_word(*dest2)]),
               rewrite, epi_rewrite,
               packet(PacketType.CONFIG_READ, [reg(LeftReg.EPI), reg(LeftReg.DEST)] + [a for a, _ in stores])]
        want_mid = (epi2, node_word(*dest2)) + tuple(v for _, v in stores)
        at = starts[3]
        vec_ps[at:at] = mid
        starts = [s_ if s_ < at else s_ + len(mid) for s_ in starts]
        final = [packet(PacketType.CONFIG_READ, [reg(LeftReg.ERRORS), reg(LeftReg.GEMMS),
                                                 reg(LeftReg.CORE_ERRORS), reg(LeftReg.K)])]
        phases = [flits_of(load + reads), flits_of(vec_ps, starts), flits_of(final)]
        got, marks, gaps = run_tile(cfg, phases, idle, bp, seed)

        assert all(p.src == NODE for p in got)
        responses = [p.words for p in got if p.ptype == PacketType.READ_RESPONSE]
        assert all(p.dst == HOST for p in got if p.ptype == PacketType.READ_RESPONSE)
        errors = refused_w + refused_r
        assert responses == want_reads + [want_mid, (errors, len(xs), 0, K)], pattern
        outs, cur = [], []
        for p in got:
            if p.ptype == PacketType.ACTIVATION:
                cur += list(p.words)
                if p.head_payload & ACT_LAST:
                    outs.append((p.dst, cur))
                    cur = []
        assert not cur
        assert len(outs) == len(xs)
        for v, (x, (dst, words)) in enumerate(zip(xs, outs)):
            zp, relu, want_dst = (lay.zp, lay.relu, HOST) if v < 3 else (zp2, relu2, dest2)
            assert dst == want_dst, f"{pattern}: vector {v} went to {dst}"
            assert len(words) == -(-N // 4), f"{pattern}: vector {v}: {len(words)} words"
            assert unpack_int8(words, N) == lay.expect(x, zp, relu), f"{pattern}: vector {v}"
            assert unpack_int8(words)[N:] == [0] * (len(words) * 4 - N)
        assert len(got) == len(want_reads) + 2 + sum(-(-N // 60) for _ in xs)
        assert not gaps, f"{pattern}: busy low while a vector was in the tile at cycles {gaps[:5]}"
        # Back to back: each next vector entered while the previous layer's
        # output had not yet left (its elements waited in the port).
        if pattern == "free":
            assert all(f < o for f, o in zip(marks["first_in"][1:], marks["out"]))
            lat = [o - i for i, o in zip(marks["in"], marks["out"])]
            print(f"\n{rows}x{cols} K={K} N={N}: last input flit -> last output flit: "
                  f"{lat[0]} cycles (first vector)")


@pytest.mark.parametrize("queue", [0, 1, 2, 3])
def test_read_stream(queue):
    """A feeder on a memory read port: every row once, in order, under random
    sink stalls and (for a shared port) random cycles in which another user
    takes the port and reads some other row; valid never drops and the
    payload never changes before the beat is taken."""
    rng = random.Random(queue)
    rows = [rng.getrandbits(16) for _ in range(40)]
    m = Module()
    m.submodules.mem = mem = Memory(shape=16, depth=len(rows), init=rows)
    rp = mem.read_port()
    m.submodules.feed = feed = _ReadStream(unsigned(16), queue)
    addr, steal = Signal(range(len(rows) + 1)), Signal()
    m.d.comb += [feed.more.eq((addr < len(rows)) & ~steal), feed.rdata.eq(rp.data),
                 rp.addr.eq(Mux(steal, len(rows) - 1 - addr[:6], addr)), rp.en.eq(steal | feed.issue)]
    with m.If(feed.issue):
        m.d.sync += addr.eq(addr + 1)
    got, cycles = [], 0

    async def bench(ctx):
        nonlocal cycles
        held = None
        while len(got) < len(rows):
            cycles += 1
            assert cycles < 2000
            ctx.set(steal, queue > 0 and rng.random() < 0.3)
            ready = rng.random() < 0.6
            ctx.set(feed.o.ready, ready)
            valid, payload = ctx.get(feed.o.valid), ctx.get(feed.o.payload)
            if held is not None:
                assert valid and payload == held, "beat withdrawn or changed before it was taken"
            held = payload if valid and not ready else None
            if valid and ready:
                got.append(payload)
            await ctx.tick()

    simulate(m, bench)
    assert got == rows


@pytest.mark.parametrize("queue", [0, 2, 3])
def test_read_stream_one_beat_per_cycle(queue):
    """Queues 0, 2 and 3 pass one beat per cycle to a sink that is always
    ready: 40 rows in 40 cycles after the first read's latency."""
    rows = list(range(100, 140))
    m = Module()
    m.submodules.mem = mem = Memory(shape=16, depth=len(rows), init=rows)
    rp = mem.read_port()
    m.submodules.feed = feed = _ReadStream(unsigned(16), queue)
    addr = Signal(range(len(rows) + 1))
    m.d.comb += [feed.more.eq(addr < len(rows)), feed.rdata.eq(rp.data), rp.addr.eq(addr),
                 rp.en.eq(feed.issue), feed.o.ready.eq(1)]
    with m.If(feed.issue):
        m.d.sync += addr.eq(addr + 1)
    taken = []

    async def bench(ctx):
        for cycle in range(60):
            if ctx.get(feed.o.valid):
                taken.append((cycle, ctx.get(feed.o.payload)))
            await ctx.tick()

    simulate(m, bench)
    assert [v for _, v in taken] == rows
    first = taken[0][0]
    assert [c for c, _ in taken] == list(range(first, first + len(rows))), "a cycle without a beat"


@pytest.mark.parametrize("d", range(1, 9))
def test_divmod_const(d):
    """The weight store's offset -> (row, word) split, exhaustively over a
    store of 1024 rows of d words."""
    bound = 1024 * d
    v = Signal(range(bound))
    q, r = _divmod_const(v, d, bound)
    m = Module()
    qs, rs = Signal(16), Signal(4)
    m.d.comb += [qs.eq(q), rs.eq(r)]

    async def bench(ctx):
        for x in range(bound):
            ctx.set(v, x)
            assert (ctx.get(qs), ctx.get(rs)) == divmod(x, d), x

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


def test_weight_store_marked_for_spram_on_up5k_only():
    """On the iCE40UP5K the weight store (single-port) is marked for SPRAM;
    nothing else of the tile is, and nothing at all without a platform
    (simulation) or on other FPGAs."""
    import re

    from amaranth.back import rtlil
    from amaranth_boards.icebreaker import ICEBreakerPlatform

    from rtl.config import load_config

    cfg = load_config("tiny")

    def huge(platform):
        il = rtlil.convert(LeftTile(cfg, 1, 0), name="lt", platform=platform)
        return re.findall(r'attribute \\ram_style "huge"\n\s+memory \S+ \S+ \S+ \S+ \\(\S+)', il)

    assert huge(ICEBreakerPlatform()) == ["weights"]
    assert huge(None) == []
