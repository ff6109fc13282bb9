"""Runs the right core's cocotb benches on Verilator, crossed over configs and
idle/back-pressure settings (one Verilator build per config)."""

import pytest

from rtl.config import HemiConfig
from tb.sim import Bench

pytestmark = pytest.mark.sim

CONFIGS = {
    "default": {"right": {"neurons": 256, "axons": 256, "lanes": 4, "synapse_rows": 4096}},
    "lanes3": {"right": {"neurons": 37, "axons": 20, "lanes": 3, "synapse_rows": 300}},
    "lanes1": {"right": {"neurons": 16, "axons": 16, "lanes": 1, "synapse_rows": 400}},
    "lanes16": {"right": {"neurons": 40, "axons": 24, "lanes": 16, "synapse_rows": 64}},
    "groups2": {"right": {"neurons": 32, "axons": 16, "lanes": 16, "synapse_rows": 64}},
}
PATTERNS = {"free": (0.0, 0.0), "idle": (0.5, 0.0), "bp": (0.0, 0.6), "both": (0.4, 0.4)}


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_right_core(config, pattern):
    cfg = HemiConfig.from_dict(CONFIGS[config], name=f"test-{config}")
    idle, bp = PATTERNS[pattern]
    Bench("right", cfg).run("tb.right.test_right", name=pattern,
                            env={"TB_IDLE": str(idle), "TB_BACKPRESSURE": str(bp)})
