"""Argument checks shared by the golden models (clear ValueErrors)."""

import operator


def int_scalar(name, x, lo, hi):
    """``x`` as an int in ``lo..hi``; bools and non-integers are refused."""
    try:
        val = operator.index(x)
    except TypeError:
        raise ValueError(f"{name} = {x!r}: must be an integer in {lo}..{hi}") from None
    if isinstance(x, bool) or not lo <= val <= hi:
        raise ValueError(f"{name} = {x!r}: out of range, allowed {lo}..{hi}")
    return val
