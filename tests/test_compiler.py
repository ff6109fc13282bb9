"""The network description (host/network.py) and the chip compiler
(host/compiler.py): register images decoded back from the load packets, the
inference packet sequence, decode() against expected(), and every refusal.

``simulate`` is a functional model of the chip written only from the
register images the packets leave in each tile (chip_map's address maps), so
compile -> packets -> simulate -> decode == expected checks the whole
mapping against the golden model without any RTL."""

import numpy as np
import pytest

from host import protocol as proto
from host.compiler import CompileError, compile_network, diff_results, left_weight_rows
from host.digits import digits_network
from host.network import Dense, Lif, Network
from rtl.config import HemiConfig, load_config
from sw_model import chip_map as cm
from sw_model import left as golden_left
from sw_model import right_stream as rs
from sw_model.bridges import counts_to_int8, rate_encode
from sw_model.callosum import Packet, PacketType
from sw_model.left_stream import plan_gemm
from sw_model.right import RightCoreModel

IDENTITY = (1 << 31) - 1
BIG = {"callosum": {"width": 3, "height": 2},
       "chip": {"host": [0, 0], "left": [[0, 1], [1, 1], [2, 1]], "right": [[1, 0], [2, 0]]}}


def lif_params(n, du=4095, dv=0, vth=9, bias_mant=0, bias_exp=0, refractory=0):
    return {"du": np.full(n, du), "dv": np.full(n, dv), "vth": np.full(n, vth),
            "bias_mant": np.full(n, bias_mant), "bias_exp": np.full(n, bias_exp),
            "refractory": np.full(n, refractory)}


def dense(name, k, n, source="input", w=1, relu=True):
    return Dense(name, np.full((k, n), w), 0, IDENTITY, 0, relu=relu, source=source)


@pytest.fixture(scope="module")
def demo():
    network, net, data = digits_network(seed=0)
    return network, net, data, compile_network(network, load_config())


# --------------------------------------------------------------------------
# register images and a functional chip


def memories(packets, host):
    """node -> {addr: data} after the write packets (checked well-formed)."""
    mem = {}
    for p in packets:
        assert p.src == host
        assert proto.parse_packets(proto.packet_words(p)) == [p]
        m = mem.setdefault(p.dst, {})
        if p.ptype == PacketType.CONFIG_WRITE:
            assert len(p.words) % 2 == 0 and 2 <= len(p.words) <= 14
            m.update(zip(p.words[::2], p.words[1::2]))
        elif p.ptype == PacketType.WEIGHTS:
            assert 2 <= len(p.words) <= 15
            m.update((p.words[0] + i, d) for i, d in enumerate(p.words[1:]))
    return mem


def left_image(cfg, m):
    """The dense layer a left tile's registers describe."""
    L = cfg.left
    reg = lambda r: m[cm.address(cm.LeftBlock.TILE_REGS, r)]          # noqa: E731
    K, N, wpr = reg(cm.LeftReg.K), reg(cm.LeftReg.N), cm.left_words_per_row(L.cols)
    W, r = np.zeros((K, N), dtype=np.int64), 0
    for n0 in range(0, N, L.cols):
        for k0 in range(0, K, L.rows):
            for i in range(min(L.rows, K - k0)):
                row = cm.unpack_int8([m[cm.address(cm.LeftBlock.WEIGHTS, r * wpr + j)] for j in range(wpr)])
                W[k0 + i, n0:n0 + L.cols] = row[:min(L.cols, N - n0)]
                r += 1
    epi = {b: np.array([rs.to_signed(m[cm.address(b, cm.left_epi_offset(L.cols, c))], 32) for c in range(N)])
           for b in (cm.LeftBlock.BIAS, cm.LeftBlock.MULT, cm.LeftBlock.SHIFT)}
    e = reg(cm.LeftReg.EPI)
    d = reg(cm.LeftReg.DEST)
    return dict(W=W, bias=epi[cm.LeftBlock.BIAS], mult=epi[cm.LeftBlock.MULT], shift=epi[cm.LeftBlock.SHIFT],
                zp=rs.to_signed(e & 0xFF, 8), relu=bool(e >> 8 & 1), dest=(d & 7, d >> 3 & 7), rows=r)


