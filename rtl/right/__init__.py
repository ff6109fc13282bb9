"""The right hemisphere: an event-driven core of Loihi-style LIF neurons."""

from .core import RightCore
from .layouts import InKind, Region, RightLayouts, Reg

__all__ = ["RightCore", "RightLayouts", "InKind", "Region", "Reg"]
