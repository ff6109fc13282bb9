"""Runs the callosum's cocotb benches on Verilator, crossed over meshes and
idle/back-pressure settings (one Verilator build per mesh)."""

import pytest

from rtl.config import HemiConfig
from tb.sim import Bench

pytestmark = pytest.mark.sim

CONFIGS = {
    "mesh4x4": {"callosum": {"width": 4, "height": 4, "flit_width": 32, "fifo_depth": 4}},
    "mesh3x2-w24": {"callosum": {"width": 3, "height": 2, "flit_width": 24, "fifo_depth": 2}},
    "mesh1x3-w40": {"callosum": {"width": 1, "height": 3, "flit_width": 40, "fifo_depth": 3}},
}
PATTERNS = {"free": (0.0, 0.0), "idle": (0.5, 0.0), "bp": (0.0, 0.6), "both": (0.4, 0.4)}


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_callosum(config, pattern):
    cfg = HemiConfig.from_dict(CONFIGS[config], name=f"test-{config}")
    idle, bp = PATTERNS[pattern]
    Bench("callosum", cfg).run("tb.callosum.test_callosum", name=pattern,
                               env={"TB_IDLE": str(idle), "TB_BACKPRESSURE": str(bp)})