def right_image(cfg, m):
    """The core and output table a right tile's registers describe."""
    R = cfg.right
    core = {a: d for a, d in m.items() if a >> cm.BLOCK_SHIFT == cm.RightBlock.CORE}
    params = {k: np.zeros(R.neurons, dtype=np.int64) for k in lif_params(1)}
    for n in range(R.neurons):
        off = rs.neuron_offset(R, n)
        p0, p1 = core.get(rs.addr(rs.PARAM0, off), 0), core.get(rs.addr(rs.PARAM1, off), 0)
        for k, v in (("du", p0 & 0xFFF), ("dv", p0 >> 12 & 0xFFF), ("bias_exp", p0 >> 24 & 7),
                     ("refractory", p0 >> 27 & 0xF), ("vth", p1 & 0x1FFFF),
                     ("bias_mant", rs.to_signed(p1 >> 17, 13))):
            params[k][n] = v
    table = {}
    for axon in range(R.axons):
        ptr = core.get(rs.addr(rs.PTR, axon), 0)
        for r in range(ptr & 0xFFFF, (ptr & 0xFFFF) + (ptr >> 16)):
            for lane in range(R.lanes):
                s = core.get(rs.addr(rs.SYN, r << rs.LANE_BITS | lane), 0)
                if s >> 31:
                    table.setdefault(axon, []).append(((s >> 8 & 0xFFF) * R.lanes + lane,
                                                       rs.to_signed(s & 0xFF, 8)))
    reg = lambda r: m.get(cm.address(cm.RightBlock.TILE_REGS, r), 0)   # noqa: E731
    out = {}
    for n in range(R.neurons):
        ptr = m.get(cm.address(cm.RightBlock.OUT_PTR, n), 0)
        words = [m[cm.address(cm.RightBlock.OUT_DEST, e)]
                 for e in range(ptr & 0xFFFF, (ptr & 0xFFFF) + (ptr >> 16))]
        out[n] = [((w & 7, w >> 3 & 7), w >> 6 & 0x1FFF) for w in words]
    cd = reg(cm.RightReg.COUNT_DEST)
    return dict(params=params, table=table, wexp=core[rs.addr(rs.REGS, rs.REG_WEXP)], out=out,
                window=reg(cm.RightReg.WINDOW), count_dest=(cd & 7, cd >> 3 & 7),
                count_n=reg(cm.RightReg.COUNT_N), core=core)


def simulate(program, x):
    """Run one inference on a functional chip built from the register images
    left by load_packets + inference_packets; return the host-bound packets."""
    cfg, host = program.cfg, program.host
    sent = program.load_packets() + program.inference_packets(x)
    mem = memories(sent, host)
    steps = mem[host][cm.address(0, cm.HostReg.RUN)]
    lefts = {n: left_image(cfg, mem[n]) for n in cfg.chip.left if n in mem}
    used = {node for _, node in program.placement.values()}
    rights = {n: right_image(cfg, mem[n]) for n in cfg.chip.right if n in used}
    cores = {}
    for n, img in rights.items():
        cores[n] = RightCoreModel(cfg.right.neurons, cfg.right.axons, wexp=img["wexp"])
        cores[n].set_params(**img["params"])
        cores[n].set_synapses(img["table"])
    to_host, encoders = [], {}

    def deliver(src, dst, vec):
        while dst in lefts:                        # a left tile computes and passes it on
            img = lefts[dst]
            vec = golden_left.gemm([vec[:img["W"].shape[0]]], img["W"], img["bias"], img["mult"],
                                   img["shift"], img["zp"], img["relu"])[0]
            src, dst = dst, img["dest"]
        if dst == host:
            to_host.extend(proto.activation(src, host, vec))
        else:
            encoders[dst] = rate_encode(vec, steps)

    inputs = {}
    for p in sent:
        if p.ptype == PacketType.ACTIVATION:
            inputs.setdefault(p.dst, []).append(p)
    for dst, packets in inputs.items():
        for _, vec in proto.assemble_activations(packets):
            deliver(host, dst, vec)
    inbox = {n: [] for n in cores}
    counts = {n: np.zeros(cfg.right.neurons, dtype=np.int64) for n in cores}
    for t in range(steps):
        to_host.append(Packet(host, host, PacketType.STATUS, cm.status_payload(cm.Status.STEP), (1000 + t,)))
        nxt = {n: [] for n in cores}
        for n, core in cores.items():
            events = list(np.flatnonzero(encoders[n][t])) if n in encoders else []
            fired = core.step(events + inbox[n])
            counts[n][fired] += 1
            for f in fired:
                for dst, axon in rights[n]["out"][int(f)]:
                    if dst == host:
                        to_host.append(proto.spike(n, host, axon))
                    else:
                        nxt[dst].append(axon)
        inbox = nxt
    for n, img in rights.items():
        if img["window"]:
            assert img["window"] == steps
            deliver(n, img["count_dest"], counts_to_int8(counts[n][:img["count_n"]]))
    to_host.append(Packet(host, host, PacketType.STATUS, cm.status_payload(cm.Status.RUN_DONE), (steps,)))
    return to_host


