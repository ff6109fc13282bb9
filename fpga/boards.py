"""The dev boards Hemi builds for, and the thin top each one runs.

A :class:`Board` names the amaranth-boards platform, the FPGA family, the
config that fits it, the clock the PLL makes and the pins it uses.
:class:`BoardChip` requests those pins, puts a PLL on the board's clock and
instantiates :class:`fpga.board_top.BoardTop` (the chip, the UART bridge to
its host port, the LEDs), the same top the Verilator bench runs with the
PLL bypassed.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import ClockDomain, Module
from amaranth.lib import io, wiring

from .board_top import BoardTop
from .pll import PllDomain, direct_clock, ecp5_pll, ice40_pll

#: The host link's rate on every board (issue 6: at least 1 Mbaud).
BAUD = 1_000_000


def _icebreaker():
    from amaranth_boards.icebreaker import ICEBreakerPlatform
    return ICEBreakerPlatform()


def _ulx3s_85f():
    from amaranth_boards.ulx3s import ULX3S_85F_Platform

    class Platform(ULX3S_85F_Platform):
        # amaranth-boards lists openFPGALoader as needed to *build*; it is
        # needed only to program (make fpga-program), so a build does not ask
        # for it.
        @property
        def required_tools(self):
            return [t for t in super().required_tools if t != "openFPGALoader"]

    return Platform()


@dataclass(frozen=True)
class Board:
    name: str
    family: str                 # "ice40" or "ecp5"
    make_platform: object       # () -> amaranth platform
    config: str                 # default config file
    target_mhz: float           # the PLL's output, the chip's clock
    bar_mhz: float              # the clock the issue asks the build to meet
    clock: str                  # the board's oscillator resource
    clock_mhz: float
    led_heartbeat: tuple        # (resource, number)
    led_error: tuple
    # yosys module patterns whose multipliers are built from logic (booth)
    # rather than DSP blocks, where the device has too few of them.
    lut_multipliers: tuple = ()
    program_hint: str = ""
    # nextpnr's placement seed when the build names none (None: nextpnr's
    # own). nextpnr is deterministic: one seed, one netlist, one result.
    seed: int | None = None

    def pll(self, target_mhz=None):
        target_mhz = target_mhz or self.target_mhz
        if target_mhz == self.clock_mhz:
            return direct_clock(self.family, self.clock_mhz * 1e6)
        make = {"ice40": ice40_pll, "ecp5": ecp5_pll}[self.family]
        return make(self.clock_mhz * 1e6, target_mhz * 1e6)


BOARDS = {
    b.name: b for b in [
        Board(
            name="icebreaker", family="ice40", make_platform=_icebreaker,
            # The chip runs from the 12 MHz oscillator itself (no PLL; 12
            # clocks per UART bit): tiny fills 98% of the logic cells, where
            # nextpnr reaches 16.0 MHz, and the PLL's lowest output is 16 MHz.
            config="configs/tiny.toml", target_mhz=12.0, bar_mhz=12.0,
            clock="clk12", clock_mhz=12.0,
            led_heartbeat=("led_g", 0), led_error=("led_r", 0),
            # 8 SB_MAC16: the epilogue and the LIF lane take them all.
            lut_multipliers=("*.array",),
            program_hint="iceprog build/fpga/icebreaker/hemi_icebreaker.bin",
        ),
        Board(
            name="ulx3s-85f", family="ecp5", make_platform=_ulx3s_85f,
            config="configs/ulx3s.toml", target_mhz=50.0, bar_mhz=50.0,
            clock="clk25", clock_mhz=25.0,
            led_heartbeat=("led", 0), led_error=("led", 7),
            # Seed 0 routes the chip at 53.06 MHz (RTL of 83f6723), in 680
            # router2 iterations; seed 3 at 50.21 MHz, in 967. (Post-place
            # estimates run several MHz above the routed figure; see the
            # README's FPGA section.)
            seed=0,
            program_hint="openFPGALoader -b ulx3s build/fpga/ulx3s-85f/hemi_ulx3s_85f.bit",
        ),
    ]
}


class BoardChip(wiring.Component):
    """Pins of ``board`` -> PLL -> :class:`BoardTop` for ``cfg``."""

    def __init__(self, board: Board, cfg, target_mhz=None):
        self.board, self.cfg = board, cfg
        self.pll_settings = board.pll(target_mhz)
        # Build BoardTop now so that a baud rate the clock cannot make fails
        # before any tool runs.
        self.top = BoardTop(cfg, self.pll_settings.fout_hz, BAUD)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        b = self.board
        clk = platform.request(b.clock, 0, dir="-")
        if b.family == "ice40":
            # SB_PLL40_PAD takes the package pin itself (the clock pad feeds it).
            pin = clk.io
        else:
            m.submodules.clk_buf = clk_buf = io.Buffer("i", clk)
            pin = clk_buf.i
        # No constraint on sync itself: nextpnr derives the PLL output's
        # frequency from the board's input clock constraint (the resource's
        # Clock), and reports Fmax against it.
        m.domains.sync = ClockDomain("sync")
        m.submodules.pll = PllDomain(self.pll_settings, pin)
        m.submodules.top = top = self.top

        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buf = rx_buf = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx_buf = io.Buffer("o", uart.tx)
        m.d.comb += [top.uart_rx.eq(rx_buf.i), tx_buf.o.eq(top.uart_tx)]

        for name, (res, num) in (("hb", b.led_heartbeat), ("err", b.led_error)):
            m.submodules[f"led_{name}"] = buf = io.Buffer("o", platform.request(res, num, dir="-"))
            m.d.comb += buf.o.eq(top.led_heartbeat if name == "hb" else top.led_error)
        return m
