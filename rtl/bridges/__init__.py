"""Hemisphere bridges: activations to spikes (rate encoder) and back."""

from .rate_encoder import RateEncoder
from .spike_counter import SpikeCounter

__all__ = ["RateEncoder", "SpikeCounter"]
