"""The Hemi chip: tiles on the callosum, the host bridge and step
controller, and the generated top."""

from .arbiter import MessageArbiter
from .host_bridge import HostBridge
from .left_tile import LeftTile
from .right_tile import RightTile
from .tile_port import BUS, SPIKE_IN, TilePort
from .top import Chip
from .vector_tx import ELEMENT, VectorSender

__all__ = ["Chip", "HostBridge", "LeftTile", "RightTile", "MessageArbiter", "TilePort", "VectorSender", "BUS", "SPIKE_IN", "ELEMENT"]
