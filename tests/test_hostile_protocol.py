"""Hostile inputs for the host-port protocol (host/protocol.py), property-based.

The parser takes any word stream: it yields packets, waits for more words,
or raises :class:`ProtocolError` naming the bad word, and never loses a
packet or its place. Packets made by the builders, framed and split at
random points, parse back identically. Builders and decoders given bad
arguments raise ProtocolError, never an error from deep inside.

An independent oracle (:func:`oracle`, written from the head layout of
sw_model/callosum.py) says what any stream of valid words must parse to.
Runs are reproducible (derandomized, no example database)."""

import operator

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from host import protocol as proto
from rtl.config import HemiConfig
from sw_model import chip_map as cm
from sw_model.callosum import Packet, PacketType, pack_head


def fast(n):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


WIDTHS = st.integers(24, 128)
COORD = st.tuples(st.integers(0, 7), st.integers(0, 7))
WORD32 = st.integers(0, cm.WORD_MASK)


def top(fw):
    return (1 << fw) - 1


def is_word(w, fw):
    """The parser's contract for one word: an integer (not a bool) in 0..2**fw-1."""
    if isinstance(w, (bool, np.bool_)):
        return False
    try:
        v = operator.index(w)
    except TypeError:
        return False
    return 0 <= v <= top(fw)


def oracle(words, fw):
    """``(packets, leftover words)`` of a stream of valid words: head fields
    dst_x [2:0], dst_y [5:3], src_x [8:6], src_y [11:9], ptype [14:12],
    length [18:15], payload above."""
    packets, i = [], 0
    while i < len(words):
        h = words[i]
        n = h >> 15 & 0xF
        if i + 1 + n > len(words):
            return packets, words[i:]
        packets.append(Packet(src=(h >> 6 & 7, h >> 9 & 7), dst=(h & 7, h >> 3 & 7), ptype=h >> 12 & 7,
                              head_payload=h >> 19, words=tuple(words[i + 1:i + 1 + n])))
        i += 1 + n
    return packets, []


@st.composite
def packets_for(draw, fw, max_words=15):
    return Packet(src=draw(COORD), dst=draw(COORD), ptype=draw(st.integers(0, 7)),
                  head_payload=draw(st.integers(0, top(fw - 19))),
                  words=tuple(draw(st.lists(st.integers(0, top(fw)), max_size=max_words))))


def split(words, cuts):
    """``words`` cut at the positions ``cuts`` (any ints, taken modulo)."""
    points = sorted({c % (len(words) + 1) for c in cuts})
    edges = [0, *points, len(words)]
    return [words[a:b] for a, b in zip(edges, edges[1:])]


# --------------------------------------------------------------------------
# round trips


@fast(150)
@given(WIDTHS.flatmap(lambda fw: st.tuples(st.just(fw), st.lists(packets_for(fw), max_size=12))),
       st.lists(st.integers(0, 1000), max_size=12))
def test_packets_round_trip_split_anywhere(case, cuts):
    fw, packets = case
    words = proto.stream_words(packets, fw)
    assert all(type(w) is int and 0 <= w <= top(fw) for w in words)
    assert oracle(words, fw) == (packets, [])
    assert proto.parse_packets(words, fw) == packets
    parser, got = proto.PacketParser(fw), []
    for chunk in split(words, cuts):
        got += parser.feed(chunk)
    assert got == packets and not parser.pending and parser.words_seen == len(words)


