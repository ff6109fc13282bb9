"""Chip parameters: frozen dataclasses loaded from ``configs/*.toml``.

One source of truth for the RTL, the golden model, the benches and the host.
Every field is validated in ``__post_init__``; a bad value raises
:class:`ConfigError` with one message naming the key and the allowed range,
before any Amaranth code runs.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["ConfigError", "load_config_cli", "LeftConfig", "RightConfig", "CallosumConfig", "ChipConfig",
           "HemiConfig", "load_config", "CONFIG_DIR"]

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range."""


def shown(value):
    """``repr(value)`` for an error message. Python refuses to print an int
    of more than 4300 digits (a ValueError from repr itself), which would
    replace the message naming the bad key or field with a bare ValueError
    about Python's digit limit. Shared by the config loader and the host
    library."""
    try:
        return repr(value)
    except ValueError:
        if isinstance(value, int):
            return f"<a {value.bit_length()}-bit integer>"
        return f"<a {type(value).__name__} holding an integer too long to print>"


_shown = shown


def _check_int(section, key, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{section}.{key} = {_shown(value)}: must be an integer in {lo}..{hi}")
    if not lo <= value <= hi:
        raise ConfigError(f"{section}.{key} = {_shown(value)}: out of range, allowed {lo}..{hi}")


def _check_bool(section, key, value):
    if not isinstance(value, bool):
        raise ConfigError(f"{section}.{key} = {_shown(value)}: must be true or false")


def _check_choice(section, key, value, allowed):
    # The type must match too: `8.0 in (8,)` is true, and a float 8.0 (TOML
    # `act_bits = 8.0`) used to pass and stay a float in the config.
    if isinstance(value, bool) or not any(isinstance(value, type(a)) and value == a for a in allowed):
        allowed_s = ", ".join(str(a) for a in allowed)
        raise ConfigError(f"{section}.{key} = {_shown(value)}: unsupported, allowed: {allowed_s}")


@dataclass(frozen=True)
class LeftConfig:
    """The left hemisphere: an INT8 weight-stationary systolic array."""

    rows: int = 8       # reduction (K) lanes of a weight tile
    cols: int = 8       # output-channel (N) lanes of a weight tile
    acc_depth: int = 512  # accumulator rows = the largest M of one command
    act_bits: int = 8   # operand width (the int8 contract; fixed)
    acc_bits: int = 32  # accumulator width (the int32 contract; fixed)
    # On the chip, a left tile keeps one dense layer resident:
    weight_rows: int = 1024  # weight store rows of `cols` int8 (sum over column tiles of K)
    max_k: int = 256    # largest layer input (activation buffer, int8 elements)
    max_n: int = 256    # largest layer output (epilogue store, channels)
    # "parallel": one requantization multiplier per column; "serial": one
    # shared by all columns (an output row then takes `cols` cycles in the
    # epilogue; for FPGAs with few DSP blocks); "compact": one per column in
    # a 2-stage pipeline instead of 6 (for slow clocks: far fewer registers).
    epilogue: str = "parallel"

    SECTION = "left"

    def __post_init__(self):
        s = self.SECTION
        _check_int(s, "rows", self.rows, 1, 32)
        _check_int(s, "cols", self.cols, 1, 32)
        _check_int(s, "acc_depth", self.acc_depth, 1, 65535)
        _check_choice(s, "act_bits", self.act_bits, (8,))
        _check_choice(s, "acc_bits", self.acc_bits, (32,))
        _check_int(s, "weight_rows", self.weight_rows, 1, 65536)
        _check_int(s, "max_k", self.max_k, 1, 4096)
        _check_int(s, "max_n", self.max_n, 1, 4096)
        _check_choice(s, "epilogue", self.epilogue, ("parallel", "serial", "compact"))

    @property
    def dim_bits(self) -> int:
        """Width of the M, K, N fields of a GEMM command."""
        return 16


@dataclass(frozen=True)
class RightConfig:
    """The right hemisphere: an event-driven core of Loihi LIF neurons."""

    neurons: int = 256        # LIF neurons in the core
    axons: int = 256          # input axons (valid event ids are 0..axons-1)
    lanes: int = 4            # neurons updated / synapses applied per cycle
    synapse_rows: int = 4096  # synapse memory rows of `lanes` entries each
    # On the chip: spike destinations (node, axon) of the tile's output table.
    output_entries: int = 1024
    # The LIF lanes register their memory reads before the decay multipliers
    # (rtl/right/neuron.py): a cycle more per time step, and the memories'
    # outputs and the multipliers in separate clock periods (the ECP5 at
    # 50 MHz, whose placer may put a multiplier block far from its memory).
    # false saves the registers (configs/tiny.toml, a slow iCE40 clock).
    lif_input_regs: bool = True

    SECTION = "right"

    def __post_init__(self):
        s = self.SECTION
        _check_int(s, "neurons", self.neurons, 16, 4096)
        _check_int(s, "axons", self.axons, 16, 4096)
        _check_int(s, "lanes", self.lanes, 1, 16)
        _check_int(s, "synapse_rows", self.synapse_rows, 1, 65536)
        _check_int(s, "output_entries", self.output_entries, 1, 65536)
        _check_bool(s, "lif_input_regs", self.lif_input_regs)

    @property
    def groups(self) -> int:
        """Neuron groups: neuron n lives in group n // lanes, lane n % lanes."""
        return -(-self.neurons // self.lanes)


@dataclass(frozen=True)
class CallosumConfig:
    """The callosum: a 2D-mesh network-on-chip of wormhole routers."""

    width: int = 4        # routers along x
    height: int = 4       # routers along y
    flit_width: int = 32  # data bits per flit (the head uses 19 of them)
    # Flits per router input FIFO. For small FPGAs: 1 is a single flit
    # register (see rtl/callosum/flit_register.py), where a local input
    # then takes a flit every other cycle; 0 leaves the inputs from
    # neighbouring routers unbuffered (a packet's path through the mesh is
    # then one combinational chain) and the local input a flit register.
    fifo_depth: int = 4
    # A packet validator at every local input (drops malformed packets whole,
    # counts them). A chip whose local senders only make well-formed packets
    # (its tiles' network interfaces, the host bridge that checks host
    # packets) may leave it out: the local input is then a plain FIFO.
    local_check: bool = True

    SECTION = "callosum"
    MAX_PACKET_FLITS = 16   # head + up to 15 (the head's 4-bit length)

    def __post_init__(self):
        s = self.SECTION
        _check_int(s, "width", self.width, 1, 8)
        _check_int(s, "height", self.height, 1, 8)
        _check_int(s, "flit_width", self.flit_width, 24, 128)
        _check_int(s, "fifo_depth", self.fifo_depth, 0, 64)
        _check_bool(s, "local_check", self.local_check)

    @property
    def nodes(self) -> int:
        return self.width * self.height


def _check_node(key, value):
    """``value`` as an ``(x, y)`` tuple of mesh coordinates (0..7)."""
    if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ConfigError(f"chip.{key} = {_shown(value)}: must be an [x, y] pair of integers")
    for v in value:
        if not 0 <= v <= 7:
            raise ConfigError(f"chip.{key} = {_shown(list(value))}: coordinates out of range, allowed 0..7")
    return tuple(value)


@dataclass(frozen=True)
class ChipConfig:
    """Placement of the tiles on the callosum mesh: one host bridge, any
    number of left and right tiles, at most one tile per node. Checked
    against the mesh size by :meth:`HemiConfig.check_chip`."""

    host: tuple = (0, 0)
    left: tuple = ((0, 1),)
    right: tuple = ((1, 0), (1, 1))
    # Register slices (two-entry skid buffers) between every tile and its
    # router, on the host port and the bridge's link, and inside the tile
    # ports (and before a right core's event input): they cut long
    # combinational paths for a fast clock. False builds each as a plain
    # wire (nothing in flight, a cycle less each way), for a slow clock on a
    # small FPGA, where their flip-flops cost a logic cell each.
    link_slices: bool = True
    # Width of every statistics counter (cycles, busy cycles, steps, flits,
    # synaptic ops, spikes, GEMMs): they wrap modulo 2**counter_bits and read
    # zero-extended, and the host takes differences modulo that (one
    # inference on the digits demo stays below 2**16 in each). 16 saves
    # their flip-flops, carry chains and read-mux inputs on a small FPGA.
    counter_bits: int = 32

    SECTION = "chip"

    def __post_init__(self):
        _check_bool(self.SECTION, "link_slices", self.link_slices)
        _check_int(self.SECTION, "counter_bits", self.counter_bits, 16, 32)
        object.__setattr__(self, "host", _check_node("host", self.host))
        for key in ("left", "right"):
            nodes = getattr(self, key)
            if not isinstance(nodes, (list, tuple)):
                raise ConfigError(f"chip.{key} = {_shown(nodes)}: must be a list of [x, y] pairs")
            if len(nodes) > 64:
                raise ConfigError(f"chip.{key}: {len(nodes)} tiles, allowed 0..64")
            object.__setattr__(self, key, tuple(_check_node(f"{key}[{i}]", n) for i, n in enumerate(nodes)))
        seen = {self.host: "host"}
        for key in ("left", "right"):
            for i, n in enumerate(getattr(self, key)):
                if n in seen:
                    raise ConfigError(f"chip.{key}[{i}] = {list(n)}: node already holds the {seen[n]}")
                seen[n] = f"{key}[{i}] tile"
        if not self.left and not self.right:
            raise ConfigError("chip: no tiles; give at least one of chip.left, chip.right")

    def tiles(self):
        """``[(kind, index, (x, y))]`` for every tile, left tiles first."""
        return [("left", i, n) for i, n in enumerate(self.left)] + \
               [("right", i, n) for i, n in enumerate(self.right)]


@dataclass(frozen=True)
class HemiConfig:
    """The whole chip. Sections are added as the hemispheres are built."""

    name: str = "default"
    left: LeftConfig = field(default_factory=LeftConfig)
    right: RightConfig = field(default_factory=RightConfig)
    callosum: CallosumConfig = field(default_factory=CallosumConfig)
    chip: ChipConfig = field(default_factory=ChipConfig)

    SECTIONS = {"left": LeftConfig, "right": RightConfig, "callosum": CallosumConfig, "chip": ChipConfig}

    def check_chip(self) -> "HemiConfig":
        """Check the chip placement against the mesh (the units alone do not
        need it, so it is checked only where a chip is built or compiled)."""
        W, H = self.callosum.width, self.callosum.height
        for key, nodes in (("host", [self.chip.host]), ("left", self.chip.left), ("right", self.chip.right)):
            for i, (x, y) in enumerate(nodes):
                if x >= W or y >= H:
                    where = "chip.host" if key == "host" else f"chip.{key}[{i}]"
                    raise ConfigError(f"{where} = [{x}, {y}]: outside the {W} x {H} mesh "
                                      f"(callosum.width, callosum.height)")
        if self.callosum.flit_width < 32:
            raise ConfigError(f"callosum.flit_width = {self.callosum.flit_width}: the chip needs "
                              f"at least 32 (one 32-bit word per flit)")
        return self

    @classmethod
    def from_dict(cls, data: dict, name: str = "config") -> "HemiConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"{name}: top level must be a table")
        sections = {}
        for key, value in data.items():
            # A dict (not TOML) may have non-string keys, such as huge ints.
            key_s = key if isinstance(key, str) else _shown(key)
            if key not in cls.SECTIONS:
                known = ", ".join(sorted(cls.SECTIONS))
                raise ConfigError(f"unknown section [{key_s}] in {name}: known sections are {known}")
            section_cls = cls.SECTIONS[key]
            if not isinstance(value, dict):
                raise ConfigError(f"[{key}] in {name} must be a table")
            known_keys = [f.name for f in dataclasses.fields(section_cls)]
            for k in value:
                if k not in known_keys:
                    k_s = k if isinstance(k, str) else _shown(k)
                    raise ConfigError(
                        f"unknown key {key}.{k_s} in {name}: known keys are {', '.join(known_keys)}")
            sections[key] = section_cls(**value)
        return cls(name=name, **sections)


def load_config(path: str | Path | None = None) -> HemiConfig:
    """Load and validate a chip config. ``None`` means ``configs/default.toml``;
    a bare name such as ``tiny`` means ``configs/tiny.toml``."""
    if path is None:
        path = CONFIG_DIR / "default.toml"
    path = Path(path)
    if not path.suffix and not path.exists():
        path = CONFIG_DIR / f"{path}.toml"
    if not path.exists():
        raise ConfigError(f"config file {path} not found")
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:            # a directory, no permission, ...
        raise ConfigError(f"config file {path}: cannot read: {e.strerror or e}") from None
    except RecursionError:          # the parser recurses per nesting level of [[[...]]] / {a = {...}}
        raise ConfigError(f"{path}: not valid TOML: arrays or tables nested too deeply") from None
    except ValueError as e:
        # TOMLDecodeError, and the ValueErrors the parser lets through from
        # inside: UnicodeDecodeError (the file is not UTF-8) and int() of a
        # literal of more than 4300 digits.
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return HemiConfig.from_dict(data, name=path.stem)


def load_config_cli(path=None) -> HemiConfig:
    """``load_config`` for command-line tools: a bad config prints its one-line
    message and exits with status 2, never a traceback."""
    try:
        return load_config(path)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
