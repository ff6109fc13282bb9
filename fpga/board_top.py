"""What every board runs: the chip, its host port over a UART, and two LEDs.

``BoardTop(cfg, clk_hz, baud)`` has only pins: ``uart_rx``, ``uart_tx``,
``led_heartbeat`` (toggles about every 0.7 s: the clock runs) and
``led_error`` (lit, and held, once the chip refused a host packet, the mesh
dropped one, or the UART lost a byte or saw a bad frame). The board files put a PLL in
front of it; the simulation bench drives it directly (PLL bypassed), so
the same top runs in Verilator and on a board.
"""

import math

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.chip import Chip

from .uart import HostUart


#: The simulated board (PLL bypassed): 4 clock cycles per UART bit (the
#: least the UART takes) keeps the bench fast; the logic is the same at any
#: divisor.
SIM_CLK_HZ, SIM_BAUD = 4_000_000, 1_000_000


def uart_divisor(clk_hz, baud):
    divisor = round(clk_hz / baud)
    if divisor < 4:
        raise ValueError(f"baud {baud} is too fast for a {clk_hz / 1e6:g} MHz clock "
                         f"(at least 4 clock cycles per bit)")
    if abs(clk_hz / divisor - baud) / baud > 0.02:
        raise ValueError(f"baud {baud}: the nearest rate from {clk_hz / 1e6:g} MHz is "
                         f"{clk_hz / divisor:.0f}, more than 2 % off")
    return divisor


class BoardTop(wiring.Component):
    uart_rx: In(1, init=1)
    uart_tx: Out(1, init=1)
    led_heartbeat: Out(1)
    led_error: Out(1)

    def __init__(self, cfg, clk_hz, baud):
        self.cfg = cfg.check_chip()
        self.clk_hz, self.baud = int(clk_hz), int(baud)
        try:
            self.divisor = uart_divisor(self.clk_hz, self.baud)
        except ValueError:
            self._MustUse__silence = True
            raise
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.chip = chip = Chip(self.cfg)
        # The UART's error counts only light the LED: 1-bit sticky flags.
        m.submodules.uart = uart = HostUart(self.cfg.callosum.flit_width, self.divisor, count_bits=1)
        m.d.comb += [uart.rx.eq(self.uart_rx), self.uart_tx.eq(uart.tx)]
        wiring.connect(m, uart.o_word, chip.i_host)
        wiring.connect(m, chip.o_host, uart.i_word)

        # The LED is bit n of a free-running count of cycles: it toggles
        # every 2**n cycles, the power of two nearest half a second (0.70 s
        # at 12 MHz, 0.67 s at 50 MHz); no compare, no reload, no LED
        # register. The count's low bits are the chip's CYCLES counter (no
        # second counter beside it); where that is narrower, a few more bits
        # count its wraps (its top bit falling).
        n = max(round(math.log2(max(self.clk_hz, 2) / 2)), 1)
        cycles = chip.cycles
        if n < len(cycles):
            m.d.comb += self.led_heartbeat.eq(cycles[n])
        else:
            top, wraps = Signal(), Signal(n + 1 - len(cycles))
            m.d.sync += top.eq(cycles[-1])
            with m.If(top & ~cycles[-1]):
                m.d.sync += wraps.eq(wraps + 1)
            m.d.comb += self.led_heartbeat.eq(wraps[-1])
        # Which counters are non-zero is registered first: the mesh's error
        # count is a sum over every router, too long a path to compare and
        # act on in the same cycle on the ECP5. The LED lights a cycle later.
        nonzero = Signal(4)
        m.d.sync += nonzero.eq(Cat(chip.errors != 0, chip.net_errors != 0, uart.overruns != 0,
                                   uart.frame_errors != 0))
        with m.If(nonzero.any()):
            m.d.sync += self.led_error.eq(1)
        return m
