"""Runs the left core's cocotb benches on Verilator, crossed over configs and
idle/back-pressure settings. Each parameter set has its own run folder; the
Verilator model is built once per config and shared."""

import pytest

from rtl.config import HemiConfig
from tb.sim import Bench

pytestmark = pytest.mark.sim

CONFIGS = {
    "default": {"left": {"rows": 8, "cols": 8, "acc_depth": 512}},
    "nonsquare3x5": {"left": {"rows": 3, "cols": 5, "acc_depth": 16}},
    "single1x1": {"left": {"rows": 1, "cols": 1, "acc_depth": 8}},
}
PATTERNS = {"free": (0.0, 0.0), "idle": (0.5, 0.0), "bp": (0.0, 0.6), "both": (0.4, 0.4)}


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_left_core(config, pattern):
    cfg = HemiConfig.from_dict(CONFIGS[config], name=f"test-{config}")
    idle, bp = PATTERNS[pattern]
    Bench("left", cfg).run("tb.left.test_left", name=pattern,
                           env={"TB_IDLE": str(idle), "TB_BACKPRESSURE": str(bp)})
