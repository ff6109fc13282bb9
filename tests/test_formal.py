"""The formal proofs (formal/, ``make formal``): each proof's SymbiYosys
tasks must pass, and a deliberately broken design's proof must fail (the
checker can fail). The whole set takes about a minute on 2 cores."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from formal import run

ROOT = Path(__file__).resolve().parent.parent


def _run(tmp_path, name):
    proc = subprocess.run([sys.executable, "-m", "formal.run", "--only", name, "--out", str(tmp_path)],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    summary = tmp_path / "summary.json"
    assert summary.exists(), f"formal.run wrote no summary:\n{proc.stdout}"
    return proc, json.loads(summary.read_text())


@pytest.mark.formal
@pytest.mark.parametrize("name", [p.name for p in run.all_proofs()])
def test_proof_passes(tmp_path, name):
    proc, summary = _run(tmp_path, name)
    assert proc.returncode == 0, proc.stdout
    assert summary, proc.stdout
    for key, r in summary.items():
        assert r["status"] == "PASS", f"{key}: {r['status']}\n{proc.stdout}"


@pytest.mark.formal
@pytest.mark.parametrize("name", [p.name for p in run.negative_proofs()])
def test_broken_design_fails(tmp_path, name):
    proc, summary = _run(tmp_path, name)
    assert proc.returncode == 0, proc.stdout          # failing was the expectation
    assert {r["status"] for r in summary.values()} == {"FAIL"}, proc.stdout
