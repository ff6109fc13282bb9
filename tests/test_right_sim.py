"""Runs the right core's cocotb benches on Verilator, crossed over configs and
idle/back-pressure settings (one Verilator build per config)."""

import pytest

from tb.sim import PATTERNS, run_matrix_point

pytestmark = pytest.mark.sim

CONFIGS = {
    "default": {"right": {"neurons": 256, "axons": 256, "lanes": 4, "synapse_rows": 4096}},
    "lanes3": {"right": {"neurons": 37, "axons": 20, "lanes": 3, "synapse_rows": 300}},
    "lanes1": {"right": {"neurons": 16, "axons": 16, "lanes": 1, "synapse_rows": 400}},
    "lanes16": {"right": {"neurons": 40, "axons": 24, "lanes": 16, "synapse_rows": 64}},
    "groups2": {"right": {"neurons": 32, "axons": 16, "lanes": 16, "synapse_rows": 64}},
}


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_right_core(config, pattern):
    run_matrix_point("right", "tb.right.test_right", CONFIGS[config], config, pattern)