@st.composite
def builder_calls(draw):
    """``(packets, check)``: the packets of one builder call and a function
    that checks what packets parsed back from the stream mean."""
    src, dst = draw(COORD), draw(COORD)
    kind = draw(st.sampled_from(["config_write", "burst_write", "config_read", "activation", "spike",
                                 "host_write", "host_read", "writes_to_packets"]))
    if kind == "config_write":
        pairs = draw(st.lists(st.tuples(WORD32, WORD32), max_size=20))
        flat = [w for p in pairs for w in p]
        return proto.config_write(src, dst, pairs), lambda ps: [w for p in ps for w in p.words] == flat
    if kind == "burst_write":
        data = draw(st.lists(WORD32, max_size=40))
        addr = draw(st.integers(0, cm.WORD_MASK - max(len(data) - 1, 0)))
        want = {addr + i: d for i, d in enumerate(data)}
        return proto.burst_write(src, dst, addr, data), lambda ps: apply(ps) == want
    if kind == "config_read":
        addrs = draw(st.lists(WORD32, max_size=40))
        return proto.config_read(src, dst, addrs), lambda ps: [w for p in ps for w in p.words] == addrs
    if kind == "activation":
        values = draw(st.lists(st.integers(-128, 127), min_size=1, max_size=130))
        pad = [0] * (-len(values) % 4)
        want = [(src, values + pad)]
        return proto.activation(src, dst, values), lambda ps: proto.assemble_activations(ps) == want
    if kind == "spike":
        axon = draw(st.integers(0, proto.MAX_AXON))
        return [proto.spike(src, dst, axon)], lambda ps: ps[0].head_payload == axon and ps[0].words == ()
    cfg = HemiConfig.from_dict({"chip": {"host": list(src), "left": [[(src[0] + 1) % 8, src[1]]], "right": []}})
    if kind == "host_write":
        reg, value = draw(st.integers(0, cm.OFFSET_MASK)), draw(WORD32)
        return [proto.host_write(cfg, reg, value)], lambda ps: ps[0].words == (reg, value) and ps[0].dst == src
    if kind == "host_read":
        regs = draw(st.lists(st.integers(0, cm.OFFSET_MASK), max_size=20))
        return proto.host_read(cfg, regs), lambda ps: [w for p in ps for w in p.words] == regs
    writes = draw(st.lists(st.tuples(st.one_of(st.integers(0, 40), WORD32), WORD32), max_size=40))
    want = {}
    for a, d in writes:
        want[a] = d
    return (proto.writes_to_packets(src, dst, writes, min_burst=draw(st.integers(1, 5))),
            lambda ps: apply(ps) == want)


def apply(packets):
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


@fast(150)
@given(st.integers(32, 128), st.lists(builder_calls(), min_size=1, max_size=6),
       st.lists(st.integers(0, 2000), max_size=10))
def test_builder_packets_round_trip_split_anywhere(fw, calls, cuts):
    packets = [p for ps, _ in calls for p in ps]
    words = proto.stream_words(packets, fw)
    parser, got = proto.PacketParser(fw), []
    for chunk in split(words, cuts):
        got += parser.feed(chunk)
    assert got == packets and not parser.pending
    i = 0
    for ps, check in calls:                  # each call's packets still mean what was asked
        assert check(got[i:i + len(ps)])
        i += len(ps)


# --------------------------------------------------------------------------
# hostile word streams

HUGE = st.sampled_from([64, 200, 20000]).map(lambda e: 1 << e)


def stream_items(fw):
    head = st.builds(lambda dx, dy, sx, sy, t, n, p: pack_head(dx, dy, sx, sy, t, n, p, flit_width=fw),
                     st.integers(0, 7), st.integers(0, 7), st.integers(0, 7), st.integers(0, 7),
                     st.integers(0, 7), st.integers(0, 15), st.integers(0, top(fw - 19)))
    good = st.one_of(head, head, st.integers(0, top(fw)), st.sampled_from([0, top(fw)]),
                     st.integers(0, 255).map(np.uint8), st.integers(0, top(min(fw, 63))).map(np.int64))
    bad = st.one_of(
        st.integers(max_value=-1), st.integers(min_value=top(fw) + 1), HUGE, HUGE.map(operator.neg),
        st.sampled_from([top(fw) + 1, 1 << 32, 1 << 64, -1]),
        st.booleans(), st.just(np.True_), st.floats(), st.just(1.0), st.integers(0, 9).map(np.float64),
        st.text(max_size=3), st.binary(max_size=3), st.none(), st.lists(st.integers(0, 3), max_size=2),
        st.just(np.int8(-1)), st.just(object()))
    return st.one_of(good, good, good, bad)


@fast(250)
@given(WIDTHS.flatmap(lambda fw: st.tuples(st.just(fw), st.lists(stream_items(fw), max_size=60))),
       st.lists(st.integers(0, 1000), max_size=10))
