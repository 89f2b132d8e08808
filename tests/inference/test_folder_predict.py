"""Many images at once: batches by size, parallel decoding, background writes, cancel, bad files."""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image

from fcn_core import Engine, read_label_png
from fcn_core.inference.folder_predict import predict_folder


def _images(folder, n=7):
    rng = np.random.default_rng(0)
    folder.mkdir()
    paths = []
    for i in range(n):
        shape = (60, 80, 3) if i % 3 else (50, 70, 3)  # two sizes, interleaved
        path = folder / f"im{i}.png"
        Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def test_folder_results_equal_one_by_one(tmp_path, tiny_bundle):
    paths = _images(tmp_path / "in")
    (tmp_path / "in" / "broken.png").write_bytes(b"not a png")
    paths.append(tmp_path / "in" / "broken.png")
    engine = Engine(tiny_bundle, "cpu")
    seen = []
    report = predict_folder(engine, paths, tmp_path / "out", ["16s", "8s"], save_logits=True, batch=3,
                            progress=lambda done, total, p: seen.append((done, total)))
    assert len(report.done) == 7 and [p.name for p, _ in report.failed] == ["broken.png"]
    assert seen[-1] == (8, 8) and len(seen) == 8
    for path in paths[:-1]:
        img = np.array(Image.open(path).convert("RGB"))
        for v in ("16s", "8s"):
            ref = engine.segment(img, v)
            assert np.array_equal(read_label_png(tmp_path / "out" / f"{path.stem}_{v}.png"), ref.labels)
            scores = np.load(tmp_path / "out" / f"{path.stem}_{v}.npy")
            assert np.allclose(scores, ref.scores, atol=1e-5 * np.abs(ref.scores).max())
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left


def test_cancel_leaves_complete_outputs_only(tmp_path, tiny_bundle):
    paths = _images(tmp_path / "in", 12)
    cancel = threading.Event()
    engine = Engine(tiny_bundle, "cpu")

    def progress(done, total, path):
        if done >= 4:
            cancel.set()

    report = predict_folder(engine, paths, tmp_path / "out", ["8s"], batch=2, progress=progress, cancel=cancel)
    assert report.cancelled and 4 <= len(report.done) < 12
    written = sorted((tmp_path / "out").iterdir())
    assert len(written) == len(report.done)  # exactly the finished images, each complete
    for f in written:
        assert read_label_png(f).shape in {(60, 80), (50, 70)}
    again = predict_folder(engine, paths, tmp_path / "out", ["8s"], batch=2)  # and it keeps working
    assert len(again.done) == 12 and not again.cancelled


def test_images_whose_outputs_would_collide_are_refused_before_anything_runs(tmp_path, tiny_bundle):
    import pytest

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    img = np.zeros((20, 20, 3), np.uint8)
    Image.fromarray(img).save(a / "x.png")
    Image.fromarray(img).save(b / "x.jpg")
    with pytest.raises(ValueError, match="would write the same output files"):
        predict_folder(Engine(tiny_bundle, "cpu"), [a / "x.png", b / "x.jpg"], tmp_path / "out", ["8s"])
    assert not (tmp_path / "out").exists()
