"""``make lint``: Verilator --lint-only -Wall over the generated Verilog, with
the documented waivers in lint/verilator_waivers.vlt. Exits non-zero on any
warning that is not waived."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from rtl.config import load_config_cli
from rtl.generate import UNITS, generate
from tb.sim import ROOT, setup_verilator_env

WAIVERS = ROOT / "lint" / "verilator_waivers.vlt"


def lint_file(path: Path, top: str) -> tuple[int, str]:
    setup_verilator_env()
    cmd = ["verilator", "--lint-only", "-Wall", "--top-module", top, str(WAIVERS), str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default=None)
    ap.add_argument("--out", default="build/rtl")
    args = ap.parse_args(argv)
    cfg = load_config_cli(args.config)
    failed = 0
    for unit, (top, _) in sorted(UNITS.items()):
        path = generate(unit, cfg, Path(args.out))
        rc, out = lint_file(path, top)
        if rc != 0 or "%Warning" in out or "%Error" in out:
            failed += 1
            print(out.rstrip())
            print(f"lint: {path}: FAILED")
        else:
            print(f"lint: {path}: clean (-Wall, waivers: {WAIVERS.relative_to(ROOT)})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