def test_hostile_stream_never_crashes_nor_loses_a_packet(case, cuts):
    """Feed a stream with bad items in random chunks; on each ProtocolError
    drop the bad word and go on. The packets that come out are exactly those
    of the good words, in order, and the parser keeps its place."""
    fw, items = case
    good = [operator.index(w) for w in items if is_word(w, fw)]
    want, leftover = oracle(good, fw)
    parser, got, errors, pos = proto.PacketParser(fw), [], 0, 0
    for chunk in split(items, cuts):
        start, pos = pos, pos + len(chunk)          # start: where chunk[0] is in items
        while chunk:
            try:
                got += parser.feed(chunk)
                chunk = []
            except proto.ProtocolError as e:
                bad = next(i for i, w in enumerate(chunk) if not is_word(w, fw))
                good_before = sum(is_word(w, fw) for w in items[:start + bad])
                assert str(e).startswith(f"word {good_before} = ") and f"not a {fw}-bit word" in str(e), str(e)
                assert parser.words_seen == good_before          # every word before it was taken
                chunk, start = chunk[bad + 1:], start + bad + 1
                errors += 1
    got += parser.feed([])                   # whatever the last refused call still held
    assert errors == sum(not is_word(w, fw) for w in items)
    assert got == want
    assert parser.pending == bool(leftover) and parser.words_seen == len(good)
    if leftover:
        announced = leftover[0] >> 15 & 0xF
        assert f"announced {announced} words, {len(leftover) - 1} arrived" in parser.describe_pending()
    event("errors" if errors else "no errors")
    event("leftover" if leftover else "whole")


@fast(200)
@given(WIDTHS.flatmap(lambda fw: st.tuples(st.just(fw), st.lists(st.integers(0, top(fw)), max_size=40))))
def test_parse_packets_on_random_words(case):
    """Random words (garbage heads, lengths past the end): packets, or the
    one error for a stream that ends inside a packet."""
    fw, words = case
    want, leftover = oracle(words, fw)
    if leftover:
        with pytest.raises(proto.ProtocolError, match="stream ends inside a packet: .* announced"):
            proto.parse_packets(words, fw)
    else:
        assert proto.parse_packets(words, fw) == want


def test_error_positions_and_state_after_refusal():
    """A refused word names its stream position; the packets completed
    before it in the same call are not lost (they come with the next call)."""
    spike = proto.packet_words(proto.spike((1, 2), (3, 4), 5))
    burst = proto.packet_words(Packet((0, 0), (1, 1), PacketType.WEIGHTS, 0, (7, 8, 9)))
    parser = proto.PacketParser()
    with pytest.raises(proto.ProtocolError, match=r"^word 2 = <a 20001-bit integer>: not a 32-bit word"):
        parser.feed(spike + burst[:1] + [1 << 20000] + burst[1:])
    assert parser.pending and parser.words_seen == 2
    assert parser.feed(burst[1:]) == [proto.spike((1, 2), (3, 4), 5), Packet((0, 0), (1, 1), 2, 0, (7, 8, 9))]
    assert not parser.pending and parser.feed([]) == []


@fast(100)
@given(st.one_of(st.integers(-300, 300), HUGE, st.floats(), st.text(max_size=3), st.none(), st.booleans(),
                 st.integers(0, 200).map(np.int64)))
def test_parser_flit_width(fw):
    valid = int_in(fw, 24, 128)
    if valid:
        assert proto.PacketParser(fw).flit_width == operator.index(fw)
    else:
        with pytest.raises(proto.ProtocolError, match=r"^flit_width = "):
            proto.PacketParser(fw)


# --------------------------------------------------------------------------
# framing hand-made packets

JUNK = st.one_of(st.integers(), HUGE, st.floats(), st.text(max_size=2), st.none(), st.booleans(),
                 st.lists(st.integers(0, 3), max_size=2))


@fast(200)
@given(WIDTHS, COORD, COORD, st.integers(0, 7), st.one_of(st.integers(0, 1 << 120), HUGE),
       st.lists(st.one_of(st.integers(0, 1 << 130), JUNK), max_size=15))
def test_packet_words_on_hand_made_packets(fw, src, dst, ptype, payload, words):
    p = Packet(src, dst, ptype, payload, tuple(words))
    ok = payload <= top(fw - 19) and all(is_word(w, fw) for w in words)
    if ok:
        framed = proto.packet_words(p, fw)
        assert proto.parse_packets(framed, fw) == [p]
    else:
        with pytest.raises(proto.ProtocolError, match=r"^packet \(\d, \d\) -> \(\d, \d\)") as e:
            proto.packet_words(p, fw)
        assert "payload" in str(e.value) or "word" in str(e.value)


# --------------------------------------------------------------------------
# builders given bad arguments

BAD_COORD = st.one_of(st.tuples(st.integers(-2, 10), st.integers(-2, 10)), JUNK,
                      st.lists(st.integers(0, 7), max_size=3), st.tuples(HUGE, st.just(0)))


