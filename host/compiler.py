"""Compile a :class:`host.network.Network` onto a Hemi chip configuration.

One layer per tile: Dense layers take the left tiles in ``cfg.chip.left``
order, Lif layers the right tiles in ``cfg.chip.right`` order. Everything
that could make the chip disagree with the golden model
(``sw_model.network``) is refused with a :class:`CompileError` before a
single packet is built. The resulting :class:`Program` gives the packets
that load the network (once), the packets of one inference, and decodes the
host-bound packets of an inference into the same form as the golden model's
:meth:`Program.expected`.

Wiring (registers per ``sw_model.chip_map``):

* a left tile sends its output vector to ``DEST``: the tile of the one layer
  that takes it (a Lif layer's rate encoder or a Dense layer), or the host;
* a right tile sends each spike to every entry of its output table: every
  Lif layer that takes it (at that layer's axon offset for this source plus
  the neuron) and, for ``raster`` layers, the host (axon = neuron); after the
  run (``WINDOW = steps``) it sends its int8 spike counts to ``COUNT_DEST``:
  the Dense layer that takes them, or the host. An output Lif layer whose
  counts also feed a Dense layer sends its spikes to the host, which counts
  them (:attr:`Program.host_counts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rtl.config import ConfigError, HemiConfig
from sw_model import chip_map as cm
from sw_model import right_stream as rs
from sw_model.callosum import PacketType
from sw_model.network import NetworkModel

from . import protocol as proto
from .network import INPUT, Network

__all__ = ["CompileError", "Program", "compile_network", "left_weight_rows", "diff_results"]

ACC_LIMIT = (1 << 23) - 1           # the right core's 24-bit synaptic accumulator
PER_NEURON_REGIONS = (rs.PARAM0, rs.PARAM1, rs.U, rs.V, rs.REF, rs.ACC)
STATE_REGIONS = (rs.U, rs.V, rs.REF, rs.ACC)


class CompileError(ValueError):
    """The network does not fit the chip, or would not run bit-exactly on it."""


# --------------------------------------------------------------------------
# left tile


def left_weight_rows(weights, rows, cols) -> np.ndarray:
    """The weight store's rows for a K x N layer, in the core's beat order:
    for each column tile nt, for each reduction tile kt, the rows of
    ``W[kt*rows:kt*rows+kr, nt*cols:nt*cols+nc]`` zero-padded to ``cols``
    lanes. ``K * ceil(N / cols)`` rows of ``cols`` int8."""
    w = np.asarray(weights, dtype=np.int64)
    K, N = w.shape
    out = []
    for n0 in range(0, N, cols):
        nc = min(cols, N - n0)
        for k0 in range(0, K, rows):
            kr = min(rows, K - k0)
            block = np.zeros((kr, cols), dtype=np.int64)
            block[:, :nc] = w[k0:k0 + kr, n0:n0 + nc]
            out.append(block)
    return np.concatenate(out)


def _left_writes(cfg, dense, dest) -> list:
    """Registers, weight rows and epilogue of one Dense layer's left tile."""
    L = cfg.left
    reg = lambda r: cm.address(cm.LeftBlock.TILE_REGS, r)    # noqa: E731
    writes = [(reg(cm.LeftReg.K), dense.k), (reg(cm.LeftReg.N), dense.size),
              (reg(cm.LeftReg.DEST), cm.node_word(*dest)),
              (reg(cm.LeftReg.EPI), (dense.zero_point & 0xFF) | (int(dense.relu) << 8))]
    wpr = cm.left_words_per_row(L.cols)
    for r, row in enumerate(left_weight_rows(dense.weights, L.rows, L.cols)):
        for j, word in enumerate(cm.pack_int8(row)):
            writes.append((cm.address(cm.LeftBlock.WEIGHTS, r * wpr + j), word))
    for block, values in ((cm.LeftBlock.BIAS, dense.bias), (cm.LeftBlock.MULT, dense.multiplier),
                          (cm.LeftBlock.SHIFT, dense.shift)):
        for ch, v in enumerate(values):
            writes.append((cm.address(block, cm.left_epi_offset(L.cols, ch)), int(v) & cm.WORD_MASK))
    return writes


# --------------------------------------------------------------------------
# right tile


def _neuron_offsets(R, neurons) -> set:
    return {rs.neuron_offset(R, n) for n in range(neurons)}


