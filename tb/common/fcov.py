"""Functional coverage for the benches, on cocotb-coverage.

A bench declares a cover point once with its bins and samples it as the test
runs::

    fcov.sample("left.epilogue.shift", shift, bins=range(32))

Names are ``<unit>.<group>.<what>``. Values that match no bin are ignored,
so a bench reduces a value to its bin first (``fcov.bucket``). Every stream
port of a bench is watched too: ``<unit>.backpressure.<port>`` has one bin,
hit when the port saw valid high with ready low at least once.

``export()`` writes the database of this simulator run to ``$TB_FCOV`` (a
YAML file; nothing is written when it is unset, as in ``make test``). It runs
by itself when the simulator's Python exits, after the last test.
``tools/coverage.py`` merges the files of every run and reports each bin.
"""

from __future__ import annotations

import atexit
import os

from cocotb_coverage.coverage import CoverPoint, coverage_db

_samplers: dict = {}
_ports: list = []


def unit() -> str:
    """The unit this simulator run belongs to (set by tb/sim.py)."""
    return os.environ.get("TB_UNIT", "bench")


def declare(name: str, bins) -> None:
    """Declare a cover point and its bins (idempotent)."""
    if name not in _samplers:
        point = CoverPoint(name, bins=list(bins))
        _samplers[name] = point(lambda value: None)


def sample(name: str, value, bins=None) -> None:
    """Count ``value`` in the bin it equals; declare the point on first use."""
    if name not in _samplers:
        if bins is None:
            raise KeyError(f"cover point {name!r} sampled before it was declared with its bins")
        declare(name, bins)
    _samplers[name](value)


def bucket(value: int, edges) -> str:
    """Name the range of ``edges`` that holds ``value``: with edges (0, 1, 8)
    the buckets are '0', '1..7' and '>=8' (and '<0' below the first edge)."""
    edges = list(edges)
    if value < edges[0]:
        return f"<{edges[0]}"
    for lo, hi in zip(edges, edges[1:]):
        if lo <= value < hi:
            return str(lo) if hi == lo + 1 else f"{lo}..{hi - 1}"
    return f">={edges[-1]}"


def buckets(edges, below: bool = False) -> list[str]:
    """The bucket names of ``edges``, for ``sample(..., bins=...)``; ``below``
    adds the '<first' bucket when values under the first edge can occur."""
    edges = list(edges)
    names = [f"<{edges[0]}"] if below else []
    names += [str(lo) if hi == lo + 1 else f"{lo}..{hi - 1}" for lo, hi in zip(edges, edges[1:])]
    return names + [f">={edges[-1]}"]


def watch_port(stream, direction: str) -> None:
    """Record a stream driver or monitor; its stalls are sampled at export."""
    _ports.append((stream, direction))


def export() -> None:
    path = os.environ.get("TB_FCOV")
    if not path:
        return
    for stream, _direction in _ports:
        name = f"{unit()}.backpressure.{stream.name}"
        declare(name, ["stalled"])
        hits = coverage_db[name].detailed_coverage
        if stream.stalls and not hits["stalled"]:
            sample(name, "stalled")
    coverage_db.export_to_yaml(path)


# The simulator's Python runs atexit handlers when the regression ends, so
# the file holds every test of the run, failed ones included.
atexit.register(export)
