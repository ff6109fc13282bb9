"""Host side of the right core: the synapse-table compiler and the config
words that load a network (the same bits as rtl/right/layouts.py).

Synapse rows: the core adds one row of ``lanes`` entries per cycle, entry j
aimed at a neuron of lane j (neuron n lives in lane n % lanes, group
n // lanes). Each axon's synapses are bucketed by lane, keeping their order,
and its rows are the buckets read side by side: ``rows(axon) = max over lanes
of the bucket size``, which is ceil(fanout / lanes) when the targets spread
evenly over the lanes. Each neuron still receives its contributions in table
order, so the saturating accumulation is bit-exact with the golden model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REGION_SHIFT = 20
LANE_BITS = 4
REGS, PTR, SYN, PARAM0, PARAM1, U, V, REF, ACC = range(9)
REG_ID, REG_WEXP, REG_ERRORS, REG_CFG_ERRORS, REG_STEPS, REG_SOPS, \
    REG_INTEGRATE_CYCLES, REG_UPDATE_CYCLES, REG_SHAPE, REG_GROUPS = range(10)
ID_WORD = 0x48454D52


class SynapseTableError(ValueError):
    """The synapse table does not fit the core or names a bad neuron/axon/weight."""


def addr(region: int, offset: int) -> int:
    return (region << REGION_SHIFT) | offset


def neuron_offset(cfg, n: int) -> int:
    return ((n // cfg.lanes) << LANE_BITS) | (n % cfg.lanes)


@dataclass
class CompiledSynapses:
    ptr: dict            # axon -> (base row, rows)
    entries: list        # (row, lane, group, weight)
    rows_used: int

    def rows_of(self, axon: int) -> int:
        return self.ptr.get(axon, (0, 0))[1]


def compile_synapses(cfg, table: dict) -> CompiledSynapses:
    """Pack ``{axon: [(neuron, weight), ...]}`` into lane-aligned rows."""
    L = cfg.lanes
    ptr, entries, row = {}, [], 0
    for axon in sorted(table):
        if not 0 <= axon < cfg.axons:
            raise SynapseTableError(f"axon {axon} outside 0..{cfg.axons - 1} (right.axons = {cfg.axons})")
        buckets = [[] for _ in range(L)]
        for neuron, weight in table[axon]:
            if not 0 <= neuron < cfg.neurons:
                raise SynapseTableError(
                    f"axon {axon}: neuron {neuron} outside 0..{cfg.neurons - 1} (right.neurons = {cfg.neurons})")
            if not -128 <= weight <= 127:
                raise SynapseTableError(f"axon {axon} -> neuron {neuron}: weight {weight} outside int8")
            buckets[neuron % L].append((neuron // L, int(weight)))
        rows = max(len(b) for b in buckets)
        if rows > 0xFFFF:
            raise SynapseTableError(f"axon {axon}: {rows} synapse rows, at most 65535 per axon")
        ptr[axon] = (row if rows else 0, rows)   # an empty axon's base is unused
        for lane, bucket in enumerate(buckets):
            for r, (group, weight) in enumerate(bucket):
                entries.append((row + r, lane, group, weight))
        row += rows
    if row > cfg.synapse_rows:
        raise SynapseTableError(
            f"synapse table needs {row} rows of {L} entries, the core has {cfg.synapse_rows} "
            f"(right.synapse_rows); refused before loading")
    return CompiledSynapses(ptr=ptr, entries=entries, rows_used=row)


def param_words(du, dv, vth, bias_mant, bias_exp, refractory):
    """Per-neuron PARAM0/PARAM1 words (NumPy arrays in, int arrays out)."""
    p0 = (np.asarray(du) | (np.asarray(dv) << 12) | (np.asarray(bias_exp) << 24)
          | (np.asarray(refractory) << 27))
    p1 = np.asarray(vth) | ((np.asarray(bias_mant) & 0x1FFF) << 17)
    return p0.astype(np.int64), p1.astype(np.int64)


def load_writes(cfg, params: dict, table: dict, wexp: int, compiled=None):
    """Every config write that loads a network: the weight exponent, the
    pointer table, the synapse rows, every neuron's parameters, and a fresh
    state (u = v = 0, no refractory count, empty accumulator), since a reset
    clears the core's registers but not its memories. ``params`` holds per-neuron arrays (or scalars) for
    du, dv, vth, bias_mant, bias_exp, refractory. Returns [(addr, data)]."""
    compiled = compiled or compile_synapses(cfg, table)
    N = cfg.neurons
    full = {k: np.broadcast_to(np.asarray(params.get(k, 0), dtype=np.int64), (N,))
            for k in ("du", "dv", "vth", "bias_mant", "bias_exp", "refractory")}
    p0, p1 = param_words(**full)
    writes = [(addr(REGS, REG_WEXP), int(wexp))]
    for axon in range(cfg.axons):   # every axon: absent ones get no rows
        base, rows = compiled.ptr.get(axon, (0, 0))
        writes.append((addr(PTR, axon), base | (rows << 16)))
    filled = set()
    for row, lane, group, weight in compiled.entries:
        writes.append((addr(SYN, (row << LANE_BITS) | lane), (weight & 0xFF) | (group << 8) | (1 << 31)))
        filled.add((row, lane))
    # Slots a shorter lane bucket leaves empty are written invalid, so no
    # earlier table's entries survive in a used row.
    for row in range(compiled.rows_used):
        for lane in range(cfg.lanes):
            if (row, lane) not in filled:
                writes.append((addr(SYN, (row << LANE_BITS) | lane), 0))
    for n in range(N):
        off = neuron_offset(cfg, n)
        writes.append((addr(PARAM0, off), int(p0[n])))
        writes.append((addr(PARAM1, off), int(p1[n])))
        writes += [(addr(region, off), 0) for region in (U, V, REF, ACC)]
    return writes


def to_signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value
