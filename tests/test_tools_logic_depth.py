"""tools.logic_depth on a hand-made ECP5 netlist: a register, two LUTs in a
row, and the second LUT's output (an enable) loading three registers."""

import json

from tools import logic_depth as ld


def _ff(d, q):
    return {"type": "TRELLIS_FF", "port_directions": {"CLK": "input", "DI": "input", "Q": "output"},
            "connections": {"CLK": [1], "DI": [d], "Q": [q]}}


def _lut(a, z):
    return {"type": "LUT4", "port_directions": {"A": "input", "Z": "output"},
            "connections": {"A": [a], "Z": [z]}}


def _netlist(tmp_path):
    cells = {"src": _ff(20, 10), "l1": _lut(10, 11), "l2": _lut(11, 12)}
    cells.update({f"dst{i}": _ff(12, 30 + i) for i in range(3)})
    nets = {"q": {"bits": [10]}, "mid": {"bits": [11]}, "en": {"bits": [12]}}
    path = tmp_path / "n.json"
    path.write_text(json.dumps({"modules": {"top": {"cells": cells, "netnames": nets}}}))
    return path


def test_arrival_is_clock_to_q_plus_luts_and_nets(tmp_path):
    ends, arrival, prev, netname, loops, fanout = ld.analyse(_netlist(tmp_path), route_ns=1.0)
    worst, cell, port, bit = ends[0]
    assert port == "DI" and cell.startswith("dst") and bit == 12
    # clock-to-Q, two LUTs with a net before each, then the net to the register and its setup
    assert abs(worst - (ld.FF_CLK_Q + 2 * (ld.LUT + 1.0) + 1.0 + ld.FF_SETUP)) < 1e-9
    assert loops == 0


def test_fanout_lists_nets_driven_through_logic_only(tmp_path):
    *_, fanout = ld.analyse(_netlist(tmp_path), route_ns=1.0)
    assert fanout[12] == 3          # the enable: three registers
    assert fanout[11] == 1
    assert 10 not in fanout         # a register's output is not computed through logic


def test_fanout_cli(tmp_path, capsys):
    assert ld.main([str(_netlist(tmp_path)), "--fanout", "3"]) == 0
    out = capsys.readouterr().out
    assert "1 nets computed through logic with 3 or more loads" in out
    assert "3 loads  en" in out
