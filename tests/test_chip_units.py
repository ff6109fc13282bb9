"""The chip's tile plumbing in the Amaranth simulator: a tile port (network
interface, packet decoder, message arbiter) and a vector sender around a
small echo tile, driven with golden-model packets under random idle and
back-pressure, every answer checked."""

import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rtl.callosum.layouts import PacketType as HwType, link_layout
from rtl.chip import TilePort, VectorSender
from rtl.config import CallosumConfig
from sw_model import callosum as net
from sw_model.callosum import PacketType
from sw_model.chip_map import ACT_LAST, pack_int8
from tb.common.amaranth_sim import simulate

NODE, HOST = (1, 0), (0, 0)


class EchoTile(wiring.Component):
    """A register file of 16 words behind a tile port; ACTIVATION vectors are
    sent back (re-packed) to the node in register 0, SPIKE axons come back
    as SPIKEs to that node with axon + 1."""

    def __init__(self, cfg, slices=True):
        self.cfg, self.slices = cfg, slices
        lay = link_layout(cfg.flit_width)
        super().__init__({"i_flit": In(stream.Signature(lay)), "o_flit": Out(stream.Signature(lay)),
                          "errors": Out(16), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        accepts = ["CONFIG_WRITE", "WEIGHTS", "CONFIG_READ", "ACTIVATION", "SPIKE"]
        m.submodules.port = port = TilePort(self.cfg, *NODE, accepts, senders=2, slices=self.slices)
        m.submodules.vec = vec = VectorSender(self.cfg.flit_width)
        m.submodules.regs = regs = Memory(shape=32, depth=16, init=[])
        wp, rp = regs.write_port(), regs.read_port(domain="comb")
        wiring.connect(m, wiring.flipped(self.i_flit), port.i_flit)
        wiring.connect(m, port.o_flit, wiring.flipped(self.o_flit))
        m.d.comb += [self.errors.eq(port.errors), self.busy.eq(port.busy | vec.busy)]
        # Bus: writes at once; a read answers the next cycle from a register.
        bus = port.o_bus
        rvalid, rdata = Signal(), Signal(32)
        m.d.comb += [bus.ready.eq(~rvalid), wp.addr.eq(bus.payload.addr[:4]), wp.data.eq(bus.payload.data),
                     wp.en.eq(bus.valid & bus.ready & bus.payload.write), rp.addr.eq(bus.payload.addr[:4])]
        # (An answer leaves on a handshake; a read arriving in the cycle the
        # port is ready for an answer is not lost.)
        with m.If(port.i_rdata.valid & port.i_rdata.ready):
            m.d.sync += rvalid.eq(0)
        with m.If(bus.valid & bus.ready & ~bus.payload.write):
            m.d.sync += [rvalid.eq(1), rdata.eq(rp.data)]
        m.d.comb += [port.i_rdata.valid.eq(rvalid), port.i_rdata.payload.eq(rdata)]
        # Echo paths.
        reg0 = Signal(32)
        with m.If(wp.en & (wp.addr == 0)):
            m.d.sync += reg0.eq(wp.data)
        m.d.comb += [vec.dst_x.eq(reg0[:3]), vec.dst_y.eq(reg0[3:6])]
        wiring.connect(m, port.o_act, vec.i_elem)
        wiring.connect(m, vec.o_tx, port.tx(0))
        sp = port.tx(1)
        m.d.comb += [sp.valid.eq(port.o_spike.valid), sp.payload.dst_x.eq(reg0[:3]), sp.payload.dst_y.eq(reg0[3:6]),
                     sp.payload.ptype.eq(HwType.SPIKE), sp.payload.length.eq(0),
                     sp.payload.data.eq(port.o_spike.payload.axon + 1), port.o_spike.ready.eq(sp.ready)]
        return m


def packet(ptype, words=(), payload=0, src=HOST):
    return net.Packet(src=src, dst=NODE, ptype=ptype, head_payload=payload, words=tuple(words))


def scenario(rng):
    """Packets to send, and the expected echo per packet type."""
    regs = [0] * 16
    sends, reads, acts, spikes = [], [], [], []
    bad = 0
    sends.append(packet(PacketType.CONFIG_WRITE, [0, HOST[0] | HOST[1] << 3]))
    regs[0] = HOST[0] | HOST[1] << 3
    for _ in range(40):
        r = rng.random()
        if r < 0.25:
            pairs = [(rng.randrange(1, 16), rng.getrandbits(32)) for _ in range(rng.randrange(1, 8))]
            sends.append(packet(PacketType.CONFIG_WRITE, [w for p in pairs for w in p]))
            for a, d in pairs:
                regs[a] = d
        elif r < 0.4:
            a = rng.randrange(1, 8)
            data = [rng.getrandbits(32) for _ in range(rng.randrange(1, 9))]
            sends.append(packet(PacketType.WEIGHTS, [a] + data))
            for i, d in enumerate(data):
                regs[a + i] = d
        elif r < 0.6:
            addrs = [rng.randrange(16) for _ in range(rng.randrange(1, 16))]
            sends.append(packet(PacketType.CONFIG_READ, addrs))
            reads.append(tuple(regs[a] for a in addrs))
        elif r < 0.75:
            n = rng.randrange(1, 80)
            vals = [rng.randrange(-128, 128) for _ in range(n)]
            words = pack_int8(vals)
            for i in range(0, len(words), 15):
                chunk = words[i:i + 15]
                last = i + 15 >= len(words)
                sends.append(packet(PacketType.ACTIVATION, chunk, ACT_LAST if last else 0))
                acts.append((tuple(chunk), ACT_LAST if last else 0))
        elif r < 0.9:
            axon = rng.randrange(4000)
            sends.append(packet(PacketType.SPIKE, payload=axon))
            spikes.append(axon + 1)
        else:
            bad += 1
            sends.append(rng.choice([
                packet(PacketType.READ_RESPONSE, [1, 2]),
                packet(PacketType.CONFIG_WRITE, [1, 2, 3]),
                packet(PacketType.WEIGHTS, [5]),
                packet(PacketType.STATUS, [1]),
            ]))
    return sends, reads, acts, spikes, bad


@pytest.mark.parametrize("slices", [True, False], ids=["slices", "wires"])     # chip.link_slices
@pytest.mark.parametrize("idle,bp", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.6), (0.4, 0.4)])
def test_tile_port_echo(idle, bp, slices):
    rng = random.Random(int(idle * 10 + bp * 100))
    cfg = CallosumConfig(width=2, height=2, flit_width=32)
    sends, reads, acts, spikes, bad = scenario(rng)
    flits = [f for p in sends for f in net.to_flits(p)]
    dut = EchoTile(cfg, slices)
    got = []

    async def bench(ctx):
        i, current, quiet = 0, [], 0
        while quiet < 40:
            offer = i < len(flits) and rng.random() >= idle
            ctx.set(dut.i_flit.valid, int(offer))
            if offer:
                ctx.set(dut.i_flit.payload, {"kind": flits[i][0], "data": flits[i][1]})
            take = rng.random() >= bp
            ctx.set(dut.o_flit.ready, int(take))
            in_ready, out_valid = ctx.get(dut.i_flit.ready), ctx.get(dut.o_flit.valid)
            out = ctx.get(dut.o_flit.payload)
            busy = ctx.get(dut.busy)
            await ctx.tick()
            if offer and in_ready:
                i += 1
            if out_valid and take:
                current.append((out.kind, out.data))
                if out.kind & net.TAIL_BIT:
                    got.append(net.from_flits(current))
                    current = []
            quiet = quiet + 1 if i == len(flits) and not busy and not out_valid else 0
        assert not current, "a packet left half sent"
        assert ctx.get(dut.errors) == bad

    simulate(dut, bench)
    assert all(p.src == NODE and p.dst == HOST for p in got)
    assert [p.words for p in got if p.ptype == PacketType.READ_RESPONSE] == reads
    assert [(p.words, p.head_payload) for p in got if p.ptype == PacketType.ACTIVATION] == acts
    assert [p.head_payload for p in got if p.ptype == PacketType.SPIKE] == spikes
    assert len(got) == len(reads) + len(acts) + len(spikes)
