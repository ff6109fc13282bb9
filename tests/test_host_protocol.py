"""Host-port framing and packet builders (host/protocol.py) against the
conventions of sw_model/chip_map.py."""

import random

import pytest

from host import protocol as proto
from rtl.config import HemiConfig
from sw_model import chip_map as cm
from sw_model.callosum import Packet, PacketType, unpack_head

A, B = (0, 0), (1, 1)


def _random_packet(rng, flit_width):
    n = rng.randrange(16)
    return Packet(src=(rng.randrange(8), rng.randrange(8)), dst=(rng.randrange(8), rng.randrange(8)),
                  ptype=rng.randrange(8), head_payload=rng.randrange(1 << (flit_width - 19)),
                  words=tuple(rng.randrange(1 << flit_width) for _ in range(n)))


@pytest.mark.parametrize("flit_width", [32, 48])
def test_words_round_trip_whole_and_word_by_word(flit_width):
    rng = random.Random(flit_width)
    packets = [_random_packet(rng, flit_width) for _ in range(200)]
    words = proto.stream_words(packets, flit_width)
    assert proto.parse_packets(words, flit_width) == packets
    parser = proto.PacketParser(flit_width)
    got = []
    for w in words:
        got += parser.feed([w])
    assert got == packets and not parser.pending


def test_head_word_layout():
    p = Packet(src=(2, 3), dst=(1, 0), ptype=PacketType.SPIKE, head_payload=77)
    (head,) = proto.packet_words(p)
    h = unpack_head(head)
    assert (h["dst_x"], h["dst_y"], h["src_x"], h["src_y"]) == (1, 0, 2, 3)
    assert h["ptype"] == PacketType.SPIKE and h["length"] == 0 and h["payload"] == 77


def test_parser_keeps_partial_packet_between_calls():
    p = Packet(A, B, PacketType.WEIGHTS, 0, (5, 6, 7, 8))
    words = proto.packet_words(p)
    parser = proto.PacketParser()
    assert parser.feed(words[:2]) == [] and parser.pending
    assert "announced 4 words, 1 arrived" in parser.describe_pending()
    assert parser.feed(words[2:]) == [p] and not parser.pending


def test_parser_rejects_bad_words():
    parser = proto.PacketParser(32)
    with pytest.raises(proto.ProtocolError, match=r"word 1 = 4294967296: not a 32-bit word"):
        parser.feed([0, 1 << 32])
    with pytest.raises(proto.ProtocolError, match="word 1 = -1"):
        parser.feed([-1])
    with pytest.raises(proto.ProtocolError, match="'x'"):
        parser.feed(["x"])
    with pytest.raises(proto.ProtocolError, match="flit_width"):
        proto.PacketParser(16)


def test_parse_packets_refuses_leftover():
    words = proto.packet_words(Packet(A, B, PacketType.CONFIG_READ, 0, (1, 2, 3)))
    with pytest.raises(proto.ProtocolError, match="stream ends inside a packet: CONFIG_READ packet to "
                                                  r"\(1, 1\) announced 3 words, 2 arrived"):
        proto.parse_packets(words[:-1])


def test_packet_words_rejects_wide_word_and_payload():
    with pytest.raises(proto.ProtocolError, match="word 0"):
        proto.packet_words(Packet(A, B, PacketType.WEIGHTS, 0, (1 << 32,)))
    with pytest.raises(proto.ProtocolError, match="payload"):
        proto.packet_words(Packet(A, B, PacketType.SPIKE, 1 << 13))


def test_config_write_splits_into_seven_pairs():
    pairs = [(0x1000 + i, i * 3) for i in range(16)]
    packets = proto.config_write(A, B, pairs)
    assert [len(p.words) for p in packets] == [14, 14, 4]
    assert all(p.ptype == PacketType.CONFIG_WRITE and p.src == A and p.dst == B for p in packets)
    flat = [w for p in packets for w in p.words]
    assert list(zip(flat[::2], flat[1::2])) == pairs
    assert proto.config_write(A, B, []) == []
    with pytest.raises(proto.ProtocolError, match="config write 1 data = 4294967296"):
        proto.config_write(A, B, [(0, 0), (1, 1 << 32)])


def test_burst_write_splits_and_advances_address():
    data = list(range(100, 130))
    packets = proto.burst_write(A, B, 0x10000000, data)
    assert [p.words[0] for p in packets] == [0x10000000, 0x10000000 + 14, 0x10000000 + 28]
    assert [len(p.words) for p in packets] == [15, 15, 3]
    assert [w for p in packets for w in p.words[1:]] == data
    assert all(p.ptype == PacketType.WEIGHTS for p in packets)
    with pytest.raises(proto.ProtocolError, match="runs past address"):
        proto.burst_write(A, B, cm.WORD_MASK, [1, 2])


def test_config_read_splits_at_fifteen():
    packets = proto.config_read(A, B, list(range(20)))
    assert [p.words for p in packets] == [tuple(range(15)), tuple(range(15, 20))]
    assert all(p.ptype == PacketType.CONFIG_READ for p in packets)