# --------------------------------------------------------------------------
# the demo network


def test_demo_register_images(demo):
    network, net, data, program = demo
    cfg = program.cfg
    assert program.placement == {"hidden": ("left", (0, 1)), "out": ("right", (1, 0))}
    mem = memories(program.load_packets(), cfg.chip.host)
    assert set(mem) == {(0, 1), (1, 0), (1, 1), (0, 0)}
    # The unused right tile is silenced: no counts, no spike destinations, no synapses.
    idle = mem[(1, 1)]
    assert idle[cm.address(cm.RightBlock.TILE_REGS, cm.RightReg.WINDOW)] == 0
    assert all(idle[cm.address(cm.RightBlock.OUT_PTR, n)] == 0 for n in range(cfg.right.neurons))
    assert all(idle[cm.address(cm.RightBlock.CORE, rs.addr(rs.PTR, a))] == 0 for a in range(cfg.right.axons))
    assert idle[cm.address(cm.RightBlock.CORE, rs.addr(rs.REGS, rs.REG_GROUPS))] == 0
    assert len(idle) == 2 + cfg.right.neurons + cfg.right.axons
    img = left_image(cfg, mem[(0, 1)])
    assert np.array_equal(img["W"], net.w1) and img["dest"] == (1, 0)
    assert img["bias"].tolist() == net.bias1.tolist() and img["mult"].tolist() == net.mult1.tolist()
    assert img["shift"].tolist() == net.shift1.tolist() and (img["zp"], img["relu"]) == (net.zero_point, True)
    wpr = cm.left_words_per_row(cfg.left.cols)
    assert len(mem[(0, 1)]) == 4 + img["rows"] * wpr + 3 * net.hidden      # nothing else written
    plan = plan_gemm(cfg.left, data.x_test[:1], net.w1, net.bias1, net.mult1, net.shift1, relu=True)
    rows = [cm.unpack_int8([mem[(0, 1)][cm.address(cm.LeftBlock.WEIGHTS, r * wpr + j)] for j in range(wpr)])
            for r in range(img["rows"])]
    assert np.array_equal(np.array(rows)[:, :cfg.left.cols], plan.weights)

    r = right_image(cfg, mem[(1, 0)])
    C = net.classes
    assert (r["window"], r["count_dest"], r["count_n"], r["wexp"]) == (net.steps, (0, 0), C, net.wexp)
    assert all(r["out"][n] == [((0, 0), n)] for n in range(C))                  # raster to the host
    assert all(r["out"][n] == [] for n in range(C, cfg.right.neurons))
    for k, v in net.lif.items():
        assert r["params"][k][:C].tolist() == list(v) and not r["params"][k][C:].any()
    want = net.synapse_table()
    assert {a: sorted(s) for a, s in r["table"].items()} == {a: sorted(s) for a, s in want.items() if s}
    per_neuron = {rs.PARAM0, rs.PARAM1, rs.U, rs.V, rs.REF, rs.ACC}
    touched = {a & 0xFFFFF for a in r["core"] if a >> rs.REGION_SHIFT in per_neuron}
    assert touched == {rs.neuron_offset(cfg.right, n) for n in range(C)}       # only its neurons
    assert mem[(0, 0)] == {cm.HostReg.MARKERS: 1}


def test_demo_inference_packet_sequence(demo):
    network, net, data, program = demo
    x = data.x_test[3]
    packets = program.inference_packets(x)
    acts = [i for i, p in enumerate(packets) if p.ptype == PacketType.ACTIVATION]
    zeros, run = packets[:acts[0]], packets[-1]
    assert all(p.dst == (1, 0) for p in zeros)
    R = program.cfg.right
    assert memories(zeros, (0, 0))[(1, 0)] == {
        rs.addr(reg, rs.neuron_offset(R, n)): 0 for reg in (rs.U, rs.V, rs.REF, rs.ACC) for n in range(net.classes)}
    assert acts == list(range(acts[0], len(packets) - 1))
    assert proto.assemble_activations(packets[acts[0]:-1]) == [((0, 0), list(x))]
    assert all(packets[i].dst == (0, 1) for i in acts)
    assert run == proto.host_write(program.cfg, cm.HostReg.RUN, net.steps)
    with pytest.raises(ValueError, match="x: expected 64 int8 integers"):
        program.inference_packets(x[:10])


