"""Host-port framing and packet builders for the Hemi chip.

The conventions are those of :mod:`sw_model.chip_map` (the spec); this module
only turns them into words and back. The host port carries words of
``flit_width`` bits: a packet is its head word (the head flit's data,
:func:`sw_model.callosum.pack_head`) followed by ``length`` data words. The
host fills in its own node as the source; the bridge overwrites it anyway.

Builders return lists of :class:`~sw_model.callosum.Packet` (split to the
15-word limit), except :func:`spike` and :func:`host_write`, which are always
one packet. Everything raises :class:`ProtocolError` (a ``ValueError``) with
a message naming the offending value.
"""

from __future__ import annotations

import operator

from sw_model import chip_map as cm
from rtl.config import shown as _shown
from sw_model._checks import int_scalar
from sw_model.callosum import (
    DEFAULT_FLIT_WIDTH, MAX_FLIT_WIDTH, MIN_FLIT_WIDTH, Packet, PacketType, pack_head, unpack_head,
)

__all__ = [
    "ProtocolError", "MAX_PAIRS", "MAX_BURST", "MAX_AXON",
    "packet_words", "stream_words", "PacketParser", "parse_packets",
    "config_write", "burst_write", "config_read", "activation", "spike",
    "host_write", "host_read", "writes_to_packets",
    "decode_status", "read_response", "ActivationAssembler", "assemble_activations",
]

MAX_PAIRS = (cm.MAX_WORDS - 1) // 2   # (addr, data) pairs per CONFIG_WRITE: 7
MAX_BURST = cm.MAX_WORDS - 1          # data words per WEIGHTS packet after its addr: 14
MAX_AXON = 0x1FFF                     # 13 bits: the smallest head payload (flit_width 32)


class ProtocolError(ValueError):
    """A word stream or packet that breaks the host-port conventions."""


def _check(name, value, lo, hi):
    """``value`` as an int in ``lo..hi``, else ProtocolError naming it."""
    try:
        return int_scalar(name, value, lo, hi)
    except ValueError as e:
        try:
            repr(value)
        except ValueError:                      # int_scalar could not print it (see _shown)
            what = "out of range, allowed" if isinstance(value, int) else "must be an integer in"
            raise ProtocolError(f"{name} = {_shown(value)}: {what} {lo}..{hi}") from None
        raise ProtocolError(str(e)) from None


def _packet(src, dst, ptype, head_payload=0, words=()):
    """A Packet whose nodes are checked here: Packet itself raises a plain
    ValueError on a bad node, where the builders promise ProtocolError."""
    for name, xy in (("src", src), ("dst", dst)):
        try:
            x, y = xy
        except (TypeError, ValueError):
            raise ProtocolError(f"{name} = {_shown(xy)}: must be an (x, y) pair") from None
        _check(f"{name} x", x, 0, 7)
        _check(f"{name} y", y, 0, 7)
    return Packet(src, dst, ptype, head_payload, words)


def _width(flit_width):
    return _check("flit_width", flit_width, MIN_FLIT_WIDTH, MAX_FLIT_WIDTH)


# --------------------------------------------------------------------------
# framing


def packet_words(packet: Packet, flit_width=DEFAULT_FLIT_WIDTH) -> list[int]:
    """The words the host port carries for ``packet``: head, then data."""
    fw = _width(flit_width)
    # The payload is checked here (same message as pack_head's) so that an
    # int too long to print still gets a message naming it (see _shown).
    payload = _check(f"packet {packet.src} -> {packet.dst}: payload", packet.head_payload,
                     0, (1 << (fw - 19)) - 1)
    try:
        head = pack_head(packet.dst[0], packet.dst[1], packet.src[0], packet.src[1],
                         int(packet.ptype), len(packet.words), payload, flit_width=fw)
    except ValueError as e:
        raise ProtocolError(f"packet {packet.src} -> {packet.dst}: {e}") from None
    top = (1 << fw) - 1
    return [head] + [_check(f"packet {packet.src} -> {packet.dst} word {i}", w, 0, top)
                     for i, w in enumerate(packet.words)]


