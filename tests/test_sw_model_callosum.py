"""The callosum's golden model: flit and head encodings, packet framing, XY
routes, the local-input screening state machine, the delivery scoreboard and
the traffic patterns."""

import random

import pytest

from sw_model import callosum as c
from sw_model.callosum import BODY, HEAD, SINGLE, TAIL, Packet, PacketType, Port


def head(dst, length, kind=HEAD, src=(0, 0), ptype=PacketType.SPIKE, payload=0, w=32):
    return (kind, c.pack_head(dst[0], dst[1], src[0], src[1], ptype, length, payload, flit_width=w))


def packet(dst, words=(), src=(0, 0), ptype=PacketType.ACTIVATION, payload=0, w=32):
    return c.to_flits(Packet(src, dst, ptype, payload, tuple(words)), w)


# --------------------------------------------------------------------------
# encodings

def test_link_packing():
    assert c.pack_link(HEAD, 0x1234) == 1 | (0x1234 << 2)
    assert c.unpack_link(c.pack_link(TAIL, 0xFFFFFFFF), 32) == (TAIL, 0xFFFFFFFF)
    assert c.unpack_link((1 << 130) - 1, 128) == (SINGLE, (1 << 128) - 1)
    with pytest.raises(ValueError, match="kind"):
        c.pack_link(4, 0)
    with pytest.raises(ValueError, match="data"):
        c.pack_link(BODY, 1 << 32)
    with pytest.raises(ValueError, match="link value"):
        c.unpack_link(1 << 26, 24)
    with pytest.raises(ValueError, match="flit_width"):
        c.unpack_link(0, 23)


def test_head_field_layout():
    d = c.pack_head(5, 6, 1, 2, PacketType.CONFIG_READ, 9, 0x1ABC, flit_width=32)
    assert d == 5 | 6 << 3 | 1 << 6 | 2 << 9 | 4 << 12 | 9 << 15 | 0x1ABC << 19
    assert c.head_fields(64)["payload"] == (19, 45)
    assert c.HEAD_FIELDS["length"] == (15, 4)


@pytest.mark.parametrize("w", [24, 32, 64])
def test_head_round_trip(w):
    rng = random.Random(w)
    for _ in range(300):
        f = dict(dst_x=rng.randrange(8), dst_y=rng.randrange(8), src_x=rng.randrange(8),
                 src_y=rng.randrange(8), ptype=rng.randrange(8), length=rng.randrange(16),
                 payload=rng.randrange(1 << (w - 19)))
        d = c.pack_head(**f, flit_width=w)
        assert 0 <= d < 1 << w
        assert c.unpack_head(d, w) == f
        assert c.pack_head(**c.unpack_head(d, w), flit_width=w) == d
    assert c.unpack_head((1 << w) - 1, w)["payload"] == (1 << (w - 19)) - 1
    assert c.unpack_head(2 << 12, w)["ptype"] is PacketType.WEIGHTS


@pytest.mark.parametrize("field,value,rng_text", [
    ("dst_x", 8, "0..7"), ("src_y", -1, "0..7"), ("ptype", 8, "0..7"),
    ("length", 16, "0..15"), ("payload", 1 << 13, "0..8191"),
])
def test_head_field_range_errors(field, value, rng_text):
    f = dict(dst_x=0, dst_y=0, src_x=0, src_y=0, ptype=0, length=0, payload=0)
    f[field] = value
    with pytest.raises(ValueError, match=f"{field} = .*{rng_text}"):
        c.pack_head(**f, flit_width=32)


def test_head_payload_range_follows_width():
    c.pack_head(0, 0, 0, 0, 0, 0, 31, flit_width=24)
    with pytest.raises(ValueError, match="payload = 32.*0..31"):
        c.pack_head(0, 0, 0, 0, 0, 0, 32, flit_width=24)
    with pytest.raises(ValueError, match="head data"):
        c.unpack_head(1 << 24, 24)


