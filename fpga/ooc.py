"""Out-of-context Fmax of one chip block on the iCE40UP5K (iCEBreaker).

    python -m fpga.ooc BLOCK [--config C] [--freq MHZ] [--seed N]

BLOCK: right_core, right_tile, left_core, left_tile, host_bridge, router
(the middle router of the config's mesh row 0). While the whole chip does
not fit the UP5K, nextpnr cannot time it; this times each block alone.

nextpnr-ice40 has no out-of-context mode and the SG48 has 39 pins, so the
block is wrapped in :class:`Scan`: every input bit comes from a register of
an LFSR fed by one pin, every output bit goes to a register, and the output
registers are XOR-reduced to one pin through a tree of registered 4-input
XORs. Every path through the block's ports is register to register, and
nothing of the block is optimised away. The wrapper's own paths are one
LUT deep. Synthesis is ``synth_ice40 -dsp -spram`` with the iCEBreaker's
platform (as ``make fpga``), then ``nextpnr-ice40 --up5k --package sg48``.
Outputs in ``build/fpga-ooc-ice40/<block>/``; prints Fmax and the cells.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

from amaranth.hdl import Cat, Elaboratable, Module, Signal, Value
from amaranth.lib.wiring import Flow

from rtl.config import load_config

from .boards import BOARDS
from .build import ROOT, prepare_rtlil, use_yowasp

BLOCKS = ["right_core", "right_tile", "left_core", "left_tile", "host_bridge", "router"]


def block(name, cfg):
    """The block, as :mod:`tools.ooc_timing` builds it; the router is the
    middle one of mesh row 0 (on the 3 x 1 tiny mesh, the one with both
    neighbours)."""
    from tools.ooc_timing import block as chip_block
    return chip_block(name, cfg, router_at=(cfg.callosum.width // 2, 0))


class Scan(Elaboratable):
    """``block`` between an input LFSR and a registered XOR tree (ports
    ``i_pin``, ``o_pin``)."""

    def __init__(self, blk):
        self.block = blk
        self.i_pin, self.o_pin = Signal(), Signal()
        self.ins, self.outs = [], []
        for _path, member, value in blk.signature.flatten(blk):
            (self.ins if member.flow == Flow.In else self.outs).append(Value.cast(value))

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = self.block
        n_in = max(sum(len(v) for v in self.ins), 8)
        lfsr = Signal(n_in, init=1)
        m.d.sync += lfsr.eq(Cat(self.i_pin ^ lfsr[-1] ^ lfsr[-2], lfsr[:-1]))
        at = 0
        for v in self.ins:
            m.d.comb += v.eq(lfsr[at:at + len(v)])
            at += len(v)
        bits = []
        for v in self.outs:
            r = Signal(len(v))
            m.d.sync += r.eq(v)
            bits.extend(r[k] for k in range(len(v)))
        while len(bits) > 1:
            nxt = []
            for k in range(0, len(bits), 4):
                r = Signal()
                m.d.sync += r.eq(Cat(*bits[k:k + 4]).xor())
                nxt.append(r)
            bits = nxt
        m.d.comb += self.o_pin.eq(bits[0] if bits else 0)
        return m


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("block", choices=BLOCKS)
    ap.add_argument("--config", default="tiny")
    ap.add_argument("--freq", type=float, default=BOARDS["icebreaker"].target_mhz)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    from amaranth.back import rtlil
    from amaranth_boards.icebreaker import ICEBreakerPlatform

    cfg = load_config(args.config)
    out = ROOT / "build" / "fpga-ooc-ice40" / args.block
    out.mkdir(parents=True, exist_ok=True)
    top = Scan(block(args.block, cfg))
    il = rtlil.convert(top, name="ooc", ports=[top.i_pin, top.o_pin], platform=ICEBreakerPlatform())
    (out / "ooc.il").write_text(prepare_rtlil(il))
    tools = use_yowasp()
    subprocess.run([tools["YOSYS"], "-q", "-l", "synth.log", "-p",
                    "read_rtlil ooc.il; synth_ice40 -dsp -spram -top ooc; "
                    "tee -q -o stat.txt stat; write_json ooc.json"], cwd=out, check=True,
                   stdout=subprocess.DEVNULL)
    r = subprocess.run([tools["NEXTPNR_ICE40"], "--up5k", "--package", "sg48", "--json", "ooc.json",
                        "--freq", str(args.freq), "--seed", str(args.seed), "--timing-allow-fail",
                        "--pcf-allow-unconstrained", "--log", "pnr.log"],
                       cwd=out, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    log = (out / "pnr.log").read_text(errors="replace") if (out / "pnr.log").exists() else ""
    for name, used, avail in re.findall(r"Info:\s+(ICESTORM_LC|ICESTORM_RAM|ICESTORM_DSP|ICESTORM_SPRAM):"
                                        r"\s+(\d+)/\s*(\d+)", log)[-4:]:
        print(f"{name}: {used}/{avail}")
    fmax = re.findall(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz", log)
    if r.returncode or not fmax:
        err = next((ln for ln in log.splitlines() if ln.startswith("ERROR")), "")
        print(f"nextpnr-ice40 failed ({r.returncode}) {err}")
        return 1
    print(f"{args.block}: Fmax {fmax[-1][1]} MHz (clock {fmax[-1][0]}, target {args.freq} MHz; "
          f"the wrapper's LFSR and XOR tree included, one LUT deep)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
