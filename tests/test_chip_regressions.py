"""Whole-chip regressions in the Amaranth simulator, one per bug a review
found (each failed before its fix):

* a CONFIG_READ to a tile during a run could deadlock a tile whose spikes
  loop back to itself (the read held the router's local output while its
  answer waited behind the tile's own spikes): now refused with STATUS
  ERROR BUSY during a run, and held back until the chip is quiet otherwise;
* a rate encoder kept the previous program's vector, which then fired into
  a layer that no dense layer feeds;
* a STATUS head on the host port could change while the host was not
  reading (a later error took priority under the waiting sink).
"""

import numpy as np
import pytest

from host import protocol as proto
from host.compiler import compile_network, diff_results
from host.network import Dense, Lif, Network
from rtl.chip import Chip, HostBridge
from rtl.config import HemiConfig, load_config
from sw_model import callosum as net
from sw_model import chip_map as cm
from sw_model import right_stream as rs
from sw_model.callosum import PacketType as T
from tb.common.amaranth_sim import simulate

HOST = (0, 0)


class ChipBench:
    """The whole chip top driven through its host port (always read)."""

    def __init__(self, cfg):
        self.cfg, self.dut = cfg, Chip(cfg)
        self.fw = cfg.callosum.flit_width
        self.host_in, self.packets = [], []
        self.parser = proto.PacketParser(self.fw)

    def send(self, packets):
        self.host_in += proto.stream_words(packets, self.fw)

    async def run(self, ctx, n, until=None):
        dut = self.dut
        for _ in range(n):
            ctx.set(dut.i_host.valid, int(bool(self.host_in)))
            if self.host_in:
                ctx.set(dut.i_host.payload, self.host_in[0])
            ctx.set(dut.o_host.ready, 1)
            rdy, ov, o = ctx.get(dut.i_host.ready), ctx.get(dut.o_host.valid), ctx.get(dut.o_host.payload)
            await ctx.tick()
            if self.host_in and rdy:
                self.host_in.pop(0)
            if ov:
                self.packets += self.parser.feed([o])
            if until is not None and until(self):
                return True
        return False

    def simulate(self, script):
        async def bench(ctx):
            await script(ctx, self)

        simulate(self.dut, bench)


def statuses(b, code):
    return [p for p in b.packets if p.ptype == T.STATUS and p.head_payload & 0xF == code]


# Both with the chip's register slices and with them as wires (chip.link_slices).
SLICES = pytest.mark.parametrize("slices", [True, False], ids=["slices", "wires"])


@SLICES
def test_tile_read_during_a_run_is_refused_and_the_run_completes(slices):
    tile = (1, 0)
    cfg = HemiConfig.from_dict({
        "right": {"neurons": 64, "axons": 64, "lanes": 4, "synapse_rows": 64, "output_entries": 64},
        "callosum": {"width": 2, "height": 1, "flit_width": 32, "fifo_depth": 2},
        "chip": {"host": [0, 0], "left": [], "right": [[1, 0]], "link_slices": slices}}, name="regress-read")
    N = cfg.right.neurons
    # Every neuron fires every step and sends its spike back to this tile.
    params = {"vth": np.zeros(N, dtype=np.int64), "bias_mant": np.full(N, 100)}
    writes = [(cm.address(cm.RightBlock.CORE, a), d) for a, d in rs.load_writes(cfg.right, params, {}, 0)]
    writes += [(cm.address(cm.RightBlock.TILE_REGS, cm.RightReg.WINDOW), 0)]
    writes += [(cm.address(cm.RightBlock.OUT_PTR, n), n | (1 << 16)) for n in range(N)]
    writes += [(cm.address(cm.RightBlock.OUT_DEST, n), cm.out_dest_word(*tile, n)) for n in range(N)]
    kind = cm.address(cm.RightBlock.TILE_REGS, cm.RightReg.KIND)
    b = ChipBench(cfg)

    async def script(ctx, b):
        b.send(proto.writes_to_packets(HOST, tile, writes))
        await b.run(ctx, 20000, until=lambda b: not b.host_in)
        b.send([proto.host_write(cfg, cm.HostReg.RUN, 2)])
        await b.run(ctx, 40)
        b.send(proto.config_read(HOST, tile, [kind] * 15))          # during the run: refused
        assert await b.run(ctx, 6000, until=lambda b: statuses(b, cm.Status.RUN_DONE)), "the chip hung"
        b.send(proto.config_read(HOST, tile, [kind]))               # after it: answered
        assert await b.run(ctx, 500, until=lambda b: any(p.ptype == T.READ_RESPONSE for p in b.packets))

    b.simulate(script)
    (err,) = statuses(b, cm.Status.ERROR)
    assert proto.decode_status(err)[1] == cm.ErrorReason.BUSY
    (resp,) = [p for p in b.packets if p.ptype == T.READ_RESPONSE]
    assert resp.words == (cm.NodeKind.RIGHT,)


