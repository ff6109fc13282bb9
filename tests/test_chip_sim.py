"""The chip's cocotb benches (tb/chip/test_chip.py) on Verilator: the
default 2 x 2 chip crossed with every idle/back-pressure pattern, and two
other placements (a 3 x 3 mesh with several left and right tiles and empty
nodes; a 1 x 3 column with 40-bit flits and a non-square array)."""

import numpy as np
import pytest

from host.digits import load_digits_split, train
from rtl.config import HemiConfig
from tb.sim import PATTERNS, Bench

pytestmark = pytest.mark.sim

SMALL = {
    "left": {"rows": 4, "cols": 4, "acc_depth": 16, "weight_rows": 256, "max_k": 64, "max_n": 32},
    "right": {"neurons": 32, "axons": 64, "lanes": 2, "synapse_rows": 512, "output_entries": 256},
}
CONFIGS = {
    "default": {},
    # No buffers between routers and no local validators, as on the iCE40
    # (configs/tiny.toml).
    "mesh3x3": {**SMALL, "callosum": {"width": 3, "height": 3, "flit_width": 32, "fifo_depth": 0,
                                      "local_check": False},
                "chip": {"host": [0, 0], "left": [[0, 1], [0, 2]], "right": [[1, 0], [2, 0], [1, 2]]}},
    "column1x3-w40": {"left": {"rows": 3, "cols": 5, "acc_depth": 16, "weight_rows": 256, "max_k": 64, "max_n": 32},
                      "right": {"neurons": 20, "axons": 48, "lanes": 3, "synapse_rows": 512, "output_entries": 128},
                      "callosum": {"width": 1, "height": 3, "flit_width": 40, "fifo_depth": 3},
                      "chip": {"host": [0, 2], "left": [[0, 0]], "right": [[0, 1]]}},
}
GENERIC = ["random_networks", "config_readback", "bad_host_packets", "reset_under_traffic"]
POINTS = [("default", p) for p in PATTERNS] + [("mesh3x3", "free"), ("mesh3x3", "both"),
                                               ("column1x3-w40", "bp")]


@pytest.fixture(scope="module")
def digits_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("digits")
    data = load_digits_split(0)
    net, _ = train(data)
    net.save(tmp / "net.npz")
    np.save(tmp / "images.npy", data.x_test[:3])
    return {"HEMI_NET": str(tmp / "net.npz"), "HEMI_IMAGES": str(tmp / "images.npy")}


@pytest.mark.parametrize("config,pattern", POINTS, ids=[f"{c}-{p}" for c, p in POINTS])
def test_chip(config, pattern, digits_files):
    cfg = HemiConfig.from_dict(CONFIGS[config], name=f"test-chip-{config}")
    idle, bp = PATTERNS[pattern]
    tests = GENERIC + (["digits"] if config == "default" else [])
    env = {"TB_IDLE": str(idle), "TB_BACKPRESSURE": str(bp), **digits_files}
    Bench("chip", cfg).run("tb.chip.test_chip", name=pattern, testcase=tests, env=env)