def test_demo_simulated_chip_decodes_to_expected(demo):
    network, net, data, program = demo
    for x in data.x_test[:5]:
        got = program.decode(simulate(program, x))
        want = program.expected(x)
        assert diff_results(got, want) == []
        assert np.array_equal(want["outputs"]["out"], counts_to_int8(net.infer(x)["counts"]))


def test_decode_errors_and_mismatches(demo):
    network, net, data, program = demo
    x = data.x_test[0]
    host = (0, 0)
    stream = simulate(program, x)
    err = Packet(host, host, PacketType.STATUS, cm.status_payload(cm.Status.ERROR, cm.ErrorReason.OFF_MESH), (7,))
    got = program.decode(stream[:1] + [err] + stream[1:])
    assert got["errors"] == [(cm.ErrorReason.OFF_MESH, 7)]
    assert diff_results(got, program.expected(x)) == [
        "errors: got [(<ErrorReason.OFF_MESH: 1>, 7)], expected []"]
    with pytest.raises(proto.ProtocolError, match="before the first STEP mark"):
        program.decode([proto.spike((1, 0), host, 3)])
    with pytest.raises(proto.ProtocolError, match=r"SPIKE from \(1, 1\), which holds no raster layer"):
        program.decode([proto.spike((1, 1), host, 3)])
    with pytest.raises(proto.ProtocolError, match="second vector from 'out'"):
        program.decode(proto.activation((1, 0), host, [0] * 10) * 2)
    partial = program.decode([p for p in stream if p.ptype != PacketType.ACTIVATION][:-1])
    assert partial["run_done"] is False
    assert "outputs['out']: missing" in diff_results(partial, program.expected(x))


