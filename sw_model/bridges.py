"""Golden models of the hemisphere bridges.

Left to right, an int8 activation vector becomes spike events over T time
steps through a deterministic integrate-and-fire rate encoder: each element
keeps an accumulator that starts at 0; every step it adds the element's value
(negative values count as 0), and if the accumulator has reached 128 the
element spikes and 128 is taken off. An element spikes at most once per step
(values are below 128) and ``floor(T * max(x, 0) / 128)`` times in T steps.

Right to left, the spike counts of a T-step window become an int8 vector,
saturated at 127.
"""

from __future__ import annotations

import numpy as np

RATE_THRESHOLD = 128


def rate_encode(x, steps: int) -> np.ndarray:
    """Spike raster of an int8 vector (or a batch, last axis = elements):
    a bool array of shape ``(steps, *x.shape)``."""
    x = np.asarray(x, dtype=np.int64)
    if x.size and (x.min() < -128 or x.max() > 127):
        raise ValueError("rate_encode: values must be int8 (-128..127)")
    if steps < 1:
        raise ValueError(f"rate_encode: steps = {steps}: must be at least 1")
    drive = np.maximum(x, 0)
    acc = np.zeros_like(drive)
    raster = np.zeros((steps, *x.shape), dtype=bool)
    for t in range(steps):
        acc = acc + drive
        fire = acc >= RATE_THRESHOLD
        acc = acc - fire * RATE_THRESHOLD
        raster[t] = fire
    return raster


def events_per_step(raster: np.ndarray) -> list[list[int]]:
    """A (steps, elements) raster as per-step lists of element ids, increasing
    (the order the bridge sends them)."""
    return [np.nonzero(row)[0].tolist() for row in raster]


def counts_to_int8(counts) -> np.ndarray:
    """Spike counts of a window as int8, saturating at 127."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.size and counts.min() < 0:
        raise ValueError("counts_to_int8: counts cannot be negative")
    return np.minimum(counts, 127)