def test_activation_packets_and_reassembly():
    values = [((i * 37) % 256) - 128 for i in range(70)]           # 18 words
    packets = proto.activation(A, B, values)
    assert [len(p.words) for p in packets] == [15, 3]
    assert [p.head_payload for p in packets] == [0, cm.ACT_LAST]
    asm = proto.ActivationAssembler()
    assert asm.feed(packets[0]) is None and asm.pending == [A]
    src, got = asm.feed(packets[1])
    assert src == A and got == values + [0, 0] and asm.pending == []
    with pytest.raises(proto.ProtocolError, match="element 2 = 128: not int8"):
        proto.activation(A, B, [0, 1, 128])
    with pytest.raises(proto.ProtocolError, match="empty"):
        proto.activation(A, B, [])


def test_interleaved_vectors_from_two_sources():
    va, vb = list(range(-30, 40)), list(range(64, 0, -1))
    pa, pb = proto.activation(A, B, va), proto.activation((1, 0), B, vb)
    mixed = [pa[0], pb[0], pb[1], pa[1]]
    assert proto.assemble_activations(mixed) == [((1, 0), vb), (A, va + [0, 0])]
    with pytest.raises(proto.ProtocolError, match=r"\[\(0, 0\)\] never ended"):
        proto.assemble_activations(pa[:1])


def test_spike_and_host_registers():
    s = proto.spike(A, B, 300)
    assert s.ptype == PacketType.SPIKE and s.head_payload == 300 and s.words == ()
    with pytest.raises(proto.ProtocolError, match="spike axon = 8192"):
        proto.spike(A, B, 8192)
    cfg = HemiConfig.from_dict({"chip": {"host": [1, 0], "left": [[0, 0]], "right": [[1, 1]]}})
    w = proto.host_write(cfg, cm.HostReg.RUN, 32)
    assert (w.src, w.dst, w.ptype, w.words) == ((1, 0), (1, 0), PacketType.CONFIG_WRITE, (1, 32))
    regs = [cm.HostReg.KIND_BASE + i for i in range(17)]
    reads = proto.host_read(cfg, regs)
    assert [len(p.words) for p in reads] == [15, 2] and reads[0].dst == (1, 0)
    assert [w for p in reads for w in p.words] == regs


def test_decode_status_and_read_response():
    err = Packet(A, A, PacketType.STATUS, cm.status_payload(cm.Status.ERROR, cm.ErrorReason.BAD_LENGTH),
                 (0x1234,))
    assert proto.decode_status(err) == (cm.Status.ERROR, cm.ErrorReason.BAD_LENGTH, 0x1234)
    done = Packet(A, A, PacketType.STATUS, cm.status_payload(cm.Status.RUN_DONE), (32,))
    assert proto.decode_status(done) == (cm.Status.RUN_DONE, 0, 32)
    with pytest.raises(proto.ProtocolError, match="unknown code 9"):
        proto.decode_status(Packet(A, A, PacketType.STATUS, 9, (0,)))
    with pytest.raises(proto.ProtocolError, match="expected a STATUS packet, got SPIKE"):
        proto.decode_status(Packet(A, A, PacketType.SPIKE))
    assert proto.read_response(Packet(B, A, PacketType.READ_RESPONSE, 0, (7, 8))) == (7, 8)


def _apply(packets):
    """A memory after the write packets, as a tile applies them."""
    mem = {}
    for p in packets:
        if p.ptype == PacketType.CONFIG_WRITE:
            assert len(p.words) % 2 == 0 and 2 <= len(p.words) <= 14
            mem.update(zip(p.words[::2], p.words[1::2]))
        else:
            assert p.ptype == PacketType.WEIGHTS and 2 <= len(p.words) <= 15
            mem.update((p.words[0] + i, d) for i, d in enumerate(p.words[1:]))
    return mem


def test_writes_to_packets_groups_runs_and_keeps_order():
    writes = [(0x100 + i, i) for i in range(40)]                 # a long run
    writes += [(0x500, 1), (0x700, 2), (0x900, 3)]                # isolated
    writes += [(0x101, 99), (0x102, 98), (0x103, 97)]             # rewrites, a run again
    writes += [(0x500, 5), (0x2000, 6), (0x2001, 7)]              # short run: pairs
    packets = proto.writes_to_packets(A, B, writes)
    want = {}
    for a, d in writes:
        want[a] = d
    assert _apply(packets) == want
    kinds = [(p.ptype, len(p.words)) for p in packets]
    assert kinds == [(PacketType.WEIGHTS, 15), (PacketType.WEIGHTS, 15), (PacketType.WEIGHTS, 13),
                     (PacketType.CONFIG_WRITE, 6), (PacketType.WEIGHTS, 4), (PacketType.CONFIG_WRITE, 6)]
    assert proto.writes_to_packets(A, B, []) == []
