"""Verilog generation across the parameter range, and `make lint` on every
shipped config."""

import re

import pytest
from amaranth.back import verilog

from rtl.config import CONFIG_DIR, HemiConfig
from rtl.left import LeftCore
from tools.lint import main as lint_main


def port_width(text, name):
    m = re.search(rf"(?:input|output)\s+(?:\[(\d+):0\]\s+)?{name};", text)
    assert m, f"no port {name}"
    return int(m.group(1)) + 1 if m.group(1) else 1


@pytest.mark.parametrize("rows,cols", [(1, 32), (32, 1), (32, 32), (5, 3)])
def test_generates_across_the_range(rows, cols):
    cfg = HemiConfig.from_dict({"left": {"rows": rows, "cols": cols, "acc_depth": 16}})
    text = verilog.convert(LeftCore(cfg.left), name="hemi_left_core", emit_src=False)
    assert port_width(text, "i_act__payload") == 8 * rows
    assert port_width(text, "i_w__payload") == 8 * cols
    assert port_width(text, "o__payload") == 32 * cols + 1
    assert port_width(text, "i_cmd__payload") == 48


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_lint_clean(path, tmp_path, capsys):
    rc = lint_main(["--config", str(path), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "clean" in out


@pytest.mark.parametrize("right", [
    dict(neurons=16, axons=16, lanes=1, synapse_rows=1),
    dict(neurons=4096, axons=16, lanes=16, synapse_rows=64),
    dict(neurons=100, axons=4096, lanes=7, synapse_rows=300),
], ids=["min", "neurons4096-lanes16", "axons4096-lanes7"])
def test_right_generates_across_the_range(right):
    from rtl.right import RightCore

    cfg = HemiConfig.from_dict({"right": right})
    text = verilog.convert(RightCore(cfg.right), name="hemi_right_core", emit_src=False)
    assert port_width(text, "i_in__payload") == 17
    assert port_width(text, "o_spike__payload") == 17
    assert port_width(text, "i_cfg__payload") == 57
    assert port_width(text, "o_cfg__payload") == 32
