"""Hostile inputs for the config loader (rtl/config.py), property-based.

Every dict handed to ``HemiConfig.from_dict`` and every file handed to
``load_config`` ends either in a valid :class:`HemiConfig` (every field of
its declared type and in range) or in a :class:`ConfigError`; where one
specific key is bad, the message names it as ``section.key``. Valid configs
round-trip through a dict and through TOML text.

Runs are reproducible (derandomized, no example database) and small enough
for ``make unit``."""

import atexit
import dataclasses
import json
import shutil
import string
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from rtl.config import ChipConfig, ConfigError, HemiConfig, load_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def fast(n):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# --------------------------------------------------------------------------
# the spec: every key of every section and what it accepts

INT, CHOICE, BOOL = "int", "choice", "bool"
SPEC = {
    "left": {"rows": (INT, 1, 32), "cols": (INT, 1, 32), "acc_depth": (INT, 1, 65535),
             "act_bits": (CHOICE, (8,)), "acc_bits": (CHOICE, (32,)), "weight_rows": (INT, 1, 65536),
             "max_k": (INT, 1, 4096), "max_n": (INT, 1, 4096), "epilogue": (CHOICE, ("parallel", "serial"))},
    "right": {"neurons": (INT, 16, 4096), "axons": (INT, 16, 4096), "lanes": (INT, 1, 16),
              "synapse_rows": (INT, 1, 65536), "output_entries": (INT, 1, 65536),
              "lif_input_regs": (BOOL,)},
    "callosum": {"width": (INT, 1, 8), "height": (INT, 1, 8), "flit_width": (INT, 24, 128),
                 "fifo_depth": (INT, 0, 64), "local_check": (BOOL,)},
}
SCALAR_SECTIONS = list(SPEC)
ALL_KEYS = {s: [f.name for f in dataclasses.fields(HemiConfig.SECTIONS[s])] for s in HemiConfig.SECTIONS}


def test_spec_covers_every_config_field():
    """A new config field needs hostile coverage here too."""
    for section in SCALAR_SECTIONS:
        assert set(SPEC[section]) == set(ALL_KEYS[section]), section
    assert set(ALL_KEYS["chip"]) == {"host", "left", "right", "link_slices", "counter_bits"}
    assert set(HemiConfig.SECTIONS) == set(SPEC) | {"chip"}


def valid_value(spec):
    kind = spec[0]
    if kind == INT:
        return st.integers(spec[1], spec[2])
    if kind == CHOICE:
        return st.sampled_from(spec[1])
    return st.booleans()


def is_valid(spec, v):
    kind = spec[0]
    if kind == INT:
        return type(v) is int and spec[1] <= v <= spec[2]
    if kind == CHOICE:
        return any(type(v) is type(a) and v == a for a in spec[1])
    return type(v) is bool


# Values of every wrong kind, plus the near misses of each kind of key.
HUGE = st.one_of(st.integers(1 << 63, 1 << 70), st.integers(-(1 << 70), -(1 << 63)),
                 st.sampled_from([20000, -20000]).map(lambda e: (1 << abs(e)) * (1 if e > 0 else -1)))
JUNK_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(), HUGE,
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([8.0, 32.0, 1.0, 16.0, -0.0]),
    st.text(max_size=12), st.sampled_from(["8", "32", "parallel ", "PARALLEL", "true", "serial\0"]),
    st.binary(max_size=4),
)
JUNK = st.recursive(JUNK_LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner),
    st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=8)


def bad_value(spec):
    kind = spec[0]
    if kind == INT:
        near = st.one_of(st.integers(max_value=spec[1] - 1), st.integers(min_value=spec[2] + 1),
                         st.sampled_from([float(spec[1]), float(spec[2]), True, False, str(spec[1])]))
    elif kind == CHOICE:
        near = st.sampled_from([*(float(a) for a in spec[1] if isinstance(a, int)),
                                *(str(a) for a in spec[1]), *([a] for a in spec[1]), True, False, 0, -8])
    else:
        near = st.sampled_from([0, 1, "true", "false", 1.0, [True], None])
    return st.one_of(near, JUNK).filter(lambda v: not is_valid(spec, v))


# --------------------------------------------------------------------------
# valid configs

NODES = [(x, y) for x in range(8) for y in range(8)]


@st.composite
def placements(draw):
    nodes = draw(st.lists(st.sampled_from(NODES), min_size=2, max_size=10, unique=True))
    host, rest = nodes[0], nodes[1:]
    n_left = draw(st.integers(0, len(rest)))
    left, right = rest[:n_left], rest[n_left:]
    return {"host": list(host), "left": [list(n) for n in left], "right": [list(n) for n in right]}