def stream_words(packets, flit_width=DEFAULT_FLIT_WIDTH) -> list[int]:
    """Several packets as one host-port word stream, in order."""
    return [w for p in packets for w in packet_words(p, flit_width)]


class PacketParser:
    """Incremental host-port parser: :meth:`feed` any slice of the word
    stream and get the packets it completes; a packet split across calls is
    kept until its last word arrives. A bad word raises ProtocolError and
    leaves the parser as it was before that word: the words before it are
    taken, and the packets they completed come out of the next call (an
    empty ``feed([])`` is enough)."""

    def __init__(self, flit_width=DEFAULT_FLIT_WIDTH):
        self.flit_width = _width(flit_width)
        self._top = (1 << self.flit_width) - 1
        self._head = None          # unpacked head of the packet being collected
        self._words = []
        self.words_seen = 0        # position in the stream, for error messages
        self._ready = []           # packets completed by a call that then hit a bad word

    @property
    def pending(self) -> bool:
        """True while a packet has started but not all its words arrived."""
        return self._head is not None

    def _word(self, w):
        try:
            val = operator.index(w)
        except TypeError:
            val = None
        if val is None or isinstance(w, bool) or not 0 <= val <= self._top:
            raise ProtocolError(f"word {self.words_seen} = {_shown(w)}: not a {self.flit_width}-bit "
                                f"word (0..{self._top:#x})")
        return val

    def _packet(self, h, words):
        return Packet(src=(h["src_x"], h["src_y"]), dst=(h["dst_x"], h["dst_y"]),
                      ptype=h["ptype"], head_payload=h["payload"], words=tuple(words))

    def feed(self, words) -> list[Packet]:
        """Take more words; return the packets completed by them."""
        out, self._ready = self._ready, []
        for w in words:
            try:
                w = self._word(w)
            except ProtocolError:
                # Keep what the words before it completed: raising used to
                # drop these packets although their words had been taken.
                self._ready = out
                raise
            self.words_seen += 1
            if self._head is None:
                h = unpack_head(w, self.flit_width)
                if h["length"] == 0:
                    out.append(self._packet(h, ()))
                else:
                    self._head, self._words = h, []
            else:
                self._words.append(w)
                if len(self._words) == self._head["length"]:
                    out.append(self._packet(self._head, self._words))
                    self._head, self._words = None, []
        return out

    def describe_pending(self) -> str:
        """One line on the unfinished packet (for error messages)."""
        if self._head is None:
            return "no packet pending"
        h = self._head
        return (f"{getattr(h['ptype'], 'name', h['ptype'])} packet to "
                f"({h['dst_x']}, {h['dst_y']}) announced {h['length']} words, "
                f"{len(self._words)} arrived")


def parse_packets(words, flit_width=DEFAULT_FLIT_WIDTH) -> list[Packet]:
    """A complete word stream as packets; ProtocolError if it ends inside one."""
    parser = PacketParser(flit_width)
    packets = parser.feed(words)
    if parser.pending:
        raise ProtocolError(f"stream ends inside a packet: {parser.describe_pending()}")
    return packets


# --------------------------------------------------------------------------
# builders


def _word32(name, value):
    return _check(name, value, 0, cm.WORD_MASK)


def config_write(src, dst, pairs) -> list[Packet]:
    """CONFIG_WRITE packets of at most 7 ``(addr, data)`` pairs each."""
    flat = []
    for i, pair in enumerate(pairs):
        try:
            a, d = pair
        except (TypeError, ValueError):
            raise ProtocolError(f"config write {i} = {pair!r}: must be an (addr, data) pair") from None
        flat += [_word32(f"config write {i} addr", a), _word32(f"config write {i} data", d)]
    step = 2 * MAX_PAIRS
    return [_packet(src, dst, PacketType.CONFIG_WRITE, 0, tuple(flat[i:i + step]))
            for i in range(0, len(flat), step)]


