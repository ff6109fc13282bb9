"""Golden model of the callosum: a 2D-mesh network-on-chip with XY routing and
wormhole switching.

Contract, identical to the RTL:

* A flit on a link is ``(kind, data)``. ``kind`` is 2 bits: bit 0 = head,
  bit 1 = tail, so ``BODY = 0``, ``HEAD = 1``, ``TAIL = 2``, ``SINGLE = 3``
  (a one-flit packet). ``data`` is ``flit_width`` bits (24..128, default 32).
  On the wire the flit is the integer ``kind | (data << 2)``.
* A head flit's data holds, from the least significant bit: ``dst_x`` (3),
  ``dst_y`` (3), ``src_x`` (3), ``src_y`` (3), ``ptype`` (3), ``length`` (4),
  then ``payload`` in the remaining ``flit_width - 19`` bits. ``length`` is the
  number of flits after the head (0..15): a packet is a lone SINGLE
  (``length == 0``) or a HEAD, ``length - 1`` BODY flits and a TAIL.
* The mesh is ``W x H`` routers (1..8 each); router ``(x, y)`` has ports
  N, E, S, W, L (0..4): N leads to ``(x, y-1)``, E to ``(x+1, y)``, S to
  ``(x, y+1)``, W to ``(x-1, y)``, L to the local node. Routing is dimension
  ordered: along x until ``x == dst_x``, then along y, then out of L.
* Each node's local input in its first router screens the injected flit
  stream with the state machine of :func:`validate_local`; a malformed or
  out-of-mesh packet never enters the network and counts in one error
  counter. Every packet that does enter is delivered exactly once, intact, at
  its destination; packets of one (source, destination) pair arrive in
  injection order, packets of different sources may interleave arbitrarily
  (:func:`deliver`, :class:`Scoreboard`).

Pure Python on ints; it is usable on its own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import IntEnum
from ._checks import int_scalar

DEFAULT_FLIT_WIDTH = 32
MIN_FLIT_WIDTH, MAX_FLIT_WIDTH = 24, 128
MAX_MESH = 8                       # coordinates are 3-bit fields
MAX_LENGTH = 15                    # flits after the head

# Flit kinds: bit 0 = head, bit 1 = tail.
HEAD_BIT, TAIL_BIT = 1, 2
BODY, HEAD, TAIL, SINGLE = 0, 1, 2, 3
KIND_NAMES = {BODY: "BODY", HEAD: "HEAD", TAIL: "TAIL", SINGLE: "SINGLE"}


class PacketType(IntEnum):
    SPIKE = 0
    ACTIVATION = 1
    WEIGHTS = 2
    CONFIG_WRITE = 3
    CONFIG_READ = 4
    READ_RESPONSE = 5
    STATUS = 6          # from the host bridge to the host: run done, step marks, errors


class Port(IntEnum):
    N = 0
    E = 1
    S = 2
    W = 3
    L = 4


#: Head flit data fields: name -> (bit offset, width). ``payload`` takes the
#: remaining ``flit_width - 19`` bits (width shown for the default 32).
HEAD_FIELDS = {
    "dst_x": (0, 3),
    "dst_y": (3, 3),
    "src_x": (6, 3),
    "src_y": (9, 3),
    "ptype": (12, 3),
    "length": (15, 4),
    "payload": (19, DEFAULT_FLIT_WIDTH - 19),
}
PAYLOAD_OFFSET = HEAD_FIELDS["payload"][0]

PATTERNS = ("uniform", "transpose", "hotspot", "neighbour")
HOTSPOT_PROBABILITY = 0.3

__all__ = [
    "DEFAULT_FLIT_WIDTH", "MIN_FLIT_WIDTH", "MAX_FLIT_WIDTH", "MAX_MESH", "MAX_LENGTH",
    "BODY", "HEAD", "TAIL", "SINGLE", "HEAD_BIT", "TAIL_BIT", "KIND_NAMES",
    "PacketType", "Port", "HEAD_FIELDS", "PATTERNS",
    "pack_link", "unpack_link", "head_fields", "pack_head", "unpack_head",
    "Packet", "to_flits", "from_flits",
    "hops", "output_port", "next_router", "xy_route", "route_ports",
    "validate_local", "deliver", "Scoreboard", "pattern_destination",
]


# --------------------------------------------------------------------------
# validation helpers

_int_scalar = int_scalar


def _check_width(flit_width):
    return _int_scalar("flit_width", flit_width, MIN_FLIT_WIDTH, MAX_FLIT_WIDTH)


def _check_mesh(W, H):
    return (_int_scalar("W", W, 1, MAX_MESH), _int_scalar("H", H, 1, MAX_MESH))


def _coord(name, xy, W=MAX_MESH, H=MAX_MESH):
    """``xy`` as an ``(x, y)`` tuple of ints inside a W x H mesh."""
    try:
        x, y = xy
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {xy!r}: must be an (x, y) pair") from None
    return (_int_scalar(f"{name} x", x, 0, W - 1), _int_scalar(f"{name} y", y, 0, H - 1))


# --------------------------------------------------------------------------
# link flits

def pack_link(kind, data, flit_width=DEFAULT_FLIT_WIDTH):
    """One link flit as the wire integer ``kind | (data << 2)``."""
    flit_width = _check_width(flit_width)
    kind = _int_scalar("kind", kind, 0, 3)
    data = _int_scalar("data", data, 0, (1 << flit_width) - 1)
    return kind | (data << 2)


def unpack_link(value, flit_width=DEFAULT_FLIT_WIDTH):
    """Inverse of :func:`pack_link`: the wire integer -> ``(kind, data)``."""
    flit_width = _check_width(flit_width)
    value = _int_scalar("link value", value, 0, (1 << (flit_width + 2)) - 1)
    return value & 3, value >> 2


# --------------------------------------------------------------------------
# head flits

def head_fields(flit_width=DEFAULT_FLIT_WIDTH):
    """:data:`HEAD_FIELDS` with the payload width of ``flit_width``."""
    flit_width = _check_width(flit_width)
    fields = dict(HEAD_FIELDS)
    fields["payload"] = (PAYLOAD_OFFSET, flit_width - PAYLOAD_OFFSET)
    return fields


def pack_head(dst_x, dst_y, src_x, src_y, ptype, length, payload=0, *,
              flit_width=DEFAULT_FLIT_WIDTH):
    """Head flit data from its fields; each is range-checked against its bit
    width (``ptype`` 0..7: the field is 3 bits, value 7 is an undefined
    type but travels like any other). ``pack_head(**unpack_head(d, w),
    flit_width=w) == d``."""
    values = dict(dst_x=dst_x, dst_y=dst_y, src_x=src_x, src_y=src_y,
                  ptype=ptype, length=length, payload=payload)
    data = 0
    for name, (offset, width) in head_fields(flit_width).items():
        data |= _int_scalar(name, values[name], 0, (1 << width) - 1) << offset
    return data


def unpack_head(data, flit_width=DEFAULT_FLIT_WIDTH):
    """Head flit data -> dict of its fields (the keys of :data:`HEAD_FIELDS`;
    ``ptype`` is a :class:`PacketType` when defined, else a plain int)."""
    fields = head_fields(flit_width)
    data = _int_scalar("head data", data, 0, (1 << flit_width) - 1)
    out = {name: (data >> offset) & ((1 << width) - 1) for name, (offset, width) in fields.items()}
    if out["ptype"] in PacketType._value2member_map_:
        out["ptype"] = PacketType(out["ptype"])
    return out


# --------------------------------------------------------------------------
# packets

@dataclass(frozen=True)
class Packet:
    """A packet: ``src``/``dst`` are ``(x, y)``, ``words`` the 0..15 data
    flits after the head (each ``flit_width`` bits, checked by
    :func:`to_flits`), ``head_payload`` the head's payload field."""

    src: tuple
    dst: tuple
    ptype: int
    head_payload: int = 0
    words: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "src", _coord("src", self.src))
        object.__setattr__(self, "dst", _coord("dst", self.dst))
        ptype = _int_scalar("ptype", self.ptype, 0, 7)
        if ptype in PacketType._value2member_map_:
            ptype = PacketType(ptype)
        object.__setattr__(self, "ptype", ptype)
        if isinstance(self.head_payload, bool) or not isinstance(self.head_payload, int) \
                or self.head_payload < 0:
            raise ValueError(f"head_payload = {self.head_payload!r}: must be a non-negative integer")
        words = tuple(self.words)
        if len(words) > MAX_LENGTH:
            raise ValueError(f"a packet carries 0..{MAX_LENGTH} words, got {len(words)}")
        object.__setattr__(self, "words", words)


