"""The host bridge and step controller in the Amaranth simulator: host
packets forwarded or refused with the right STATUS, host-node registers,
mesh packets passed to the host, and runs that tick only when the chip is
quiet."""

import random


from rtl.chip import HostBridge
from rtl.chip.host_bridge import SETTLE
from rtl.config import load_config
from sw_model import callosum as net
from sw_model.callosum import PacketType as T
from sw_model.chip_map import ErrorReason, HostReg, NodeKind, Status, status_payload
from tb.common.amaranth_sim import simulate

CFG = load_config("default").check_chip()     # 2 x 2: host (0,0), left (0,1), right (1,0), (1,1)
FW = CFG.callosum.flit_width
HOST = CFG.chip.host


def words_of(dst, ptype, words=(), payload=0):
    head = net.pack_head(dst[0], dst[1], 0, 0, ptype, len(words), payload, flit_width=FW)
    return [head, *words]


class Harness:
    """Host words in, host words and mesh flits out; tile busy and in-flight
    count set by the test."""

    def __init__(self, script):
        self.dut = HostBridge(CFG)
        self.script = script       # async fn(ctx, h)
        self.to_host, self.to_mesh, self.ticks = [], [], []
        self.host_in = []
        self.mesh_in = []
        self.cycle = 0

    async def run_cycles(self, ctx, n, until=None):
        dut = self.dut
        cur_mesh = []
        for _ in range(n):
            if self.host_in:
                ctx.set(dut.i_host.valid, 1)
                ctx.set(dut.i_host.payload, self.host_in[0])
            else:
                ctx.set(dut.i_host.valid, 0)
            if self.mesh_in:
                ctx.set(dut.i_flit.valid, 1)
                ctx.set(dut.i_flit.payload, {"kind": self.mesh_in[0][0], "data": self.mesh_in[0][1]})
            else:
                ctx.set(dut.i_flit.valid, 0)
            ctx.set(dut.o_host.ready, 1)
            ctx.set(dut.o_flit.ready, 1)
            h_rdy, h_ov, h_o = ctx.get(dut.i_host.ready), ctx.get(dut.o_host.valid), ctx.get(dut.o_host.payload)
            m_rdy, f_ov, f_o = ctx.get(dut.i_flit.ready), ctx.get(dut.o_flit.valid), ctx.get(dut.o_flit.payload)
            tick = ctx.get(dut.tick)
            await ctx.tick()
            self.cycle += 1
            if self.host_in and h_rdy:
                self.host_in.pop(0)
            if self.mesh_in and m_rdy:
                self.mesh_in.pop(0)
            if h_ov:
                self.to_host.append(h_o)
            if f_ov:
                cur_mesh.append((f_o.kind, f_o.data))
                if f_o.kind & net.TAIL_BIT:
                    self.to_mesh.append(net.from_flits(cur_mesh, FW))
                    cur_mesh = []
            if tick:
                self.ticks.append(self.cycle)
            if until is not None and until():
                break

    def host_packets(self):
        out, i = [], 0
        while i < len(self.to_host):
            h = net.unpack_head(self.to_host[i], FW)
            out.append((h, self.to_host[i + 1:i + 1 + h["length"]]))
            i += 1 + h["length"]
        return out

    def simulate(self):
        async def bench(ctx):
            await self.script(ctx, self)

        simulate(self.dut, bench)


