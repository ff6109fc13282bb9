"""The right core's golden model against the Loihi LIF equations written out
with Python ints (slow, literal) and an ordered saturating accumulator."""

import numpy as np
import pytest

from rtl.config import RightConfig
from sw_model import right as r

P23 = 1 << 23
VMAX = P23 - 1


# ---------------------------------------------------------------- references

def ref_trunc(x: int) -> int:
    """x / 4096 rounded toward zero."""
    q = abs(x) >> 12
    return q if x >= 0 else -q


def ref_step(u, v, a, du, dv, vth, bm, be):
    """The spec's equations, literally, on Python ints."""
    d = ref_trunc(u * (4096 - (du + 1))) + a * 64
    if d > P23:
        u1 = d - 2 * P23
    elif d <= -P23:
        u1 = d + 2 * P23
    else:
        u1 = d
    e = ref_trunc(v * (4096 - dv)) + u1 + bm * 2 ** be
    v1 = max(-VMAX, min(VMAX, e))
    s = v1 > vth * 64
    return u1, (0 if s else v1), s


def ref_step_refractory(u, v, ref, a, du, dv, vth, bm, be, refractory):
    u1, v1, s = ref_step(u, v, a, du, dv, vth, bm, be)
    if ref > 0:
        return u1, 0, ref - 1, False
    return u1, v1, (refractory if s else 0), s


def ref_acc(events, table, neurons, axons, wexp):
    """Ordered 24-bit saturating accumulation: (acc list, dropped)."""
    acc = [0] * neurons
    dropped = 0
    for a in events:
        if not 0 <= a < axons:
            dropped += 1
            continue
        for n, w in table.get(a, []):
            acc[n] = max(-P23, min(P23 - 1, acc[n] + (w << wexp)))
    return acc, dropped


def ref_a_in(events, table, neurons, axons, wexp):
    """The reference accumulators saturated to int16: (a_in list, dropped)."""
    acc, dropped = ref_acc(events, table, neurons, axons, wexp)
    return [max(-32768, min(32767, x)) for x in acc], dropped


def step1(u, v, a_in, du=0, dv=0, vth=131071, bm=0, be=0):
    """Scalar call of the vectorised model; returns Python values."""
    u1, v1, s = r.loihi_lif_step(u, v, a_in, du, dv, vth, bm, be)
    return int(u1), int(v1), bool(s)


# ---------------------------------------------------------------- current u

def test_u_wraps_just_above_2_23():
    # du=0: trunc(2**23 * 4095 / 4096) = 2**23 - 2048; a_in=33 adds 2112.
    assert step1(P23, 0, 33)[0] == P23 + 64 - 2 * P23 == -P23 + 64


def test_u_exactly_2_23_does_not_wrap():
    assert step1(P23, 0, 32)[0] == P23


def test_u_minus_2_23_wraps_to_plus_2_23():
    # trunc(-(2**23 - 64) * 4095 / 4096) = -8386496; a_in=-33 subtracts 2112.
    assert ref_trunc(-(P23 - 64) * 4095) - 33 * 64 == -P23
    assert step1(-(P23 - 64), 0, -33)[0] == P23
    assert step1(-(P23 - 64), 0, -34)[0] == -P23 - 64 + 2 * P23 == P23 - 64
    assert step1(-(P23 - 64), 0, -32)[0] == -P23 + 64            # no wrap


def test_du_plus_one_decays_even_at_du_0():
    u1, _, _ = r.loihi_lif_step([4096, -4096, 1, -1, 8192], 0, 0, 0, 0, 131071, 0, 0)
    assert u1.tolist() == [4095, -4095, 0, 0, 8190]


def test_du_4095_forgets_u():
    u1, _, _ = r.loihi_lif_step([P23, -VMAX, 12345, 0], 0, [3, -5, 32767, -32768],
                                4095, 0, 131071, 0, 0)
    assert u1.tolist() == [192, -320, 32767 * 64, -32768 * 64]


def test_trunc_toward_zero_for_negative_u():
    # -10000 * 2048 / 4096 = -5000 exactly; -10001 -> -5000.5 -> -5000 (floor: -5001)
    u1, _, _ = r.loihi_lif_step([-10000, -10001, 10001], 0, 0, 2047, 0, 131071, 0, 0)
    assert u1.tolist() == [-5000, -5000, 5000]