def to_flits(packet, flit_width=DEFAULT_FLIT_WIDTH):
    """A packet as link flits: SINGLE alone, or HEAD, BODY..., TAIL."""
    flit_width = _check_width(flit_width)
    n = len(packet.words)
    head = pack_head(packet.dst[0], packet.dst[1], packet.src[0], packet.src[1],
                     packet.ptype, n, packet.head_payload, flit_width=flit_width)
    if n == 0:
        return [(SINGLE, head)]
    top = (1 << flit_width) - 1
    flits = [(HEAD, head)]
    for i, w in enumerate(packet.words):
        w = _int_scalar(f"word {i}", w, 0, top)
        flits.append((TAIL if i == n - 1 else BODY, w))
    return flits


def _check_flits(flits, flit_width):
    """``flits`` as a list of ``(kind, data)`` int tuples, range-checked."""
    top = (1 << flit_width) - 1
    out = []
    for i, f in enumerate(flits):
        try:
            kind, data = f
        except (TypeError, ValueError):
            raise ValueError(f"flit {i} = {f!r}: must be a (kind, data) pair") from None
        if kind.__class__ is int and data.__class__ is int and 0 <= kind <= 3 and 0 <= data <= top:
            out.append((kind, data))             # fast path
            continue
        out.append((_int_scalar(f"flit {i} kind", kind, 0, 3),
                    _int_scalar(f"flit {i} data", data, 0, top)))
    return out


