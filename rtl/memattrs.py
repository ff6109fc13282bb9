"""Memory attributes for the FPGA flow.

:func:`no_collision` marks a :class:`amaranth.lib.memory.Memory` whose
design guarantees the contract below, so that synthesis may treat a
read/write collision on it as don't-care.

**The contract.** In no clock cycle does an enabled synchronous read port
of the memory read the address that a write port (any of its lanes) writes
in that same cycle. A marked memory has no transparent read port (a
transparent port exists to see such a write; ``fpga.build`` refuses the
mark there).

**Why.** Amaranth's non-transparent read ports promise the old word on a
collision. Block RAMs (iCE40 SB_RAM40_4K, ECP5 DP16KD) do not, between a
read and a write port, so yosys emulates it with a delayed write and a
bypass: about twice the word width in flip-flops, plus multiplexers, per
memory. ``fpga.build`` (and ``fpga.area``, so its figures match) rewrite
the netlist so that every synchronous read port of a marked memory has
``COLLISION_X_MASK`` set: the read data of a collision is undefined, which
the contract says never happens, and yosys maps the memory as it is.

**Simulation.** The mark means nothing there: the Amaranth simulator and
the Verilog that ``rtl.generate`` writes for Verilator keep the exact
read-first behaviour. It is only emitted when the design is elaborated for
a platform (an FPGA build), so the generated Verilog is unchanged.

The attribute is yosys's own ``no_rw_check`` ("return don't-care value on
read/write collision"), which yosys itself applies only where it builds a
synchronous read port from an asynchronous one and a register
(``memory_dff``); Amaranth emits synchronous ports directly, hence the
rewrite in ``fpga.build``.
"""

#: The memory attribute (see the module's docstring for its contract).
NO_COLLISION = "no_rw_check"


def no_collision(platform, attrs=None):
    """``attrs`` for a Memory that is never read and written at one address
    in one cycle (see this module's contract), plus the given ``attrs``.

    Empty (nothing marked) when ``platform`` is None, i.e. for simulation
    and the generated Verilog."""
    # (The mark first: the given attributes stay next to the `memory` line.)
    mark = {NO_COLLISION: 1} if platform is not None else {}
    return {**mark, **(attrs or {})}
