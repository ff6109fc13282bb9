"""The Hemi chip's protocol: packet conventions, address maps and register
numbers, shared by the RTL (rtl/chip/), the host library (host/) and the
golden model. Everything here is plain Python; the RTL gives it shapes.

Packets on the callosum (sw_model/callosum.py gives the flit format). Every
data flit carries one 32-bit word in its low bits (the chip needs
``flit_width >= 32``):

* ``CONFIG_WRITE``: words ``[addr, data, addr, data, ...]``, 2..14 words
  (an even count). No answer.
* ``WEIGHTS`` (burst write): words ``[addr, d0, d1, ...]``, 2..15 words;
  ``d_i`` goes to ``addr + i``. No answer.
* ``CONFIG_READ``: words ``[addr, ...]``, 1..15. Answered by one
  ``READ_RESPONSE`` to the packet's source with as many words, the data in
  the same order (unmapped addresses read 0 and count a tile error).
* ``ACTIVATION``: an int8 vector, 4 elements per word (element 4i + j in
  bits 8j..8j+7), 1..15 words per packet; head payload bit 0 (``ACT_LAST``)
  marks the packet that ends the vector. Vectors are padded with zeros to a
  whole word; a vector travels from one source at a time.
* ``SPIKE``: a single flit; the head payload is the destination axon.
* ``STATUS``: host bridge -> host only: head payload ``code`` (bits 3..0)
  and ``reason`` (bits 11..4), one word of detail (see :class:`Status`).

Addresses are 32-bit words: ``block << 28 | offset``. Every tile answers
register 0 of block ``TILE_REGS`` with its kind (:class:`NodeKind`).

The host bridge is the node where the host port enters the mesh. The host
sends and receives packets as words on a stream of ``flit_width``-bit words:
a head word (the head flit's data; the bridge fills in the source) followed
by ``length`` data words. Packets addressed to the host node itself are the
step controller's register accesses (:class:`HostReg`). A head the bridge
cannot accept is dropped with its words and answered with a ``STATUS``
error (:class:`ErrorReason`); the chip keeps working.
"""

from __future__ import annotations

from enum import IntEnum

from .callosum import PacketType

WORD_BITS = 32
WORD_MASK = (1 << WORD_BITS) - 1
ELEMENTS_PER_WORD = 4
ACT_LAST = 1                  # ACTIVATION head payload: this packet ends the vector
MAX_WORDS = 15                # data words per packet (the head's 4-bit length)
BLOCK_SHIFT = 28
OFFSET_MASK = (1 << BLOCK_SHIFT) - 1


class NodeKind(IntEnum):
    EMPTY = 0
    LEFT = 1
    RIGHT = 2
    HOST = 3


# --------------------------------------------------------------------------
# host bridge / step controller (the host node)

HOST_ID = 0x48454D49          # "HEMI"


class HostReg(IntEnum):
    """Registers of the host node (block 0). RO unless marked."""
    ID = 0x00          # HOST_ID
    RUN = 0x01         # write T (1..2**16-1): run T time steps; read: steps still to run
    STEPS = 0x02       # time steps completed since reset
    CYCLES = 0x03      # clock cycles since reset
    ERRORS = 0x04      # packets from the host refused (each answered with a STATUS error)
    STATE = 0x05       # bit 0: running; bit 1: the chip is quiet (nothing in flight, every tile idle)
    SHAPE = 0x06       # width [3:0], height [7:4], host x [10:8], host y [14:12], flit_width [23:16]
    MARKERS = 0x07     # rw: bit 0 = send a STATUS STEP mark to the host as each step starts
    INFLIGHT = 0x08    # packets injected into the mesh and not yet delivered
    FLITS = 0x09       # flits injected into the mesh since reset (every node, host included)
    BUSY_BASE = 0x40   # + node index (y * width + x): cycles that node's tile was busy
    KIND_BASE = 0x80   # + node index: the node's NodeKind


class Status(IntEnum):
    """STATUS packet codes (head payload bits 3..0)."""
    RUN_DONE = 1       # word: STEPS after the run (the chip is quiet again)
    STEP = 2           # word: the index (STEPS) of the step that starts now
    ERROR = 3          # word: the refused head word (BAD_REGISTER, BUSY: the register address);
                       # reason in payload bits 11..4


class ErrorReason(IntEnum):
    OFF_MESH = 1       # destination outside the mesh
    EMPTY_NODE = 2     # destination node holds no tile
    BAD_TYPE = 3       # packet type the destination does not take from the host
    BAD_LENGTH = 4     # word count wrong for the type (see the module docstring)
    BAD_REGISTER = 5   # host-node register that does not exist or is read-only
    BUSY = 6           # RUN written, or a tile read (CONFIG_READ), while a run is in progress


