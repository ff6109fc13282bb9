"""The multi-layer golden model (sw_model/network.py): equal to the hybrid
digits network, a hand-checked recurrent network, and a random network
against a direct step-by-step computation from the neuron equations."""

import numpy as np
import pytest

from host.digits import digits_network
from host.network import Dense, Lif, Network
from sw_model import left
from sw_model.bridges import counts_to_int8, rate_encode
from sw_model.network import NetworkModel
from sw_model.right import A_IN_MAX, A_IN_MIN, loihi_lif_step_refractory

IDENTITY = (1 << 31) - 1        # multiplier ~1.0 with shift 0: small values pass unchanged


def lif_params(n, du=4095, dv=0, vth=9, bias_mant=0, bias_exp=0, refractory=0):
    return {"du": np.full(n, du), "dv": np.full(n, dv), "vth": np.full(n, vth),
            "bias_mant": np.full(n, bias_mant), "bias_exp": np.full(n, bias_exp),
            "refractory": np.full(n, refractory)}


@pytest.fixture(scope="module")
def digits():
    return digits_network(seed=0)


def test_equals_hybrid_net_on_digits(digits):
    network, net, data = digits
    model = NetworkModel(network)
    for x in data.x_test[:20]:
        want = net.infer(x)
        got = model.run(x)
        assert np.array_equal(got.counts["out"], want["counts"])
        assert np.array_equal(got.spikes["out"], want["raster_out"])
        assert int(np.argmax(got.counts["out"])) == want["pred"]
        assert np.array_equal(got.dense["hidden"], want["hidden"])
        assert np.array_equal(got.outputs["out"], counts_to_int8(want["counts"]))
        assert got.outputs["out"].dtype == np.int8
    assert sum(model.run(x).counts["out"].sum() for x in data.x_test[:20]) > 0


def hand_network():
    """input [64] -> d1 (identity) -> a (spikes on each event) -> b (from a
    and itself) -> counts -> d2 (x2) -> host."""
    d1 = Dense("d1", [[1]], 0, IDENTITY, 0, source="input")
    a = Lif("a", 1, lif_params(1), inputs=(("d1", [[10]]),))
    b = Lif("b", 1, lif_params(1), inputs=(("a", [[10]]), ("b", [[10]])))
    d2 = Dense("d2", [[2]], 0, IDENTITY, 0, source="b")
    return Network(inputs=1, layers=(d1, a, b, d2), steps=8, outputs=("d2",), raster=("a", "b"))


def test_hand_checked_recurrent_network():
    r = NetworkModel(hand_network()).run([64])
    # 64/128 per step: the rate encoder fires on odd steps; a fires with it.
    assert np.flatnonzero(r.spikes["a"][:, 0]).tolist() == [1, 3, 5, 7]
    # b hears a one step late (t = 2 first), then keeps itself firing
    # through its recurrent synapse; a's spike at t = 7 would land at t = 8.
    assert np.flatnonzero(r.spikes["b"][:, 0]).tolist() == [2, 3, 4, 5, 6, 7]
    assert (r.counts["a"].tolist(), r.counts["b"].tolist()) == ([4], [6])
    assert r.outputs["d2"].tolist() == [12] and r.outputs["d2"].dtype == np.int8
    assert r.dense["d1"].tolist() == [64]


def test_state_starts_at_zero_every_inference():
    model = NetworkModel(hand_network())
    first = model.run([64])
    model.run([127])
    again = model.run([64])
    assert np.array_equal(first.spikes["b"], again.spikes["b"])
    assert np.array_equal(first.outputs["d2"], again.outputs["d2"])


def random_network(rng, steps=24):
    """Dense d1 (16 -> 12) -> Lif a (10) -> Lif b (8, recurrent, also from a)
    -> counts -> Dense d2 (8 -> 5) -> host."""
    d1 = Dense("d1", rng.integers(-128, 128, (16, 12)), rng.integers(-2000, 2000, 12),
               rng.integers(1 << 29, 1 << 31, 12), rng.integers(8, 11, 12), zero_point=-3,
               source="input")

    def params(n):
        return {"du": rng.integers(0, 4096, n), "dv": rng.integers(0, 600, n),
                "vth": rng.integers(5, 60, n), "bias_mant": rng.integers(-20, 40, n),
                "bias_exp": rng.integers(0, 3, n), "refractory": rng.integers(0, 3, n)}

    a = Lif("a", 10, params(10), wexp=2, inputs=(("d1", rng.integers(-60, 128, (12, 10))),))
    b = Lif("b", 8, params(8), wexp=1,
            inputs=(("b", rng.integers(-128, 128, (8, 8))), ("a", rng.integers(-40, 128, (10, 8)))))
    d2 = Dense("d2", rng.integers(-128, 128, (8, 5)), rng.integers(-500, 500, 5),
               rng.integers(1 << 30, 1 << 31, 5), rng.integers(0, 6, 5), relu=False, source="b")
    return Network(inputs=16, layers=(d1, a, b, d2), steps=steps, outputs=("d2", "a"), raster=("a", "b"))