def burst_write(src, dst, addr, data_words) -> list[Packet]:
    """WEIGHTS packets ``[addr, d0, .., d13]``; a long burst is split and each
    packet's address advanced, so ``data_words[i]`` lands at ``addr + i``."""
    data = [_word32(f"burst word {i}", d) for i, d in enumerate(data_words)]
    addr = _word32("burst addr", addr)
    if data and addr + len(data) - 1 > cm.WORD_MASK:
        raise ProtocolError(f"burst of {len(data)} words at {addr:#x} runs past address {cm.WORD_MASK:#x}")
    return [_packet(src, dst, PacketType.WEIGHTS, 0, (addr + i, *data[i:i + MAX_BURST]))
            for i in range(0, len(data), MAX_BURST)]


def config_read(src, dst, addrs) -> list[Packet]:
    """CONFIG_READ packets of at most 15 addresses each (each answered by one
    READ_RESPONSE with as many words)."""
    words = [_word32(f"read addr {i}", a) for i, a in enumerate(addrs)]
    return [_packet(src, dst, PacketType.CONFIG_READ, 0, tuple(words[i:i + cm.MAX_WORDS]))
            for i in range(0, len(words), cm.MAX_WORDS)]


def activation(src, dst, int8_values) -> list[Packet]:
    """An int8 vector as ACTIVATION packets (4 elements a word, at most 15
    words a packet); the final packet's head payload carries ACT_LAST."""
    try:
        values = list(int8_values)
    except TypeError as e:
        raise ProtocolError(f"activation vector: {e}") from None
    # Integers only, checked here: pack_int8 takes int(v), which truncated
    # floats (1.7 -> 1) and strings ("5"), and raised a bare OverflowError on
    # inf; and its message cannot print an int of more than 4300 digits.
    for i, v in enumerate(values):
        try:
            val = None if isinstance(v, bool) else operator.index(v)
        except TypeError:
            val = None
        if val is None:
            raise ProtocolError(f"activation vector: element {i} = {_shown(v)}: not an integer")
        if not -128 <= val <= 127:
            raise ProtocolError(f"activation vector: element {i} = {_shown(v)}: not int8")
    words = cm.pack_int8(values)
    if not words:
        raise ProtocolError("activation vector is empty: a vector needs at least one element")
    chunks = [tuple(words[i:i + cm.MAX_WORDS]) for i in range(0, len(words), cm.MAX_WORDS)]
    return [_packet(src, dst, PacketType.ACTIVATION,
                   cm.ACT_LAST if i == len(chunks) - 1 else 0, c) for i, c in enumerate(chunks)]


def spike(src, dst, axon) -> Packet:
    """One SPIKE (a lone head flit, the axon in its payload)."""
    return _packet(src, dst, PacketType.SPIKE, _check("spike axon", axon, 0, MAX_AXON))


def host_write(cfg, reg, value) -> Packet:
    """A write to a host-node register (:class:`sw_model.chip_map.HostReg`)."""
    host = cfg.chip.host
    return config_write(host, host, [(cm.address(0, _check("host register", reg, 0, cm.OFFSET_MASK)),
                                      value)])[0]


def host_read(cfg, regs) -> list[Packet]:
    """Reads of host-node registers (answered by READ_RESPONSE packets)."""
    host = cfg.chip.host
    return config_read(host, host, [cm.address(0, _check(f"host register {i}", r, 0, cm.OFFSET_MASK))
                                    for i, r in enumerate(regs)])