def from_flits(flits, flit_width=DEFAULT_FLIT_WIDTH):
    """Inverse of :func:`to_flits`; ValueError unless ``flits`` is exactly one
    well-framed packet (head kind, length field, body/tail kinds)."""
    flit_width = _check_width(flit_width)
    flits = _check_flits(flits, flit_width)
    if not flits:
        raise ValueError("empty flit list: a packet needs at least a head flit")
    kind, data = flits[0]
    if not kind & HEAD_BIT:
        raise ValueError(f"flit 0 is {KIND_NAMES[kind]}: a packet starts with HEAD or SINGLE")
    h = unpack_head(data, flit_width)
    length = h["length"]
    if kind == SINGLE and length != 0:
        raise ValueError(f"SINGLE head with length {length}: must be 0")
    if kind == HEAD and length == 0:
        raise ValueError("HEAD with length 0: a one-flit packet is a SINGLE")
    if len(flits) != length + 1:
        raise ValueError(f"head says length {length} but {len(flits) - 1} flits follow it")
    for i in range(1, len(flits)):
        want = TAIL if i == length else BODY
        if flits[i][0] != want:
            raise ValueError(f"flit {i} is {KIND_NAMES[flits[i][0]]}, expected {KIND_NAMES[want]}")
    return Packet(src=(h["src_x"], h["src_y"]), dst=(h["dst_x"], h["dst_y"]),
                  ptype=h["ptype"], head_payload=h["payload"],
                  words=tuple(d for _, d in flits[1:]))


# --------------------------------------------------------------------------
# XY routing

_STEP = {Port.N: (0, -1), Port.E: (1, 0), Port.S: (0, 1), Port.W: (-1, 0)}


def hops(src, dst):
    """Router-to-router links on the XY route: ``|dx| + |dy|``."""
    (sx, sy), (dx, dy) = _coord("src", src), _coord("dst", dst)
    return abs(dx - sx) + abs(dy - sy)


def output_port(router, dst):
    """The port a packet for ``dst`` leaves ``router`` by (x first, then y)."""
    (x, y), (dx, dy) = _coord("router", router), _coord("dst", dst)
    if dx > x:
        return Port.E
    if dx < x:
        return Port.W
    if dy > y:
        return Port.S
    if dy < y:
        return Port.N
    return Port.L


def next_router(router, port):
    """The router on the other side of ``port`` (None for L)."""
    x, y = _coord("router", router)
    port = Port(port)
    if port == Port.L:
        return None
    sx, sy = _STEP[port]
    return (x + sx, y + sy)


def xy_route(src, dst):
    """Routers visited from ``src`` to ``dst``, both included."""
    (x, y), (dx, dy) = _coord("src", src), _coord("dst", dst)
    route = [(x, y)]
    step = 1 if dx > x else -1
    while x != dx:
        x += step
        route.append((x, y))
    step = 1 if dy > y else -1
    while y != dy:
        y += step
        route.append((x, y))
    return route


def route_ports(src, dst):
    """Output port taken at each router of :func:`xy_route` (ends with L)."""
    dst = _coord("dst", dst)
    return [output_port(r, dst) for r in xy_route(src, dst)]


# --------------------------------------------------------------------------
# local-input screening

_IDLE, _IN_PACKET, _DISCARD = 0, 1, 2
_LEN_SHIFT, _LEN_MASK = HEAD_FIELDS["length"][0], (1 << HEAD_FIELDS["length"][1]) - 1


