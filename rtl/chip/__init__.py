"""The Hemi chip: tiles on the callosum, the host bridge and step
controller, and the generated top."""

from .arbiter import MessageArbiter
from .tile_port import BUS, SPIKE_IN, TilePort
from .vector_tx import ELEMENT, VectorSender

__all__ = ["MessageArbiter", "TilePort", "VectorSender", "BUS", "SPIKE_IN", "ELEMENT"]