# ---------------------------------------------------------------- voltage v

def test_dv_0_has_no_leak():
    # u' = trunc(1000 * 4095 / 4096) + 2 * 64 = 999 + 128
    assert step1(1000, 5000, 2, du=0, dv=0, bm=-3, be=2) == (1127, 5000 + 1127 - 12, False)
    assert step1(0, -5000, 0, dv=0) == (0, -5000, False)


def test_dv_leak_truncates_toward_zero():
    assert step1(0, -1, 0, dv=1)[1] == 0            # floor would give -1
    assert step1(0, -4097, 0, dv=1)[1] == -4095     # -4097*4095/4096 = -4095.9998 (floor: -4096)
    assert step1(0, 4097, 0, dv=2048)[1] == 2048
    assert step1(0, VMAX, 0, dv=4095)[1] == 2047     # (2**23 - 1) / 4096 -> 2047


def test_v_clamps_at_both_ends():
    # Top: only visible before the spike check (v' = 2**23-1 > vth*64 always).
    assert int(r.voltage_update(VMAX, P23, 0, 4095, 7)) == VMAX
    assert int(r.voltage_update(-VMAX, -VMAX, 0, -4096, 7)) == -VMAX
    assert int(r.voltage_update(VMAX, 1, 0, 0, 0)) == VMAX
    # Through the full step: top clamps then spikes (max vth*64 = 2**23 - 64).
    assert step1(P23, VMAX, 0, vth=131071) == (P23 - 2048, 0, True)
    # Bottom: -(2**23 - 1) - 8386559 - 524288 clamps to -(2**23 - 1), not -2**23.
    assert step1(-VMAX, -VMAX, 0, bm=-4096, be=7) == (-8386559, -VMAX, False)


def test_bias_shifts():
    got = [step1(0, 0, 0, bm=m, be=e)[1] for m, e in
           [(1, 0), (1, 7), (4095, 0), (4095, 7), (-1, 0), (-1, 7), (-4096, 7), (-3, 3)]]
    assert got == [1, 128, 4095, 4095 * 128, -1, -128, -524288, -24]


def test_bias_per_neuron_arrays_broadcast():
    _, v1, _ = r.loihi_lif_step(0, 0, 0, 0, 0, 131071, np.array([5, -5, 7]), np.array([0, 1, 2]))
    assert v1.tolist() == [5, -10, 28]
    assert v1.dtype == np.int64


def test_vth_0_spikes_whenever_v_positive():
    _, v1, s = r.loihi_lif_step(0, [0, 1, -1, 500], 0, 0, 0, 0, 0, 0)
    assert s.tolist() == [False, True, False, True]
    assert v1.tolist() == [0, 0, -1, 0]
    assert s.dtype == np.bool_


def test_threshold_is_vth_times_64_strict():
    _, _, s = r.loihi_lif_step(0, [64, 65, 640, 641], 0, 0, 0, [1, 1, 10, 10], 0, 0)
    assert s.tolist() == [False, True, False, True]


def test_spike_resets_v_but_not_u():
    u1, v1, s = r.loihi_lif_step(100000, 0, 10, 0, 0, 0, 0, 0)
    assert bool(s) and int(v1) == 0
    assert int(u1) == ref_trunc(100000 * 4095) + 640 == 99975 + 640


def test_random_against_python_reference():
    rng = np.random.default_rng(11)
    n = 3000
    u = rng.integers(-P23 + 1, P23, n, endpoint=True)
    v = rng.integers(-VMAX, VMAX, n, endpoint=True)
    a = rng.integers(-32768, 32767, n, endpoint=True)
    du = rng.integers(0, 4095, n, endpoint=True)
    dv = rng.integers(0, 4095, n, endpoint=True)
    vth = rng.integers(0, 131071, n, endpoint=True)
    bm = rng.integers(-4096, 4095, n, endpoint=True)
    be = rng.integers(0, 7, n, endpoint=True)
    # Extremes in the first rows: every combination of range ends.
    ends = [(-P23 + 1, P23), (-VMAX, VMAX), (-32768, 32767), (0, 4095), (0, 4095),
            (0, 131071), (-4096, 4095), (0, 7)]
    cols = [u, v, a, du, dv, vth, bm, be]
    for i in range(256):
        for j, (lo, hi) in enumerate(ends):
            cols[j][i] = hi if (i >> j) & 1 else lo
    u1, v1, s = r.loihi_lif_step(*cols)
    for i in range(n):
        want = ref_step(*(int(c[i]) for c in cols))
        assert (int(u1[i]), int(v1[i]), bool(s[i])) == want, i
    assert s.any() and not s.all()
    assert (u1 < 0).any() and (v1 == -VMAX).any()