@pytest.mark.parametrize("rows,cols,K,N", [(4, 8, 19, 21), (8, 3, 5, 40), (3, 32, 64, 33), (8, 8, 1, 1)])
def test_weight_rows_match_plan_gemm(rows, cols, K, N):
    rng = np.random.default_rng(K * N)
    W = rng.integers(-128, 128, (K, N))
    cfg = HemiConfig.from_dict({"left": {"rows": rows, "cols": cols}})
    plan = plan_gemm(cfg.left, rng.integers(-128, 128, (1, K)), W)
    assert np.array_equal(left_weight_rows(W, rows, cols), plan.weights)
    d = Dense("d", W, 0, IDENTITY, 0)
    lif = Lif("l", N, lif_params(N), inputs=(("d", np.ones((N, N), dtype=int)),))
    program = compile_network(Network(K, (d, lif), 4, outputs=("l",)), cfg)
    img = left_image(cfg, memories(program.load_packets(), (0, 0))[(0, 1)])
    assert np.array_equal(img["W"], W) and img["rows"] == K * -(-N // cols)


# --------------------------------------------------------------------------
# a four-layer recurrent network


def hand_network(steps=8):
    d1 = dense("d1", 1, 1)
    a = Lif("a", 1, lif_params(1), inputs=(("d1", [[10]]),))
    b = Lif("b", 1, lif_params(1), inputs=(("a", [[10]]), ("b", [[10]])))
    d2 = dense("d2", 1, 1, source="b", w=2)
    return Network(inputs=1, layers=(d1, a, b, d2), steps=steps, outputs=("d2",), raster=("a", "b"))


def random_network(rng):
    d1 = Dense("d1", rng.integers(-128, 128, (16, 12)), rng.integers(-2000, 2000, 12),
               rng.integers(1 << 29, 1 << 31, 12), rng.integers(8, 11, 12), zero_point=-3)

    def params(n):
        return {"du": rng.integers(0, 4096, n), "dv": rng.integers(0, 600, n), "vth": rng.integers(5, 60, n),
                "bias_mant": rng.integers(-20, 40, n), "bias_exp": rng.integers(0, 3, n),
                "refractory": rng.integers(0, 3, n)}

    a = Lif("a", 10, params(10), wexp=2, inputs=(("d1", rng.integers(-60, 128, (12, 10))),))
    b = Lif("b", 8, params(8), wexp=1,
            inputs=(("b", rng.integers(-128, 128, (8, 8))), ("a", rng.integers(-40, 128, (10, 8)))))
    d2 = Dense("d2", rng.integers(-128, 128, (8, 5)), rng.integers(-500, 500, 5),
               rng.integers(1 << 30, 1 << 31, 5), rng.integers(0, 6, 5), zero_point=-7, relu=True, source="b")
    return Network(16, (d1, a, b, d2), steps=24, outputs=("d2", "a"), raster=("a", "b"))


def test_hand_network_wiring():
    cfg = HemiConfig.from_dict(BIG)
    program = compile_network(hand_network(), cfg)
    assert program.placement == {"d1": ("left", (0, 1)), "d2": ("left", (1, 1)),
                                 "a": ("right", (1, 0)), "b": ("right", (2, 0))}
    assert program.axon_offsets == {"a": {"d1": 0}, "b": {"a": 0, "b": 1}}
    mem = memories(program.load_packets(), (0, 0))
    assert left_image(cfg, mem[(0, 1)])["dest"] == (1, 0)
    assert left_image(cfg, mem[(1, 1)])["dest"] == (0, 0)
    a, b = right_image(cfg, mem[(1, 0)]), right_image(cfg, mem[(2, 0)])
    assert a["out"][0] == [((2, 0), 0), ((0, 0), 0)] and a["window"] == 0
    assert b["out"][0] == [((2, 0), 1), ((0, 0), 0)]
    assert (b["window"], b["count_dest"], b["count_n"]) == (8, (1, 1), 1)
    assert b["table"] == {0: [(0, 10)], 1: [(0, 10)]}
    want = program.expected([64])
    assert np.flatnonzero(want["spikes"]["b"][:, 0]).tolist() == [2, 3, 4, 5, 6, 7]
    assert want["outputs"]["d2"].tolist() == [12]
    assert diff_results(program.decode(simulate(program, [64])), want) == []


@pytest.mark.parametrize("seed", [1, 2])
def test_random_network_on_simulated_chip(seed):
    rng = np.random.default_rng(seed)
    program = compile_network(random_network(rng), HemiConfig.from_dict(BIG))
    for _ in range(2):
        x = rng.integers(-20, 128, 16)
        want = program.expected(x)
        assert want["spikes"]["b"].any() and want["spikes"]["a"].any()
        assert diff_results(program.decode(simulate(program, x)), want) == []


def test_counts_wanted_by_host_and_a_dense_layer():
    """One COUNT_DEST: the counts go to the Dense layer, and the host counts
    the layer's spikes (the output table sends them to it, no raster)."""
    network = hand_network()
    network = Network(1, network.layers, 8, outputs=("d2", "b"))
    program = compile_network(network, HemiConfig.from_dict(BIG))
    assert program.host_counts == ("b",)
    mem = memories(program.load_packets(), (0, 0))
    b = right_image(program.cfg, mem[(2, 0)])
    assert b["out"][0] == [((2, 0), 1), ((0, 0), 0)] and b["count_dest"] == (1, 1)
    assert mem[(0, 0)] == {cm.HostReg.MARKERS: 0}
    want = program.expected([64])
    assert want["outputs"]["b"].tolist() == [6] and want["spikes"] == {}
    assert diff_results(program.decode(simulate(program, [64])), want) == []


# --------------------------------------------------------------------------
# refusals


def tiny():
    return load_config("tiny")


def lif(name, n, inputs=(), **kw):
    return Lif(name, n, lif_params(n), inputs=inputs, **kw)


def two_layer(k, n, neurons, cfg, raster=()):
    d = dense("d", k, n)
    return compile_network(Network(k, (d, lif("l", neurons, (("d", np.ones((n, neurons), dtype=int)),))),
                                   4, outputs=("l",), raster=raster), cfg)


@pytest.mark.parametrize("build,message", [
    (lambda: compile_network(Network(2, (dense("d1", 2, 2), dense("d2", 2, 2, "d1")), 4, outputs=("d2",)),
                             load_config()),
     r"2 dense layers but config 'default' has 1 left tile\(s\) \(chip.left\)"),
    (lambda: compile_network(Network(2, (dense("d", 2, 2), lif("a", 2, (("d", np.ones((2, 2), int)),)),
                                         lif("b", 2, (("a", np.ones((2, 2), int)),)),
                                         lif("c", 2, (("b", np.ones((2, 2), int)),))), 4, outputs=("c",)),
                             load_config()),
     r"3 lif layers but config 'default' has 2 right tile\(s\)"),
    (lambda: two_layer(65, 4, 4, tiny()), r"dense layer 'd': K = 65 inputs, .* at most 64 \(left.max_k\)"),
    (lambda: two_layer(4, 65, 4, tiny()), r"dense layer 'd': N = 65 outputs, .* \(left.max_n\)"),
    (lambda: two_layer(64, 64, 4, HemiConfig.from_dict({"left": {"rows": 4, "cols": 4, "weight_rows": 256,
                                                                 "max_k": 64, "max_n": 64}})),
     r"dense layer 'd': needs 1024 weight rows .* holds 256 \(left.weight_rows\)"),
    (lambda: two_layer(4, 4, 65, tiny()), r"lif layer 'l': 65 neurons, the right tile has 64 \(right.neurons\)"),
    (lambda: two_layer(4, 65, 4, HemiConfig.from_dict({"right": {"axons": 64}})),
     r"lif layer 'l': its sources need 65 axons, the right tile has 64 \(right.axons\)"),
    (lambda: two_layer(8, 64, 64, tiny()), r"lif layer 'l': synapse table does not fit: synapse table needs "
                                           r"4096 rows of 1 entries, the core has 1024"),
    (lambda: compile_network(Network(2, (dense("d", 2, 16), lif("l", 16, (("d", np.ones((16, 16), int)),
                                                                          ("l", np.ones((16, 16), int))))),
                                     4, outputs=("l",), raster=("l",)),
                             HemiConfig.from_dict({"right": {"output_entries": 20}})),
     r"lif layer 'l': 16 neurons x 2 spike destinations = 32 output-table entries, the tile has 20"),
    (lambda: two_layer(4, 4, 4, HemiConfig.from_dict(
        {"callosum": {"width": 2, "height": 2}, "chip": {"host": [0, 0], "left": [[0, 1]], "right": [[2, 0]]}})),
     r"chip placement: chip.right\[0\] = \[2, 0\]: outside the 2 x 2 mesh"),
    (lambda: compile_network(Network(4, (lif("a", 4), dense("d", 4, 4)), 4, outputs=("d",)), load_config()),
     r"the first layer \('a'\) must be a Dense layer with source 'input'"),
    (lambda: compile_network(Network(2, (dense("d", 2, 2), lif("l", 2, (("d", np.ones((2, 2), int)),))),
                                     4, outputs=("d", "l")), load_config()),
     r"dense layer 'd': its output goes to 2 places \(l, host \(outputs\)\); a left tile has one DEST"),
    (lambda: compile_network(Network(2, (dense("d", 2, 2), lif("l", 2, (("d", np.ones((2, 2), int)),)),
                                         dense("c", 2, 2, "l"), dense("e", 2, 2, "l")), 4, outputs=("c", "e")),
                             HemiConfig.from_dict(BIG)),
     r"lif layer 'l': its spike counts go to 2 dense layers \(c, e\); a right tile has one COUNT_DEST"),
])
def test_compile_errors(build, message):
    with pytest.raises(CompileError, match=message):
        build()


def test_saturation_check():
    cfg = HemiConfig.from_dict({"right": {"neurons": 1024, "axons": 1024}})
    a = lif("a", 600, (("d", np.ones((4, 600), int)),))
    b = Lif("b", 1, lif_params(1), wexp=7, inputs=(("a", np.full((600, 1), 127)),))
    network = Network(4, (dense("d", 4, 4), a, b), 4, outputs=("b",))
    with pytest.raises(CompileError, match=r"lif layer 'b': neuron 0's synapses sum to \|w\| << wexp = 9753600 "
                                           r"> 2\*\*23 - 1: .* order of events within a step"):
        compile_network(network, cfg)
    b_ok = Lif("b", 1, lif_params(1), wexp=6, inputs=(("a", np.full((600, 1), 127)),))
    compile_network(Network(4, (dense("d", 4, 4), a, b_ok), 4, outputs=("b",)), cfg)     # 4876800 fits


def test_compiler_rechecks_values():
    d = dense("d", 2, 2)
    network = Network(2, (d,), 4, outputs=("d",))
    object.__setattr__(d, "weights", np.array([[300, 0], [0, 0]]))      # bypasses Dense's own check
    with pytest.raises(CompileError, match=r"dense layer 'd': weights\[0, 0\] = 300: out of range, "
                                           r"allowed -128..127"):
        compile_network(network, load_config())


# --------------------------------------------------------------------------
# network validation


@pytest.mark.parametrize("build,message", [
    (lambda: Dense("d", [[200]], 0, 1, 0), r"dense layer 'd': weights\[0, 0\] = 200: out of range"),
    (lambda: Dense("d", [[1, 2]], [0, 0, 0], 1, 0), r"dense layer 'd': bias has shape \(3,\), expected \(2,\)"),
    (lambda: Dense("d", [[1]], 0, -1, 0), r"multiplier\[0\] = -1: out of range, allowed 0..2147483647"),
    (lambda: Dense("d", [[1]], 0, 1, 32), r"shift\[0\] = 32: out of range, allowed 0..31"),
    (lambda: Dense("d", [[1.5]], 0, 1, 0), "weights must hold integers"),
    (lambda: Dense("input", [[1]], 0, 1, 0), "reserved"),
    (lambda: Lif("l", 2, {**lif_params(2), "vth": [1, 1 << 17]}),
     r"lif layer 'l': params\['vth'\]\[1\] = 131072: out of range, allowed 0..131071"),
    (lambda: Lif("l", 2, {k: v for k, v in lif_params(2).items() if k != "du"}), r"params missing \['du'\]"),
    (lambda: Lif("l", 2, lif_params(2), wexp=8), "wexp = 8: out of range, allowed 0..7"),
    (lambda: Lif("l", 2, lif_params(2), inputs=(("d", np.ones((3, 3), int)),)),
     r"weights from 'd' have shape \(3, 3\), expected \(source size, 2\)"),
    (lambda: Network(1, (dense("d", 1, 1),), 256, outputs=("d",)), "steps = 256: out of range, allowed 1..255"),
    (lambda: Network(1, (dense("d", 1, 1), dense("d", 1, 1, "d")), 4, outputs=("d",)),
     "two layers are named 'd'"),
    (lambda: Network(1, (dense("d", 1, 1, "x"),), 4, outputs=("d",)), "source 'x' is not 'input' or a layer"),
    (lambda: Network(2, (dense("d", 1, 1),), 4, outputs=("d",)),
     "weights have 1 rows but source 'input' delivers 2 elements"),
    (lambda: Network(1, (dense("d", 1, 1), lif("l", 1, (("input", [[1]]),))), 4, outputs=("d", "l")),
     "source 'input' is not allowed; feed the input through a Dense layer"),
    (lambda: Network(1, (dense("d", 1, 1), dense("e", 1, 1),
                         lif("l", 1, (("d", [[1]]), ("e", [[1]])))), 4, outputs=("l",)),
     r"2 dense sources \['d', 'e'\]; at most one"),
    (lambda: Network(1, (dense("d", 1, 1), lif("a", 1, (("d", [[1]]),)), dense("c", 1, 1, "a"),
                         lif("b", 1, (("c", [[1]]),))), 4, outputs=("b",)),
     "dense source 'c' is fed by spike counts, so it computes after the steps"),
    (lambda: Network(1, (dense("d", 1, 1), dense("e", 1, 1)), 4, outputs=("d",)),
     "dense layer 'e' feeds nothing"),
    (lambda: Network(1, (dense("d", 1, 1),), 4, outputs=("d",), raster=("d",)), "raster lists 'd', a dense layer"),
    (lambda: Network(1, (dense("d", 1, 1, "e"), dense("e", 1, 1, "d")), 4, outputs=("d",)),
     r"dense layers \['d', 'e'\] feed each other in a cycle"),
    (lambda: Network(1, (dense("d", 1, 1),), 4, outputs=("x",)), "outputs names 'x', which is not a layer"),
])
def test_network_validation(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_network_arrays_are_read_only_copies():
    w = np.ones((2, 2), dtype=np.int64)
    d = Dense("d", w, 0, 1, 0)
    w[0, 0] = 99
    assert d.weights[0, 0] == 1 and d.bias.tolist() == [0, 0]
    with pytest.raises(ValueError):
        d.weights[0, 0] = 5
