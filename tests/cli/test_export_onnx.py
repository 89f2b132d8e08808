"""``fcn-workbench export-onnx``: the file onnxruntime runs gives the engine's labels and scores."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from fcn_core import Engine, save_checkpoint
from fcn_core.cli import main as core_main

ort = pytest.importorskip("onnxruntime")


def test_every_variant_in_one_graph_gives_the_engines_answers(tmp_path, tiny_bundle, capsys):
    ckpt = tmp_path / "m.pt"
    save_checkpoint(tiny_bundle, ckpt)
    out = tmp_path / "m.onnx"
    assert core_main(["export-onnx", "--weights", str(ckpt), "--variant", "all", "--scores", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "labels_32s" in said and "scores_8s" in said
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    assert names == ["labels_32s", "scores_32s", "labels_16s", "scores_16s", "labels_8s", "scores_8s"]
    engine = Engine(copy.deepcopy(tiny_bundle), "cpu")
    rng = np.random.default_rng(1)
    for size in [(1, 1), (45, 123), (2, 64)]:
        image = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
        got = dict(zip(names, session.run(None, {"image": image[None]})))
        want = engine.predict(engine.cache_for(image))
        for v in ("32s", "16s", "8s"):
            assert np.array_equal(got[f"labels_{v}"][0], want[v].labels), (size, v)
            assert np.allclose(got[f"scores_{v}"][0], want[v].scores, atol=1e-4 * np.abs(want[v].scores).max())
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["fcn_workbench.variants"]) == ["32s", "16s", "8s"]
    assert json.loads(meta["fcn_workbench.class_names"]) == list(tiny_bundle.meta.classes)
    assert json.loads(meta["fcn_workbench.preprocessing"])["inside_graph"] is True


def test_refusals_are_one_sentence_and_write_nothing(tmp_path, tiny_bundle, capsys):
    ckpt = tmp_path / "m.pt"
    save_checkpoint(tiny_bundle, ckpt)
    out = tmp_path / "m.onnx"
    out.write_bytes(b"keep me")
    assert core_main(["export-onnx", "--weights", str(ckpt), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == b"keep me"
    assert core_main(["export-onnx", "--weights", str(ckpt), "--out", str(tmp_path / "no" / "m.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert core_main(["export-onnx", "--weights", str(ckpt), "--out", str(out), "--overwrite"]) == 0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["labels"]  # the finest head by default
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.pt"]  # no temporary left


def test_a_head_the_weights_lack_is_refused(tmp_path, capsys):
    from fcn_core import FCNBundle
    from tests.helpers.models import randomize, tiny_meta

    ckpt = tmp_path / "m.pt"
    save_checkpoint(randomize(FCNBundle(tiny_meta(("32s",)))), ckpt)
    assert core_main(["export-onnx", "--weights", str(ckpt), "--variant", "8s", "--out", str(tmp_path / "x.onnx")]) == 2
    assert "no FCN-8s head" in capsys.readouterr().err and not (tmp_path / "x.onnx").exists()
