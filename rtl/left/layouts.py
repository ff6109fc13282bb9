"""Stream payload layouts of the left core, derived from its config."""

from amaranth.hdl import signed, unsigned
from amaranth.lib import data, enum


class OutMode(enum.Enum, shape=1):
    RAW = 0       # int32: acc + bias
    REQUANT = 1   # int8 (sign-extended): TFLite per-channel requantization


class LeftLayouts:
    """All payload layouts for a :class:`rtl.config.LeftConfig`."""

    def __init__(self, cfg):
        R, C = cfg.rows, cfg.cols
        dim = unsigned(cfg.dim_bits)
        #: One GEMM command: C[m x n] = A[m x k] . W[k x n] (+ epilogue).
        self.cmd = data.StructLayout({"m": dim, "k": dim, "n": dim})
        #: One row of a weight tile: ``cols`` output channels.
        self.weights = data.ArrayLayout(signed(8), C)
        #: One row of A restricted to a K tile: ``rows`` lanes.
        self.act = data.ArrayLayout(signed(8), R)
        #: Per output-column tile epilogue parameters.
        self.epi = data.StructLayout({
            "bias": data.ArrayLayout(signed(32), C),
            "multiplier": data.ArrayLayout(signed(32), C),
            "shift": data.ArrayLayout(unsigned(5), C),
            "zero_point": signed(8),
            "relu": unsigned(1),
            "mode": OutMode,
        })
        #: One row of an output-column tile; ``last`` ends the command.
        self.out = data.StructLayout({
            "data": data.ArrayLayout(signed(32), C),
            "last": unsigned(1),
        })