def validate_local(flits, W, H, *, flit_width=DEFAULT_FLIT_WIDTH):
    """Screen one node's injected flit stream as its first router does.

    Returns ``(packets, errors)``: the well-formed packets (lists of
    ``(kind, data)``) that enter the network, in order, and the number of
    errors counted. States:

    * IDLE: HEAD with length >= 1 starts a packet; SINGLE with length 0 is a
      complete packet; SINGLE with length > 0: error, dropped, stay IDLE;
      HEAD with length 0: error, DISCARD; BODY: error, DISCARD; TAIL: error,
      stay IDLE.
    * IN_PACKET: BODY expected while more than one flit remains, TAIL for the
      last. A head-bit flit: error, partial packet dropped, the flit is then
      handled as in IDLE (which may count a second error). TAIL instead of
      BODY (too short): error, dropped, IDLE. BODY instead of TAIL (too long):
      error, dropped, DISCARD.
    * DISCARD: drops silently until a TAIL (dropped, IDLE) or a head-bit flit
      (handled as in IDLE, with IDLE's errors).
    * A complete packet whose ``dst_x >= W`` or ``dst_y >= H`` is dropped and
      counts one error.

    A packet still incomplete when the stream ends is not returned and counts
    no error (the router is still waiting for its flits).
    """
    W, H = _check_mesh(W, H)
    flit_width = _check_width(flit_width)
    top = (1 << flit_width) - 1
    packets = []
    errors = 0
    state = _IDLE
    cur = None
    remaining = 0
    for f in flits:
        kind, data = f
        if kind.__class__ is not int or data.__class__ is not int \
                or not 0 <= kind <= 3 or not 0 <= data <= top:
            kind, data = _check_flits([f], flit_width)[0]
        if state == _IN_PACKET:
            if kind & HEAD_BIT:
                errors += 1                      # head inside a packet
                cur = None
                state = _IDLE                    # ... then handled as in IDLE
            elif remaining > 1:
                if kind == BODY:
                    cur.append((kind, data))
                    remaining -= 1
                else:                            # TAIL: too short
                    errors += 1
                    cur = None
                    state = _IDLE
                continue
            else:
                if kind == TAIL:
                    cur.append((kind, data))
                    h = cur[0][1]
                    if (h & 7) >= W or ((h >> 3) & 7) >= H:
                        errors += 1
                    else:
                        packets.append(cur)
                    cur = None
                    state = _IDLE
                else:                            # BODY: too long
                    errors += 1
                    cur = None
                    state = _DISCARD
                continue
        elif state == _DISCARD:
            if kind & HEAD_BIT:
                state = _IDLE                    # handled as in IDLE below
            else:
                if kind == TAIL:
                    state = _IDLE
                continue
        # IDLE
        length = (data >> _LEN_SHIFT) & _LEN_MASK
        if kind == HEAD:
            if length:
                cur = [(kind, data)]
                remaining = length
                state = _IN_PACKET
            else:
                errors += 1
                state = _DISCARD
        elif kind == SINGLE:
            if length:
                errors += 1
            elif (data & 7) >= W or ((data >> 3) & 7) >= H:
                errors += 1
            else:
                packets.append([(kind, data)])
        elif kind == BODY:
            errors += 1
            state = _DISCARD
        else:                                    # TAIL
            errors += 1
    return packets, errors


def deliver(injections, W, H, *, flit_width=DEFAULT_FLIT_WIDTH):
    """What the network must deliver for the given injected streams.

    ``injections``: ``{(x, y): [flits injected at that node, in order]}``.
    Returns ``(expected, errors)``: ``expected[(src, dst)]`` is the list of
    packets (flit lists) ``src`` sent to ``dst``, in the order ``dst`` must
    receive them, with ``src`` the injecting node (only pairs with at least
    one packet appear); ``errors`` is the sum of every node's error count.
    """
    W, H = _check_mesh(W, H)
    expected = {}
    errors = 0
    for node, flits in injections.items():
        node = _coord("injecting node", node, W, H)
        packets, e = validate_local(flits, W, H, flit_width=flit_width)
        errors += e
        for p in packets:
            h = p[0][1]
            expected.setdefault((node, (h & 7, (h >> 3) & 7)), []).append(p)
    return expected, errors


# --------------------------------------------------------------------------
# scoreboard

def _fmt(flits):
    return "[" + ", ".join(f"{KIND_NAMES.get(k, k)}:{d:#x}" for k, d in flits) + "]"