@pytest.mark.parametrize("w", [24, 32, 64])
def test_packet_round_trip(w):
    rng = random.Random(100 + w)
    for n in range(16):
        p = Packet((rng.randrange(8), rng.randrange(8)), (rng.randrange(8), rng.randrange(8)),
                   rng.choice(list(PacketType)), rng.randrange(1 << (w - 19)),
                   tuple(rng.randrange(1 << w) for _ in range(n)))
        flits = c.to_flits(p, w)
        assert len(flits) == n + 1
        kinds = [k for k, _ in flits]
        assert kinds == ([SINGLE] if n == 0 else [HEAD] + [BODY] * (n - 1) + [TAIL])
        assert c.unpack_head(flits[0][1], w)["length"] == n
        assert [d for _, d in flits[1:]] == list(p.words)
        assert c.from_flits(flits, w) == p


def test_packet_checks():
    with pytest.raises(ValueError, match="0..15 words"):
        Packet((0, 0), (1, 1), 0, 0, tuple(range(16)))
    with pytest.raises(ValueError, match="dst x"):
        Packet((0, 0), (8, 1), 0)
    with pytest.raises(ValueError, match="word 1"):
        c.to_flits(Packet((0, 0), (1, 1), 0, 0, (1, 1 << 24)), 24)
    with pytest.raises(ValueError, match="payload"):
        c.to_flits(Packet((0, 0), (1, 1), 0, 1 << 5), 24)


@pytest.mark.parametrize("flits,msg", [
    ([], "empty"),
    ([(BODY, 0)], "starts with HEAD or SINGLE"),
    ([head((1, 1), 1, SINGLE)], "SINGLE head with length 1"),
    ([head((1, 1), 0, HEAD)], "HEAD with length 0"),
    ([head((1, 1), 2), (BODY, 5)], "length 2 but 1 flits"),
    ([head((1, 1), 1), (TAIL, 5), (TAIL, 6)], "length 1 but 2 flits"),
    ([head((1, 1), 2), (TAIL, 5), (TAIL, 6)], "flit 1 is TAIL, expected BODY"),
    ([head((1, 1), 2), (BODY, 5), (BODY, 6)], "flit 2 is BODY, expected TAIL"),
    ([head((1, 1), 1), (TAIL, 1 << 32)], "flit 1 data"),
])
def test_from_flits_rejects_bad_framing(flits, msg):
    with pytest.raises(ValueError, match=msg):
        c.from_flits(flits, 32)


# --------------------------------------------------------------------------
# XY routing

def test_routes():
    assert c.xy_route((0, 0), (7, 7)) == [(x, 0) for x in range(8)] + [(7, y) for y in range(1, 8)]
    assert c.xy_route((7, 7), (0, 0)) == [(x, 7) for x in range(7, -1, -1)] + \
        [(0, y) for y in range(6, -1, -1)]
    assert c.xy_route((3, 4), (3, 4)) == [(3, 4)]
    assert c.xy_route((1, 5), (3, 2)) == [(1, 5), (2, 5), (3, 5), (3, 4), (3, 3), (3, 2)]
    assert c.route_ports((1, 5), (3, 2)) == [Port.E, Port.E, Port.N, Port.N, Port.N, Port.L]
    assert c.route_ports((2, 0), (0, 1)) == [Port.W, Port.W, Port.S, Port.L]
    assert c.hops((0, 0), (7, 7)) == 14 and c.hops((3, 4), (3, 4)) == 0
    assert c.output_port((2, 2), (2, 2)) is Port.L
    assert c.output_port((2, 2), (0, 7)) is Port.W        # x before y
    assert c.output_port((2, 2), (2, 0)) is Port.N
    assert [c.next_router((4, 4), p) for p in Port] == [(4, 3), (5, 4), (4, 5), (3, 4), None]
    with pytest.raises(ValueError, match="src x"):
        c.xy_route((8, 0), (0, 0))


def test_every_route_is_adjacent_x_first():
    nodes = [(x, y) for x in range(8) for y in range(8)]
    for s in nodes:
        for d in nodes:
            r = c.xy_route(s, d)
            assert r[0] == s and r[-1] == d and len(r) == c.hops(s, d) + 1
            ports = c.route_ports(s, d)
            for a, b, p in zip(r, r[1:], ports):
                assert abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1
                assert c.next_router(a, p) == b
            turned = False                       # never back to x after y
            for a, b in zip(r, r[1:]):
                turned |= a[1] != b[1]
                assert not (turned and a[0] != b[0])
            assert ports[-1] is Port.L