@pytest.mark.parametrize("kw,name", [
    (dict(du=4096), "du"), (dict(du=-1), "du"), (dict(dv=4096), "dv"),
    (dict(vth=131072), "vth"), (dict(vth=-1), "vth"), (dict(bias_mant=4096), "bias_mant"),
    (dict(bias_mant=-4097), "bias_mant"), (dict(bias_exp=8), "bias_exp"),
    (dict(a_in=32768), "a_in"), (dict(u=-P23), "u"), (dict(v=P23), "v"),
    (dict(du=1.5), "du"),
])
def test_step_rejects_out_of_range(kw, name):
    args = dict(u=0, v=0, a_in=0, du=0, dv=0, vth=0, bias_mant=0, bias_exp=0)
    args.update(kw)
    with pytest.raises(ValueError, match=name):
        r.loihi_lif_step(**args)


# ---------------------------------------------------------------- refractory

def test_refractory_helper_matches_plain_step_when_zero():
    rng = np.random.default_rng(2)
    u = rng.integers(-P23 + 1, P23, 200)
    v = rng.integers(-VMAX, VMAX, 200)
    a = rng.integers(-32768, 32767, 200)
    args = (a, 10, 20, 5, 100, 3)
    plain = r.loihi_lif_step(u, v, *args)
    u1, v1, ref1, s = r.loihi_lif_step_refractory(u, v, 0, *args, refractory=0)
    assert np.array_equal(u1, plain[0]) and np.array_equal(v1, plain[1])
    assert np.array_equal(s, plain[2]) and not ref1.any()


def test_refractory_3_gives_three_silent_steps_while_u_evolves():
    core = r.RightCoreModel(neurons=16, axons=16)
    core.set_params(vth=0, bias_mant=1, du=100, dv=0, refractory=3)
    core.set_synapses({0: [(0, 7)]})
    spikes, vs, refs, us = [], [], [], []
    for t in range(9):
        spikes.append(0 in core.step([0]))
        st = core.state()
        vs.append(int(st["v"][0]))
        refs.append(int(st["ref"][0]))
        us.append(int(st["u"][0]))
    assert spikes == [True, False, False, False, True, False, False, False, True]
    assert vs == [0] * 9
    assert refs == [3, 2, 1, 0, 3, 2, 1, 0, 3]
    u = 0
    for t in range(9):                         # u follows its own equation throughout
        u = ref_trunc(u * (4096 - 101)) + 7 * 64
        assert us[t] == u
    # Neuron 1 (no input, bias 1, vth 0) runs on its own schedule.
    assert int(core.state()["ref"][1]) == 3


def test_refractory_0_core_is_the_plain_model():
    core = r.RightCoreModel(neurons=16, axons=16)
    core.set_params(vth=2, bias_mant=40, bias_exp=2, du=300, dv=200)
    core.set_synapses({1: [(0, 50), (3, -20)]})
    u = np.zeros(16, dtype=np.int64)
    v = np.zeros(16, dtype=np.int64)
    for t in range(12):
        events = [1] * (t % 3)
        got = core.step(events)
        a = core.synaptic_input(events)
        u, v, s = r.loihi_lif_step(u, v, a, 300, 200, 2, 40, 2)
        assert got.tolist() == np.flatnonzero(s).tolist()
        assert np.array_equal(core.u, u) and np.array_equal(core.v, v)
        assert not core.ref.any()


