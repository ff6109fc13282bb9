"""Generate Verilog for Hemi's units: ``python -m rtl.generate --config configs/default.toml``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from amaranth.back import verilog

from .config import load_config_cli

UNITS = {
    # unit name -> (top module name, factory(HemiConfig))
    "left": ("hemi_left_core", lambda cfg: _unit("left", "LeftCore")(cfg.left)),
    "right": ("hemi_right_core", lambda cfg: _unit("right", "RightCore")(cfg.right)),
    "callosum": ("hemi_callosum", lambda cfg: _unit("callosum", "MeshBenchTop")(cfg.callosum)),
    "chip": ("hemi_chip", lambda cfg: _unit("chip", "Chip")(cfg)),
    # The board top with its PLL bypassed, as the FPGA bench simulates it.
    "board": ("hemi_board", lambda cfg: _board_sim(cfg)),
}


def _board_sim(cfg):
    from fpga.board_top import SIM_BAUD, SIM_CLK_HZ, BoardTop

    return BoardTop(cfg, SIM_CLK_HZ, SIM_BAUD)


def _unit(package, cls):
    import importlib

    return getattr(importlib.import_module(f"rtl.{package}"), cls)


def generate(unit: str, cfg, out_dir: Path) -> Path:
    name, factory = UNITS[unit]
    top = factory(cfg)
    text = verilog.convert(top, name=name, emit_src=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.v"
    path.write_text(text)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default=None, help="config TOML (default: configs/default.toml)")
    ap.add_argument("--out", default="build/rtl", help="output folder (default: build/rtl)")
    ap.add_argument("--unit", choices=sorted(UNITS), action="append",
                    help="unit(s) to generate (default: all)")
    args = ap.parse_args(argv)
    cfg = load_config_cli(args.config)
    for unit in args.unit or sorted(UNITS):
        path = generate(unit, cfg, Path(args.out))
        print(f"wrote {path} ({cfg.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
