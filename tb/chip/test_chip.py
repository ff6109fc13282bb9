"""cocotb tests of the whole chip through its host port, against the golden
model: the digits network, random networks, config readback, bad packets
from the host, and reset under traffic.

Environment: HEMI_CONFIG, TB_IDLE, TB_BACKPRESSURE, SEED; HEMI_NET and
HEMI_IMAGES (a saved HybridNet and a few images) for ``digits``.
"""

import os

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

from host.compiler import compile_network
from host.network import hybrid_network
from host.protocol import config_read, config_write, decode_status, packet_words, spike
from sw_model import callosum as net
from sw_model.callosum import PacketType
from sw_model.chip_map import (BLOCK_SHIFT, ErrorReason, HostReg, LeftBlock, LeftReg, NodeKind, RightBlock,
                               RightReg, Status, address, left_epi_offset, out_dest_word)
from sw_model.hybrid import HybridNet
from sw_model.network import NetworkModel
from sw_model import right_stream
from tb.chip.chip_tb import ChipTB
from tb.chip.networks import coverage_network, dense_network, random_network
from tb.common import fcov
from tb.common.seed import seed_bench


async def setup(dut):
    tb = ChipTB(dut)
    seed = seed_bench(tb, dut._log)
    declare_coverage(tb.cfg)
    await tb.reset()
    return tb, np.random.default_rng(seed)


# ---- functional coverage (chip_tb.py samples the host port's side) -----------------

def declare_coverage(cfg):
    """The bins that depend on the placement: a flow or a fan-out the
    config cannot have is not a bin."""
    n_left, n_right = len(cfg.chip.left), len(cfg.chip.right)
    W, H = cfg.callosum.width, cfg.callosum.height
    flows = ["left->right ACTIVATION", "left->host ACTIVATION", "right->right SPIKE",
             "right->host SPIKE", "right->host ACTIVATION"]
    if n_left >= 2:
        flows.append("left->left ACTIVATION")       # a dense layer on a dense layer
        if n_right >= 2:
            flows.append("right->left ACTIVATION")  # counts to a dense layer (coverage_network)
    fcov.declare("chip.traffic.flow", flows)
    fcov.declare("chip.fanout.cores", ["1"] + ([">=2"] if n_right >= 2 else []))
    fcov.declare("chip.readback.block", [f"left.{b.name}" for b in LeftBlock]
                 + [f"right.{b.name}" for b in RightBlock] + ["host.REGS"])
    empty = W * H > 1 + n_left + n_right
    fcov.declare("chip.host.refused", [r.name for r in ErrorReason
                                       if (r != ErrorReason.OFF_MESH or W < 8 or H < 8)
                                       and (r != ErrorReason.EMPTY_NODE or empty)])


_models = {}


def cover_inference(program, x):
    """Coverage of one inference the chip has just matched with the golden
    model: the packets its layers sent between tiles and to the host, and
    to how many cores each step's spikes went (from the golden model's
    spikes of every layer)."""
    if id(program) not in _models:
        _models[id(program)] = (program, NetworkModel(program.network))
    result = _models[id(program)][1].run([int(v) for v in x])
    network = program.network
    for d in network.dense_layers:
        if network.dense_consumers(d.name):
            fcov.sample("chip.traffic.flow", "left->left ACTIVATION")
        if network.lif_consumers(d.name):
            fcov.sample("chip.traffic.flow", "left->right ACTIVATION")
        if d.name in network.outputs:
            fcov.sample("chip.traffic.flow", "left->host ACTIVATION")
    for lif in network.lif_layers:
        spikes = result.spikes[lif.name]
        cores = {program.node(c) for c in network.lif_consumers(lif.name)}
        if spikes.any() and cores:
            fcov.sample("chip.traffic.flow", "right->right SPIKE")
            fcov.sample("chip.fanout.cores", "1" if len(cores) == 1 else ">=2")
        if spikes.any() and (lif.name in network.raster or lif.name in program.host_counts):
            fcov.sample("chip.traffic.flow", "right->host SPIKE")
        if network.dense_consumers(lif.name):
            fcov.sample("chip.traffic.flow", "right->left ACTIVATION")
        elif lif.name in network.outputs:
            fcov.sample("chip.traffic.flow", "right->host ACTIVATION")


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
        cover_inference(program, x)
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
        assert got == list(regs.values()) + [NodeKind.LEFT], \
            f"left tile {(x, y)}: read back {got} (replay: SEED={tb.seed})"
        cover_readback("left", LeftBlock, regs)
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
            f"right tile {(x, y)}: read back {got} (replay: SEED={tb.seed})"
        cover_readback("right", RightBlock, regs)
        # A SPIKE from the host (a command the bridge takes; the compiler
        # never sends one) reaches the tile's spike input.
        tb.send([spike(host, (x, y), int(rng.integers(rc.axons)))])
        got = await tb.read((x, y), [address(RightBlock.TILE_REGS, RightReg.SPIKES_RECEIVED)])
        assert got == [1], f"right tile {(x, y)}: SPIKES_RECEIVED {got} after one spike (replay: SEED={tb.seed})"
    tb.send(config_write(host, host, [(HostReg.MARKERS, 1)]))
    assert await tb.host_regs(HostReg.MARKERS, HostReg.ERRORS) == [1, 0]
    fcov.sample("chip.readback.block", "host.REGS")
    tb.check_quiet_ports()


