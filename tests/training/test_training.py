"""The trainer and the eval command, in CPU-sized runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fcn_core import load_checkpoint
from fcn_core.cli import main as core_main
from fcn_core.data.demo_data import write_scene_dataset
from fcn_core.model.palette import VOID
from fcn_core.training.finetune import unused_checkpoint_path
from fcn_core.training.config import TrainConfig
from fcn_core.training.trainer import Trainer


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    write_scene_dataset(root, 6, seed=1, split="train", size=(64, 64))
    write_scene_dataset(root, 3, seed=2, split="val", size=(64, 64))
    return root


def _cfg(scenes, out, **kw):
    base = dict(data=str(scenes), out=str(out), width=0.0625, iterations=25, batch=2, crop=48, device="cpu",
                lr=2e-3, checkpoint_every=10, seed=0)
    return TrainConfig(**{**base, **kw})


def test_a_few_iterations_lower_the_loss(scenes, tmp_path):
    torch.manual_seed(0)
    trainer = Trainer(_cfg(scenes, tmp_path / "m.pt", iterations=40, batch=4, crop=64))
    losses = [p.loss for p in trainer.run() if not p.done]
    assert np.mean(losses[-8:]) < np.mean(losses[:8])
    bundle, state = load_checkpoint(tmp_path / "m.pt")
    assert state is None  # the final file is the finished model
    assert set(bundle.meta.provenance.metrics) == {"32s", "16s", "8s"}
    assert bundle.meta.classes[2] == "wire"


def test_staged_schedule_builds_separate_nets(scenes, tmp_path):
    trainer = Trainer(_cfg(scenes, tmp_path / "s.pt", mode="staged", iterations=3, val_split=None))
    stages = [p.stage for p in trainer.run()]
    assert stages[:3] == ["32s"] * 3 and stages[3:6] == ["16s"] * 3 and stages[-1] == "done"
    bundle, _ = load_checkpoint(tmp_path / "s.pt")
    assert len(bundle.backbones) == 3


def test_resume_continues_from_saved_state(scenes, tmp_path):
    out = tmp_path / "r.pt"
    run = Trainer(_cfg(scenes, out, iterations=20, val_split=None)).run()
    for p in run:
        if p.step == 12:
            break  # "killed" after the checkpoint at step 10
    _, state = load_checkpoint(out)
    assert state["step"] == 10
    resumed = Trainer(_cfg(scenes, out, iterations=20, val_split=None), resume=True)
    steps = [p.step for p in resumed.run() if not p.done]
    assert steps[0] == 11 and steps[-1] == 20


def test_eval_json_has_the_fields(scenes, tmp_path, capsys):
    out = tmp_path / "e.pt"
    list(Trainer(_cfg(scenes, out, iterations=2, val_split=None)).run())
    assert core_main(["eval", "--data", str(scenes), "--split", "val", "--weights", str(out), "--json",
                      "--device", "cpu"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"32s", "16s", "8s"}
    for m in data.values():
        assert set(m) == {"pixel_acc", "mean_acc", "mean_iu", "fw_iu", "per_class_iu"}
        assert len(m["per_class_iu"]) == 7


def test_all_void_data_is_refused_not_reported_as_divergence(tmp_path):
    from fcn_core.storage.image_io import read_label_png, write_label_png
    from fcn_core.model.palette import full_palette, voc_colormap

    root = tmp_path / "void"
    ids = write_scene_dataset(root, 2, seed=5, split="train", size=(48, 48))
    for i in ids:
        path = root / "SegmentationClass" / f"{i}.png"
        write_label_png(path, np.full_like(read_label_png(path), 255), full_palette(voc_colormap(7)))
    trainer = Trainer(_cfg(root, tmp_path / "v.pt", val_split=None, iterations=3))
    with pytest.raises(ValueError, match="no labelled pixels"):
        list(trainer.run())


@pytest.mark.slow
def test_cancel_during_training_keeps_a_complete_checkpoint_and_the_next_run_works(scenes, tmp_path, monkeypatch):
    from tests.helpers.faults import leftovers

    out = tmp_path / "c.pt"
    run = Trainer(_cfg(scenes, out, iterations=16, checkpoint_every=5, val_split=None)).run()
    for p in run:
        if p.step == 7:
            break
    run.close()  # the GUI's and the CLI's cancel: stop resuming the generator
    _, state = load_checkpoint(out)  # complete, and resumable from step 5
    assert state["step"] == 5 and leftovers(tmp_path) == []

    real_save = torch.save

    def interrupted(obj, f, *a, **k):  # Ctrl+C while the step-10 checkpoint is half written
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(torch, "save", interrupted)
        with pytest.raises(KeyboardInterrupt):
            for _ in Trainer(_cfg(scenes, out, iterations=16, checkpoint_every=5, val_split=None), resume=True).run():
                pass
    assert torch.save is real_save
    _, state = load_checkpoint(out)
    assert state["step"] == 5 and leftovers(tmp_path) == []

    steps = [p.step for p in Trainer(_cfg(scenes, out, iterations=16, checkpoint_every=5, val_split=None),
                                     resume=True).run() if not p.done]
    assert steps[0] == 6 and steps[-1] == 16
    bundle, state = load_checkpoint(out)
    assert state is None and leftovers(tmp_path) == []
    again = tmp_path / "again.pt"  # and a fresh run after all that
    assert [p.done for p in Trainer(_cfg(scenes, again, iterations=3, val_split=None)).run()][-1]
    assert load_checkpoint(again)[1] is None


@pytest.mark.slow
def test_cancel_during_finetune_leaves_the_workspace_clean_and_the_next_finetune_works(tmp_path):
    from fcn_core import FCNBundle, ModelMeta, Preprocessing, VariantSpec
    from fcn_core.training.finetune import finetune_on_corrections
    from fcn_core.data.scenes import SCENE_CLASSES, SCENE_COLORS
    from tests.helpers.corrected_scenes import corrected_scene_folder
    from tests.helpers.faults import leftovers, snapshot

    folder, ws = corrected_scene_folder(tmp_path, 3, 48)
    labels_before = {p.name: p.read_bytes() for p in ws.root.glob("*.png")}
    torch.manual_seed(0)
    model = FCNBundle(ModelMeta(SCENE_CLASSES, SCENE_COLORS, Preprocessing.imagenet(), (VariantSpec("32s"),), 0.0625))

    class Stop(Exception):
        pass

    def stop_at_3(step: int, total: int, loss: float) -> None:
        if step == 3:
            raise Stop()

    with pytest.raises(Stop):
        finetune_on_corrections(model, folder, iterations=8, batch=2, device="cpu", progress=stop_at_3)
    assert leftovers(tmp_path) == []
    assert {p.name: p.read_bytes() for p in ws.root.glob("*.png")} == labels_before  # corrections untouched
    data = snapshot(ws.root / "finetune_data")
    assert sum(k.startswith("JPEGImages/") for k in data) == 3  # the export it made is whole
    result = finetune_on_corrections(model, folder, iterations=4, batch=2, device="cpu")
    assert load_checkpoint(result.checkpoint)[1] is None and leftovers(tmp_path) == []


def test_dropout_setting_reaches_the_fc_layers_and_bad_values_are_refused(scenes, tmp_path):
    trainer = Trainer(_cfg(scenes, tmp_path / "d.pt", iterations=2, val_split=None, dropout=0.0))
    run = trainer.run()
    next(run)  # one step taken: the training net is set up
    drops = [m for m in trainer.bundle.modules() if isinstance(m, torch.nn.Dropout2d)]
    assert drops and all(m.p == 0.0 for m in drops)
    x = torch.rand(1, 3, 40, 40)
    trainer.bundle.train()
    with torch.no_grad():  # no dropout: two training-mode passes agree exactly
        assert torch.equal(trainer.bundle.forward_all(x)["8s"], trainer.bundle.forward_all(x)["8s"])
    with pytest.raises(ValueError, match="dropout"):
        _cfg(scenes, tmp_path / "e.pt", dropout=1.0)


def test_a_run_from_a_trained_model_records_its_lineage_not_its_metrics(scenes, tmp_path):
    first = tmp_path / "first.pt"
    list(Trainer(_cfg(scenes, first, iterations=3)).run())
    second = tmp_path / "second.pt"
    list(Trainer(_cfg(scenes, second, iterations=2, val_split=None, init=str(first), lr=1e-4)).run())
    meta = load_checkpoint(second)[0].meta
    assert not meta.provenance.metrics  # the first model's metrics described other weights
    origin = meta.provenance.initialised_from
    assert origin.weights == "first.pt" and "3 iterations" in origin.recipe
    assert "2 iterations" in meta.provenance.recipe
    assert "initialised from first.pt: " in meta.describe()  # `fcn-workbench info` shows the chain
    third = tmp_path / "third.pt"  # a run killed after a checkpoint: its file describes that run, so far
    for p in Trainer(_cfg(scenes, third, iterations=20, val_split=None, init=str(first), lr=1e-4)).run():
        if p.step == 11:
            break
    prov = load_checkpoint(third)[0].meta.provenance
    assert not prov.metrics and prov.unfinished == "stage 1 of 1, step 10 of 20"
    assert prov.initialised_from.weights == "first.pt"
    fourth = tmp_path / "fourth.pt"  # and a run started from it says so
    list(Trainer(_cfg(scenes, fourth, iterations=1, val_split=None, init=str(third), lr=1e-4)).run())
    origin = load_checkpoint(fourth)[0].meta.provenance.initialised_from
    assert origin.unfinished == "stage 1 of 1, step 10 of 20" and origin.initialised_from.weights == "first.pt"


def test_eval_record_writes_the_metrics_into_the_checkpoint(scenes, tmp_path, capsys):
    model = tmp_path / "m.pt"
    list(Trainer(_cfg(scenes, model, iterations=2, val_split=None)).run())
    assert not load_checkpoint(model)[0].meta.provenance.metrics
    assert core_main(["eval", "--data", str(scenes), "--weights", str(model), "--record", "3 test scenes"]) == 0
    prov = load_checkpoint(model)[0].meta.provenance
    assert prov.metrics_split == "3 test scenes" and set(prov.metrics) == {"32s", "16s", "8s"}
    assert core_main(["eval", "--data", str(scenes), "--weights", str(model), "--variant", "8s",
                      "--record", "x"]) == 2
    assert "every variant" in capsys.readouterr().err
    unfinished = tmp_path / "u.pt"
    run = Trainer(_cfg(scenes, unfinished, iterations=20, val_split=None)).run()
    for p in run:
        if p.step == 11:
            break  # a checkpoint with training state, as a killed run leaves
    before = unfinished.read_bytes()
    assert core_main(["eval", "--data", str(scenes), "--weights", str(unfinished), "--record", "x"]) == 2
    assert "unfinished training run" in capsys.readouterr().err
    assert unfinished.read_bytes() == before


def test_two_finetunes_in_the_same_second_get_different_files(tmp_path):
    first = unused_checkpoint_path(tmp_path, "finetuned_20261201_120000")
    assert first.name == "finetuned_20261201_120000.pt"
    first.write_bytes(b"earlier fine-tune")
    second = unused_checkpoint_path(tmp_path, "finetuned_20261201_120000")
    assert second.name == "finetuned_20261201_120000_2.pt"
    second.write_bytes(b"x")
    assert unused_checkpoint_path(tmp_path, "finetuned_20261201_120000").name == "finetuned_20261201_120000_3.pt"
    assert first.read_bytes() == b"earlier fine-tune"


def test_mosaic_tiles_whole_items_with_their_own_labels(scenes):
    from fcn_core.data.voc_dataset import Mosaic, VOCSegmentationFolder

    base = VOCSegmentationFolder(scenes, "train")  # no transforms: every scene is 64 × 64
    items = [base[i] for i in range(len(base))]
    torch.manual_seed(0)
    image, labels = Mosaic(base, 2)[3]
    assert image.shape == (3, 128, 128) and labels.shape == (128, 128)
    quadrants = [(slice(r, r + 64), slice(c, c + 64)) for r in (0, 64) for c in (0, 64)]
    found = []
    for ys, xs in quadrants:  # each tile is one whole item, its label map beside its own picture
        match = [i for i, (img, lab) in enumerate(items) if torch.equal(image[:, ys, xs], img)]
        assert match and torch.equal(labels[ys, xs], items[match[0]][1])
        found.append(match[0])
    assert found[0] == 3  # the indexed item sits top left
    with pytest.raises(ValueError, match="tile"):
        Mosaic(base, 0)


def test_mosaic_training_runs_and_is_recorded(scenes, tmp_path):
    trainer = Trainer(_cfg(scenes, tmp_path / "mo.pt", iterations=3, val_split=None, mosaic=2, crop=32))
    steps = [p for p in trainer.run()]
    assert steps[-1].done and np.isfinite(steps[-2].loss)
    assert "mosaic 2×2" in load_checkpoint(tmp_path / "mo.pt")[0].meta.provenance.recipe
    with pytest.raises(ValueError, match="mosaic"):
        _cfg(scenes, tmp_path / "x.pt", mosaic=5)


def test_finetune_crops_follow_the_images_and_keep_a_steps_pixels():
    from fcn_core.training.finetune import crop_and_batch

    assert crop_and_batch([(160, 160)] * 4) == (128, 6)  # the demo's scenes: six 128-px crops
    assert crop_and_batch([(375, 500)] * 3) == (304, 1)  # VOC-sized photos: one crop of most of the picture
    assert crop_and_batch([(4000, 6000)]) == (320, 1)  # huge ones: bounded
    assert crop_and_batch([(20, 30)]) == (32, 96)  # tiny ones: padded to the smallest crop
    assert crop_and_batch([(160, 160)], batch=2) == (128, 2)


def test_finetune_crops_are_tiled_into_canvases_of_a_default_steps_pixels():
    from fcn_core.training.finetune import canvas_layout, canvases, crop_and_batch

    assert canvas_layout(1, 304) == (1, 1, 1)  # a lone crop stays as it is (large images)
    assert canvas_layout(6, 128) == (1, 2, 3)  # the demo's six 128-px crops: one 256×384 canvas
    assert canvas_layout(4, 128) == (1, 2, 2) and canvas_layout(3, 128) == (1, 1, 3)
    assert canvas_layout(15, 80) == (1, 3, 5)  # small images' many small crops: still one canvas
    assert canvas_layout(12, 128) == (2, 2, 3)  # a global batch of 12 = two ranks' 6: the same canvases
    assert canvas_layout(7, 128) == (2, 2, 2)  # more than a canvas holds: evenly over two
    for shape in [(160, 160), (104, 104), (375, 500), (20, 30), (4000, 6000)]:  # a default step is one canvas
        crop, batch = crop_and_batch([shape])
        assert canvas_layout(batch, crop)[0] == 1
    xs = [torch.full((3, 128, 128), float(i)) for i in range(7)]
    ys = [torch.full((128, 128), i) for i in range(7)]
    x, y = canvases(xs, ys)  # 4 and 3 crops on two 2×2 canvases
    assert x.shape == (2, 3, 256, 256) and y.shape == (2, 256, 256)
    assert [int(y[k, r * 128, c * 128]) for k in range(2) for r in range(2) for c in range(2)] == \
        [0, 1, 2, 3, 4, 5, 6, VOID]  # row by row
    assert torch.equal(x[1, :, 128:, :128], xs[6]) and (x[1, :, 128:, 128:] == 0).all()  # the empty tile: padding, void


def test_a_finetune_step_trains_on_exactly_the_crops_drawn(tmp_path):
    """Every drawn crop lands whole in a canvas tile, flipped where drawn so, its labels beside it."""
    from fcn_core import DEMO_MODEL, load_bundle
    from fcn_core.model.normalize import to_input
    from fcn_core.training.finetune import _batch, _draw, canvas_layout

    rng = np.random.default_rng(0)
    items = [(rng.integers(0, 255, (48, 40, 3), dtype=np.uint8), rng.integers(0, 7, (48, 40)).astype(np.uint8))
             for _ in range(3)]
    bundle = load_bundle([DEMO_MODEL])
    draws = _draw(items, 32, 8, np.random.default_rng(1))
    x, y = _batch(items, 32, draws, bundle, torch.device("cpu"))
    count, rows, cols = canvas_layout(8, 32)
    assert x.shape == (1, 3, rows * 32, cols * 32) and count == 1 and rows * cols == 8
    for k, (i, top, left, flipped) in enumerate(draws):
        canvas = 0
        r, c = divmod(k, cols)
        want = torch.from_numpy(items[i][1][top:top + 32, left:left + 32].astype(np.int64))
        want_x = to_input(bundle.meta.preprocessing, np.ascontiguousarray(items[i][0][top:top + 32, left:left + 32]),
                          torch.device("cpu"))[0]
        if flipped:
            want, want_x = want.flip(-1), want_x.flip(-1)
        assert torch.equal(y[canvas, r * 32:(r + 1) * 32, c * 32:(c + 1) * 32], want)
        assert torch.allclose(x[canvas, :, r * 32:(r + 1) * 32, c * 32:(c + 1) * 32], want_x)


def test_a_finetune_never_hands_back_a_head_worse_on_the_held_out_corrections(tmp_path):
    """A learning rate that wrecks the model: every check is worse than the start, so the start is kept."""
    from fcn_core import DEMO_MODEL, load_bundle
    from fcn_core.training.finetune import finetune_on_corrections
    from tests.helpers.corrected_scenes import corrected_scene_folder

    folder, _ = corrected_scene_folder(tmp_path, 5, 160, seed=3)
    result = finetune_on_corrections(load_bundle([DEMO_MODEL]), folder, iterations=6, lr=0.05, device="cpu")
    assert result.held_out_images == 1 and result.kept_step == 0
    assert all(result.after[v]["mean_iu"] == pytest.approx(result.before[v]["mean_iu"]) for v in result.before)
    assert any(ious["8s"] < result.before["8s"]["mean_iu"] for step, ious in result.checks if step > 0)
    tuned, _ = load_checkpoint(result.checkpoint)
    assert "kept step 0" in tuned.meta.provenance.recipe
    # the window asks for no copy of the weights it already has
    before = set(tmp_path.rglob("*.pt"))
    again = finetune_on_corrections(load_bundle([DEMO_MODEL]), folder, iterations=6, lr=0.05, device="cpu",
                                    save_unchanged=False)
    assert again.kept_step == 0 and again.checkpoint is None and set(tmp_path.rglob("*.pt")) == before


def test_a_finetune_with_only_verified_pixels_and_none_verified_is_refused(tmp_path):
    import numpy as np

    from fcn_core import DEMO_MODEL, LabelDocument, load_bundle
    from fcn_core.training.finetune import finetune_on_corrections
    from tests.helpers.corrected_scenes import corrected_scene_folder

    folder, ws = corrected_scene_folder(tmp_path, 2, 64)
    bundle = load_bundle([DEMO_MODEL])
    for path in sorted(folder.glob("*.png")):  # saved, but nothing verified
        labels, _ = ws.load(path, (64, 64), 7)
        ws.save(path, LabelDocument(labels, np.zeros((64, 64), bool), n_class=7), bundle.meta.palette(), bundle.meta.classes)
    with pytest.raises(ValueError, match="no labelled pixels.*none is verified"):
        finetune_on_corrections(bundle, folder, iterations=2, device="cpu", only_verified=True)
    assert finetune_on_corrections(bundle, folder, iterations=2, device="cpu").kept_step in (0, 2)  # unverified pixels train


def test_balanced_weights_favour_rare_classes_and_ignore_void():
    from fcn_core.training.loss import balanced_weights

    labels = np.zeros((100, 100), np.uint8)
    labels[:10, :10] = 2  # 1 % of the pixels
    labels[40:, :] = 1  # most of the rest
    labels[-1] = 255  # void counts for no class
    w = balanced_weights([labels], 4).numpy()
    assert w[2] > w[0] > w[1] and w[3] == 1.0  # the rarest weighs most; an absent class stays at 1
    counts = np.array([(labels == c).sum() for c in range(3)], float)
    assert w[2] / w[1] == pytest.approx(np.sqrt(counts[1] / counts[2]), rel=1e-6)
    assert balanced_weights([np.full((4, 4), 255, np.uint8)], 3).tolist() == [1.0, 1.0, 1.0]
    assert balanced_weights([np.r_[np.zeros(10**6, np.uint8), np.ones(1, np.uint8)][None]], 2).max() == 10.0  # clipped


def test_the_finetune_weighs_its_loss_by_the_corrections_class_balance(tmp_path, monkeypatch):
    from fcn_core import DEMO_MODEL, load_bundle
    from fcn_core.training import finetune as finetune_module
    from fcn_core.training.loss import balanced_weights, mean_loss
    from tests.helpers.corrected_scenes import corrected_scene_folder

    folder, ws = corrected_scene_folder(tmp_path, 5, 64, seed=4)
    seen = []
    monkeypatch.setattr(finetune_module, "mean_loss", lambda outs, y, total, w=None: seen.append(w) or mean_loss(outs, y, total, w))
    result = finetune_module.finetune_on_corrections(load_bundle([DEMO_MODEL]), folder, iterations=2, device="cpu")
    assert result.train_images == 4 and len(seen) == 2 and all(torch.equal(w, seen[0]) for w in seen)
    labels = [ws.load(folder / f"s{i}.png", (64, 64), 7)[0] for i in range(5)]
    # the weights of the four trained images (one of the five is held out), not of all five nor none
    assert any(torch.equal(seen[0], balanced_weights(labels[:i] + labels[i + 1:], 7)) for i in range(5))
    assert not torch.equal(seen[0], torch.ones(7))
    assert "class-balanced loss" in load_checkpoint(result.checkpoint)[0].meta.provenance.recipe
