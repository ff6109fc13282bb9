"""The demo's path on the RTL: the digits network's dense layer on the left
core and its LIF layer on the right core for a few test images, every output
checked against the golden model inside the benches."""

import json

import numpy as np
import pytest

from host.digits import load_digits_split, train
from rtl.config import HemiConfig
from tb.sim import Bench

pytestmark = pytest.mark.sim


def test_digits_layers_on_rtl(tmp_path):
    data = load_digits_split(0)
    net, _ = train(data)
    net.save(tmp_path / "net.npz")
    images = data.x_test[:4]
    np.save(tmp_path / "images.npy", images)
    cfg = HemiConfig.from_dict({}, name="test-hybrid")
    env = {"HEMI_NET": str(tmp_path / "net.npz"), "HEMI_IMAGES": str(tmp_path / "images.npy"),
           "HEMI_OUT": str(tmp_path / "left.json")}
    Bench("left", cfg).run("tb.hybrid.layers", name="hybrid-dense", testcase="dense_layer", env=env)
    hidden = np.load(str(tmp_path / "left.json") + ".npy")
    assert np.array_equal(hidden, net.hidden_layer(images))
    np.save(tmp_path / "hidden.npy", hidden)
    env.update(HEMI_IMAGES=str(tmp_path / "hidden.npy"), HEMI_OUT=str(tmp_path / "right.json"), HEMI_TRACE="1")
    Bench("right", cfg).run("tb.hybrid.layers", name="hybrid-lif", testcase="lif_layer", env=env)
    res = json.loads((tmp_path / "right.json").read_text())
    _, golden_counts = net.predict(images)
    assert [r["counts"] for r in res["images"]] == golden_counts.tolist()
    assert len(res["trace"]) == net.steps