def _iaf(n):
    return {"du": np.full(n, 4095), "dv": np.zeros(n, dtype=np.int64), "vth": np.full(n, 20),
            "bias_mant": np.zeros(n, dtype=np.int64), "bias_exp": np.zeros(n, dtype=np.int64),
            "refractory": np.zeros(n, dtype=np.int64)}


@SLICES
def test_a_new_program_clears_stale_encoder_vectors(slices):
    K = 8
    cfg = HemiConfig.from_dict({
        "left": {"rows": 4, "cols": 4, "acc_depth": 16, "weight_rows": 256, "max_k": 64, "max_n": 32},
        "right": {"neurons": 32, "axons": 64, "lanes": 2, "synapse_rows": 512, "output_entries": 256},
        "chip": {"link_slices": slices}}, name="regress-encoder")

    def dense():
        return Dense("d0", weights=np.full((K, K), 100), bias=np.full(K, 20000), multiplier=(1 << 31) - 1,
                     shift=0, relu=True, source="input")

    eye = np.eye(K, dtype=np.int64) * 100
    # A: the dense layer feeds right tile (1, 0), loading its encoder.
    a = Network(inputs=K, layers=(dense(), Lif("s0", K, _iaf(K), wexp=6, inputs=(("d0", eye),))),
                steps=4, outputs=("s0",), raster=("s0",))
    # B: tile (1, 0) holds a layer fed only by a silent spiking layer on (1, 1).
    b_net = Network(inputs=K, layers=(dense(), Lif("t0", K, _iaf(K), wexp=6, inputs=(("t1", eye),)),
                                      Lif("t1", K, _iaf(K), inputs=(("d0", np.zeros((K, K), dtype=np.int64)),))),
                    steps=4, outputs=("t0",), raster=("t0",))
    x = np.full(K, 100)
    diffs = {}
    b = ChipBench(cfg)

    async def script(ctx, b):
        for name, network in (("A", a), ("B", b_net)):
            program = compile_network(network, cfg)
            b.send(program.load_packets())
            await b.run(ctx, 50000, until=lambda b: not b.host_in)
            b.packets.clear()
            b.send(program.inference_packets(x))
            assert await b.run(ctx, 50000, until=lambda b: statuses(b, cm.Status.RUN_DONE))
            diffs[name] = diff_results(program.decode(b.packets), program.expected(x))

    b.simulate(script)
    assert diffs == {"A": [], "B": []}


def test_status_head_holds_under_backpressure():
    cfg = load_config("default").check_chip()
    fw = cfg.callosum.flit_width
    dut = HostBridge(cfg)

    def words(dst, ptype, ws=()):
        return [net.pack_head(dst[0], dst[1], 0, 0, ptype, len(ws), 0, flit_width=fw), *ws]

    host_in = words(HOST, T.CONFIG_WRITE, [cm.HostReg.MARKERS, 1, cm.HostReg.RUN, 1])
    seen = []

    async def bench(ctx):
        ctx.set(dut.in_flight, 0)
        ctx.set(dut.tile_busy, 0)
        ctx.set(dut.o_flit.ready, 1)
        for cycle in range(60):
            if cycle == 15:
                host_in.extend(words((5, 0), T.CONFIG_WRITE, [1, 2]))    # refused: off the mesh
            ready = cycle >= 40                                          # the host reads late
            ctx.set(dut.o_host.ready, int(ready))
            ctx.set(dut.i_host.valid, int(bool(host_in)))
            if host_in:
                ctx.set(dut.i_host.payload, host_in[0])
            rdy = ctx.get(dut.i_host.ready)
            seen.append((ctx.get(dut.o_host.valid), ready, ctx.get(dut.o_host.payload)))
            await ctx.tick()
            if host_in and rdy:
                host_in.pop(0)

    simulate(dut, bench)
    for (v0, r0, p0), (v1, _, p1) in zip(seen, seen[1:]):
        if v0 and not r0:
            assert v1 and p1 == p0, "o_host changed while valid and not taken"
    delivered = proto.parse_packets([p for v, r, p in seen if v and r], fw)
    assert sorted(proto.decode_status(p)[0] for p in delivered) == [cm.Status.RUN_DONE, cm.Status.STEP,
                                                                    cm.Status.ERROR]
