"""The callosum: a 2D-mesh network-on-chip joining Hemi's hemispheres."""

from .layouts import PacketType, Port, head_layout, link_layout
from .mesh import Mesh, MeshBenchTop
from .ni import NetworkInterface, rx_layout, tx_layout, tx_word
from .router import Router
from .validator import PacketValidator

__all__ = ["Mesh", "MeshBenchTop", "NetworkInterface", "tx_layout", "tx_word", "rx_layout", "Router", "PacketValidator", "PacketType", "Port",
           "head_layout", "link_layout"]
