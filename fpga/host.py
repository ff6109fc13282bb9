"""Drive a Hemi board over its serial port.

    python -m fpga.host --port /dev/ttyUSB1 ping
    python -m fpga.host --port /dev/ttyUSB1 demo [--images N | --all]
    python -m fpga.host --port /dev/ttyUSB1 --board icebreaker demo   # its config

The host port's words travel as little-endian bytes (fpga/uart.py); the
packets are the chip's (sw_model/chip_map.py), built and decoded by the same
host library the simulation uses (host/compiler.py, host/protocol.py).
``demo`` trains and compiles the digits network, loads it, runs test images
on the board and prints the report ``make demo`` prints: accuracy, agreement
with the golden model, cycles per inference (the chip's own cycle counter,
UART transfers included) and each tile's busy fraction.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from host import protocol as proto
from rtl.config import ConfigError, load_config
from sw_model.callosum import PacketType
from sw_model.chip_map import HOST_ID, HostReg, Status

from .boards import BOARDS

ROOT = Path(__file__).resolve().parent.parent


class BoardError(RuntimeError):
    """A problem with the port or the board, said in one line."""


class SerialLink:
    """Packets to and from the board's host port over a serial device."""

    def __init__(self, port, baud, flit_width, timeout):
        import serial

        self.port, self.timeout, self.fw = port, timeout, flit_width
        self.nbytes = -(-flit_width // 8)
        try:
            self.ser = serial.Serial(port, baud, timeout=0.05)
        except (serial.SerialException, OSError, ValueError) as e:
            reason = "no such device" if "No such file" in str(e) or "could not open" in str(e) else str(e)
            raise BoardError(f"--port {port}: {reason}") from None
        self.ser.reset_input_buffer()
        self.parser = proto.PacketParser(flit_width)
        self.inbox = []
        self.buf = bytearray()     # bytes of a word not complete yet (kept between calls)

    def send(self, packets):
        data = bytearray()
        for w in proto.stream_words(packets, self.fw):
            data += w.to_bytes(self.nbytes, "little")
        self.ser.write(bytes(data))
        self.ser.flush()

    def recv(self):
        deadline = time.monotonic() + self.timeout
        while not self.inbox:
            chunk = self.ser.read(4096)
            if chunk:
                self.buf += chunk
                n = len(self.buf) // self.nbytes * self.nbytes
                words = [int.from_bytes(self.buf[i:i + self.nbytes], "little") for i in range(0, n, self.nbytes)]
                del self.buf[:n]
                self.inbox += self.parser.feed(words)
                deadline = time.monotonic() + self.timeout
            elif time.monotonic() > deadline:
                raise BoardError(f"--port {self.port}: no answer from the board within {self.timeout:g} s")
        return self.inbox.pop(0)

    def close(self):
        self.ser.close()


class Board:
    """The chip's host protocol over a link (the synchronous twin of
    tb/chip/chip_tb.py's ChipTB)."""

    def __init__(self, link, cfg):
        self.link, self.cfg, self.host = link, cfg, cfg.chip.host

    def read(self, dst, addrs):
        addrs = list(addrs)
        self.link.send(proto.config_read(self.host, dst, addrs))
        words = []
        while len(words) < len(addrs):
            p = self.link.recv()
            if p.ptype == PacketType.STATUS:
                code, reason, word = proto.decode_status(p)
                raise BoardError(f"the board refused a read of {dst}: {code.name} {reason!r} {word:#x}")
            words += p.words
        return words

    def host_regs(self, *regs):
        return self.read(self.host, [int(r) for r in regs])

    def load(self, program):
        self.link.send(program.load_packets())
        self.host_regs(HostReg.ID)           # answered once everything before it was taken

    def infer(self, program, x):
        self.link.send(program.inference_packets(x))
        packets = []
        while True:
            p = self.link.recv()
            packets.append(p)
            if p.ptype == PacketType.STATUS and p.head_payload & 0xF == Status.RUN_DONE:
                return program.decode(packets)


def cmd_ping(board, args):
    ident, shape, steps = board.host_regs(HostReg.ID, HostReg.SHAPE, HostReg.STEPS)
    if ident != HOST_ID:
        raise BoardError(f"--port {board.link.port}: answered ID {ident:#x}, not a Hemi chip ({HOST_ID:#x})")
    print(f"Hemi chip on {board.link.port}: mesh {shape & 15} x {shape >> 4 & 15}, host node "
          f"({shape >> 8 & 7}, {shape >> 12 & 7}), {shape >> 16 & 255}-bit flits, {steps} steps run")
    return 0


def cmd_demo(board, args):
    from host.compiler import compile_network
    from host.digits import load_digits_split, train
    from host.network import hybrid_network

    cfg = board.cfg
    data = load_digits_split(args.seed)
    net, float_acc = train(data, seed=args.seed)
    program = compile_network(hybrid_network(net), cfg)
    g_pred, g_counts = net.predict(data.x_test)
    print(f"Hemi hybrid digits demo on the board at {board.link.port} (config {cfg.name})")
    print(f"  trained and quantized: float accuracy {float_acc:.4f}")
    print(f"golden model, whole test split ({len(data.y_test)} images): accuracy "
          f"{(g_pred == data.y_test).mean():.4f}")
    n = len(data.y_test) if args.all else min(args.images, len(data.y_test))
    board.load(program)
    W = cfg.callosum.width
    names = {y * W + x: f"{kind}{i} ({x},{y})" for kind, i, (x, y) in cfg.chip.tiles()}
    nodes = sorted(names)
    counts, cycles, busy = [], [], np.zeros(len(nodes))
    wrap = (1 << cfg.chip.counter_bits) - 1           # the counters wrap at this width
    for i, x in enumerate(data.x_test[:n]):
        before = board.host_regs(HostReg.CYCLES, *[HostReg.BUSY_BASE + k for k in nodes])
        got = board.infer(program, x)
        after = board.host_regs(HostReg.CYCLES, *[HostReg.BUSY_BASE + k for k in nodes])
        expect = program.expected(x)
        if not np.array_equal(got["outputs"]["out"], expect["outputs"]["out"]):
            print(f"image {i}: counts {list(got['outputs']['out'])} differ from the golden model's "
                  f"{list(expect['outputs']['out'])}")
        counts.append(np.asarray(got["outputs"]["out"]))
        cycles.append((after[0] - before[0]) & wrap)
        busy += [(a - b) & wrap for a, b in zip(after[1:], before[1:])]
        sys.stdout.write(f"\r  {i + 1}/{n} images through the board")
        sys.stdout.flush()
    print()
    counts = np.array(counts)
    pred = counts.argmax(axis=1)
    labels = data.y_test[:n]
    same_pred = int((pred == g_pred[:n]).sum())
    same_counts = int((counts == g_counts[:n]).all(axis=1).sum())
    total = sum(cycles)
    print(f"accuracy on the board:     {(pred == labels).mean():.4f} ({int((pred == labels).sum())}/{n})")
    print(f"equal to the golden model: predictions {same_pred}/{n}, spike counts {same_counts}/{n}")
    print(f"cycles per inference:      {np.mean(cycles):.0f} (the chip's cycle counter, UART transfers included)")
    print("busy fraction per tile:    " + ", ".join(f"{names[k]} {b / total:.2f}" for k, b in zip(nodes, busy)))
    return 0 if same_pred == n and same_counts == n else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", required=True, help="serial device of the board's UART")
    ap.add_argument("--baud", type=int, default=1_000_000)
    ap.add_argument("--board", choices=sorted(BOARDS),
                    help="the board, for its config (as make fpga BOARD=... built it)")
    ap.add_argument("--config", default=None,
                    help="the config the board was built with (default: the --board's, else default)")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for an answer")
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("ping", help="read the chip's ID and shape")
    demo = sub.add_parser("demo", help="the digits demo on the board")
    demo.add_argument("--images", type=int, default=100)
    demo.add_argument("--all", action="store_true")
    demo.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.config is None and args.board is not None:
        args.config = str(ROOT / BOARDS[args.board].config)
    try:
        cfg = load_config(args.config).check_chip()
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        link = SerialLink(args.port, args.baud, cfg.callosum.flit_width, args.timeout)
    except BoardError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        board = Board(link, cfg)
        return {"ping": cmd_ping, "demo": cmd_demo}[args.command](board, args)
    except BoardError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        link.close()


if __name__ == "__main__":
    sys.exit(main())
