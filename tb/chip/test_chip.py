"""cocotb tests of the whole chip through its host port, against the golden
model: the digits network, random networks, config readback, and bad
packets from the host.

Environment: HEMI_CONFIG, TB_IDLE, TB_BACKPRESSURE, SEED; HEMI_NET and
HEMI_IMAGES (a saved HybridNet and a few images) for ``digits``.
"""

import os

import cocotb
import numpy as np

from host.compiler import compile_network
from host.network import hybrid_network
from host.protocol import config_write, decode_status
from sw_model import callosum as net
from sw_model.callosum import PacketType
from sw_model.chip_map import (ErrorReason, HostReg, LeftBlock, LeftReg, NodeKind, RightBlock, RightReg,
                               Status, address, left_epi_offset, out_dest_word)
from sw_model.hybrid import HybridNet
from sw_model import right_stream
from tb.chip.chip_tb import ChipTB
from tb.chip.networks import random_network
from tb.common.seed import seed_bench


async def setup(dut):
    tb = ChipTB(dut)
    seed = seed_bench(tb, dut._log)
    await tb.reset()
    return tb, np.random.default_rng(seed)


def assert_same(got, expect, label, seed):
    where = f"{label} (replay: SEED={seed})"
    assert got["run_done"], f"{where}: no RUN_DONE"
    assert not got["errors"], f"{where}: STATUS errors {got['errors']}"
    assert sorted(got["outputs"]) == sorted(expect["outputs"]), \
        f"{where}: outputs from {sorted(got['outputs'])}, expected {sorted(expect['outputs'])}"
    for name, e in expect["outputs"].items():
        g = got["outputs"][name]
        assert np.array_equal(g, e), f"{where}: output {name}: {np.asarray(g).tolist()} != golden {e.tolist()}"
    assert sorted(got["spikes"]) == sorted(expect["spikes"]), f"{where}: rasters of {sorted(got['spikes'])}"
    for name, e in expect["spikes"].items():
        g = got["spikes"][name]
        if not np.array_equal(g, e):
            t = int(np.nonzero((np.asarray(g) != e).any(axis=1))[0][0])
            raise AssertionError(f"{where}: raster {name} step {t}: {np.nonzero(g[t])[0].tolist()} "
                                 f"!= golden {np.nonzero(e[t])[0].tolist()}")


async def run_checked(tb, program, inputs, label):
    await tb.load(program)
    results = []
    for i, x in enumerate(inputs):
        got, _, cycles = await tb.infer(program, x)
        assert_same(got, program.expected(x), f"{label} input {i}", tb.seed)
        results.append(cycles)
    tb.check_quiet_ports()
    return results


@cocotb.test()
async def digits(dut):
    """The demo's network on a few test images."""
    tb, _ = await setup(dut)
    hnet = HybridNet.load(os.environ["HEMI_NET"])
    images = np.load(os.environ["HEMI_IMAGES"])
    program = compile_network(hybrid_network(hnet), tb.cfg)
    cycles = await run_checked(tb, program, images, "digits")
    for x, c in zip(images, cycles):
        tb.log.info(f"inference: {c} cycles")
    got, _, _ = await tb.infer(program, images[0])      # run again: state is reset per inference
    assert np.array_equal(got["outputs"]["out"], program.expected(images[0])["outputs"]["out"])


@cocotb.test()
async def random_networks(dut):
    """Random networks that fit the config, several inputs each."""
    tb, rng = await setup(dut)
    for n in range(3):
        network = random_network(tb.cfg, rng)
        program = compile_network(network, tb.cfg)
        inputs = [rng.integers(-128, 128, network.inputs) for _ in range(2)]
        await run_checked(tb, program, inputs, f"random network {n} ({[l.name for l in network.layers]})")


