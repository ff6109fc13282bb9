"""Hostile inputs for the network description (host/network.py) and the chip
compiler (host/compiler.py), property-based.

* Layers and networks built from random and malformed arguments (wrong
  dtypes and shapes, out-of-range and huge values, zero-sized layers,
  duplicate names, dangling references) are either valid, holding exactly
  the values given, or refused with a ValueError naming the layer
  ("dense layer 'x': ...", "lif layer ...", "network: ...").
* Random small valid networks compile on roomy random configs, and the
  compiled register images, run by the functional chip of
  tests/test_compiler.py, decode to the golden model's ``expected``.
* On tight random configs, compile refuses exactly when a limit is passed,
  with a CompileError naming the first config key that is too small.
* A compiled program given input vectors of any dtype and shape, or
  host-bound packets of any kind, answers or raises ValueError("x: ...") /
  ProtocolError; compile_network given the wrong types raises CompileError.

Runs are reproducible (derandomized, no example database)."""

import operator

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from host import protocol as proto
from host.compiler import CompileError, compile_network, diff_results
from host.network import INPUT, Dense, Lif, Network
from rtl.config import ConfigError, HemiConfig, load_config
from sw_model.right import PARAM_RANGES, WEXP_MAX

# The functional chip built from the register images (compile -> packets ->
# chip -> decode); tests/ is on sys.path when pytest runs this file.
from test_compiler import simulate


def fast(n):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])


INT32 = (-(1 << 31), (1 << 31) - 1)
DENSE_RANGES = {"bias": INT32, "multiplier": (0, INT32[1]), "shift": (0, 31)}
HUGE = st.sampled_from([64, 100, 20000]).map(lambda e: 1 << e)
JUNK = st.one_of(st.none(), st.booleans(), st.floats(), st.text(max_size=3), HUGE, HUGE.map(operator.neg),
                 st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
                 st.lists(st.integers(-3, 3), max_size=3))
INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
DTYPES = INT_DTYPES + ["float32", "float64", "bool", "complex64", "U2"]


def is_int(v):
    return not isinstance(v, (bool, np.bool_)) and isinstance(v, (int, np.integer))


# --------------------------------------------------------------------------
# arrays of every kind


def arrays(shape, lo=-200, hi=200):
    """Integer arrays of ``shape`` (numpy of any integer dtype, or nested
    lists), values from lo..hi clipped to what the dtype can hold."""
    def in_dtype(dtype):
        info = np.iinfo(dtype)
        return hnp.arrays(dtype, shape, elements=st.integers(max(lo, int(info.min)), min(hi, int(info.max))))
    return st.one_of(st.sampled_from(INT_DTYPES).flatmap(in_dtype),
                     hnp.arrays("int64", shape, elements=st.integers(lo, hi)).map(lambda a: a.tolist()))


