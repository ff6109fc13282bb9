"""Runs the left core's cocotb benches on Verilator, crossed over configs and
idle/back-pressure settings. Each parameter set has its own run folder; the
Verilator model is built once per config and shared."""

import pytest

from tb.sim import PATTERNS, run_matrix_point

pytestmark = pytest.mark.sim

CONFIGS = {
    "default": {"left": {"rows": 8, "cols": 8, "acc_depth": 512}},
    # Non-square, and the shared (serial) requantization multiplier.
    "nonsquare3x5-serial": {"left": {"rows": 3, "cols": 5, "acc_depth": 16, "epilogue": "serial"}},
    "single1x1": {"left": {"rows": 1, "cols": 1, "acc_depth": 8}},
    # The compact epilogue (no stage A) and a one-row accumulator register.
    "compact2x3-d1": {"left": {"rows": 2, "cols": 3, "acc_depth": 1, "epilogue": "compact"}},
}


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_left_core(config, pattern):
    run_matrix_point("left", "tb.left.test_left", CONFIGS[config], config, pattern)