def _right_writes(cfg, lif, table, compiled, window, count_dest, dests) -> list:
    """Core config (only this layer's neurons), counter registers and the
    output table of one Lif layer's right tile. ``dests`` lists the spike
    destinations as ``(node, axon_base)``: neuron n goes to axon_base + n."""
    R = cfg.right
    params = {k: np.concatenate([np.asarray(v, dtype=np.int64),
                                 np.zeros(R.neurons - lif.neurons, dtype=np.int64)])
              for k, v in lif.params.items()}
    mine = _neuron_offsets(R, lif.neurons)
    off_mask = (1 << rs.REGION_SHIFT) - 1
    core = [(a, d) for a, d in rs.load_writes(R, params, table, lif.wexp, compiled)
            if (a >> rs.REGION_SHIFT) not in PER_NEURON_REGIONS or (a & off_mask) in mine]
    # Address order makes long bursts; the addresses are distinct and the
    # core is idle while loading, so the order of these writes is free.
    core.sort(key=lambda ad: ad[0])
    # The update walks only the groups that hold this layer's neurons.
    core.append((rs.addr(rs.REGS, rs.REG_GROUPS), -(-lif.neurons // R.lanes)))
    writes = [(cm.address(cm.RightBlock.CORE, a), d) for a, d in core]
    reg = lambda r: cm.address(cm.RightBlock.TILE_REGS, r)   # noqa: E731
    writes += [(reg(cm.RightReg.WINDOW), window), (reg(cm.RightReg.COUNT_DEST), cm.node_word(*count_dest)),
               (reg(cm.RightReg.COUNT_N), lif.neurons)]
    k = len(dests)
    for n in range(R.neurons):      # every neuron: memories keep old contents across reset
        count = k if n < lif.neurons else 0
        writes.append((cm.address(cm.RightBlock.OUT_PTR, n), (n * count) | (count << 16)))
    for n in range(lif.neurons):
        for j, ((x, y), base) in enumerate(dests):
            writes.append((cm.address(cm.RightBlock.OUT_DEST, n * k + j), cm.out_dest_word(x, y, base + n)))
    return writes


def _idle_right_writes(cfg) -> list:
    """A right tile the network does not use still takes every tick: whatever
    an earlier network left in it must stay inside. No counts, no spike
    destinations, no synapses, no neuron updates."""
    R = cfg.right
    return ([(cm.address(cm.RightBlock.TILE_REGS, cm.RightReg.WINDOW), 0),
             (cm.address(cm.RightBlock.CORE, rs.addr(rs.REGS, rs.REG_GROUPS)), 0)]
            + [(cm.address(cm.RightBlock.OUT_PTR, n), 0) for n in range(R.neurons)]
            + [(cm.address(cm.RightBlock.CORE, rs.addr(rs.PTR, a)), 0) for a in range(R.axons)])


# --------------------------------------------------------------------------
# checks (all before anything is built)


def _check_node(cfg, where, node):
    W, H = cfg.callosum.width, cfg.callosum.height
    if not (0 <= node[0] < W and 0 <= node[1] < H):
        raise CompileError(f"{where}: destination node {list(node)} is outside the {W} x {H} mesh")


def _place(network, cfg) -> dict:
    """Layer name -> (tile kind, node): one layer per tile, in order."""
    placement = {}
    for kind, layers, tiles in (("left", network.dense_layers, cfg.chip.left),
                                ("right", network.lif_layers, cfg.chip.right)):
        if len(layers) > len(tiles):
            what = "dense" if kind == "left" else "lif"
            raise CompileError(f"{len(layers)} {what} layers but config {cfg.name!r} has "
                               f"{len(tiles)} {kind} tile(s) (chip.{kind}); one layer per tile")
        for layer, node in zip(layers, tiles):
            placement[layer.name] = (kind, tuple(node))
    return placement


def _check_dense_fits(cfg, d):
    L = cfg.left
    where = f"dense layer {d.name!r}"
    if d.k > L.max_k:
        raise CompileError(f"{where}: K = {d.k} inputs, the left tile takes at most {L.max_k} (left.max_k)")
    if d.size > L.max_n:
        raise CompileError(f"{where}: N = {d.size} outputs, the left tile takes at most {L.max_n} "
                           f"(left.max_n)")
    rows = d.k * -(-d.size // L.cols)
    if rows > L.weight_rows:
        raise CompileError(f"{where}: needs {rows} weight rows (K * ceil(N / left.cols) = {d.k} * "
                           f"{-(-d.size // L.cols)}), the tile holds {L.weight_rows} (left.weight_rows)")


def _check_lif_fits(cfg, network, lif, table, n_dests):
    """Size, accumulator and table checks of one Lif layer; returns the
    compiled synapse rows."""
    R = cfg.right
    where = f"lif layer {lif.name!r}"
    if lif.neurons > R.neurons:
        raise CompileError(f"{where}: {lif.neurons} neurons, the right tile has {R.neurons} (right.neurons)")
    axons = network.total_axons(lif.name)
    if axons > R.axons:
        raise CompileError(f"{where}: its sources need {axons} axons, the right tile has {R.axons} "
                           f"(right.axons)")
    reach = np.zeros(lif.neurons, dtype=np.int64)
    for _, w in lif.inputs:
        reach += np.abs(w).sum(axis=0) << lif.wexp
    worst = int(np.argmax(reach))
    if reach[worst] > ACC_LIMIT:
        raise CompileError(f"{where}: neuron {worst}'s synapses sum to |w| << wexp = {int(reach[worst])} "
                           f"> 2**23 - 1: the 24-bit accumulator could saturate, and then the order of "
                           f"events within a step would change the result; lower the weights or wexp")
    try:
        compiled = rs.compile_synapses(R, table)
    except rs.SynapseTableError as e:
        raise CompileError(f"{where}: synapse table does not fit: {e}") from None
    entries = lif.neurons * n_dests
    if entries > R.output_entries:
        raise CompileError(f"{where}: {lif.neurons} neurons x {n_dests} spike destinations = {entries} "
                           f"output-table entries, the tile has {R.output_entries} (right.output_entries)")
    return compiled


def _dense_dest(network, placement, host, d):
    """The one node a Dense layer's output goes to (a left tile has one DEST)."""
    names = network.dense_consumers(d.name) + network.lif_consumers(d.name)
    takers = [placement[n][1] for n in names]
    if d.name in network.outputs:
        takers.append(host)
        names.append("host (outputs)")
    if len(takers) != 1:
        raise CompileError(f"dense layer {d.name!r}: its output goes to {len(takers)} places "
                           f"({', '.join(names) or 'none'}); a left tile has one DEST")
    return takers[0]


def _count_dest(network, placement, host, lif):
    """``(window, node, host_counts)``: where the layer's spike counts go
    after the run (window 0 = counting off when nobody takes them). A right
    tile has one COUNT_DEST: when a Dense layer takes the counts and the host
    wants them too, the host counts the layer's spikes itself
    (``host_counts``: the compiler adds the host to the output table)."""
    names = network.dense_consumers(lif.name)
    if len(names) > 1:
        raise CompileError(f"lif layer {lif.name!r}: its spike counts go to {len(names)} dense layers "
                           f"({', '.join(names)}); a right tile has one COUNT_DEST")
    wanted = lif.name in network.outputs
    if names:
        return network.steps, placement[names[0]][1], wanted
    return (network.steps, host, False) if wanted else (0, host, False)


def _check_values(network):
    """Re-run the network's validation (values may have been built by hand)."""
    try:
        network.validate()
    except ValueError as e:
        raise CompileError(str(e)) from None
    first = network.layers[0]
    if first.kind != "dense" or first.source != INPUT:
        raise CompileError(f"the first layer ({first.name!r}) must be a Dense layer with source "
                           f"{INPUT!r}: the host's vector enters through a left tile")


def compile_network(network, cfg) -> "Program":
    """Place and check ``network`` on ``cfg``; CompileError on anything the
    chip cannot run bit-exactly, before any packet exists."""
    # Wrong argument types used to end in an AttributeError from inside.
    if not isinstance(network, Network):
        raise CompileError(f"network is a {type(network).__name__}: must be a host.network.Network")
    if not isinstance(cfg, HemiConfig):
        raise CompileError(f"cfg is a {type(cfg).__name__}: must be a rtl.config.HemiConfig "
                           f"(rtl.config.load_config)")
    try:
        cfg.check_chip()
    except ConfigError as e:
        raise CompileError(f"chip placement: {e}") from None
    _check_values(network)
    placement = _place(network, cfg)
    host = cfg.chip.host
    _check_node(cfg, "host", host)
    for name, (_, node) in placement.items():
        _check_node(cfg, f"layer {name!r}", node)
    writes, offsets, counted = {}, {}, []
    for d in network.dense_layers:
        _check_dense_fits(cfg, d)
        writes[placement[d.name][1]] = _left_writes(cfg, d, _dense_dest(network, placement, host, d))
    for lif in network.lif_layers:
        offsets[lif.name] = network.axon_offsets(lif.name)
        window, count_dest, host_counts = _count_dest(network, placement, host, lif)
        if host_counts:
            counted.append(lif.name)
        dests = [(placement[c][1], network.axon_offsets(c)[lif.name]) for c in network.lif_consumers(lif.name)]
        if lif.name in network.raster or host_counts:
            dests.append((host, 0))
        table = network.synapse_table(lif.name)
        compiled = _check_lif_fits(cfg, network, lif, table, len(dests))
        writes[placement[lif.name][1]] = _right_writes(cfg, lif, table, compiled, window, count_dest, dests)
    for node in cfg.chip.right:
        if tuple(node) not in writes:
            writes[tuple(node)] = _idle_right_writes(cfg)
    writes[host] = [(cm.address(0, cm.HostReg.MARKERS), int(bool(network.raster)))]
    return Program(network=network, cfg=cfg, placement=placement, writes=writes, axon_offsets=offsets,
                   host_counts=tuple(counted))


# --------------------------------------------------------------------------
# the program


@dataclass
class Program:
    """A compiled network. ``placement``: layer -> (tile kind, node);
    ``writes``: node -> the (addr, data) writes that load it, in load order
    (left tiles, right tiles, then the host node); ``axon_offsets``: Lif
    layer -> {source: first axon}; ``host_counts``: output Lif layers whose
    counts go to a Dense layer, so the host counts their spikes instead."""

    network: object
    cfg: object
    placement: dict
    writes: dict
    axon_offsets: dict
    host_counts: tuple = ()
    _model: NetworkModel = field(default=None, init=False, repr=False)

    @property
    def host(self):
        return self.cfg.chip.host

    def node(self, name):
        return self.placement[name][1]

    def load_packets(self) -> list:
        """Everything loaded once: per tile, its writes grouped into WEIGHTS
        bursts and CONFIG_WRITE pairs; last the host node's MARKERS."""
        packets = []
        for node, writes in self.writes.items():
            packets += proto.writes_to_packets(self.host, node, writes)
        # A rate encoder keeps the last vector it was sent (memories and its
        # registers survive a new program); a right tile that no dense layer
        # feeds gets a one-element zero vector, which never spikes.
        fed = {self.node(lif.name) for lif in self.network.lif_layers if self.network.dense_source(lif)}
        for node in self.cfg.chip.right:
            if tuple(node) not in fed:
                packets += proto.activation(self.host, tuple(node), [0])
        return packets

    def _check_input(self, x):
        n = self.network.inputs
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as e:     # ragged lists: numpy's message did not say "x"
            raise ValueError(f"x: expected {n} int8 integers, got {type(x).__name__} ({e})") from None
        if x.dtype.kind not in "iu" or x.shape != (n,):
            raise ValueError(f"x: expected {n} int8 integers, got shape {x.shape} dtype {x.dtype}")
        if x.min() < -128 or x.max() > 127:
            raise ValueError(f"x: values {int(x.min())}..{int(x.max())} outside int8 -128..127")
        return [int(v) for v in x]

    def inference_packets(self, x) -> list:
        """One inference: zero U, V, REF and ACC of every Lif layer's neurons
        (the ACC zeroing also drops spikes sent in the previous run's last
        step, so send this only after its RUN_DONE), send ``x`` to the tile
        of each Dense layer fed by the input, then write RUN = steps."""
        x = self._check_input(x)
        R = self.cfg.right
        packets = []
        for lif in self.network.lif_layers:
            zero = [(cm.address(cm.RightBlock.CORE, rs.addr(region, rs.neuron_offset(R, n))), 0)
                    for region in STATE_REGIONS for n in range(lif.neurons)]
            packets += proto.writes_to_packets(self.host, self.node(lif.name), zero)
        for d in self.network.dense_layers:
            if d.source == INPUT:
                packets += proto.activation(self.host, self.node(d.name), x)
        packets.append(proto.host_write(self.cfg, cm.HostReg.RUN, self.network.steps))
        return packets

    def decode(self, packets) -> dict:
        """The host-bound packets of one inference, in arrival order, as
        ``{"outputs", "spikes", "run_done", "errors"}`` (see :meth:`expected`).
        A SPIKE from a raster layer's node belongs to the step of the latest
        STATUS STEP mark (marks are counted; their words are global step
        numbers); the outputs in ``host_counts`` are the int8 counts of their
        SPIKEs. READ_RESPONSE packets are skipped; anything that cannot be
        placed raises ProtocolError."""
        net = self.network
        out_nodes = {self.node(n): n for n in net.outputs if n not in self.host_counts}
        spike_nodes = {self.node(n): n for n in (*net.raster, *self.host_counts)}
        outputs, errors, run_done = {}, [], False
        spikes = {n: np.zeros((net.steps, net.size(n)), dtype=bool) for n in net.raster}
        counts = {n: np.zeros(net.size(n), dtype=np.int64) for n in self.host_counts}
        step = -1
        asm = proto.ActivationAssembler()
        for p in packets:
            if p.ptype == PacketType.STATUS:
                code, reason, word = proto.decode_status(p)
                if code == cm.Status.STEP:
                    step += 1
                    if step >= net.steps:
                        raise proto.ProtocolError(f"STEP mark #{step + 1} (word {word}) but the run has "
                                                  f"{net.steps} steps")
                elif code == cm.Status.RUN_DONE:
                    run_done = True
                else:
                    errors.append((reason, word))
            elif p.ptype == PacketType.SPIKE:
                self._take_spike(spike_nodes, spikes, counts, step, p)
            elif p.ptype == PacketType.ACTIVATION:
                done = asm.feed(p)
                if done is not None:
                    self._take_vector(outputs, out_nodes, *done)
            elif p.ptype != PacketType.READ_RESPONSE:
                raise proto.ProtocolError(f"unexpected {getattr(p.ptype, 'name', p.ptype)} packet "
                                          f"from {p.src} at the host")
        if asm.pending:
            raise proto.ProtocolError(f"vector(s) from {asm.pending} never ended (no ACT_LAST)")
        for name, c in counts.items():
            outputs[name] = np.minimum(c, 127).astype(np.int8)
        return {"outputs": outputs, "spikes": spikes, "run_done": run_done, "errors": errors}

    def _take_spike(self, spike_nodes, spikes, counts, step, p):
        name = spike_nodes.get(p.src)
        if name is None:
            raise proto.ProtocolError(f"SPIKE from {p.src}, which holds no raster layer")
        n = self.network.size(name)
        if p.head_payload >= n:
            raise proto.ProtocolError(f"SPIKE from {name!r}: neuron {p.head_payload} >= {n}")
        if name in counts:
            counts[name][p.head_payload] += 1
        if name in spikes:
            if step < 0:
                raise proto.ProtocolError(f"SPIKE from {name!r} before the first STEP mark "
                                          f"(is MARKERS on?)")
            spikes[name][step, p.head_payload] = True

    def _take_vector(self, outputs, out_nodes, src, values):
        name = out_nodes.get(src)
        if name is None:
            raise proto.ProtocolError(f"ACTIVATION vector from {src}, which holds no output layer")
        if name in outputs:
            raise proto.ProtocolError(f"second vector from {name!r} in one inference")
        n = self.network.size(name)
        if len(values) != -(-n // cm.ELEMENTS_PER_WORD) * cm.ELEMENTS_PER_WORD:
            raise proto.ProtocolError(f"vector from {name!r} has {len(values)} elements, expected {n} "
                                      f"(padded to whole words)")
        outputs[name] = np.array(values[:n], dtype=np.int8)

    def expected(self, x) -> dict:
        """What :meth:`decode` must return for input ``x``, from the golden
        model: int8 outputs (Dense vectors, int8 spike counts), the rasters,
        ``run_done`` True and no errors."""
        if self._model is None:
            self._model = NetworkModel(self.network)
        r = self._model.run(self._check_input(x))
        return {"outputs": dict(r.outputs),
                "spikes": {n: r.spikes[n] for n in self.network.raster},
                "run_done": True, "errors": []}


def diff_results(got: dict, want: dict) -> list:
    """Human-readable differences between two decode/expected dicts (empty
    when they agree), for benches and tests."""
    diffs = []
    for key in ("run_done", "errors"):
        if got.get(key) != want.get(key):
            diffs.append(f"{key}: got {got.get(key)!r}, expected {want.get(key)!r}")
    for key in ("outputs", "spikes"):
        g, w = got.get(key, {}), want.get(key, {})
        for name in sorted(set(g) | set(w)):
            if name not in g or name not in w:
                diffs.append(f"{key}[{name!r}]: {'missing' if name not in g else 'unexpected'}")
                continue
            a, b = np.asarray(g[name]), np.asarray(w[name])
            if a.shape != b.shape:
                diffs.append(f"{key}[{name!r}]: shape {a.shape}, expected {b.shape}")
            elif not np.array_equal(a, b):
                at = tuple(int(i) for i in np.argwhere(a != b)[0])
                diffs.append(f"{key}[{name!r}]: {int((a != b).sum())} element(s) differ, first at {at}: "
                             f"got {a[at]!r}, expected {b[at]!r}")
    return diffs