# --------------------------------------------------------------------------
# local-input screening

A = packet((1, 1), [10, 11, 12])                 # HEAD, BODY, BODY, TAIL
B = packet((2, 0), [20])                         # HEAD, TAIL
S = packet((0, 1))                               # SINGLE


def run(stream, W=4, H=4):
    return c.validate_local(stream, W, H)


def test_wellformed_stream_passes_unchanged():
    assert run(A + S + B + S) == ([A, S, B, S], 0)
    assert run([]) == ([], 0)


def test_idle_single_with_length_is_dropped_stay_idle():
    # stays IDLE: the following BODY is a new error (DISCARD would not count it)
    assert run([head((1, 1), 3, SINGLE)] + S) == ([S], 1)
    assert run([head((1, 1), 3, SINGLE), (BODY, 1), (TAIL, 2)] + B) == ([B], 2)


def test_idle_head_with_length_zero_discards():
    assert run([head((1, 1), 0), (BODY, 1), (BODY, 2), (TAIL, 3)] + S) == ([S], 1)
    assert run([head((1, 1), 0), (BODY, 1)] + B) == ([B], 1)


def test_idle_body_discards():
    assert run([(BODY, 1), (BODY, 2), (TAIL, 3)] + A) == ([A], 1)


def test_idle_tail_is_an_error_and_stays_idle():
    assert run([(TAIL, 1)] + S) == ([S], 1)
    assert run([(TAIL, 1), (TAIL, 2)]) == ([], 2)      # vs. BODY, TAIL: 1 error
    assert run([(BODY, 1), (TAIL, 2)]) == ([], 1)


def test_head_inside_packet_drops_partial_then_acts_as_idle():
    assert run(A[:2] + B) == ([B], 1)
    assert run(A[:3] + S) == ([S], 1)
    assert run(A[:1] + [head((1, 1), 2, SINGLE)] + S) == ([S], 2)
    assert run(A[:2] + [head((1, 1), 0)] + [(BODY, 9), (TAIL, 9)] + S) == ([S], 2)


def test_too_short_packet_drops_to_idle():
    assert run(A[:2] + [(TAIL, 7)] + S) == ([S], 1)
    # IDLE, not DISCARD: a stray BODY afterwards counts again
    assert run(A[:2] + [(TAIL, 7), (BODY, 8), (TAIL, 9)] + S) == ([S], 2)


def test_too_long_packet_discards():
    assert run(B[:1] + [(BODY, 1), (BODY, 2), (BODY, 3), (TAIL, 4)] + A) == ([A], 1)
    assert run(A[:3] + [(BODY, 1)] + S) == ([S], 1)


def test_discard_ends_on_a_head_handled_as_idle():
    assert run([(BODY, 1)] + A) == ([A], 1)
    assert run([(BODY, 1), (BODY, 2)] + S + B) == ([S, B], 1)
    assert run([(BODY, 1), head((1, 1), 5, SINGLE)] + S) == ([S], 2)
    assert run([(BODY, 1), head((1, 1), 0), (TAIL, 2)] + S) == ([S], 2)


def test_incomplete_packet_at_end_is_pending_not_an_error():
    assert run(S + A[:3]) == ([S], 0)


def test_out_of_mesh_destinations():
    W, H = 3, 2
    ok = packet((2, 1), [1, 2])
    bad_x = packet((3, 0), [1, 2])
    bad_y = packet((0, 2))
    assert c.validate_local(ok + bad_x + ok, W, H) == ([ok, ok], 1)
    assert c.validate_local(bad_y + bad_x + bad_y, W, H) == ([], 3)
    assert c.validate_local(packet((7, 7)), 8, 8) == ([packet((7, 7))], 0)
    assert c.validate_local(packet((1, 0)), 1, 1) == ([], 1)
    # a malformed packet to nowhere counts once (framing), not twice
    assert c.validate_local(bad_x[:2] + [(BODY, 0)] + ok, W, H) == ([ok], 1)


