"""Config loading: every shipped config is valid; every bad value stops with
one message naming the key and the allowed range."""

import subprocess
import sys

import pytest

from rtl.config import CONFIG_DIR, ConfigError, HemiConfig, LeftConfig, load_config


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg.name == path.stem
    assert 1 <= cfg.left.rows <= 32


def test_default_and_by_name():
    assert load_config().left == LeftConfig()
    assert load_config("tiny").left.rows == 1


@pytest.mark.parametrize("section,expect", [
    ({"rows": 0}, "left.rows = 0: out of range, allowed 1..32"),
    ({"cols": 33}, "left.cols = 33: out of range, allowed 1..32"),
    ({"acc_depth": 0}, "left.acc_depth = 0: out of range, allowed 1..65535"),
    ({"act_bits": 4}, "left.act_bits = 4: unsupported, allowed: 8"),
    ({"acc_bits": 16}, "left.acc_bits = 16: unsupported, allowed: 32"),
    ({"rows": "8"}, "left.rows = '8': must be an integer in 1..32"),
    ({"rows": True}, "left.rows = True: must be an integer in 1..32"),
    ({"rows": 8.0}, "left.rows = 8.0: must be an integer in 1..32"),
    ({"depth": 4}, "unknown key left.depth"),
    ({"epilogue": "fast"}, "left.epilogue = 'fast': unsupported, allowed: parallel, serial"),
])
def test_bad_values_name_the_key(section, expect):
    with pytest.raises(ConfigError) as e:
        HemiConfig.from_dict({"left": section})
    assert expect in str(e.value)


@pytest.mark.parametrize("value", [1, "yes", 0])
def test_local_check_is_a_bool(value):
    with pytest.raises(ConfigError, match=f"callosum.local_check = {value!r}: must be true or false"):
        HemiConfig.from_dict({"callosum": {"local_check": value}})
    assert HemiConfig.from_dict({"callosum": {"local_check": False}}).callosum.local_check is False


@pytest.mark.parametrize("value", [1, "false", 0])
def test_link_slices_is_a_bool(value):
    with pytest.raises(ConfigError, match=f"chip.link_slices = {value!r}: must be true or false"):
        HemiConfig.from_dict({"chip": {"link_slices": value}})
    assert HemiConfig().chip.link_slices is True
    assert load_config("tiny").chip.link_slices is False


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_lif_input_regs_is_a_bool(value):
    with pytest.raises(ConfigError, match=f"right.lif_input_regs = {value!r}: must be true or false"):
        HemiConfig.from_dict({"right": {"lif_input_regs": value}})
    assert HemiConfig().right.lif_input_regs is True
    assert load_config("ulx3s").right.lif_input_regs is True
    assert load_config("tiny").right.lif_input_regs is False


@pytest.mark.parametrize("value", [15, 33, True, 16.0, "16"])
def test_counter_bits_is_an_int_in_range(value):
    with pytest.raises(ConfigError, match=r"chip.counter_bits = .*(16\.\.32)"):
        HemiConfig.from_dict({"chip": {"counter_bits": value}})
    assert HemiConfig().chip.counter_bits == 32
    assert HemiConfig.from_dict({"chip": {"counter_bits": 16}}).chip.counter_bits == 16


def test_unknown_section():
    with pytest.raises(ConfigError, match=r"unknown section \[middle\]"):
        HemiConfig.from_dict({"middle": {}})


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[left\nrows = 8\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_generator_reports_one_clear_line(tmp_path):
    """`make verilog CONFIG=...` with a bad value: one message, exit 2, no traceback."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[left]\nrows = 0\ncols = 8\n")
    proc = subprocess.run([sys.executable, "-m", "rtl.generate", "--config", str(bad),
                           "--out", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: left.rows = 0: out of range, allowed 1..32"
    assert "Traceback" not in proc.stderr


def test_generator_writes_verilog(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rtl.generate", "--config", "tiny",
                           "--out", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "hemi_left_core.v").read_text()
    assert "module hemi_left_core" in text
    for port in ("i_act__payload", "i_w__ready", "o__valid", "i_epi__payload", "i_cmd__valid"):
        assert port in text


@pytest.mark.parametrize("chip,expect", [
    ({"host": [0]}, "chip.host = [0]: must be an [x, y] pair of integers"),
    ({"host": [8, 0]}, "chip.host = [8, 0]: coordinates out of range, allowed 0..7"),
    ({"left": [[0, 0]]}, "chip.left[0] = [0, 0]: node already holds the host"),
    ({"right": [[1, 0], [1, 0]]}, "chip.right[1] = [1, 0]: node already holds the right[0] tile"),
    ({"left": [], "right": []}, "chip: no tiles"),
    ({"left": "0,1"}, "chip.left = '0,1': must be a list of [x, y] pairs"),
])
def test_bad_chip_placement(chip, expect):
    with pytest.raises(ConfigError) as e:
        HemiConfig.from_dict({"chip": chip})
    assert expect in str(e.value)


def test_chip_placement_checked_against_the_mesh():
    cfg = HemiConfig.from_dict({"callosum": {"width": 2, "height": 1}})   # default chip needs 2 x 2
    with pytest.raises(ConfigError, match=r"chip.left\[0\] = \[0, 1\]: outside the 2 x 1 mesh"):
        cfg.check_chip()
    narrow = HemiConfig.from_dict({"callosum": {"flit_width": 24}})
    with pytest.raises(ConfigError, match="callosum.flit_width = 24: the chip needs at least 32"):
        narrow.check_chip()
    assert load_config().check_chip().chip.tiles() == [("left", 0, (0, 1)), ("right", 0, (1, 0)),
                                                        ("right", 1, (1, 1))]