def coord_ok(c):
    return isinstance(c, (tuple, list)) and len(c) == 2 and all(is_word(v, 3) for v in c)


def int_in(v, lo, hi):
    if isinstance(v, (bool, np.bool_)):
        return False
    try:
        return lo <= operator.index(v) <= hi
    except TypeError:
        return False


ELEMENT = st.one_of(st.integers(-128, 127), st.integers(-128, 127), st.integers(-300, 300), HUGE,
                    st.floats(), st.sampled_from([1.0, 1.7, float("inf"), float("nan")]), st.booleans(),
                    st.text(max_size=2), st.none(), st.integers(-128, 127).map(np.int8),
                    st.integers(-200, 200).map(np.int64), st.just(np.float64(3.0)))
ADDR = st.one_of(WORD32, WORD32, st.integers(-5, cm.WORD_MASK + 5), HUGE, st.floats(), st.booleans(), st.none(),
                 st.text(max_size=2))
PAIR = st.one_of(st.tuples(ADDR, ADDR), st.tuples(WORD32, WORD32), st.lists(ADDR, max_size=3), ADDR)


def outcome(f):
    """``(packets, None)`` from the builder, or ``(None, message)`` for a
    ProtocolError; anything else fails the test."""
    try:
        got = f()
    except proto.ProtocolError as e:
        assert str(e)
        event("refused")
        return None, str(e)
    event("built")
    return got, None


def with_one_bad(draw, items, bad_item):
    """``items`` with one hostile item inserted; returns (items, its index)."""
    i = draw(st.integers(0, len(items)))
    return items[:i] + [draw(bad_item)] + items[i:], i


@fast(200)
@given(COORD, COORD, st.lists(st.integers(-128, 127), min_size=1, max_size=20),
       st.sampled_from([None, "src", "dst", "element", "values"]), st.data())
def test_activation_builder(src, dst, values, bad, data):
    """Valid arguments with at most one hostile: packets that reassemble to
    the vector, or a ProtocolError naming the bad argument."""
    i = None
    if bad == "src":
        src = data.draw(BAD_COORD)
    elif bad == "dst":
        dst = data.draw(BAD_COORD)
    elif bad == "element":
        values, i = with_one_bad(data.draw, values, ELEMENT)
    elif bad == "values":
        values = data.draw(st.one_of(JUNK, st.just([]), st.text(max_size=3)))
    got, msg = outcome(lambda: proto.activation(src, dst, values))
    ok = (coord_ok(src) and coord_ok(dst) and isinstance(values, list) and values
          and all(int_in(v, -128, 127) for v in values))
    assert (got is not None) == bool(ok), (got, msg)
    if ok:
        pad = [0] * (-len(values) % 4)
        assert proto.assemble_activations(got) == [(tuple(src), [int(v) for v in values] + pad)]
    else:
        assert {"src": "src", "dst": "dst", "element": f"element {i} = "}.get(bad, "activation vector") in msg, msg


@fast(200)
@given(COORD, COORD, st.integers(0, proto.MAX_AXON), st.sampled_from([None, "src", "dst", "axon"]), st.data())
def test_spike_builder(src, dst, axon, bad, data):
    if bad == "src":
        src = data.draw(BAD_COORD)
    elif bad == "dst":
        dst = data.draw(BAD_COORD)
    elif bad == "axon":
        axon = data.draw(st.one_of(st.integers(-5, 9000), HUGE, JUNK, st.just(np.int64(3))))
    got, msg = outcome(lambda: proto.spike(src, dst, axon))
    ok = coord_ok(src) and coord_ok(dst) and int_in(axon, 0, proto.MAX_AXON)
    assert (got is not None) == ok, (got, msg)
    if ok:
        assert (got.src, got.dst, got.ptype, got.head_payload) == (tuple(src), tuple(dst), PacketType.SPIKE, axon)
    else:
        assert {"axon": "spike axon = "}.get(bad, bad) in msg, msg


ITEM_NAME = {"config_write": "config write {i}", "writes_to_packets": "write {i}", "config_read": "read addr {i}",
             "burst_write": "burst word {i}"}


@fast(300)
@given(st.sampled_from(list(ITEM_NAME)), COORD, st.lists(st.tuples(WORD32, WORD32), max_size=12),
       st.sampled_from([None, "dst", "item", "item", "addr"]), st.data())
