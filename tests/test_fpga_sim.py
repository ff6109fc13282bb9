"""The board top (PLL bypassed) in Verilator with the unmodified host
program on a pseudo-terminal bridged to its UART pins: the digits demo on a
few images must give the golden model's answers; a port that does not exist
and a board that does not answer give clear errors."""

import subprocess
import sys

import pytest

from rtl.config import load_config
from tb.sim import Bench


@pytest.mark.sim
@pytest.mark.parametrize("args,expect", [
    ("ping", "Hemi chip on /dev/pts/"),
    ("--timeout 300 demo --images 2", "equal to the golden model: predictions 2/2, spike counts 2/2"),
], ids=["ping", "demo"])
def test_host_program_against_simulated_board(args, expect):
    cfg = load_config("tiny")          # the iCEBreaker's config
    Bench("board", cfg).run("tb.fpga.test_board", name=args.split()[-1] if args == "ping" else "demo",
                            env={"HEMI_HOST_ARGS": args, "HEMI_HOST_EXPECT": expect})


def test_port_errors_are_clear(tmp_path):
    missing = subprocess.run([sys.executable, "-m", "fpga.host", "--port", str(tmp_path / "ttyNONE"), "ping"],
                             capture_output=True, text=True)
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: --port {tmp_path / 'ttyNONE'}: no such device"
    # A terminal nobody answers on: the program gives up after its timeout.
    import os

    master, slave = os.openpty()
    try:
        silent = subprocess.run([sys.executable, "-m", "fpga.host", "--port", os.ttyname(slave),
                                 "--timeout", "0.5", "ping"], capture_output=True, text=True, timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    assert silent.returncode == 1
    assert silent.stderr.strip().endswith("no answer from the board within 0.5 s")