def test_refractory_rejects_bad_ref():
    with pytest.raises(ValueError, match="ref"):
        r.loihi_lif_step_refractory(0, 0, 16, 0, 0, 0, 0, 0, 0, 0)
    with pytest.raises(ValueError, match="refractory"):
        r.loihi_lif_step_refractory(0, 0, 0, 0, 0, 0, 0, 0, 0, 16)


# ---------------------------------------------------------------- synapses

def test_accumulation_with_wexp_and_duplicates():
    table = {0: [(1, 5), (1, 5), (2, -3)], 3: [(1, -7)]}
    a, dropped = r.synaptic_input([0, 3, 0], table, neurons=4, axons=4, wexp=2)
    assert a.tolist() == [0, (5 + 5) * 4 * 2 - 7 * 4, -3 * 4 * 2, 0]
    assert dropped == 0
    a, _ = r.synaptic_input([], table, 4, 4, wexp=2)
    assert a.tolist() == [0, 0, 0, 0]


def test_a_in_saturates_to_int16():
    table = {0: [(0, 127), (1, -128), (2, 127)], 1: [(2, -128)]}
    acc, _ = r.accumulate([0, 0, 0], table, 4, 4, wexp=7)
    assert acc.tolist() == [3 * 16256, -3 * 16384, 3 * 16256, 0]
    a, _ = r.synaptic_input([0, 0, 0, 1, 1, 1], table, 4, 4, wexp=7)
    assert a.tolist() == [32767, -32768, 3 * 16256 - 3 * 16384, 0]


def test_24_bit_saturating_fallback_is_exact():
    # 600 x (127 << 7) saturates at 2**23 - 1 after 517 events; 512 x (-128 << 7)
    # then lands on -1. The exact sum would be 1364992 -> 32767.
    table = {0: [(0, 127)], 1: [(0, -128)], 2: [(1, -128)], 3: [(1, 127)], 4: [(2, 3)]}
    ev = [0] * 600 + [4] + [1] * 512 + [2] * 600 + [3] * 516
    a, dropped = r.synaptic_input(ev, table, 16, 16, wexp=7)
    assert 600 * 16256 - 512 * 16384 == 1364992
    assert a[0] == -1
    assert a[1] == -P23 + 516 * 16256 == -512       # exact sum: -1442304 -> -32768
    assert a[2] == 3 * 128 and dropped == 0
    acc, _ = r.accumulate(ev, table, 16, 16, wexp=7)
    assert acc[:3].tolist() == [-1, -512, 384]
    ref, _ = ref_a_in(ev, table, 16, 16, 7)
    assert a.tolist() == ref


def test_fallback_against_reference_random():
    """Long same-sign runs saturate some neurons' 24-bit sums mid-step; the
    raw accumulators must equal the ordered saturating reference."""
    rng = np.random.default_rng(5)
    table = {ax: [(int(rng.integers(0, 6)), int(rng.integers(-128, 128)))
                  for _ in range(3)] for ax in range(8)}
    table[0] = [(0, 127), (1, 127), (2, 100)]
    table[1] = [(0, -128), (1, -128), (2, -90)]
    saturated = 0
    for trial in range(6):
        ev = []
        for _ in range(6):
            ev += [int(rng.integers(0, 2))] * int(rng.integers(200, 800))
            ev += rng.integers(-1, 9, int(rng.integers(0, 40))).tolist()
        acc, dropped = r.accumulate(ev, table, 6, 8, wexp=7)
        want, want_dropped = ref_acc(ev, table, 6, 8, 7)
        assert acc.tolist() == want and dropped == want_dropped
        exact = np.zeros(6, dtype=np.int64)
        for a in ev:
            for n, w in table.get(a, []):
                exact[n] += w << 7
        saturated += int((exact != acc).sum())
        a_in, _ = r.synaptic_input(ev, table, 6, 8, wexp=7)
        assert a_in.tolist() == ref_a_in(ev, table, 6, 8, 7)[0]
    assert saturated >= 6                       # the fallback really ran


def test_out_of_range_axon_dropped_and_counted():
    core = r.RightCoreModel(neurons=16, axons=16)
    core.set_synapses({5: [(2, 10)], 0: [(3, 1)]})
    assert core.synaptic_input([-1, 5, 16, 100, 0]).tolist()[2:4] == [10, 1]
    assert core.errors == 0                     # synaptic_input changes nothing
    core.step([-1, 5, 16, 100, 0])
    assert core.errors == 3
    assert core.u[2] == 640 and core.u[3] == 64
    core.step([16])
    assert core.errors == 4