def hostile_arrays(shape):
    """Anything an array argument might be given."""
    shapes = st.one_of(st.just(shape), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    return st.one_of(
        shapes.flatmap(lambda s: arrays(s)),
        shapes.flatmap(lambda s: arrays(s, -(1 << 40), 1 << 40)),
        st.tuples(st.sampled_from(DTYPES), shapes).flatmap(lambda ds: hnp.arrays(ds[0], ds[1])),
        st.just(np.array([[2 ** 64 - 1]], dtype=np.uint64)),            # -1 if wrapped to int64
        st.just(np.array([[2 ** 63 + 5]], dtype=np.uint64)),
        st.lists(st.lists(st.integers(-5, 5), max_size=3), min_size=1, max_size=3),   # maybe ragged
        st.lists(st.lists(st.one_of(st.integers(-5, 5), HUGE), min_size=2, max_size=2), min_size=1, max_size=2),
        st.integers(-300, 300), JUNK)


def as_ints(value):
    """The integers an accepted argument holds (nested lists of Python ints)."""
    return np.asarray(value).tolist()


def in_range(arr, lo, hi):
    return all(lo <= v <= hi for v in np.asarray(arr).reshape(-1).tolist())


# --------------------------------------------------------------------------
# single layers from hostile arguments

NAMES = st.one_of(st.sampled_from(["d", "a", "layer 1", "input", "", "é"]), JUNK)
SCALARS = st.one_of(st.integers(-300, 300), st.integers(-(1 << 33), 1 << 33), HUGE, st.just(np.int8(-3)),
                    st.just(np.uint64(2 ** 64 - 1)), JUNK)


@fast(200)
@given(st.data())
def test_dense_from_hostile_arguments(data):
    """Valid arguments with at most one of them hostile: the layer holds
    exactly what it was given, or the ValueError names the layer and the
    hostile field."""
    draw = data.draw
    k, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    bad = draw(st.sampled_from([None, None, "name", "weights", "weights", "bias", "multiplier", "shift",
                                "zero_point", "relu", "source"]))
    scalar = bad == "weights"                # the per-channel fields then fit any N
    args = {"name": "d", "weights": draw(arrays((k, n), -128, 127)), "zero_point": draw(st.integers(-128, 127)),
            "relu": draw(st.sampled_from([True, False, np.True_])), "source": draw(st.sampled_from([INPUT, "x"]))}
    for f, (lo, hi) in DENSE_RANGES.items():
        args[f] = draw(st.integers(lo, hi) if scalar else st.one_of(st.integers(lo, hi), arrays((n,), lo, hi)))
    if bad is not None:
        hostile = {"name": NAMES, "weights": hostile_arrays((k, n)), "zero_point": SCALARS,
                   "relu": st.one_of(JUNK, st.integers(0, 1)), "source": NAMES}
        args[bad] = draw(hostile[bad] if bad in hostile else st.one_of(hostile_arrays((n,)), SCALARS))
    try:
        d = Dense(**args)
    except ValueError as e:
        assert type(e) is ValueError and str(e).startswith("dense layer "), str(e)
        assert bad is not None and (bad in str(e)), (bad, str(e))
        event(f"refused: {bad}")
        return
    event(f"accepted, hostile {bad}" if bad else "accepted")
    # Accepted: exactly the values given, read-only int64 copies, in range.
    name = args["name"]
    assert isinstance(name, str) and name and name != INPUT and d.name == name
    assert d.weights.dtype == np.int64 and d.weights.ndim == 2 and d.weights.size and not d.weights.flags.writeable
    assert d.weights.tolist() == as_ints(args["weights"]) and in_range(d.weights, -128, 127)
    for f, (lo, hi) in DENSE_RANGES.items():
        arr = getattr(d, f)
        assert arr.shape == (d.size,) and arr.dtype == np.int64 and not arr.flags.writeable
        given_ = as_ints(args[f])
        assert arr.tolist() == (given_ if isinstance(given_, list) else [given_] * d.size)
        assert in_range(arr, lo, hi)
    zp = args["zero_point"]
    assert type(d.zero_point) is int and d.zero_point == zp and -128 <= zp <= 127
    assert type(d.relu) is bool and d.relu == args["relu"]
    assert isinstance(args["source"], str) and args["source"] and d.source == args["source"]


PARAM_KEYS = list(PARAM_RANGES)


@fast(200)
@given(st.data())
def test_lif_from_hostile_arguments(data):
    """As for Dense: at most one hostile argument, named when refused."""
    draw = data.draw
    n = draw(st.integers(1, 5))
    bad = draw(st.sampled_from([None, None, "name", "neurons", "params", "params[]", "missing", "unknown",
                                "wexp", "inputs", "inputs[]"]))
    scalar = bad == "neurons"                 # the params then fit any neuron count
    params = {key: draw(st.integers(lo, hi) if scalar else st.one_of(st.integers(lo, hi), arrays((n,), lo, hi)))
              for key, (lo, hi) in PARAM_RANGES.items()}
    entry = st.tuples(st.sampled_from(["d", "a", "b"]),
                      st.integers(1, 4).flatmap(lambda r: arrays((r, n), -128, 127)))
    args = {"name": "l", "neurons": n, "params": params, "wexp": draw(st.integers(0, WEXP_MAX)),
            "inputs": () if scalar else draw(st.lists(entry, max_size=3, unique_by=lambda e: e[0]).map(tuple))}
    want = bad
    if bad in ("name", "neurons", "wexp"):
        args[bad] = draw({"name": NAMES, "neurons": st.one_of(st.integers(-2, 0), st.just(1 << 16),
                                                              st.just((1 << 16) + 1), SCALARS)}.get(bad, SCALARS))
    elif bad == "params":
        args["params"] = draw(JUNK)
    elif bad == "params[]":
        key = draw(st.sampled_from(PARAM_KEYS))
        params[key] = draw(st.one_of(st.integers(-5000, 140000), hostile_arrays((n,))))
        want = f"params[{key!r}]"
    elif bad == "missing":
        del params[draw(st.sampled_from(PARAM_KEYS))]
    elif bad == "unknown":
        for extra in draw(st.lists(st.one_of(st.sampled_from(["Du", "vth ", "tau"]), st.integers(0, 3), HUGE),
                                   min_size=1, max_size=3)):
            params[extra] = 0                   # str and int keys mixed
    elif bad == "inputs":
        args["inputs"] = draw(st.one_of(JUNK, st.text(max_size=3)))
    elif bad == "inputs[]":
        hostile = st.one_of(st.tuples(NAMES, hostile_arrays((2, n))), JUNK, st.text(min_size=2, max_size=2),
                            st.tuples(st.just("d"), arrays((2, n), -128, 127), st.just(1)),
                            st.just(args["inputs"][:1]))
        inputs = list(args["inputs"])
        inputs.insert(draw(st.integers(0, len(inputs))), draw(hostile))
        args["inputs"] = tuple(inputs)
        want = ("inputs", "weights from")
    try:
        lif = Lif(**args)
    except ValueError as e:
        assert type(e) is ValueError and str(e).startswith("lif layer "), str(e)
        assert bad is not None and any(w in str(e) for w in ((want,) if isinstance(want, str) else want)), \
            (want, str(e))
        event(f"refused: {bad}")
        return
    event(f"accepted, hostile {bad}" if bad else "accepted")
    n, name, params, wexp, inputs = args["neurons"], args["name"], args["params"], args["wexp"], args["inputs"]
    assert isinstance(name, str) and name and name != INPUT and lif.name == name
    assert type(lif.neurons) is int and lif.neurons == n and 1 <= n <= 1 << 16
    assert set(lif.params) == set(PARAM_KEYS) == set(params)
    for key, (lo, hi) in PARAM_RANGES.items():
        arr = lif.params[key]
        given_ = as_ints(params[key])
        assert arr.shape == (n,) and not arr.flags.writeable and in_range(arr, lo, hi)
        assert arr.tolist() == (given_ if isinstance(given_, list) else [given_] * n)
    assert type(lif.wexp) is int and lif.wexp == wexp and 0 <= wexp <= WEXP_MAX
    assert len(lif.inputs) == len(inputs) and len({s for s, _ in lif.inputs}) == len(inputs)
    for (src, w), (src0, w0) in zip(lif.inputs, inputs):
        assert src == src0 and isinstance(src, str) and src
        assert w.shape[1] == n and w.shape[0] >= 1 and w.tolist() == as_ints(w0) and in_range(w, -128, 127)


# --------------------------------------------------------------------------
# valid small networks, built by construction


def lif_params(draw, n):
    return {k: draw(st.one_of(st.integers(lo, hi), hnp.arrays("int64", (n,), elements=st.integers(lo, hi))))
            for k, (lo, hi) in PARAM_RANGES.items()}


def weights(draw, rows, cols, lo=-128, hi=127):
    return draw(arrays((rows, cols), lo, hi))


def dense_layer(draw, name, k, n, source):
    return Dense(name, weights(draw, k, n), draw(st.integers(-5000, 5000)),
                 draw(st.one_of(st.integers(1 << 28, INT32[1]), arrays((n,), 0, INT32[1]))),
                 draw(st.integers(0, 12)), zero_point=draw(st.integers(-128, 127)), relu=draw(st.booleans()),
                 source=source)


@st.composite
def small_networks(draw, max_size=8):
    """A random valid network of one of the shapes the chip runs: a Dense
    chain, or Dense -> Lif (-> Lif) (-> Dense on the counts), with
    self/recurrent Lif edges, random outputs and rasters."""
    size = st.integers(1, max_size)
    k = draw(size)
    steps = draw(st.integers(1, 6))
    n0 = draw(size)
    layers = [dense_layer(draw, "d0", k, n0, INPUT)]
    if draw(st.integers(0, 3)) == 0:                         # a Dense chain
        last, n = "d0", n0
        for i in range(1, draw(st.integers(1, 3))):
            m = draw(size)
            layers.append(dense_layer(draw, f"d{i}", n, m, last))
            last, n = f"d{i}", m
        return Network(k, tuple(layers), steps, outputs=(last,))
    na = draw(size)
    two = draw(st.booleans())
    nb = draw(size) if two else 0
    a_in = [("d0", weights(draw, n0, na))]
    if draw(st.booleans()):
        a_in.append(("a", weights(draw, na, na)))
    if two and draw(st.booleans()):
        a_in.append(("b", weights(draw, nb, na)))
    lifs = [Lif("a", na, lif_params(draw, na), wexp=draw(st.integers(0, WEXP_MAX)), inputs=tuple(a_in))]
    if two:
        b_in = [("a", weights(draw, na, nb))] + ([("b", weights(draw, nb, nb))] if draw(st.booleans()) else [])
        lifs.append(Lif("b", nb, lif_params(draw, nb), wexp=draw(st.integers(0, WEXP_MAX)), inputs=tuple(b_in)))
    layers += lifs
    names = [l.name for l in lifs]
    outputs = draw(st.lists(st.sampled_from(names), unique=True))
    if draw(st.booleans()):                                  # a Dense layer on some Lif's counts
        src = draw(st.sampled_from(names))
        n = draw(size)
        layers.append(dense_layer(draw, "c", dict(a=na, b=nb)[src], n, src))
        outputs.append("c")
    raster = draw(st.lists(st.sampled_from(names), unique=True))
    return Network(k, tuple(layers), steps, outputs=tuple(draw(st.permutations(outputs))), raster=tuple(raster))


@st.composite
def roomy_configs(draw, n_left=3, n_right=2):
    """A valid config every small network fits, placement inside the mesh."""
    W, H = draw(st.integers(2, 4)), draw(st.integers(2, 4))
    need = 1 + n_left + n_right
    if W * H < need:
        W, H = 3, 2
    nodes = draw(st.permutations([[x, y] for x in range(W) for y in range(H)]))
    extra = draw(st.integers(0, W * H - need))
    cut = n_left + draw(st.integers(0, extra))
    rest = nodes[1:need + extra]
    return HemiConfig.from_dict({
        "left": {"rows": draw(st.integers(1, 8)), "cols": draw(st.integers(1, 8)), "max_k": 16, "max_n": 16,
                 "weight_rows": 128, "epilogue": draw(st.sampled_from(["parallel", "serial"]))},
        "right": {"neurons": draw(st.integers(16, 24)), "axons": draw(st.integers(32, 40)),
                  "lanes": draw(st.integers(1, 4)), "synapse_rows": 512, "output_entries": 64},
        "callosum": {"width": W, "height": H, "flit_width": draw(st.sampled_from([32, 48, 64])),
                     "local_check": draw(st.booleans())},
        "chip": {"host": nodes[0], "left": rest[:cut], "right": rest[cut:]},
    }, name="roomy")


def check_expected(program, x):
    net = program.network
    want = program.expected(x)
    assert set(want["outputs"]) == set(net.outputs)
    for name, v in want["outputs"].items():
        assert v.dtype == np.int8 and v.shape == (net.size(name),)
    assert set(want["spikes"]) == set(net.raster)
    for name, s in want["spikes"].items():
        assert s.dtype == bool and s.shape == (net.steps, net.size(name))
    assert want["run_done"] is True and want["errors"] == []
    return want


@fast(60)
@given(small_networks(), roomy_configs(), st.data())
def test_valid_small_networks_compile_and_match_the_golden_model(network, cfg, data):
    program = compile_network(network, cfg)
    kinds = {l.name: ("left" if l.kind == "dense" else "right") for l in network.layers}
    assert {n: k for n, (k, _) in program.placement.items()} == kinds
    nodes = [node for _, node in program.placement.values()]
    assert len(set(nodes)) == len(nodes)
    fw = cfg.callosum.flit_width
    x = data.draw(hnp.arrays("int64", (network.inputs,), elements=st.integers(-128, 127)))
    packets = program.load_packets() + program.inference_packets(x)
    assert proto.parse_packets(proto.stream_words(packets, fw), fw) == packets
    tiles = {cfg.chip.host, *cfg.chip.left, *cfg.chip.right}
    assert all(p.src == cfg.chip.host and p.dst in tiles for p in packets)
    want = check_expected(program, x)
    assert diff_results(program.decode(simulate(program, x)), want) == []


@fast(30)
@given(small_networks(max_size=10), st.sampled_from(["default", "tiny"]), st.data())
def test_small_networks_on_the_shipped_configs(network, name, data):
    cfg = load_config(name)
    try:
        program = compile_network(network, cfg)
    except CompileError as e:
        # tiny has one left tile: only "too many layers" is possible here.
        assert "chip.left" in str(e) or "chip.right" in str(e), str(e)
        return
    x = data.draw(hnp.arrays("int8", (network.inputs,)))
    check_expected(program, x)


# --------------------------------------------------------------------------
# tight configs: refused exactly when a limit is passed, naming it


@st.composite
def tight_configs(draw, n_dense, n_lif):
    """Valid configs with limits around the sizes of small_networks(20),
    tile counts around the network's needs, the placement mostly inside the
    mesh."""
    n_left = max(0, n_dense + draw(st.sampled_from([0, 0, 1, 0, -1, 0])))
    n_right = max(0, n_lif + draw(st.sampled_from([0, 0, 1, 0, -1, 0])))
    if n_left + n_right == 0:
        n_left = 1
    need = 1 + n_left + n_right
    W = draw(st.integers(1, 4))
    if -(-need // W) > 4:
        W = 4
    H = draw(st.integers(-(-need // W), 4))
    outside = draw(st.integers(0, 9)) == 5            # (hypothesis favours the ends of ranges)
    grid = [(x, y) for x in range(5 if outside else W) for y in range(5 if outside else H)]
    nodes = draw(st.permutations(grid))[:need]

    def limit(lo, hi, roomy):                          # tight, or (about half the time) roomy
        return draw(st.one_of(st.just(roomy), st.integers(lo, hi)))
    return HemiConfig.from_dict({
        "left": {"rows": draw(st.integers(1, 8)), "cols": draw(st.integers(1, 8)),
                 "max_k": limit(1, 24, 64), "max_n": limit(1, 24, 64), "weight_rows": limit(1, 200, 1024)},
        "right": {"neurons": limit(16, 20, 64), "axons": limit(16, 48, 128), "lanes": draw(st.integers(1, 4)),
                  "synapse_rows": limit(1, 100, 4096), "output_entries": limit(1, 60, 1024)},
        "callosum": {"width": W, "height": H,
                     "flit_width": draw(st.sampled_from([32, 32, 32, 32, 24, 32, 32, 31, 32, 40, 64]))},
        "chip": {"host": list(nodes[0]), "left": [list(n) for n in nodes[1:1 + n_left]],
                 "right": [list(n) for n in nodes[1 + n_left:]]},
    }, name="tight")


def first_limit(network, cfg):
    """The config key compile_network must name first, or None if it fits:
    written from the chip's limits, in compile_network's order of checks."""
    W, H = cfg.callosum.width, cfg.callosum.height
    for node in (cfg.chip.host, *cfg.chip.left, *cfg.chip.right):
        if node[0] >= W or node[1] >= H:
            return "outside the"
    if cfg.callosum.flit_width < 32:
        return "callosum.flit_width"
    dense = [l for l in network.layers if l.kind == "dense"]
    lifs = [l for l in network.layers if l.kind == "lif"]
    if len(dense) > len(cfg.chip.left):
        return "chip.left"
    if len(lifs) > len(cfg.chip.right):
        return "chip.right"
    L, R = cfg.left, cfg.right
    for d in dense:
        k, n = d.weights.shape
        if k > L.max_k:
            return "left.max_k"
        if n > L.max_n:
            return "left.max_n"
        if k * -(-n // L.cols) > L.weight_rows:
            return "left.weight_rows"
    for lif in lifs:
        if lif.neurons > R.neurons:
            return "right.neurons"
        ordered = [(s, w) for s, w in lif.inputs if network.layer(s).kind == "dense"] + \
                  [(s, w) for s, w in lif.inputs if network.layer(s).kind != "dense"]
        if sum(w.shape[0] for _, w in ordered) > R.axons:
            return "right.axons"
        rows = 0
        for _, w in ordered:
            for row in w:
                lanes = [0] * R.lanes
                for neuron in np.flatnonzero(row):
                    lanes[neuron % R.lanes] += 1
                rows += max(lanes)
        if rows > R.synapse_rows:
            return "right.synapse_rows"
        fed_to_dense = any(l.kind == "dense" and l.source == lif.name for l in network.layers)
        dests = sum(any(s == lif.name for s, _ in l.inputs) for l in lifs) + \
            (lif.name in network.raster or (lif.name in network.outputs and fed_to_dense))
        if lif.neurons * dests > R.output_entries:
            return "right.output_entries"
    return None


@fast(200)
@given(small_networks(max_size=20), st.data())
def test_tight_configs_refuse_exactly_when_a_limit_is_passed(network, data):
    cfg = data.draw(tight_configs(len([l for l in network.layers if l.kind == "dense"]),
                                  len([l for l in network.layers if l.kind == "lif"])))
    key = first_limit(network, cfg)
    if key is None:
        program = compile_network(network, cfg)
        assert set(program.placement) == {l.name for l in network.layers}
        event("fits")
    else:
        with pytest.raises(CompileError) as e:
            compile_network(network, cfg)
        assert key in str(e.value), (key, str(e.value))
        event(f"refused: {key}")


# --------------------------------------------------------------------------
# networks from hostile parts: duplicates, dangling references, junk


FOUR_BY_FOUR = {"callosum": {"width": 4, "height": 4},
                "chip": {"host": [0, 0], "left": [[0, 1], [0, 2], [0, 3], [1, 0]],
                         "right": [[1, 1], [1, 2], [1, 3], [2, 0]]}}


def compile_or_refuse(network):
    """Compile on a roomy 4 x 4 chip: a CompileError, or a program whose
    golden model runs."""
    try:
        program = compile_network(network, HemiConfig.from_dict(FOUR_BY_FOUR))
    except CompileError as e:
        assert type(e) is CompileError and str(e)
        return "compile refused"
    check_expected(program, np.zeros(network.inputs, dtype=np.int64))
    return "compiled"


def renamed(layer, name):
    if layer.kind == "dense":
        return Dense(name, layer.weights, layer.bias, layer.multiplier, layer.shift, layer.zero_point,
                     layer.relu, layer.source)
    return Lif(name, layer.neurons, dict(layer.params), layer.wexp, layer.inputs)


CHANGES = ["duplicate name", "dangling source", "dangling input", "self source", "drop a layer", "shuffle",
           "junk layer", "inputs", "steps", "junk output", "dangling output", "output twice", "junk raster",
           "dense raster", "layers not a tuple"]


@fast(200)
@given(small_networks(max_size=4), st.data())
def test_networks_with_one_hostile_change(network, data):
    """A valid network with one hostile change: refused with a ValueError
    saying what is wrong, or (where the change can be harmless) a network
    that compiles or is refused with a CompileError."""
    draw = data.draw
    layers, inputs, steps = list(network.layers), network.inputs, network.steps
    outputs, raster = list(network.outputs), list(network.raster)
    dense = [i for i, l in enumerate(layers) if l.kind == "dense"]
    lifs = [i for i, l in enumerate(layers) if l.kind == "lif" and l.inputs]
    skip = {"duplicate name", "drop a layer"} if len(layers) == 1 else set()
    skip |= set() if lifs else {"dangling input"}
    skip |= set() if outputs else {"output twice"}
    change = draw(st.sampled_from([c for c in CHANGES if c not in skip]))
    want = None                              # the refusal this change must cause, if it must
    if change == "duplicate name":
        i, j = draw(st.lists(st.integers(0, len(layers) - 1), min_size=2, max_size=2, unique=True))
        layers[i] = renamed(layers[i], layers[j].name)
        want = "two layers are named"
    elif change == "dangling source":
        i = draw(st.sampled_from(dense))
        l = layers[i]
        layers[i] = Dense(l.name, l.weights, l.bias, l.multiplier, l.shift, l.zero_point, l.relu, "zz")
        want = "source 'zz' is not 'input' or a layer"
    elif change == "dangling input":
        i = draw(st.sampled_from(lifs))
        l = layers[i]
        layers[i] = Lif(l.name, l.neurons, dict(l.params), l.wexp, (("zz", l.inputs[0][1]), *l.inputs[1:]))
        want = "source 'zz' is not a layer"
    elif change == "self source":
        i = draw(st.sampled_from(dense))
        l = layers[i]
        layers[i] = Dense(l.name, l.weights, l.bias, l.multiplier, l.shift, l.zero_point, l.relu, l.name)
        want = "cannot feed itself"
    elif change == "drop a layer":
        del layers[draw(st.integers(0, len(layers) - 1))]
    elif change == "shuffle":
        layers = draw(st.permutations(layers))
    elif change == "junk layer":
        layers.insert(draw(st.integers(0, len(layers))), draw(JUNK))
        want = "is a"
    elif change in ("inputs", "steps"):
        value = draw(st.one_of(st.integers(-3, 0), st.sampled_from([1 << 16 + 1, 256]), JUNK))
        inputs, steps = (value, steps) if change == "inputs" else (inputs, value)
        if not (change == "steps" and is_int(value) and 1 <= value <= 255):
            want = ("network: inputs = ", "rows but source") if change == "inputs" else "network: steps = "
    elif change == "junk output":
        outputs.append(draw(JUNK))
        want = "network: outputs names"
    elif change == "dangling output":
        outputs.append(draw(st.sampled_from(["zz", INPUT, ""])))
        want = "network: outputs names"
    elif change == "output twice":
        outputs.append(outputs[0])
        want = "twice"
    elif change == "junk raster":
        raster.append(draw(st.one_of(JUNK, st.just("zz"))))
        want = "network: raster names"
    elif change == "dense raster":
        raster.append(layers[0].name)
        want = "a dense layer; only Lif layers spike"
    elif change == "layers not a tuple":
        layers = draw(st.one_of(st.just(layers[0]), st.text(max_size=3), st.none(), st.integers(), st.just({})))
        want = "network: layers must be a tuple"
    try:
        net = Network(inputs, tuple(layers) if isinstance(layers, list) else layers, steps,
                      outputs=tuple(outputs), raster=tuple(raster))
    except ValueError as e:
        msg = str(e)
        assert type(e) is ValueError and msg.startswith(("network", "dense layer ", "lif layer ")), msg
        if want is not None:
            assert any(w in msg for w in ((want,) if isinstance(want, str) else want)), (want, msg)
        event(f"{change}: refused")
        return
    assert want is None, f"{change} accepted"
    event(f"{change}: {compile_or_refuse(net)}")


@st.composite
def layer_pool(draw):
    """Layers with names and sources drawn from a small set, so duplicate
    names, dangling sources and cycles are common."""
    count = draw(st.integers(1, 4))
    names = draw(st.permutations(["a", "b", "c", "d"]))[:count]
    if count > 1 and draw(st.integers(0, 9)) == 5:
        names[-1] = names[0]                             # now and then a duplicate name
    out = []
    for i, name in enumerate(names):                     # all sizes 1: the wiring is what varies
        # Mostly wired to earlier layers (the first Dense from the input),
        # sometimes to anything: later layers, itself, the input, nothing.
        sources = st.one_of(st.sampled_from(names[:i] or [INPUT]), st.sampled_from([*names, INPUT, "zz"]))
        if i == 0 or draw(st.booleans()):
            out.append(Dense(name, weights(draw, 1, 1, -3, 3), 0, INT32[1], 0, source=draw(sources)))
        else:
            ins = draw(st.lists(st.tuples(sources, st.just(1)), max_size=2, unique_by=lambda t: t[0]))
            out.append(Lif(name, 1, lif_params(draw, 1),
                           inputs=tuple((s, weights(draw, r, 1, -3, 3)) for s, r in ins)))
    return out


@fast(200)
@given(layer_pool(), st.just(1), st.integers(1, 3),
       st.lists(st.sampled_from(["d", "c", "b", "a", "zz"]), max_size=3),
       st.lists(st.sampled_from(["d", "c", "b", "a"]), max_size=2))
def test_networks_from_random_parts(layers, inputs, steps, outputs, raster):
    """Random layers wired by name: a ValueError naming the problem, or a
    network that compiles or is refused with a CompileError."""
    try:
        network = Network(inputs, tuple(layers), steps, outputs=tuple(outputs), raster=tuple(raster))
    except ValueError as e:
        assert type(e) is ValueError and str(e).startswith(("network", "dense layer ", "lif layer ")), str(e)
        event("network refused")
        return
    # Accepted: unique names, every reference resolves, sizes agree.
    names = [l.name for l in network.layers]
    assert len(set(names)) == len(names)
    for l in network.layers:
        for src, rows in ([(l.source, l.k)] if l.kind == "dense" else [(s, w.shape[0]) for s, w in l.inputs]):
            assert (src == INPUT and l.kind == "dense") or src in names
            assert rows == network.size(src)
    assert set(network.outputs) <= set(names) and set(network.raster) <= set(names)
    event(compile_or_refuse(network))


@fast(150)
@given(small_networks(max_size=4), st.data())
def test_compiler_rechecks_tampered_layers(network, data):
    """Values changed behind the frozen dataclasses' back are refused."""
    layer = data.draw(st.sampled_from(network.layers))
    if layer.kind == "dense":
        field = data.draw(st.sampled_from(["weights", "bias", "multiplier", "shift"]))
        lo, hi = {"weights": (-128, 127), **DENSE_RANGES}[field]
        arr = getattr(layer, field).copy()
        arr.reshape(-1)[data.draw(st.integers(0, arr.size - 1))] = data.draw(
            st.one_of(st.integers(hi + 1, hi + 1000), st.integers(lo - 1000, lo - 1)))
        object.__setattr__(layer, field, arr)
        want = rf"dense layer '{layer.name}': {field}\["
    else:
        key = data.draw(st.sampled_from(PARAM_KEYS))
        lo, hi = PARAM_RANGES[key]
        params = dict(layer.params)
        params[key] = params[key].copy()
        params[key][data.draw(st.integers(0, layer.neurons - 1))] = hi + data.draw(st.integers(1, 9))
        object.__setattr__(layer, "params", params)
        want = rf"lif layer '{layer.name}': params\['{key}'\]"
    with pytest.raises(CompileError, match=want):
        compile_network(network, load_config())


@pytest.mark.parametrize("network,cfg", [(None, "default"), ("net", "default"), ("ok", None), ("ok", "tiny.toml"),
                                         ("ok", {"left": {}})])
def test_compile_network_wrong_argument_types(network, cfg):
    ok = Network(1, (Dense("d", [[1]], 0, 1, 0),), 1, outputs=("d",))
    network = ok if network == "ok" else network
    cfg = load_config(cfg) if cfg == "default" else cfg
    with pytest.raises(CompileError, match="must be a"):
        compile_network(network, cfg)


# --------------------------------------------------------------------------
# the program's inputs: x vectors and host-bound packets


@fast(100)
@given(small_networks(max_size=4), st.data())
def test_hostile_input_vectors(network, data):
    program = compile_network(network, HemiConfig.from_dict(
        {"callosum": {"width": 3, "height": 2},
         "chip": {"host": [0, 0], "left": [[0, 1], [1, 1], [2, 1]], "right": [[1, 0], [2, 0]]}}))
    n = network.inputs
    x = data.draw(st.one_of(
        hnp.arrays(st.sampled_from(DTYPES), st.one_of(st.just((n,)), hnp.array_shapes(min_dims=0, max_dims=2))),
        st.lists(st.one_of(st.integers(-130, 130), HUGE, st.floats(), st.text(max_size=1)),
                 min_size=n, max_size=n),
        st.lists(st.lists(st.integers(0, 3), max_size=2), min_size=1, max_size=3), JUNK))
    arr = None
    try:
        arr = np.asarray(x)
    except ValueError:
        pass
    ok = (arr is not None and arr.dtype.kind in "iu" and arr.shape == (n,)
          and in_range(arr, -128, 127))
    for f in (program.expected, program.inference_packets):
        if ok:
            assert f(x)
        else:
            with pytest.raises(ValueError, match=r"^x: ") as e:
                f(x)
            assert type(e.value) is ValueError


HOST_BOUND = st.one_of(
    st.builds(lambda src, code, reason, w: proto.Packet(src, (0, 0), 6, code | reason << 4, w),
              st.tuples(st.integers(0, 2), st.integers(0, 1)), st.sampled_from([1, 2, 2, 2, 3, 0, 9]),
              st.integers(0, 6), st.lists(st.integers(0, 99), min_size=0, max_size=2).map(tuple)),
    st.builds(lambda src, axon: proto.spike(src, (0, 0), axon),
              st.tuples(st.integers(0, 2), st.integers(0, 1)), st.integers(0, 20)),
    st.builds(lambda src, values: proto.activation(src, (0, 0), values)[0],
              st.tuples(st.integers(0, 2), st.integers(0, 1)), st.lists(st.integers(-128, 127), min_size=1,
                                                                        max_size=16)),
    st.builds(lambda src, t, p, w: proto.Packet(src, (0, 0), t, p, w),
              st.tuples(st.integers(0, 7), st.integers(0, 7)), st.integers(0, 7), st.integers(0, 3),
              st.lists(st.integers(0, 9), max_size=3).map(tuple)))


@fast(150)
@given(small_networks(max_size=4), st.lists(HOST_BOUND, max_size=12))
def test_decode_of_hostile_host_bound_packets(network, packets):
    cfg = HemiConfig.from_dict({"callosum": {"width": 3, "height": 2},
                                "chip": {"host": [0, 0], "left": [[0, 1], [1, 1], [2, 1]],
                                         "right": [[1, 0], [2, 0]]}})
    program = compile_network(network, cfg)
    try:
        got = program.decode(packets)
    except proto.ProtocolError as e:
        assert str(e)
        event("refused")
        return
    event("decoded")
    assert set(got) == {"outputs", "spikes", "run_done", "errors"}
    assert set(got["outputs"]) <= set(network.outputs) and set(got["spikes"]) == set(network.raster)
    assert got["run_done"] == any(p.ptype == 6 and p.head_payload & 0xF == 1 for p in packets)


def test_config_errors_reach_the_compiler_as_config_or_compile_errors():
    """A config problem is a ConfigError where the config is built, and a
    CompileError naming it where only the placement is wrong for the mesh."""
    net = Network(1, (Dense("d", [[1]], 0, 1, 0),), 1, outputs=("d",))
    with pytest.raises(ConfigError, match=r"callosum\.width = 9"):
        HemiConfig.from_dict({"callosum": {"width": 9}})
    cfg = HemiConfig.from_dict({"callosum": {"width": 1, "height": 1}, "chip": {"host": [0, 0], "left": [[0, 1]]}})
    with pytest.raises(CompileError, match=r"chip placement: chip\.left\[0\] = \[0, 1\]: outside the 1 x 1 mesh"):
        compile_network(net, cfg)
