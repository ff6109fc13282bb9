"""``make soak`` (tools/soak.py) in miniature: one seed of every unit at
--scale 0.01 on Verilator (about 20 s once the models are built; they are
the default points of test_left_sim / test_right_sim / test_callosum_sim and
share their builds), and a planted failure that must fail the soak and print
the replay command. The full-size soak is not part of the default run."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tb.common.seed import test_seed as draw_seed
from tb.sim import ROOT
from tools import soak


def _run(args, tmp_path, env=None):
    return subprocess.run([sys.executable, "-m", "tools.soak", *args, "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ, **(env or {})})


@pytest.mark.sim
def test_soak_smoke(tmp_path):
    seed = draw_seed()
    proc = _run(["--seeds", "1", "--first-seed", str(seed), "--scale", "0.01"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert sorted(summary) == sorted(soak.UNITS)
    for unit, records in summary.items():
        (rec,) = records
        assert rec["seed"] == seed and rec["passed"], (unit, rec)
        assert rec["cycles"] > 0, (unit, rec)
        assert rec["pattern"] == soak.pattern_for(seed)
        assert (tmp_path / f"seed-{seed}" / unit / "results.xml").exists()
    assert summary["left"][0]["checked"]["gemms"] == 10
    assert summary["right"][0]["checked"]["steps"] == 100
    assert summary["callosum"][0]["checked"]["packets"] > 0
    assert summary["callosum"][0]["cycles"] >= 10_000
    assert "3/3 callosum seed" in proc.stderr and "PASS" in proc.stderr


@pytest.mark.sim
def test_soak_failure_reports_replay(tmp_path):
    """A job whose cocotb test fails: exit status 1, the job marked failed
    in the summary, and the replay command printed."""
    mod = tmp_path / "mods"
    mod.mkdir()
    (mod / "planted_failure.py").write_text(textwrap.dedent("""
        import cocotb
        from cocotb.triggers import ClockCycles
        from tb.common.soak_stats import Progress
        from tb.left.left_tb import LeftTB

        @cocotb.test()
        async def random_gemms(dut):
            tb = LeftTB(dut)
            await tb.reset()
            await ClockCycles(dut.clk, 10)
            Progress("random_gemms").update(gemms=0, cycles=tb.cycles.now)
            assert False, "planted failure"
    """))
    script = ("import sys, dataclasses; from tools import soak\n"
              "soak.UNITS['left'] = dataclasses.replace(soak.UNITS['left'], module='planted_failure')\n"
              "sys.exit(soak.main(sys.argv[1:]))\n")
    out = tmp_path / "soak"
    proc = subprocess.run(
        [sys.executable, "-c", script, "--seeds", "1", "--first-seed", "7", "--units", "left",
         "--scale", "0.001", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(mod), str(ROOT)])})
    assert proc.returncode == 1, proc.stderr[-4000:]
    assert "replay: SEED=7 make soak SEEDS=1 UNITS=left SCALE=0.001" in proc.stderr
    (rec,) = json.loads((out / "summary.json").read_text())["left"]
    assert rec["seed"] == 7 and not rec["passed"] and "planted failure" in rec["error"]


def test_knobs():
    """Full size meets the issue's floor; smaller scales shrink every unit."""
    full = {u: soak.knobs(u, 1) for u in soak.UNITS}
    assert int(full["left"]["TB_GEMMS"]) >= 1000
    assert int(full["right"]["TB_NETWORKS"]) * int(full["right"]["TB_STEPS"]) >= 10_000
    assert int(full["callosum"]["TB_MIN_CYCLES"]) >= 1_000_000
    tiny = {u: soak.knobs(u, 0.001) for u in soak.UNITS}
    assert tiny["left"]["TB_GEMMS"] == "1"
    assert tiny["right"] == {"TB_NETWORKS": "1", "TB_STEPS": "10"}
    assert tiny["callosum"]["TB_MIN_CYCLES"] == "1000"
    assert [soak.pattern_for(s) for s in range(4)] == sorted(soak.PATTERNS)
