"""Comparisons against constants, as logic.

yosys maps every ``<``, ``<=``, ``>``, ``>=`` through ``alumacc`` to a
subtraction, i.e. one carry chain as long as the operands: on the iCE40 one
logic cell per bit (an SB_CARRY beside a LUT that often has nothing else to
do). Against a constant the answer is a short AND/OR expression over the
bits, walked from the top bit down (a constant bit 1 turns the next term
into an OR, a 0 into an AND; a run of trailing ones or zeros vanishes),
which ABC packs into a few LUT4s. Same results as the operators, for any
operand width and signedness.
"""

from amaranth.hdl import Cat, Const, Value

__all__ = ["lt", "le", "gt", "ge"]


def _lt_unsigned(bits, c):
    """``bits`` (unsigned, a Value) < c, for an integer c."""
    n = len(bits)
    if c <= 0:
        return Const(0, 1)
    if c >= (1 << n):
        return Const(1, 1)
    t = n - 1
    top = bits[t]
    if c >> t & 1:
        # c >= 2**t: any x with its top bit 0 is below; with it 1, the rest decides.
        return ~top | _lt_unsigned(bits[:t], c - (1 << t))
    return ~top & _lt_unsigned(bits[:t], c)


def lt(x, c):
    """``x < c`` for a constant integer c (x signed or unsigned)."""
    x = Value.cast(x)
    n = len(x)
    if x.shape().signed:
        # Offset by 2**(n - 1): the sign bit flipped is the unsigned order.
        return _lt_unsigned(Cat(x[:n - 1], ~x[n - 1]), c + (1 << (n - 1)))
    return _lt_unsigned(x.as_unsigned(), c)


def ge(x, c):
    """``x >= c``."""
    return ~lt(x, c)


def le(x, c):
    """``x <= c``."""
    return lt(x, c + 1)


def gt(x, c):
    """``x > c``."""
    return ~lt(x, c + 1)
