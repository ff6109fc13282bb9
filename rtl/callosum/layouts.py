"""The callosum's flit and packet formats (mirrored by sw_model/callosum.py).

A flit on a link is ``{kind, data}``: kind bit 0 marks a head, bit 1 a tail
(BODY 0, HEAD 1, TAIL 2, SINGLE 3 = a one-flit packet). A head flit's data is
:func:`head_layout`: destination and source coordinates, packet type, the
number of flits that follow (0..15), and a payload in the remaining bits.
"""

import enum as py_enum

from amaranth.hdl import unsigned
from amaranth.lib import data, enum

BODY, HEAD, TAIL, SINGLE = 0, 1, 2, 3
HEADER_BITS = 19


class PacketType(enum.Enum, shape=3):
    SPIKE = 0
    ACTIVATION = 1
    WEIGHTS = 2
    CONFIG_WRITE = 3
    CONFIG_READ = 4
    READ_RESPONSE = 5


class Port(py_enum.IntEnum):
    N = 0   # towards y - 1
    E = 1   # towards x + 1
    S = 2   # towards y + 1
    W = 3   # towards x - 1
    L = 4   # the local node


def link_layout(flit_width):
    return data.StructLayout({"kind": unsigned(2), "data": unsigned(flit_width)})


def head_layout(flit_width):
    return data.StructLayout({
        "dst_x": unsigned(3), "dst_y": unsigned(3),
        "src_x": unsigned(3), "src_y": unsigned(3),
        "ptype": PacketType, "length": unsigned(4),
        "payload": unsigned(flit_width - HEADER_BITS),
    })
