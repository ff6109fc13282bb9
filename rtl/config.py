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

__all__ = ["ConfigError", "load_config_cli", "LeftConfig", "RightConfig", "CallosumConfig", "HemiConfig", "load_config", "CONFIG_DIR"]

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range."""


def _check_int(section, key, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{section}.{key} = {value!r}: must be an integer in {lo}..{hi}")
    if not lo <= value <= hi:
        raise ConfigError(f"{section}.{key} = {value}: out of range, allowed {lo}..{hi}")


def _check_choice(section, key, value, allowed):
    if isinstance(value, bool) or value not in allowed:
        allowed_s = ", ".join(str(a) for a in allowed)
        raise ConfigError(f"{section}.{key} = {value!r}: unsupported, allowed: {allowed_s}")


@dataclass(frozen=True)
class LeftConfig:
    """The left hemisphere: an INT8 weight-stationary systolic array."""

    rows: int = 8       # reduction (K) lanes of a weight tile
    cols: int = 8       # output-channel (N) lanes of a weight tile
    acc_depth: int = 512  # accumulator rows = the largest M of one command
    act_bits: int = 8   # operand width (the int8 contract; fixed)
    acc_bits: int = 32  # accumulator width (the int32 contract; fixed)

    SECTION = "left"

    def __post_init__(self):
        s = self.SECTION
        _check_int(s, "rows", self.rows, 1, 32)
        _check_int(s, "cols", self.cols, 1, 32)
        _check_int(s, "acc_depth", self.acc_depth, 1, 65535)
        _check_choice(s, "act_bits", self.act_bits, (8,))
        _check_choice(s, "acc_bits", self.acc_bits, (32,))

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

    SECTION = "right"

    def __post_init__(self):
        s = self.SECTION
        _check_int(s, "neurons", self.neurons, 16, 4096)
        _check_int(s, "axons", self.axons, 16, 4096)
        _check_int(s, "lanes", self.lanes, 1, 16)
        _check_int(s, "synapse_rows", self.synapse_rows, 1, 65536)

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
    fifo_depth: int = 4   # flits per router input FIFO

    SECTION = "callosum"
    MAX_PACKET_FLITS = 16   # head + up to 15 (the head's 4-bit length)

    def __post_init__(self):
        s = self.SECTION
        _check_int(s, "width", self.width, 1, 8)
        _check_int(s, "height", self.height, 1, 8)
        _check_int(s, "flit_width", self.flit_width, 24, 128)
        _check_int(s, "fifo_depth", self.fifo_depth, 2, 64)

    @property
    def nodes(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class HemiConfig:
    """The whole chip. Sections are added as the hemispheres are built."""

    name: str = "default"
    left: LeftConfig = field(default_factory=LeftConfig)
    right: RightConfig = field(default_factory=RightConfig)
    callosum: CallosumConfig = field(default_factory=CallosumConfig)

    SECTIONS = {"left": LeftConfig, "right": RightConfig, "callosum": CallosumConfig}

    @classmethod
    def from_dict(cls, data: dict, name: str = "config") -> "HemiConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"{name}: top level must be a table")
        sections = {}
        for key, value in data.items():
            if key not in cls.SECTIONS:
                known = ", ".join(sorted(cls.SECTIONS))
                raise ConfigError(f"unknown section [{key}] in {name}: known sections are {known}")
            section_cls = cls.SECTIONS[key]
            if not isinstance(value, dict):
                raise ConfigError(f"[{key}] in {name} must be a table")
            known_keys = [f.name for f in dataclasses.fields(section_cls)]
            for k in value:
                if k not in known_keys:
                    raise ConfigError(
                        f"unknown key {key}.{k} in {name}: known keys are {', '.join(known_keys)}")
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
    except tomllib.TOMLDecodeError as e:
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
