"""Hemisphere bridges: activations to spikes (rate encoder) and back."""

from .rate_encoder import RateEncoder

__all__ = ["RateEncoder"]