STATUS_CODE_BITS = 4


def status_payload(code, reason=0):
    return int(code) | (int(reason) << STATUS_CODE_BITS)


# --------------------------------------------------------------------------
# left tile: one dense layer resident (weights, epilogue) on a left core


class LeftBlock(IntEnum):
    TILE_REGS = 0
    WEIGHTS = 1        # offset: row * wpr + word, wpr = ceil(cols / 4); word w = columns 4w..4w+3
    BIAS = 2           # offset: tile << 5 | column: int32 bias of channel tile * cols + column
    MULT = 3           # same offsets: int32 requantization multiplier
    SHIFT = 4          # same offsets: right shift 0..31


class LeftReg(IntEnum):
    KIND = 0           # RO: NodeKind.LEFT
    K = 1              # rw: layer inputs, 1..max_k
    N = 2              # rw: layer outputs, 1..max_n
    DEST = 3           # rw: x [2:0], y [5:3]: where the output vector goes (ACTIVATION)
    EPI = 4            # rw: zero_point [7:0] (int8), relu [8]
    ERRORS = 5         # RO: refused accesses/packets at this tile
    GEMMS = 6          # RO: layers computed (one per input vector)
    CORE_ERRORS = 7    # RO: commands the left core refused


# The weight store holds, row after row, the weight beats of one GEMM command
# in the core's order (sw_model/left_stream.py): for each column tile nt, for
# each reduction tile kt, the min(rows, K - kt*rows) rows of
# W[kt*rows:, nt*cols:], lanes past N zero.


def left_words_per_row(cols):
    return -(-cols // ELEMENTS_PER_WORD)


def left_epi_offset(cols, channel):
    return ((channel // cols) << 5) | (channel % cols)


# --------------------------------------------------------------------------
# right tile: a right core, a rate encoder on its input, a spike counter and
# an output table on its output


class RightBlock(IntEnum):
    CORE = 0           # offset [23:0]: the right core's config address (rtl/right/layouts.py)
    TILE_REGS = 1
    OUT_PTR = 2        # offset: neuron; data: base [15:0], count [31:16] into OUT_DEST
    OUT_DEST = 3       # offset: entry; data: x [2:0], y [5:3], axon [18:6]


class RightReg(IntEnum):
    KIND = 0           # RO: NodeKind.RIGHT
    WINDOW = 1         # rw: steps per spike-count window, 1..255 (0 = counting off)
    COUNT_DEST = 2     # rw: x [2:0], y [5:3]: where each window's count vector goes
    COUNT_N = 3        # rw: neurons 0..COUNT_N-1 are counted and sent (1..neurons)
    ERRORS = 4         # RO: refused accesses/packets at this tile
    SPIKES_SENT = 5    # RO: SPIKE packets sent
    SPIKES_RECEIVED = 6  # RO: SPIKE packets received


def out_dest_word(x, y, axon):
    return (x & 7) | ((y & 7) << 3) | ((axon & 0x1FFF) << 6)


def node_word(x, y):
    return (x & 7) | ((y & 7) << 3)


def address(block, offset):
    if not 0 <= offset <= OFFSET_MASK:
        raise ValueError(f"offset {offset:#x} does not fit 28 bits")
    return (int(block) << BLOCK_SHIFT) | offset


# --------------------------------------------------------------------------
# int8 vectors in words

def pack_int8(values) -> list:
    """An int8 vector as words, 4 elements per word, zero padded."""
    vals = [int(v) for v in values]
    for i, v in enumerate(vals):
        if not -128 <= v <= 127:
            raise ValueError(f"element {i} = {v}: not int8")
    words = []
    for i in range(0, len(vals), ELEMENTS_PER_WORD):
        w = 0
        for j, v in enumerate(vals[i:i + ELEMENTS_PER_WORD]):
            w |= (v & 0xFF) << (8 * j)
        words.append(w)
    return words


def unpack_int8(words, n=None) -> list:
    """Words back to int8 elements (the first ``n`` if given)."""
    out = []
    for w in words:
        for j in range(ELEMENTS_PER_WORD):
            b = (w >> (8 * j)) & 0xFF
            out.append(b - 256 if b >= 128 else b)
    return out if n is None else out[:n]


__all__ = [name for name in dir() if not name.startswith("_")] + ["PacketType"]