def cover_readback(kind, blocks, regs):
    for a in regs:
        fcov.sample("chip.readback.block", f"{kind}.{blocks(a >> BLOCK_SHIFT).name}")


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
        tb.send([p], cover=False)
        status = await tb.recv()
        code, why, word = decode_status(status)
        assert (code, why) == (Status.ERROR, reason), \
            f"{p}: got {code!r} {why!r}, expected {reason!r} (replay: SEED={tb.seed})"
        fcov.sample("chip.host.refused", reason.name)
    assert await tb.host_regs(HostReg.ERRORS) == [len(bad)]
    network = random_network(cfg, rng)
    program = compile_network(network, cfg)
    x = rng.integers(-128, 128, network.inputs)
    await run_checked(tb, program, [x], "after bad packets")
    # A tile read while a run is in progress is refused (BUSY): the RUN
    # write is the inference's last packet, so the read's head reaches the
    # bridge within cycles of the run's start, and the run takes far longer.
    tb.send(program.inference_packets(x))
    read = config_read(host, left, [address(LeftBlock.TILE_REGS, LeftReg.KIND)])
    tb.send(read, cover=False)
    packets = await tb.recv_until(lambda p: p.ptype == PacketType.STATUS
                                  and p.head_payload & 0xF == Status.RUN_DONE)
    got = program.decode(packets)
    busy = [(ErrorReason.BUSY, packet_words(read[0], tb.fw)[0])]
    assert got["errors"] == busy, \
        f"a tile read during a run: STATUS errors {got['errors']}, expected {busy} (replay: SEED={tb.seed})"
    fcov.sample("chip.host.refused", ErrorReason.BUSY.name)
    got["errors"] = []
    assert_same(got, program.expected(x), "the run beside a refused read", tb.seed)
    assert await tb.host_regs(HostReg.ERRORS) == [len(bad) + 1]
    tb.check_quiet_ports()


@cocotb.test()
async def reset_under_traffic(dut):
    """Reset asserted under traffic: as a load begins (for one cycle), with
    the host port inside a packet of a load, in the middle of a run, while
    the left tile computes its layer, and once everything has finished; for
    1..8 cycles (1 the first time, 2..8 the last). After each release: no
    stale valid at the host port, every tile and the controller idle with
    their counters at 0 (ChipTB.check_after_reset), then a network loaded
    and run from scratch matches the golden model, and nothing from before
    the reset reaches the host.

    The rule for the host: reset clears every register (the controller's,
    the tiles' configuration registers, the cores' state machines), not
    the memories (weights, epilogue, synapse tables, neuron state, output
    tables), which keep what they held, possibly half written by a load the
    reset cut short or half updated by a step it interrupted. So after a
    reset the host loads the whole program again before it runs anything
    (Program.load_packets writes every word a run reads; each inference
    zeroes the neuron state itself)."""
    tb, rng = await setup(dut)
    cfg, clk = tb.cfg, dut.clk
    spiking = compile_network(coverage_network(cfg, rng), cfg)
    dense = compile_network(dense_network(cfg, rng), cfg)
    left_bit = 1 << tb.node_index(cfg.chip.left[0])

    def x_for(program):
        return rng.integers(-128, 128, program.network.inputs)

    async def reset_then_run(hold, program, label, settled=False):
        if not settled:
            await FallingEdge(clk)
        tb.log.info("reset (%s) for %d cycles at cycle %d", "/".join(tb.reset_state()), hold, tb.cycles.now)
        await tb.reset_now(hold, settled=True)
        await tb.check_after_reset()
        await run_checked(tb, program, [x_for(program)], f"after a reset {label}")

    async def edges_until(what, done, bound=20000):
        """Wait for the first falling edge at which ``done()`` holds."""
        for _ in range(bound):
            await FallingEdge(clk)
            if done():
                return
        raise AssertionError(f"{what}: not within {bound} cycles (replay: SEED={tb.seed})")

    # Each reset is followed by the cheaper dense network unless the next
    # round needs the spiking one loaded (a run to interrupt).
    # As a load begins: its first word on the wire, or not yet.
    tb.send(spiking.load_packets())
    await ClockCycles(clk, int(rng.integers(0, 3)))
    await reset_then_run(1, dense, "as a load began")
    # Inside a packet of a load, past a random number of its words.
    load = spiking.load_packets()
    tb.send(load)
    target = int(rng.integers(1, sum(1 + len(p.words) for p in load)))
    await edges_until(f"the host port inside a packet past word {target}",
                      lambda: tb.words_sent() >= target and tb.host_mid_packet())
    await reset_then_run(int(rng.integers(1, 9)), spiking, "inside a packet of a load", settled=True)
    # In the middle of a run (the program is loaded).
    tb.send(spiking.inference_packets(x_for(spiking)))
    await RisingEdge(dut.tick)
    await ClockCycles(clk, int(rng.integers(0, 40)))
    await FallingEdge(clk)
    assert dut.running.value, f"the run ended before the reset (replay: SEED={tb.seed})"
    await reset_then_run(int(rng.integers(1, 9)), spiking, "in the middle of a run", settled=True)
    # While the left tile takes the input vector or computes the layer.
    tb.send(spiking.inference_packets(x_for(spiking)))
    await edges_until("the left tile busy with the input", lambda: int(dut.busy.value) & left_bit)
    await ClockCycles(clk, int(rng.integers(0, 4)))
    await FallingEdge(clk)
    assert int(dut.busy.value) & left_bit, f"the left tile finished before the reset (replay: SEED={tb.seed})"
    await reset_then_run(int(rng.integers(1, 9)), dense, "while the left tile computed", settled=True)
    # Once everything has finished (the last run's RUN_DONE has arrived).
    await ClockCycles(clk, int(rng.integers(0, 6)))
    await reset_then_run(int(rng.integers(2, 9)), dense, "after everything finished")
