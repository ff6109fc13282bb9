"""The callosum: a 2D-mesh network-on-chip joining Hemi's hemispheres."""

from .layouts import PacketType, Port, head_layout, link_layout
from .mesh import Mesh, MeshBenchTop
from .router import Router
from .validator import PacketValidator

__all__ = ["Mesh", "MeshBenchTop", "Router", "PacketValidator", "PacketType", "Port",
           "head_layout", "link_layout"]