def test_forward_refuse_and_registers():
    good = words_of((1, 1), T.CONFIG_WRITE, [0x10000001, 5])
    bad = [
        (words_of((5, 0), T.CONFIG_WRITE, [1, 2]), ErrorReason.OFF_MESH),
        (words_of((0, 1), T.SPIKE, payload=3), ErrorReason.BAD_TYPE),          # left tiles take no spikes
        (words_of((1, 0), T.READ_RESPONSE, [1]), ErrorReason.BAD_TYPE),
        (words_of((1, 0), T.CONFIG_WRITE, [1, 2, 3]), ErrorReason.BAD_LENGTH),
        (words_of((1, 0), T.SPIKE, [7], payload=1), ErrorReason.BAD_LENGTH),
        (words_of(HOST, T.ACTIVATION, [1]), ErrorReason.BAD_TYPE),
        (words_of(HOST, T.CONFIG_WRITE, [HostReg.ID, 1]), ErrorReason.BAD_REGISTER),
    ]
    reads = [HostReg.ID, HostReg.SHAPE, HostReg.ERRORS, HostReg.KIND_BASE + 0, HostReg.KIND_BASE + 1,
             HostReg.KIND_BASE + 2, HostReg.KIND_BASE + 3]
    mesh_packet = net.Packet(src=(1, 1), dst=HOST, ptype=T.ACTIVATION, head_payload=1, words=(11, 22))

    async def script(ctx, h):
        for words, _ in bad:
            h.host_in += words
            h.host_in += good
        h.host_in += words_of(HOST, T.CONFIG_READ, reads)
        h.mesh_in += net.to_flits(mesh_packet, FW)
        await h.run_cycles(ctx, 300)

    h = Harness(script)
    h.simulate()
    # Every good packet went through, with the host node as source; no bad one did.
    assert len(h.to_mesh) == len(bad)
    assert all(p.src == HOST and p.dst == (1, 1) and p.words == (0x10000001, 5) for p in h.to_mesh)
    got = h.host_packets()
    errs = [(hd["payload"], w[0]) for hd, w in got if hd["ptype"] == T.STATUS]
    detail = [words[1] if r == ErrorReason.BAD_REGISTER else words[0] for words, r in bad]
    assert errs == [(status_payload(Status.ERROR, r), d) for (_, r), d in zip(bad, detail)]
    (rh, rw), = [(hd, w) for hd, w in got if hd["ptype"] == T.READ_RESPONSE]
    assert (rh["src_x"], rh["src_y"]) == HOST
    kinds = [NodeKind.HOST, NodeKind.RIGHT, NodeKind.LEFT, NodeKind.RIGHT]
    assert rw == [0x48454D49, 2 | 2 << 4 | FW << 16, len(bad), *kinds]
    (ah, aw), = [(hd, w) for hd, w in got if hd["ptype"] == T.ACTIVATION]
    assert (ah["src_x"], ah["src_y"], ah["payload"], aw) == (1, 1, 1, [11, 22])


def test_run_ticks_only_when_quiet():
    rng = random.Random(5)
    steps = 6

    async def script(ctx, h):
        ctx.set(h.dut.in_flight, 0)
        ctx.set(h.dut.tile_busy, 0)
        h.host_in += words_of(HOST, T.CONFIG_WRITE, [HostReg.MARKERS, 1, HostReg.RUN, steps])
        busy_windows = []
        while len(h.ticks) < steps:
            await h.run_cycles(ctx, 1)
            if h.ticks and h.ticks[-1] == h.cycle:
                # A tile gets busy after the tick, and a packet is in flight for a while.
                ctx.set(h.dut.tile_busy, 0b0100)
                ctx.set(h.dut.in_flight, 1)
                hold = rng.randrange(1, 30)
                start = h.cycle
                await h.run_cycles(ctx, hold)
                ctx.set(h.dut.tile_busy, 0)
                await h.run_cycles(ctx, rng.randrange(0, 5))
                ctx.set(h.dut.in_flight, 0)
                busy_windows.append((start, h.cycle))
        await h.run_cycles(ctx, 60)
        h.busy_windows = busy_windows
        h.host_in += words_of(HOST, T.CONFIG_READ, [HostReg.STEPS, HostReg.RUN, HostReg.STATE])
        await h.run_cycles(ctx, 30)

    h = Harness(script)
    h.simulate()
    assert len(h.ticks) == steps
    for (start, end), nxt in zip(h.busy_windows, h.ticks[1:]):
        assert nxt >= end + 1, "ticked while the chip was busy"
    for a, b in zip(h.ticks, h.ticks[1:]):
        assert b - a > SETTLE
    got = h.host_packets()
    status = [(hd["payload"], w[0]) for hd, w in got if hd["ptype"] == T.STATUS]
    assert status == [(Status.STEP, t) for t in range(steps)] + [(Status.RUN_DONE, steps)]
    (_, rw), = [(hd, w) for hd, w in got if hd["ptype"] == T.READ_RESPONSE]
    assert rw == [steps, 0, 0b10]    # steps done, none left, quiet and not running


def test_run_while_running_is_refused():
    async def script(ctx, h):
        ctx.set(h.dut.in_flight, 1)       # never quiet: the first run cannot finish
        ctx.set(h.dut.tile_busy, 0)
        h.host_in += words_of(HOST, T.CONFIG_WRITE, [HostReg.RUN, 3])
        h.host_in += words_of(HOST, T.CONFIG_WRITE, [HostReg.RUN, 2])
        h.host_in += words_of(HOST, T.CONFIG_READ, [HostReg.RUN])
        await h.run_cycles(ctx, 80)

    h = Harness(script)
    h.simulate()
    assert h.ticks == []
    got = h.host_packets()
    assert [(hd["payload"], w) for hd, w in got if hd["ptype"] == T.STATUS] == \
        [(status_payload(Status.ERROR, ErrorReason.BUSY), [HostReg.RUN])]
    assert [w for hd, w in got if hd["ptype"] == T.READ_RESPONSE] == [[3]]