def test_write_and_read_builders(kind, dst, pairs, bad, data):
    """Valid arguments with at most one hostile: packets that mean what was
    asked, or a ProtocolError naming the bad argument."""
    src, draw = (0, 0), data.draw
    items = [a for a, _ in pairs] if kind in ("config_read", "burst_write") else list(pairs)
    addr = draw(st.integers(0, cm.WORD_MASK - len(items)))
    i = None
    if bad == "dst":
        dst = draw(BAD_COORD)
    elif bad == "item":
        items, i = with_one_bad(draw, items, ADDR if kind in ("config_read", "burst_write") else PAIR)
    elif bad == "addr":
        addr = draw(st.one_of(ADDR, st.just(cm.WORD_MASK)))
    if kind in ("config_write", "writes_to_packets"):
        got, msg = outcome(lambda: getattr(proto, kind)(src, dst, items))
        ok = all(isinstance(p, (tuple, list)) and len(p) == 2 and all(int_in(v, 0, cm.WORD_MASK) for v in p)
                 for p in items)
        want = {}
        for p in items if ok else ():
            want[operator.index(p[0])] = operator.index(p[1])
        check = lambda ps: apply(ps) == want if kind == "writes_to_packets" else \
            [w for p in ps for w in p.words] == [operator.index(v) for p in items for v in p]   # noqa: E731
    elif kind == "config_read":
        got, msg = outcome(lambda: proto.config_read(src, dst, items))
        ok = all(int_in(v, 0, cm.WORD_MASK) for v in items)
        check = lambda ps: [w for p in ps for w in p.words] == [operator.index(v) for v in items]   # noqa: E731
    else:
        got, msg = outcome(lambda: proto.burst_write(src, dst, addr, items))
        ok = all(int_in(v, 0, cm.WORD_MASK) for v in items) and int_in(addr, 0, cm.WORD_MASK) and \
            (not items or operator.index(addr) + len(items) - 1 <= cm.WORD_MASK)
        check = lambda ps: apply(ps) == {operator.index(addr) + i: operator.index(d)            # noqa: E731
                                         for i, d in enumerate(items)}
    # A bad destination is only noticed when a packet is built.
    ok = ok and (coord_ok(dst) or got == [])
    assert (got is not None) == ok, (got, msg)
    if ok:
        assert check(got)
        assert proto.parse_packets(proto.stream_words(got)) == got
    elif bad == "item":
        assert ITEM_NAME[kind].format(i=i) in msg, msg
    elif bad == "addr" and kind == "burst_write":
        assert "burst addr" in msg or "runs past address" in msg, msg
    elif bad == "dst":
        assert "dst" in msg, msg


# --------------------------------------------------------------------------
# decoders on whatever the parser yields


@fast(200)
@given(st.lists(st.integers(0, cm.WORD_MASK), max_size=40),
       st.lists(st.tuples(st.sampled_from([0, 1, 2, 3, 4, 5, 15]), st.integers(0, 300), st.integers(0, 2)),
                max_size=6))
def test_decoders_on_parsed_packets(words, statuses):
    # Random words plus some near-STATUS heads (known and unknown codes,
    # reasons, 0..2 words), all parsed first.
    for code, reason, n in statuses:
        words = words + [pack_head(0, 0, 1, 1, PacketType.STATUS, n, code | (reason << 4) & 0x1FFF)] + [7] * n
    packets, _ = oracle(words, 32)
    assert proto.parse_packets(proto.stream_words(packets, 32)) == packets
    asm = proto.ActivationAssembler()
    for p in packets:
        code = p.head_payload & 0xF
        if p.ptype == PacketType.STATUS and code in (1, 2, 3) and len(p.words) == 1:
            status, reason, word = proto.decode_status(p)
            assert (int(status), int(reason), word) == (code, p.head_payload >> 4 & 0xFF, p.words[0])
        else:
            with pytest.raises(proto.ProtocolError, match="STATUS"):
                proto.decode_status(p)
        if p.ptype == PacketType.READ_RESPONSE:
            assert proto.read_response(p) == p.words
        else:
            with pytest.raises(proto.ProtocolError, match="expected a READ_RESPONSE packet"):
                proto.read_response(p)
        if p.ptype == PacketType.ACTIVATION and p.words:
            done = asm.feed(p)
            assert (done is None) == (not p.head_payload & cm.ACT_LAST)
            if done is not None:
                assert done[0] == p.src and len(done[1]) % 4 == 0
                assert all(-128 <= v <= 127 for v in done[1])
        else:
            with pytest.raises(proto.ProtocolError, match="ACTIVATION"):
                asm.feed(p)
