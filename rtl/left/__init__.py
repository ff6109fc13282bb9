"""The left hemisphere: an INT8 weight-stationary systolic GEMM core."""

from .core import LeftCore
from .layouts import LeftLayouts, OutMode

__all__ = ["LeftCore", "LeftLayouts", "OutMode"]