def test_validate_local_rejects_bad_arguments():
    with pytest.raises(ValueError, match="W = 9"):
        c.validate_local([], 9, 1)
    with pytest.raises(ValueError, match="flit 0 kind"):
        c.validate_local([(4, 0)], 2, 2)
    with pytest.raises(ValueError, match="flit 0 data"):
        c.validate_local([(BODY, 1 << 32)], 2, 2)


def test_random_streams_keep_invariants():
    """Every surviving packet is a well-framed in-mesh contiguous run of the
    input, and a stream of only good packets loses nothing."""
    rng = random.Random(11)
    W, H = 5, 3
    junk = [(BODY, 1), (TAIL, 2), head((4, 2), 0), head((1, 1), 2, SINGLE), head((6, 0), 1)]
    stream, good = [], []
    for _ in range(3000):
        if rng.random() < 0.8:
            p = packet((rng.randrange(W), rng.randrange(H)),
                       [rng.randrange(1 << 32) for _ in range(rng.randrange(16))])
            if rng.random() < 0.1:
                p = p[:rng.randrange(1, len(p) + 1)]       # truncated
            stream += p
            good.append(p)
        else:
            stream.append(rng.choice(junk))
    out, errors = c.validate_local(stream, W, H)
    assert errors > 0 and 0 < len(out) < len(good)
    text = [tuple(f) for f in stream]
    pos = 0
    for p in out:
        q = c.from_flits(p)
        assert q.dst[0] < W and q.dst[1] < H
        while text[pos:pos + len(p)] != p:
            pos += 1
        pos += len(p)
    clean = [p for p in good if len(p) == c.unpack_head(p[0][1])["length"] + 1]
    flat = [f for p in clean for f in p]
    assert c.validate_local(flat, W, H) == (clean, 0)


# --------------------------------------------------------------------------
# delivery and scoreboard

def test_deliver_groups_by_pair_in_order():
    a1 = packet((1, 0), [1], src=(0, 0))
    a2 = packet((1, 0), [2, 3], src=(0, 0))
    b1 = packet((1, 0), src=(0, 1))
    c1 = packet((0, 1), src=(0, 0))
    inj = {(0, 0): a1 + [(TAIL, 0)] + c1 + a2, (0, 1): b1 + packet((5, 5), src=(0, 1))}
    expected, errors = c.deliver(inj, 2, 2)
    assert errors == 2
    assert expected == {((0, 0), (1, 0)): [a1, a2], ((0, 0), (0, 1)): [c1],
                        ((0, 1), (1, 0)): [b1]}
    with pytest.raises(ValueError, match="injecting node"):
        c.deliver({(2, 0): []}, 2, 2)


def scoreboard():
    sb = c.Scoreboard(3, 3)
    p1 = packet((2, 2), [1, 2], src=(0, 0))
    p2 = packet((2, 2), [3], src=(0, 0))
    q1 = packet((2, 2), src=(1, 0))
    for src, p in (((0, 0), p1), ((0, 0), p2), ((1, 0), q1)):
        sb.expect(src, p)
    return sb, p1, p2, q1


def test_scoreboard_accepts_interleaved_sources():
    sb, p1, p2, q1 = scoreboard()
    assert sb.outstanding() == 3
    sb.receive((2, 2), p1)
    sb.receive((2, 2), q1)
    sb.receive((2, 2), p2)
    assert sb.outstanding() == 0 and sb.received == 3
    sb.check_empty()


def test_scoreboard_catches_duplicate():
    sb, p1, p2, q1 = scoreboard()
    sb.receive((2, 2), q1)
    with pytest.raises(AssertionError, match="duplicate"):
        sb.receive((2, 2), q1)


def test_scoreboard_catches_wrong_node():
    sb, p1, p2, q1 = scoreboard()
    with pytest.raises(AssertionError, match=r"for \(2, 2\) delivered at \(2, 1\)"):
        sb.receive((2, 1), p1)


def test_scoreboard_catches_reordering():
    sb, p1, p2, q1 = scoreboard()
    with pytest.raises(AssertionError, match="out of order.*#1 before #0"):
        sb.receive((2, 2), p2)
    assert sb.outstanding() == 3