@cocotb.test()
async def config_readback(dut):
    """Random words written to every tile's registers and stores read back."""
    tb, rng = await setup(dut)
    cfg, host = tb.cfg, tb.host
    lc, rc = cfg.left, cfg.right
    for x, y in cfg.chip.left:
        regs = {address(LeftBlock.TILE_REGS, LeftReg.K): int(rng.integers(1, lc.max_k + 1)),
                address(LeftBlock.TILE_REGS, LeftReg.N): int(rng.integers(1, lc.max_n + 1)),
                address(LeftBlock.TILE_REGS, LeftReg.DEST): int(rng.integers(0, 64)),
                address(LeftBlock.TILE_REGS, LeftReg.EPI): int(rng.integers(0, 512))}
        wpr = -(-lc.cols // 4)
        for _ in range(6):
            row, word = int(rng.integers(lc.weight_rows)), int(rng.integers(wpr))
            lanes = min(4, lc.cols - 4 * word)
            regs[address(LeftBlock.WEIGHTS, row * wpr + word)] = int(rng.integers(0, 1 << (8 * lanes)))
        for block, bits in ((LeftBlock.BIAS, 32), (LeftBlock.MULT, 32), (LeftBlock.SHIFT, 5)):
            ch = int(rng.integers(lc.max_n))
            regs[address(block, left_epi_offset(lc.cols, ch))] = int(rng.integers(0, 1 << bits))
        tb.send(config_write(host, (x, y), list(regs.items())))
        got = await tb.read((x, y), list(regs) + [address(LeftBlock.TILE_REGS, LeftReg.KIND)])
        assert got == list(regs.values()) + [NodeKind.LEFT], f"left tile {(x, y)}: read back {got}"
    for x, y in cfg.chip.right:
        n = int(rng.integers(rc.neurons))
        e = int(rng.integers(rc.output_entries))
        regs = {address(RightBlock.TILE_REGS, RightReg.WINDOW): int(rng.integers(0, 256)),
                address(RightBlock.TILE_REGS, RightReg.COUNT_DEST): int(rng.integers(0, 64)),
                address(RightBlock.TILE_REGS, RightReg.COUNT_N): int(rng.integers(1, rc.neurons + 1)),
                address(RightBlock.OUT_PTR, n): int(rng.integers(0, 1 << 32)),
                address(RightBlock.OUT_DEST, e): out_dest_word(*(int(v) for v in rng.integers(0, 8, 2)),
                                                               int(rng.integers(0, 1 << 13))),
                address(RightBlock.CORE, right_stream.addr(right_stream.REGS, right_stream.REG_WEXP)):
                    int(rng.integers(0, 8))}
        tb.send(config_write(host, (x, y), list(regs.items())))
        extra = [address(RightBlock.TILE_REGS, RightReg.KIND),
                 address(RightBlock.CORE, right_stream.addr(right_stream.REGS, right_stream.REG_ID))]
        got = await tb.read((x, y), list(regs) + extra)
        assert got == list(regs.values()) + [NodeKind.RIGHT, right_stream.ID_WORD], \
            f"right tile {(x, y)}: read back {got}"
    tb.send(config_write(host, host, [(HostReg.MARKERS, 1)]))
    assert await tb.host_regs(HostReg.MARKERS, HostReg.ERRORS) == [1, 0]
    tb.check_quiet_ports()


@cocotb.test()
async def bad_host_packets(dut):
    """Every kind of bad head is refused with its reason; the chip keeps
    working (a network loaded afterwards runs bit-exact)."""
    tb, rng = await setup(dut)
    cfg, host = tb.cfg, tb.host
    W, H = cfg.callosum.width, cfg.callosum.height
    left, right = cfg.chip.left[0], cfg.chip.right[0]
    occupied = {host, *cfg.chip.left, *cfg.chip.right}
    empty = [(x, y) for x in range(W) for y in range(H) if (x, y) not in occupied]
    off_mesh = (W, 0) if W < 8 else (0, H) if H < 8 else None     # 3-bit coordinates reach 7
    bad = [
        (net.Packet(src=host, dst=off_mesh or host, ptype=PacketType.CONFIG_WRITE, words=(1, 2)),
         ErrorReason.OFF_MESH if off_mesh else None),
        (net.Packet(src=host, dst=left, ptype=PacketType.SPIKE, head_payload=3), ErrorReason.BAD_TYPE),
        (net.Packet(src=host, dst=right, ptype=PacketType.STATUS, words=(1,)), ErrorReason.BAD_TYPE),
        (net.Packet(src=host, dst=right, ptype=PacketType.CONFIG_WRITE, words=(1, 2, 3)), ErrorReason.BAD_LENGTH),
        (net.Packet(src=host, dst=right, ptype=PacketType.ACTIVATION), ErrorReason.BAD_LENGTH),
        (net.Packet(src=host, dst=host, ptype=PacketType.CONFIG_WRITE, words=(HostReg.STEPS, 5)),
         ErrorReason.BAD_REGISTER),
    ]
    if empty:
        bad.append((net.Packet(src=host, dst=empty[0], ptype=PacketType.CONFIG_READ, words=(0,)),
                    ErrorReason.EMPTY_NODE))
    bad = [(p, r) for p, r in bad if r is not None]
    order = rng.permutation(len(bad))
    for i in order:
        p, reason = bad[i]
        tb.send([p])
        status = await tb.recv()
        code, why, word = decode_status(status)
        assert (code, why) == (Status.ERROR, reason), f"{p}: got {code!r} {why!r}, expected {reason!r}"
    assert await tb.host_regs(HostReg.ERRORS) == [len(bad)]
    network = random_network(cfg, rng)
    program = compile_network(network, cfg)
    await run_checked(tb, program, [rng.integers(-128, 128, network.inputs)], "after bad packets")
