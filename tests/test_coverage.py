"""make coverage (tools/coverage.py): merging Verilator's coverage.dat files,
per-module figures, waivers, functional bins; and one real coverage run of a
small bench end to end."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools import coverage as cov
from tb.common import fcov

ROOT = Path(__file__).resolve().parent.parent


def point_line(file, line, module, kind="line", comment="block", count=0, bit=None):
    page = f"v_{kind}/{module}"
    o = comment if kind == "line" else f"{bit}:0->1"
    key = "\x01".join(f"{k}\x02{v}" for k, v in
                      (("f", file), ("l", line), ("n", 3), ("t", kind), ("page", page), ("o", o), ("h", module)))
    return f"C '\x01{key}' {count}"


def write_dat(path, rows):
    path.write_text("# SystemC::Coverage-3\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def verilog(tmp_path):
    v = tmp_path / "top.v"
    v.write_text("module top;\n  always @* begin\n    y = 1'h0;\n    casez (sel)\n      2'h0:\n        y = a;\n"
                 "      2'h1:\n        y = b;\n    endcase\n  end\nendmodule\n")
    return v


def test_merge_sums_counts_per_point_and_keeps_modules_apart(tmp_path, verilog):
    a = write_dat(tmp_path / "a.dat", [point_line(verilog, 5, "top", comment="case", count=3),
                                       point_line(verilog, 7, "top", comment="case", count=0),
                                       point_line(verilog, 1, "top.sub", kind="toggle", bit="x[0]", count=0)])
    b = write_dat(tmp_path / "b.dat", [point_line(verilog, 5, "top", comment="case", count=2),
                                       point_line(verilog, 1, "top.sub", kind="toggle", bit="x[0]", count=1)])
    merged = cov.merge_dats([a, b])
    counts = sorted((p.module, p.kind, p.line, p.count) for p in merged.values())
    assert counts == [("top", "line", 5, 5), ("top", "line", 7, 0), ("top.sub", "toggle", 1, 1)]
    stats = cov.build_stats("left", merged, [])
    assert (stats["top"].lines, stats["top"].lines_hit) == (2, 1)
    assert (stats["top.sub"].toggles, stats["top.sub"].toggles_hit) == (1, 1)
    # The merged file reads back the same.
    out = tmp_path / "m.dat"
    cov.write_dat(merged, out)
    assert {k: p.count for k, p in cov.parse_dat(out).items()} == {k: p.count for k, p in merged.items()}


def test_uncovered_case_item_carries_its_subject_and_matches_a_waiver(tmp_path, verilog):
    dat = write_dat(tmp_path / "a.dat", [point_line(verilog, 7, "top", comment="case", count=0)])
    points = cov.merge_dats([dat])
    waivers = [cov.Waiver("right", "top", r"casez \(sel\) 2'h1:", "never selected"),
               cov.Waiver("left", "top", r"casez \(sel\) 2'h1: y = b;", "sel is tied to 0 here")]
    (p, text, w), = cov.build_stats("left", points, waivers)["top"].uncovered
    assert text == "[y = 1'h0;] casez (sel) 2'h1: y = b;"
    assert w is waivers[1]           # the unit glob keeps the first one out


def test_waiver_file_errors_name_the_waiver(tmp_path):
    bad = tmp_path / "w.toml"
    bad.write_text('[[waiver]]\nunit = "left"\nmodule = "x"\n')
    with pytest.raises(SystemExit, match="waiver 1 lacks reason"):
        cov.load_waivers(bad)
    bad.write_text('[[waiver]]\nunit = "left"\nmodule = "x"\ntext = "("\nreason = "r"\n')
    with pytest.raises(SystemExit, match="not a regular expression"):
        cov.load_waivers(bad)


def test_project_waivers_load():
    for w in cov.load_waivers():
        assert w.reason.strip()


def test_functional_bins_merge_over_runs(tmp_path):
    yaml = pytest.importorskip("yaml")
    runs = []
    for i, hits in enumerate(({0: 1, 1: 0}, {0: 0, 1: 2})):
        f = tmp_path / f"r{i}.yml"
        f.write_text(yaml.dump({"left": {"size": 2}, "left.epi": {"size": 2},
                                "left.epi.shift": {"bins:_hits": hits, "size": 2}}))
        runs.append(f)
    assert cov.merge_functional(runs) == {"left": {"left.epi.shift": {"0": 1, "1": 2}}}


def test_fcov_buckets_name_every_range():
    edges = (0, 1, 8)
    assert fcov.buckets(edges) == ["0", "1..7", ">=8"]
    assert [fcov.bucket(v, edges) for v in (0, 1, 7, 8, 100)] == ["0", "1..7", "1..7", ">=8", ">=8"]
    assert fcov.bucket(-1, edges) == "<0" and fcov.buckets(edges, below=True)[0] == "<0"


@pytest.mark.sim
def test_coverage_run_end_to_end(tmp_path):
    """tools.coverage on one small bench: a coverage build, a run, and the
    reports with per-module line and toggle figures."""
    out = tmp_path / "cov"
    proc = subprocess.run(
        [sys.executable, "-m", "tools.coverage", "-n", "0", "--no-bars", "--out", str(out),
         "-k", "test_callosum and mesh1x3 and free"],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "SEED": "1"}, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    routers = {k: v for k, v in summary.items() if k.startswith("hemi_callosum.mesh.router_0_1 [")}
    assert routers, sorted(summary)[:10]
    for fig in routers.values():
        assert 50 < fig["line_pct"] <= 100 and 0 < fig["toggle_pct"] <= 100
    units = json.loads((out / "units.json").read_text())
    assert any(u["unit"] == "callosum" and u["runs"] >= 1 for u in units.values())
    assert "## Code coverage" in (out / "report.md").read_text()
    assert list((out / "annotated").glob("*/hemi_callosum.v"))