def test_scoreboard_catches_corruption():
    sb, p1, p2, q1 = scoreboard()
    bad = list(p1)
    bad[2] = (TAIL, bad[2][1] ^ 1 << 31)
    with pytest.raises(AssertionError, match="corrupted.*flit 2"):
        sb.receive((2, 2), bad)
    with pytest.raises(AssertionError, match="malformed"):
        sb.receive((2, 2), p1[:2])


def test_scoreboard_catches_missing():
    sb, p1, p2, q1 = scoreboard()
    sb.receive((2, 2), p1)
    sb.receive((2, 2), q1)
    with pytest.raises(AssertionError, match=r"1 packet\(s\) never delivered"):
        sb.check_empty()


def test_scoreboard_expect_checks():
    sb = c.Scoreboard(2, 2)
    with pytest.raises(ValueError, match="src field"):
        sb.expect((1, 1), packet((0, 0), src=(0, 0)))
    with pytest.raises(ValueError, match="dst x"):
        sb.expect((0, 0), packet((2, 0), src=(0, 0)))


def test_deliver_then_scoreboard_random_network():
    """Validate random streams, deliver every surviving packet with an
    arbitrary interleaving of pairs, and check nothing is left over."""
    rng = random.Random(5)
    W, H = 4, 3
    nodes = [(x, y) for x in range(W) for y in range(H)]
    inj = {}
    for s in nodes:
        stream = []
        for _ in range(200):
            d = c.pattern_destination(rng.choice(c.PATTERNS), s, W, H, rng)
            stream += packet(d, [rng.randrange(1 << 32) for _ in range(rng.randrange(16))], src=s)
            if rng.random() < 0.05:
                stream.append((BODY, 0))
        inj[s] = stream
    expected, errors = c.deliver(inj, W, H)
    assert errors > 0
    sb = c.Scoreboard(W, H)
    sb.expect_all(expected)
    queues = {k: list(v) for k, v in expected.items()}
    while queues:
        (src, dst) = rng.choice(sorted(queues))
        sb.receive(dst, queues[(src, dst)].pop(0))
        if not queues[(src, dst)]:
            del queues[(src, dst)]
    sb.check_empty()
    assert sb.received == sum(map(len, expected.values()))


# --------------------------------------------------------------------------
# traffic patterns

@pytest.mark.parametrize("W,H", [(1, 1), (1, 5), (4, 4), (8, 3), (8, 8)])
def test_patterns_stay_in_mesh(W, H):
    rng = random.Random(W * 10 + H)
    for s in [(x, y) for x in range(W) for y in range(H)]:
        for pat in c.PATTERNS:
            for _ in range(20):
                x, y = c.pattern_destination(pat, s, W, H, rng)
                assert 0 <= x < W and 0 <= y < H
                if pat == "uniform" and W * H > 1:
                    assert (x, y) != s
                if pat == "neighbour" and W * H > 1:
                    assert abs(x - s[0]) + abs(y - s[1]) == 1


def test_pattern_values():
    rng = random.Random(1)
    assert c.pattern_destination("transpose", (1, 3), 4, 4, rng) == (3, 1)
    assert c.pattern_destination("transpose", (1, 2), 8, 3, rng) == (6, 0)
    assert c.pattern_destination("uniform", (0, 0), 1, 1, rng) == (0, 0)
    assert c.pattern_destination("neighbour", (0, 0), 1, 1, rng) == (0, 0)
    assert {c.pattern_destination("neighbour", (0, 0), 3, 3, rng) for _ in range(50)} == {(1, 0), (0, 1)}
    assert {c.pattern_destination("uniform", (1, 0), 2, 2, rng) for _ in range(100)} == \
        {(0, 0), (0, 1), (1, 1)}
    hits = sum(c.pattern_destination("hotspot", (0, 0), 4, 4, rng) == (2, 2) for _ in range(4000))
    assert 0.3 + 0.7 / 15 - 0.03 < hits / 4000 < 0.3 + 0.7 / 15 + 0.03
    with pytest.raises(ValueError, match="pattern = 'zigzag'"):
        c.pattern_destination("zigzag", (0, 0), 2, 2, rng)