@st.composite
def valid_dicts(draw):
    data = {}
    for section in draw(st.lists(st.sampled_from(SCALAR_SECTIONS + ["chip"]), unique=True)):
        if section == "chip":
            chip = draw(placements())
            keys = draw(st.lists(st.sampled_from(["host", "left", "right"]), unique=True))
            # Leaving out left or right keeps the default there; only keep
            # subsets that still leave a tile and no shared node.
            sub = {k: chip[k] for k in keys}
            try:
                ChipConfig(**sub)
            except ConfigError:
                sub = chip
            if draw(st.booleans()):
                sub = {**sub, "link_slices": draw(st.booleans())}
            if draw(st.booleans()):
                sub = {**sub, "counter_bits": draw(st.integers(16, 32))}
            data["chip"] = sub
        else:
            keys = draw(st.lists(st.sampled_from(list(SPEC[section])), unique=True))
            data[section] = {k: draw(valid_value(SPEC[section][k])) for k in keys}
    return data


def to_toml(data) -> str:
    def lit(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v)
        return "[" + ", ".join(lit(x) for x in v) + "]"
    lines = []
    for section, table in data.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {lit(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def check_types(cfg):
    """A loaded config holds exactly the declared types, in range."""
    assert isinstance(cfg, HemiConfig)
    for section, keys in SPEC.items():
        for key, spec in keys.items():
            v = getattr(getattr(cfg, section), key)
            assert is_valid(spec, v), f"{section}.{key} = {v!r} accepted"
    chip = cfg.chip
    nodes = [chip.host, *chip.left, *chip.right]
    assert all(type(n) is tuple and len(n) == 2 and all(type(c) is int and 0 <= c <= 7 for c in n)
               for n in nodes)
    assert len(set(nodes)) == len(nodes) and (chip.left or chip.right)
    assert type(chip.left) is tuple and type(chip.right) is tuple
    assert type(chip.link_slices) is bool
    assert type(chip.counter_bits) is int and 16 <= chip.counter_bits <= 32


_TMP = Path(tempfile.mkdtemp(prefix="hemi_hostile_config_"))
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)


def write(name, content) -> Path:
    path = _TMP / f"{name}.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    return path


@fast(150)
@given(valid_dicts())
def test_valid_configs_load_and_round_trip(data):
    cfg = HemiConfig.from_dict(data, name="r")
    check_types(cfg)
    for section, table in data.items():
        for key, value in table.items():
            got = getattr(getattr(cfg, section), key)
            if section == "chip" and key not in ("link_slices", "counter_bits"):
                value = tuple(value) if key == "host" else tuple(tuple(n) for n in value)
            assert got == value, f"{section}.{key}"
    # The whole config as a dict and as TOML text loads back equal.
    full = {s: dataclasses.asdict(getattr(cfg, s)) for s in HemiConfig.SECTIONS}
    assert HemiConfig.from_dict(full, name="r") == cfg
    assert HemiConfig.from_dict(json.loads(json.dumps(full)), name="r") == cfg    # tuples -> lists
    assert load_config(write("r", to_toml(data))) == cfg
    assert load_config(write("r", to_toml(json.loads(json.dumps(full))))) == cfg


# --------------------------------------------------------------------------
# one bad key: the message names it


@st.composite
def one_bad_key(draw):
    data = draw(valid_dicts())
    section = draw(st.sampled_from(SCALAR_SECTIONS))
    key = draw(st.sampled_from(list(SPEC[section])))
    value = draw(bad_value(SPEC[section][key]))
    table = dict(data.get(section, {}))
    table[key] = value
    data[section] = table
    return data, section, key


@fast(300)
@given(one_bad_key())
def test_one_bad_value_names_its_key(case):
    data, section, key = case
    with pytest.raises(ConfigError) as e:
        HemiConfig.from_dict(data, name="bad")
    assert f"{section}.{key} = " in str(e.value)


# TOML literals that are valid TOML but a wrong value for any key below.
BAD_TOML_LITERALS = ["8.0", "32.0", "1e3", "inf", "-inf", "nan", '"8"', "'parallel'", "true", "[8]", "[]",
                     "{a = 1}", "1979-05-27", "07:32:00", "1979-05-27T07:32:00Z", "-1", "0",
                     "9" * 40, "-" + "9" * 40, "0x7fffffffffffffffffff", "0o777777777777777777777777",
                     "0b" + "1" * 100, '"""\nx"""', "[[1, 2], [3]]"]


@fast(200)
@given(valid_dicts(), st.sampled_from(SCALAR_SECTIONS), st.data())
def test_one_bad_toml_literal_names_its_key(data, section, more):
    key = more.draw(st.sampled_from(list(SPEC[section])))
    literal = more.draw(st.sampled_from(BAD_TOML_LITERALS))
    value = tomllib.loads(f"x = {literal}")["x"]
    assume(not is_valid(SPEC[section][key], value))
    data = {s: t for s, t in data.items() if s != section}
    text = to_toml(data) + f"[{section}]\n{key} = {literal}\n"
    with pytest.raises(ConfigError) as e:
        load_config(write("lit", text))
    assert f"{section}.{key} = " in str(e.value)


@fast(150)
@given(valid_dicts(), st.data())
def test_unknown_sections_and_keys_are_named(data, more):
    ident = st.text(string.ascii_letters + string.digits + "_-. ", min_size=1, max_size=10)
    if more.draw(st.booleans()):
        name = more.draw(st.one_of(ident, st.sampled_from(["name", "SECTIONS", "Left", "chips", ""]))
                         .filter(lambda k: k not in HemiConfig.SECTIONS))
        data[name] = more.draw(JUNK)
        with pytest.raises(ConfigError, match=r"unknown section \[") as e:
            HemiConfig.from_dict(data, name="u")
        assert f"[{name}]" in str(e.value)
    else:
        section = more.draw(st.sampled_from(list(HemiConfig.SECTIONS)))
        key = more.draw(st.one_of(ident, st.sampled_from(["SECTION", "MAX_PACKET_FLITS", "groups", "nodes",
                                                          "tiles", "Rows", "name"]))
                        .filter(lambda k: k not in ALL_KEYS[section]))
        table = dict(data.get(section, {}))
        table[key] = more.draw(JUNK)
        data[section] = table
        with pytest.raises(ConfigError, match="unknown key") as e:
            HemiConfig.from_dict(data, name="u")
        assert f"{section}.{key} in u" in str(e.value)


@fast(100)
@given(st.sampled_from(list(HemiConfig.SECTIONS)), JUNK.filter(lambda v: not isinstance(v, dict)))
def test_a_section_that_is_not_a_table(section, value):
    with pytest.raises(ConfigError, match=rf"\[{section}\] in t must be a table"):
        HemiConfig.from_dict({section: value}, name="t")


@fast(50)
@given(JUNK.filter(lambda v: not isinstance(v, dict)))
def test_top_level_that_is_not_a_table(value):
    with pytest.raises(ConfigError, match="top level must be a table"):
        HemiConfig.from_dict(value, name="t")


# --------------------------------------------------------------------------
# [chip]: placement lists of every wrong shape

def is_node(v):
    return isinstance(v, (list, tuple)) and len(v) == 2 and all(type(c) is int and 0 <= c <= 7 for c in v)


BAD_NODE = st.one_of(
    JUNK, st.lists(st.integers(-3, 10), max_size=4),
    st.tuples(st.integers(-(1 << 70), 1 << 70), st.integers(0, 7)),
    st.lists(st.one_of(st.sampled_from([0, 1, 1.0, True, "1", None, [1]]), HUGE), min_size=2, max_size=2),
).filter(lambda v: not is_node(v))


@fast(200)
@given(placements(), st.sampled_from(["host", "left", "right"]), st.data())
def test_chip_bad_node_shapes_are_named(chip, key, more):
    if key == "host":
        chip["host"] = more.draw(BAD_NODE)
        where = "chip.host"
    else:
        nodes = list(chip[key])
        i = more.draw(st.integers(0, len(nodes)))
        nodes.insert(i, more.draw(BAD_NODE))
        chip[key] = nodes
        where = f"chip.{key}[{i}]"
    with pytest.raises(ConfigError) as e:
        HemiConfig.from_dict({"chip": chip}, name="c")
    assert f"{where} = " in str(e.value)


@fast(100)
@given(placements(), st.sampled_from(["left", "right"]),
       JUNK.filter(lambda v: not isinstance(v, (list, tuple))))
def test_chip_tile_list_that_is_not_a_list(chip, key, value):
    chip[key] = value
    with pytest.raises(ConfigError) as e:
        HemiConfig.from_dict({"chip": chip}, name="c")
    assert f"chip.{key} = " in str(e.value) and "list of [x, y] pairs" in str(e.value)


@fast(100)
@given(placements(), st.sampled_from(["left", "right"]), st.data())
def test_chip_shared_node_is_named(chip, key, more):
    taken = [chip["host"], *chip["left"], *chip["right"]]
    again = more.draw(st.sampled_from(taken))
    nodes = list(chip[key])
    i = more.draw(st.integers(0, len(nodes)))
    nodes.insert(i, list(again))
    chip[key] = nodes
    with pytest.raises(ConfigError, match=r"chip\.(left|right)\[\d+\] = \[\d, \d\]: node already holds"):
        HemiConfig.from_dict({"chip": chip}, name="c")


@fast(100)
@given(placements(), bad_value((BOOL,)))
def test_chip_link_slices_bad_value_is_named(chip, value):
    chip["link_slices"] = value
    with pytest.raises(ConfigError) as e:
        HemiConfig.from_dict({"chip": chip}, name="c")
    assert "chip.link_slices = " in str(e.value) and "must be true or false" in str(e.value)


@fast(100)
@given(placements(), bad_value((INT, 16, 32)))
def test_chip_counter_bits_bad_value_is_named(chip, value):
    chip["counter_bits"] = value
    with pytest.raises(ConfigError) as e:
        HemiConfig.from_dict({"chip": chip}, name="c")
    assert "chip.counter_bits = " in str(e.value) and "16..32" in str(e.value)


def test_chip_tile_count_and_empty_chip():
    many = [[x, y] for x in range(8) for y in range(8)][1:]            # 63 nodes + the host
    cfg = HemiConfig.from_dict({"chip": {"host": [0, 0], "left": many[:40], "right": many[40:]}})
    assert len(cfg.chip.left) + len(cfg.chip.right) == 63
    with pytest.raises(ConfigError, match=r"chip\.left: 65 tiles, allowed 0\.\.64"):
        HemiConfig.from_dict({"chip": {"left": [[0, 1]] * 65}})
    with pytest.raises(ConfigError, match="chip: no tiles"):
        HemiConfig.from_dict({"chip": {"left": [], "right": []}})


@fast(150)
@given(valid_dicts())
def test_check_chip_on_valid_configs(data):
    """The mesh check accepts exactly the placements inside the mesh with
    32-bit flits, else names the first bad key."""
    cfg = HemiConfig.from_dict(data)
    W, H = cfg.callosum.width, cfg.callosum.height
    outside = [n for n in (cfg.chip.host, *cfg.chip.left, *cfg.chip.right) if n[0] >= W or n[1] >= H]
    if not outside and cfg.callosum.flit_width >= 32:
        assert cfg.check_chip() is cfg
    else:
        with pytest.raises(ConfigError, match=r"chip\.(host|left\[\d+\]|right\[\d+\]) = |callosum\.flit_width"):
            cfg.check_chip()


# --------------------------------------------------------------------------
# arbitrary nested dicts and arbitrary TOML text: a config or a ConfigError

KEYS = st.one_of(*(st.sampled_from(keys) for keys in ALL_KEYS.values()), st.text(max_size=8))
ANY_VALUE = st.one_of(
    *(valid_value(spec) for keys in SPEC.values() for spec in keys.values()),
    placements().map(lambda c: c["left"]), st.sampled_from(NODES).map(list), JUNK)


@fast(300)
@given(st.dictionaries(st.one_of(st.sampled_from(list(HemiConfig.SECTIONS)), st.text(max_size=6)),
                       st.one_of(st.dictionaries(KEYS, ANY_VALUE, max_size=6), JUNK), max_size=4))
def test_arbitrary_nested_dicts(data):
    try:
        cfg = HemiConfig.from_dict(data, name="any")
    except ConfigError as e:
        assert str(e)
        event("ConfigError")
        return
    event("a valid config")
    check_types(cfg)


TOML_NAME = st.one_of(st.sampled_from(list(HemiConfig.SECTIONS)),
                      st.text(string.ascii_lowercase + "_-", min_size=1, max_size=6),
                      st.sampled_from(['"left"', "left.x", "left . rows", "'chip'", '""']))
TOML_KEY = st.one_of(*(st.sampled_from(keys) for keys in ALL_KEYS.values()),
                     st.sampled_from(['"rows"', "rows.x", "'a b'", "1", "-"]), st.text(max_size=4))


def toml_literal(depth=2):
    leaf = st.one_of(
        st.integers().map(str), st.integers(1, 32).map(str), st.sampled_from(BAD_TOML_LITERALS),
        st.sampled_from(["true", "false", "8", "32", '"parallel"', '"serial"', "[0, 1]", "[[0, 1], [1, 1]]",
                         "+8", "0x8", "1_000", "08", "1__0", "", "[", "{", '"', "\\u0000"]),
        st.integers(4290, 4400).map(lambda n: "1" * n),           # Python's int-string limit is 4300 digits
        st.floats().map(repr), st.text(max_size=6).map(json.dumps))
    if depth == 0:
        return leaf
    inner = toml_literal(depth - 1)
    return st.one_of(leaf, st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
                     st.lists(st.tuples(st.sampled_from(["a", "rows", "x"]), inner), max_size=2)
                     .map(lambda kv: "{" + ", ".join(f"{k} = {v}" for k, v in kv) + "}"))


NESTING = st.integers(1, 1500).flatmap(lambda d: st.sampled_from(
    ["[" * d + "]" * d, "{a = " * d + "1" + "}" * d, "[" * d]))
TOML_LINE = st.one_of(
    TOML_NAME.map(lambda n: f"[{n}]"), TOML_NAME.map(lambda n: f"[[{n}]]"),
    st.tuples(TOML_KEY, toml_literal()).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.tuples(TOML_KEY, NESTING).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.text(max_size=20), st.just(""), st.just("# comment"))


@fast(300)
@given(st.one_of(st.lists(TOML_LINE, max_size=8).map("\n".join),
                 valid_dicts().map(to_toml),
                 st.tuples(valid_dicts().map(to_toml), st.lists(TOML_LINE, max_size=3))
                 .map(lambda t: t[0] + "\n".join(t[1]))))
def test_arbitrary_toml_text(text):
    path = write("any", text)
    try:
        cfg = load_config(path)
    except ConfigError as e:
        assert str(e)
        event("ConfigError")
        return
    event("a valid config")
    check_types(cfg)
    assert cfg == HemiConfig.from_dict(tomllib.loads(text), name="any")


@fast(100)
@given(st.binary(max_size=64))
def test_arbitrary_bytes(content):
    path = write("bytes", content)
    try:
        cfg = load_config(path)
    except ConfigError as e:
        assert str(e)
        event("ConfigError")
        return
    event("a valid config")
    check_types(cfg)


@pytest.mark.parametrize("content,message", [
    (b"\xff\xfe[left]\nrows = 4\n", r"bytes\.toml: not valid TOML"),                 # not UTF-8
    (b"[left]\nrows = 4 # \xe9\n", r"bytes\.toml: not valid TOML"),
    (b"x = " + b"[" * 3000 + b"]" * 3000, r"bytes\.toml: not valid TOML"),            # nesting
    (b"x = " + b"{a = " * 3000 + b"1" + b"}" * 3000, r"bytes\.toml: not valid TOML"),
    (b"[left]\nrows = " + b"9" * 5000, r"bytes\.toml: not valid TOML"),                # 5000 digits
])
def test_unreadable_toml_is_a_config_error(content, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write("bytes", content))


@pytest.mark.parametrize("value", [1 << 20000, -(1 << 20000), 10 ** 4300],
                         ids=["2**20000", "-2**20000", "10**4300"])         # pytest cannot print them
def test_huge_ints_are_named_not_printed(value):
    """Python refuses str() of ints over 4300 digits: the message must still
    be built (and name the key) without printing the value whole."""
    for section, key in (("left", "rows"), ("left", "act_bits"), ("callosum", "local_check")):
        with pytest.raises(ConfigError, match=rf"{section}\.{key} = "):
            HemiConfig.from_dict({section: {key: value}})
    with pytest.raises(ConfigError, match=r"chip\.host = "):
        HemiConfig.from_dict({"chip": {"host": [value, 0]}})
    with pytest.raises(ConfigError, match=r"chip\.left = "):
        HemiConfig.from_dict({"chip": {"left": value}})
    with pytest.raises(ConfigError, match=r"unknown key left\."):
        HemiConfig.from_dict({"left": {value: 1}})


def test_odd_paths():
    with pytest.raises(ConfigError, match="not found"):
        load_config(_TMP / "missing.toml")
    with pytest.raises(ConfigError, match="not found"):
        load_config("no_such_config_name")
    for directory in (_TMP, ""):                  # "" is the current directory
        with pytest.raises(ConfigError, match="cannot read"):
            load_config(directory)
