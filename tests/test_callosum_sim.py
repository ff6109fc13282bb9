"""Runs the callosum's cocotb benches on Verilator, crossed over meshes and
idle/back-pressure settings (one Verilator build per mesh)."""

import pytest

from tb.sim import PATTERNS, run_matrix_point

pytestmark = pytest.mark.sim

CONFIGS = {
    "mesh4x4": {"callosum": {"width": 4, "height": 4, "flit_width": 32, "fifo_depth": 4}},
    "mesh3x2-w24": {"callosum": {"width": 3, "height": 2, "flit_width": 24, "fifo_depth": 2}},
    "mesh1x3-w40": {"callosum": {"width": 1, "height": 3, "flit_width": 40, "fifo_depth": 3}},
    # Flit registers instead of FIFOs, and no buffers between routers
    # (configs/tiny.toml's choice).
    "mesh3x3-d1": {"callosum": {"width": 3, "height": 3, "flit_width": 32, "fifo_depth": 1}},
    "mesh3x3-d0": {"callosum": {"width": 3, "height": 3, "flit_width": 32, "fifo_depth": 0}},
}


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_callosum(config, pattern):
    run_matrix_point("callosum", "tb.callosum.test_callosum", CONFIGS[config], config, pattern)