class Scoreboard:
    """Checks a network's deliveries: each expected packet exactly once, at
    its destination, intact, in order per (source, destination) pair."""

    def __init__(self, W, H, flit_width=DEFAULT_FLIT_WIDTH):
        self.W, self.H = _check_mesh(W, H)
        self.flit_width = _check_width(flit_width)
        self._queues = {}
        self._outstanding = 0
        self.received = 0

    def expect(self, src, flits):
        """Register a well-formed packet injected at ``src``. Its head's src
        field must name ``src`` (that is how :meth:`receive` finds it) and
        its destination must lie in the mesh; ValueError otherwise."""
        src = _coord("src", src, self.W, self.H)
        packet = from_flits(flits, self.flit_width)
        if packet.src != src:
            raise ValueError(f"packet injected at {src} has src field {packet.src}")
        dst = _coord("dst", packet.dst, self.W, self.H)
        self._queues.setdefault((src, dst), deque()).append(
            tuple((int(k), int(d)) for k, d in flits))
        self._outstanding += 1

    def expect_all(self, expected):
        """Register every packet of a :func:`deliver` result."""
        for (src, _), packets in expected.items():
            for flits in packets:
                self.expect(src, flits)

    def receive(self, node, flits):
        """Check a packet delivered at ``node``; AssertionError on a wrong
        node, a malformed, duplicate, unexpected, reordered or corrupted
        packet. The matched packet is retired."""
        node = _coord("node", node, self.W, self.H)
        got = tuple((int(k), int(d)) for k, d in flits)
        try:
            packet = from_flits(got, self.flit_width)
        except ValueError as e:
            raise AssertionError(f"malformed packet at {node}: {e}: {_fmt(got)}") from None
        if packet.dst != node:
            raise AssertionError(f"packet for {packet.dst} delivered at {node}: {_fmt(got)}")
        src = packet.src
        queue = self._queues.get((src, node))
        if not queue:
            raise AssertionError(f"unexpected packet {src} -> {node} (duplicate or never "
                                 f"injected), none outstanding for that pair: {_fmt(got)}")
        want = queue[0]
        if got != want:
            later = [i for i, q in enumerate(queue) if q == got]
            if later:
                raise AssertionError(
                    f"out of order {src} -> {node}: received outstanding packet #{later[0]} "
                    f"before #0 {_fmt(want)}")
            if len(got) != len(want):
                diff = f"{len(got)} flits, expected {len(want)}"
            else:
                i = next(i for i in range(len(got)) if got[i] != want[i])
                diff = f"flit {i} is {got[i][0]}:{got[i][1]:#x}, expected {want[i][0]}:{want[i][1]:#x}"
            raise AssertionError(f"corrupted packet {src} -> {node}: {diff}; "
                                 f"got {_fmt(got)}, expected {_fmt(want)}")
        queue.popleft()
        self._outstanding -= 1
        self.received += 1

    def outstanding(self):
        """Number of expected packets not yet received."""
        return self._outstanding

    def check_empty(self):
        """AssertionError if any expected packet was never received."""
        if self._outstanding:
            missing = {pair: len(q) for pair, q in self._queues.items() if q}
            raise AssertionError(f"{self._outstanding} packet(s) never delivered, per "
                                 f"(src, dst): {missing}")


# --------------------------------------------------------------------------
# traffic patterns

def _uniform(src, W, H, rng):
    n = W * H
    if n == 1:
        return src
    k = rng.randrange(n - 1)
    if k >= src[1] * W + src[0]:
        k += 1                                   # skip src itself
    return (k % W, k // W)


def pattern_destination(pattern, src, W, H, rng):
    """Destination for a packet from ``src`` under a traffic pattern:
    ``"uniform"`` (any other node; src on a 1x1 mesh), ``"transpose"``
    (``(y, x)`` on a square mesh, ``(W-1-x, H-1-y)`` otherwise),
    ``"hotspot"`` (``(W//2, H//2)`` with probability 0.3, else uniform),
    ``"neighbour"`` (a random mesh neighbour; src if it has none).
    ``rng`` is a ``random.Random``."""
    W, H = _check_mesh(W, H)
    src = _coord("src", src, W, H)
    x, y = src
    if pattern == "uniform":
        return _uniform(src, W, H, rng)
    if pattern == "transpose":
        return (y, x) if W == H else (W - 1 - x, H - 1 - y)
    if pattern == "hotspot":
        if rng.random() < HOTSPOT_PROBABILITY:
            return (W // 2, H // 2)
        return _uniform(src, W, H, rng)
    if pattern == "neighbour":
        nbrs = [(x + sx, y + sy) for sx, sy in _STEP.values()
                if 0 <= x + sx < W and 0 <= y + sy < H]
        return rng.choice(nbrs) if nbrs else src
    raise ValueError(f"pattern = {pattern!r}: must be one of {', '.join(PATTERNS)}")