def test_set_synapses_validates():
    core = r.RightCoreModel(neurons=16, axons=8)
    with pytest.raises(ValueError, match="axon"):
        core.set_synapses({8: [(0, 1)]})
    with pytest.raises(ValueError, match="neuron"):
        core.set_synapses({0: [(16, 1)]})
    with pytest.raises(ValueError, match="weight"):
        core.set_synapses({0: [(0, 128)]})
    with pytest.raises(ValueError, match="weight"):
        core.set_synapses({0: [(0, -129)]})
    with pytest.raises(ValueError, match="neuron, weight"):
        core.set_synapses({0: [(0,)]})
    with pytest.raises(ValueError, match="wexp"):
        core.wexp = 8
    with pytest.raises(ValueError, match="events"):
        core.step([1.5])


def test_set_params_validates_and_broadcasts():
    core = r.RightCoreModel(neurons=16, axons=16)
    core.set_params(du=7, vth=np.arange(16))
    assert core.du.tolist() == [7] * 16 and core.vth.tolist() == list(range(16))
    with pytest.raises(ValueError, match="refractory"):
        core.set_params(refractory=16)
    with pytest.raises(ValueError, match=r"bias_exp.*0\.\.7"):
        core.set_params(bias_exp=np.full(16, 8))
    with pytest.raises(ValueError, match="shape"):
        core.set_params(dv=[1, 2])
    with pytest.raises(ValueError, match="unknown"):
        core.set_params(tau=3)
    with pytest.raises(ValueError, match="du"):
        core.set_params(dv=3, du=-1)
    assert core.dv.tolist() == [0] * 16          # nothing stored on error


def test_from_config_and_state_copies():
    core = r.RightCoreModel.from_config(RightConfig(neurons=32, axons=20), wexp=3)
    assert (core.neurons, core.axons, core.wexp) == (32, 20, 3)
    st = core.state()
    assert set(st) == {"u", "v", "ref"} and all(x.tolist() == [0] * 32 for x in st.values())
    st["u"][0] = 99
    assert core.u[0] == 0


# ---------------------------------------------------------------- network

def test_network_run_matches_reference_loop():
    rng = np.random.default_rng(9)
    N, A, wexp = 20, 12, 3
    table = {ax: [(int(rng.integers(0, N)), int(rng.integers(-128, 128)))
                  for _ in range(int(rng.integers(0, 6)))] for ax in range(A)}
    table[0] = table[0] + [(4, 100), (4, 100)]      # duplicates
    params = dict(
        du=rng.integers(0, 4096, N), dv=rng.integers(0, 4096, N),
        vth=rng.integers(0, 40, N), bias_mant=rng.integers(-200, 400, N),
        bias_exp=rng.integers(0, 4, N), refractory=rng.integers(0, 4, N))
    steps = [rng.integers(-2, A + 2, int(rng.integers(0, 25))).tolist() for _ in range(40)]

    core = r.RightCoreModel(N, A, wexp=wexp)
    core.set_params(**params)
    core.set_synapses(table)
    got = core.run(steps)

    p = {k: v.tolist() for k, v in params.items()}
    u, v, ref = [0] * N, [0] * N, [0] * N
    errors = 0
    total_spikes = 0
    for t, events in enumerate(steps):
        a, dropped = ref_a_in(events, table, N, A, wexp)
        errors += dropped
        spiked = []
        for n in range(N):
            u[n], v[n], ref[n], s = ref_step_refractory(
                u[n], v[n], ref[n], a[n], p["du"][n], p["dv"][n], p["vth"][n],
                p["bias_mant"][n], p["bias_exp"][n], p["refractory"][n])
            if s:
                spiked.append(n)
        assert got[t].tolist() == spiked, t
        total_spikes += len(spiked)
    st = core.state()
    assert st["u"].tolist() == u and st["v"].tolist() == v and st["ref"].tolist() == ref
    assert core.errors == errors > 0
    assert total_spikes > 20
