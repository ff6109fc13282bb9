"""The callosum's flit and packet formats (mirrored by sw_model/callosum.py).

A flit on a link is ``{kind, data}``: kind bit 0 marks a head, bit 1 a tail
(BODY 0, HEAD 1, TAIL 2, SINGLE 3 = a one-flit packet). A head flit's data is
:func:`head_layout`: destination and source coordinates, packet type, the
number of flits that follow (0..15), and a payload in the remaining bits.
"""

from amaranth.hdl import unsigned
from amaranth.lib import data, enum

from sw_model import callosum as _golden

# One source of truth: flit kinds, packet types and port numbers are the
# golden model's (sw_model/callosum.py); the RTL only gives them shapes.
BODY, HEAD, TAIL, SINGLE = _golden.BODY, _golden.HEAD, _golden.TAIL, _golden.SINGLE
HEADER_BITS = _golden.PAYLOAD_OFFSET   # 19: the head fields before the payload

def _packet_type():
    """``sw_model.callosum.PacketType`` as an Amaranth enum of shape 3."""
    ns = enum.EnumType.__prepare__("PacketType", (enum.Enum,))
    for t in _golden.PacketType:
        ns[t.name] = t.value
    return enum.EnumType("PacketType", (enum.Enum,), ns, shape=3)


PacketType = _packet_type()
Port = _golden.Port   # N (y - 1), E (x + 1), S (y + 1), W (x - 1), L (local)


def link_layout(flit_width):
    return data.StructLayout({"kind": unsigned(2), "data": unsigned(flit_width)})


def head_layout(flit_width):
    return data.StructLayout({
        "dst_x": unsigned(3), "dst_y": unsigned(3),
        "src_x": unsigned(3), "src_y": unsigned(3),
        "ptype": PacketType, "length": unsigned(4),
        "payload": unsigned(flit_width - HEADER_BITS),
    })
