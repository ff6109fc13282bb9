"""The board top in Verilator (PLL bypassed) with the real host program:
``python -m fpga.host`` runs unmodified in a subprocess on one end of a
pseudo-terminal; this bench moves bytes between the other end and the
simulated UART pins, bit by bit at the board's divisor.

Environment: HEMI_CONFIG; HEMI_HOST_ARGS (the host program's arguments
after --port); HEMI_HOST_EXPECT (a line its output must contain).
"""

import os
import shlex
import subprocess
import sys
import tty

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

from fpga.board_top import SIM_BAUD, SIM_CLK_HZ, uart_divisor
from tb.common.streams import reset

D = uart_divisor(SIM_CLK_HZ, SIM_BAUD)


async def host_to_pins(dut, fd, state):
    """Bytes the host program wrote -> 8N1 frames on uart_rx."""
    dut.uart_rx.value = 1
    while not state["done"]:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            data = b""
        except OSError:           # the program closed its end
            data = b""
        if not data:
            await ClockCycles(dut.clk, 20 * D)
            continue
        for byte in data:
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                dut.uart_rx.value = bit
                await ClockCycles(dut.clk, D)
            state["to_board"] += 1


async def pins_to_host(dut, fd, state):
    """8N1 frames on uart_tx -> bytes for the host program."""
    while True:
        await FallingEdge(dut.uart_tx)                 # start bit
        await ClockCycles(dut.clk, D + D // 2)         # middle of data bit 0
        byte = 0
        for i in range(8):
            byte |= int(dut.uart_tx.value) << i
            await ClockCycles(dut.clk, D)
        assert int(dut.uart_tx.value) == 1, "stop bit low on uart_tx"
        os.write(fd, bytes([byte]))
        state["to_host"] += 1


@cocotb.test()
async def host_program_over_uart(dut):
    cocotb.start_soon(Clock(dut.clk, round(1e9 / SIM_CLK_HZ), unit="ns").start())
    await reset(dut)
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    port = os.ttyname(slave)
    args = shlex.split(os.environ["HEMI_HOST_ARGS"])
    cmd = [sys.executable, "-m", "fpga.host", "--port", port, "--config", os.environ["HEMI_CONFIG"], *args]
    dut._log.info("host program: " + " ".join(cmd))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    state = {"done": False, "to_board": 0, "to_host": 0}
    cocotb.start_soon(host_to_pins(dut, master, state))
    cocotb.start_soon(pins_to_host(dut, master, state))
    while proc.poll() is None:
        await ClockCycles(dut.clk, 2000)
    state["done"] = True
    out = proc.stdout.read()
    dut._log.info(f"host program exited {proc.returncode} after {state['to_board']} bytes in, "
                  f"{state['to_host']} out:\n{out}")
    os.close(master)
    os.close(slave)
    assert proc.returncode == 0, f"host program exited {proc.returncode}:\n{out}"
    assert os.environ["HEMI_HOST_EXPECT"] in out, f"expected {os.environ['HEMI_HOST_EXPECT']!r} in:\n{out}"
    assert int(dut.led_error.value) == 0, "the error LED is lit"
    await RisingEdge(dut.clk)