def writes_to_packets(src, dst, writes, min_burst=3) -> list[Packet]:
    """A list of ``(addr, data)`` writes as few packets as is simple: runs of
    at least ``min_burst`` consecutive addresses become WEIGHTS bursts, the
    rest CONFIG_WRITE pairs. Write order is kept exactly (a pair packet is
    closed before a burst starts), so repeated addresses end as in the list."""
    checked = []
    for i, write in enumerate(writes):
        try:
            a, d = write
        except (TypeError, ValueError):     # used to escape as a bare unpacking error
            raise ProtocolError(f"write {i} = {_shown(write)}: must be an (addr, data) pair") from None
        checked.append((_word32(f"write {i} addr", a), _word32(f"write {i} data", d)))
    writes = checked
    packets, pairs = [], []
    i = 0
    while i < len(writes):
        j = i + 1
        while j < len(writes) and writes[j][0] == writes[j - 1][0] + 1:
            j += 1
        if j - i >= min_burst:
            packets += config_write(src, dst, pairs)
            pairs = []
            packets += burst_write(src, dst, writes[i][0], [d for _, d in writes[i:j]])
        else:
            pairs += writes[i:j]
        i = j
    return packets + config_write(src, dst, pairs)


# --------------------------------------------------------------------------
# decoders


def _expect_type(packet, ptype):
    if packet.ptype != ptype:
        raise ProtocolError(f"expected a {ptype.name} packet, got {getattr(packet.ptype, 'name', packet.ptype)} "
                            f"from {packet.src}")


def decode_status(packet: Packet):
    """A STATUS packet as ``(Status, reason, word)``; ``reason`` is an
    :class:`~sw_model.chip_map.ErrorReason` where known (0 unless ERROR)."""
    _expect_type(packet, PacketType.STATUS)
    code = packet.head_payload & ((1 << cm.STATUS_CODE_BITS) - 1)
    reason = (packet.head_payload >> cm.STATUS_CODE_BITS) & 0xFF
    if code not in cm.Status._value2member_map_:
        raise ProtocolError(f"STATUS from {packet.src}: unknown code {code}")
    if len(packet.words) != 1:
        raise ProtocolError(f"STATUS from {packet.src}: {len(packet.words)} words, expected 1")
    if reason in cm.ErrorReason._value2member_map_:
        reason = cm.ErrorReason(reason)
    return cm.Status(code), reason, packet.words[0]


def read_response(packet: Packet) -> tuple:
    """The data words of a READ_RESPONSE, in the order the addresses were read."""
    _expect_type(packet, PacketType.READ_RESPONSE)
    return packet.words


class ActivationAssembler:
    """Reassembles int8 vectors from ACTIVATION packets, per source node, so
    vectors from different sources may interleave at the host."""

    def __init__(self):
        self._parts = {}

    @property
    def pending(self) -> list:
        """Source nodes with a vector started but not ended (no ACT_LAST yet)."""
        return [src for src, words in self._parts.items() if words]

    def feed(self, packet: Packet):
        """Take one ACTIVATION packet; return ``(src, elements)`` when it ends
        a vector (elements padded with zeros to a whole word), else None."""
        _expect_type(packet, PacketType.ACTIVATION)
        if not 1 <= len(packet.words) <= cm.MAX_WORDS:
            raise ProtocolError(f"ACTIVATION from {packet.src}: {len(packet.words)} words, "
                                f"allowed 1..{cm.MAX_WORDS}")
        words = self._parts.setdefault(packet.src, [])
        words += [w & cm.WORD_MASK for w in packet.words]
        if packet.head_payload & cm.ACT_LAST:
            del self._parts[packet.src]
            return packet.src, cm.unpack_int8(words)
        return None


def assemble_activations(packets) -> list:
    """Every complete vector in ``packets`` as ``(src, elements)``, in the
    order their last packets arrive; ProtocolError on an unfinished vector."""
    asm = ActivationAssembler()
    out = [v for v in (asm.feed(p) for p in packets) if v is not None]
    if asm.pending:
        raise ProtocolError(f"vector(s) from {asm.pending} never ended (no packet with ACT_LAST)")
    return out