def direct(network, x):
    """The run written out from the neuron equations: a_in as a matrix
    product of the spike vectors (no synapse tables, no core model)."""
    d1, a, b, d2 = network.layers
    h = left.gemm(np.array([x]), d1.weights, d1.bias, d1.multiplier, d1.shift,
                  d1.zero_point, d1.relu)[0]
    rin = rate_encode(h, network.steps)
    state = {l.name: [np.zeros(l.neurons, dtype=np.int64) for _ in range(3)] for l in (a, b)}
    raster = {l.name: np.zeros((network.steps, l.neurons), dtype=bool) for l in (a, b)}
    prev = {"a": np.zeros(a.neurons, dtype=bool), "b": np.zeros(b.neurons, dtype=bool)}
    for t in range(network.steps):
        drive = {"a": (rin[t].astype(np.int64) @ a.inputs[0][1]) << a.wexp,
                 "b": ((prev["b"].astype(np.int64) @ b.inputs[0][1])
                       + (prev["a"].astype(np.int64) @ b.inputs[1][1])) << b.wexp}
        for lif in (a, b):
            p = lif.params
            u, v, ref = state[lif.name]
            a_in = np.clip(drive[lif.name], A_IN_MIN, A_IN_MAX)
            u, v, ref, fired = loihi_lif_step_refractory(u, v, ref, a_in, p["du"], p["dv"], p["vth"],
                                                         p["bias_mant"], p["bias_exp"], p["refractory"])
            state[lif.name] = [u, v, ref]
            raster[lif.name][t] = fired
        prev = {name: raster[name][t] for name in prev}
    counts_b = counts_to_int8(raster["b"].sum(axis=0))
    y = left.gemm(counts_b[None, :], d2.weights, d2.bias, d2.multiplier, d2.shift,
                  d2.zero_point, d2.relu)[0]
    return raster, y


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_network_matches_direct_computation(seed):
    rng = np.random.default_rng(seed)
    network = random_network(rng)
    model = NetworkModel(network)
    for _ in range(3):
        x = rng.integers(0, 128, 16)
        r = model.run(x)
        raster, y = direct(network, x)
        assert np.array_equal(r.spikes["a"], raster["a"])
        assert np.array_equal(r.spikes["b"], raster["b"])
        assert np.array_equal(r.outputs["d2"], y)
        assert np.array_equal(r.outputs["a"], counts_to_int8(raster["a"].sum(axis=0)))
        assert r.counts["b"].tolist() == raster["b"].sum(axis=0).tolist()
        # Not vacuous: both layers spike, b's recurrent edge carries traffic.
        assert raster["a"].any() and raster["b"][1:].any()
        # Step 0 of b sees no events at all (a and b spikes arrive one step late).
        assert np.array_equal(raster["b"][0], direct_step0_b(network))


def direct_step0_b(network):
    """b's spikes at t = 0 from its bias alone."""
    b = network.layers[2]
    p = b.params
    z = np.zeros(b.neurons, dtype=np.int64)
    return loihi_lif_step_refractory(z, z, z, z, p["du"], p["dv"], p["vth"], p["bias_mant"],
                                     p["bias_exp"], p["refractory"])[3]


def test_model_rejects_bad_input():
    model = NetworkModel(hand_network())
    with pytest.raises(ValueError, match="input must be 1 integers"):
        model.run([1, 2])
    with pytest.raises(ValueError, match="outside int8"):
        model.run([200])


def test_counts_feed_a_chain_of_dense_layers():
    """Phase C: counts -> Dense -> Dense, both after the steps."""
    d1 = Dense("d1", [[1]], 0, IDENTITY, 0)
    a = Lif("a", 1, lif_params(1), inputs=(("d1", [[10]]),))
    c1 = Dense("c1", [[3, -1]], [1, 0], IDENTITY, 0, relu=False, source="a")
    c2 = Dense("c2", [[1], [1]], 0, IDENTITY, 0, relu=False, source="c1")
    r = NetworkModel(Network(1, (d1, a, c1, c2), steps=8, outputs=("c2",))).run([127])
    n = int(r.counts["a"][0])                       # 127/128 per step: 7 spikes in 8 steps
    assert n == 7
    assert r.dense["c1"].tolist() == [3 * n + 1, -n] and r.outputs["c2"].tolist() == [2 * n + 1]
