"""The commands under torchrun: two CPU processes with gloo give what one process gives (train and fine-tune: the
weights of one process with the global batch; eval: the same figures; predict: byte-identical files), and a rank
that dies ends the run within the timeout with a sentence, leaving complete files only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from fcn_core import FCNBundle, ModelMeta, Preprocessing, VariantSpec, load_checkpoint, save_checkpoint
from fcn_core.cli import main as core_main
from fcn_core.data.demo_data import write_scene_dataset
from fcn_core.data.scenes import SCENE_CLASSES, SCENE_COLORS, make_scene
from fcn_core.training.config import TrainConfig
from fcn_core.training.trainer import Trainer
from tests.helpers.faults import leftovers, snapshot

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 90  # a run that hangs fails the test instead of the suite
LOST = ("another process of this distributed run stopped", "was told to stop (SIGTERM")


def torchrun(args: list[str], script: str | None = None, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, float]:
    """``fcn-workbench ARGS`` in two gloo processes (``python -m fcn_core.cli``, or ``script``); and its seconds."""
    target = [script] if script else ["-m", "fcn_core.cli"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *target, *args]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "FCN_WORKBENCH_DIST_TIMEOUT": "60", **(env or {})})
    return proc, time.monotonic() - t0


class one_thread:
    """One intra-op thread, as each torchrun process has (OMP_NUM_THREADS=1): the same float sums, to the bit."""

    def __enter__(self) -> None:
        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc) -> None:
        torch.set_num_threads(self.threads)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scenes")
    write_scene_dataset(root, 8, seed=1, split="train", size=(64, 64))
    write_scene_dataset(root, 5, seed=2, split="val", size=(64, 64))
    return root


@pytest.fixture(scope="module")
def init(tmp_path_factory) -> Path:
    """A fresh tiny net both runs start from (a fresh net's draws are not what is compared)."""
    torch.manual_seed(0)
    specs = tuple(VariantSpec(v) for v in ("32s", "16s", "8s"))
    path = tmp_path_factory.mktemp("init") / "init.pt"
    save_checkpoint(FCNBundle(ModelMeta(SCENE_CLASSES, SCENE_COLORS, Preprocessing.imagenet(), specs, 0.0625)), path)
    return path


def _train_cfg(scenes: Path, init: Path, out: Path, batch: int) -> TrainConfig:
    return TrainConfig(data=str(scenes), out=str(out), init=str(init), width=0.0625, iterations=6, batch=batch,
                       crop=48, device="cpu", optimizer="sgd", lr=1e-3, dropout=0.0, val_split=None,
                       checkpoint_every=3, seed=0)


def _train_args(scenes: Path, init: Path, out: Path) -> list[str]:
    return ["train", "--data", str(scenes), "--init", str(init), "--out", str(out), "--width", "0.0625",
            "--iterations", "6", "--batch", "2", "--crop", "48", "--device", "cpu", "--optimizer", "sgd",
            "--lr", "1e-3", "--dropout", "0", "--val-split", "", "--checkpoint-every", "3", "--seed", "0"]


@pytest.fixture(scope="module")
def one_process(scenes, init, tmp_path_factory) -> dict[str, torch.Tensor]:
    """Six SGD steps of one process with batch 4 (scale jitter and void padding on: ranks' pixel counts differ, so
    a mean per rank would be off by about 4e-4 here)."""
    out = tmp_path_factory.mktemp("one") / "m.pt"
    with one_thread():
        list(Trainer(_train_cfg(scenes, init, out, batch=4)).run())
    return load_checkpoint(out)[0].state_dict()


def _assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float) -> None:
    """Equal to float tolerance: the sums run in another order, and a ReLU at the edge may flip (~1e-8 to 1e-6)."""
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst <= atol, f"weights differ by {worst}"


def test_two_processes_train_the_weights_of_one_process_with_the_global_batch(scenes, init, one_process, tmp_path):
    out = tmp_path / "m.pt"
    proc, _ = torchrun(_train_args(scenes, init, out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 processes (gloo), batch 2 per process × 2 processes = 4" in proc.stdout
    bundle, state = load_checkpoint(out)
    assert state is None and "batch 2 per process × 2 processes = 4" in bundle.meta.provenance.recipe
    _assert_same_weights(bundle.state_dict(), one_process, atol=1e-5)
    assert leftovers(tmp_path) == []


def test_a_rank_killed_mid_training_stops_the_other_with_a_sentence_and_the_run_resumes_on_one_process(
        scenes, init, one_process, tmp_path):
    out = tmp_path / "k.pt"
    proc, seconds = torchrun(_train_args(scenes, init, out), script="tests/helpers/dying_rank.py",
                             env={"FCN_TEST_DIE": "1:fcn_core.training.trainer:global_loss:5"})  # SIGKILL at step 5
    assert proc.returncode != 0 and seconds < 45
    said = proc.stdout + proc.stderr
    assert any(s in said for s in LOST), said[-2000:]
    _, state = load_checkpoint(out)  # rank 0's checkpoint of step 3, whole
    assert state["step"] == 3 and state["position"] == 12 and leftovers(tmp_path) == []
    with one_thread():
        list(Trainer(_train_cfg(scenes, init, out, batch=4), resume=True).run())  # the rest on one process
    _assert_same_weights(load_checkpoint(out)[0].state_dict(), one_process, atol=1e-5)


def test_a_rank_that_hangs_is_given_up_after_the_timeout_with_a_sentence(scenes, init, tmp_path):
    out = tmp_path / "h.pt"
    proc, seconds = torchrun(_train_args(scenes, init, out), script="tests/helpers/dying_rank.py",
                             env={"FCN_TEST_HANG": "1:fcn_core.training.trainer:global_loss:2",  # sleeps in step 2
                                  "FCN_WORKBENCH_DIST_TIMEOUT": "3"})
    assert proc.returncode != 0 and seconds < 45
    assert "fcn-workbench train: another process of this distributed run did not answer within 3 s" in proc.stderr
    assert not out.exists() and leftovers(tmp_path) == []  # no checkpoint was due yet


def test_two_processes_evaluate_to_the_figures_of_one(scenes, tmp_path, capsys):
    proc, _ = torchrun(["eval", "--data", str(scenes), "--split", "val", "--json", "--device", "cpu"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    with one_thread():
        assert core_main(["eval", "--data", str(scenes), "--split", "val", "--json", "--device", "cpu"]) == 0
    assert json.loads(proc.stdout) == json.loads(capsys.readouterr().out)  # printed once, by rank 0


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    for i in range(11):  # odd: the ranks' shares differ in size; two sizes: batches of equal sizes
        Image.fromarray(make_scene(4, i, (72, 96) if i % 3 else (64, 64)).image).save(folder / f"s{i:02d}.png")
    return folder


@pytest.fixture(scope="module")
def predicted(images, tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("one_process")
    with one_thread():
        assert core_main(["predict", str(images), "--out", str(out), "--variant", "all", "--save-logits", "--quiet",
                          "--device", "cpu"]) == 0
    return snapshot(out)


def test_two_processes_predict_files_byte_identical_to_one(images, predicted, tmp_path):
    out = tmp_path / "out"
    proc, _ = torchrun(["predict", str(images), "--out", str(out), "--variant", "all", "--save-logits", "--device", "cpu"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert snapshot(out) == predicted and len(predicted) == 11 * 6
    assert proc.stdout.count("segmented 11 images into") == 1 and "with 2 processes" in proc.stdout
    assert sorted(line.split(":")[0] for line in proc.stdout.splitlines() if line.endswith(": 32s 16s 8s")) == \
        [f"s{i:02d}.png" for i in range(11)]  # every image once, by the rank that segmented it


def test_a_rank_killed_mid_predict_ends_the_run_with_a_sentence_and_complete_files(images, predicted, tmp_path):
    out = tmp_path / "out"
    proc, seconds = torchrun(["predict", str(images), "--out", str(out), "--variant", "all", "--save-logits",
                              "--quiet", "--device", "cpu"], script="tests/helpers/dying_rank.py",
                             env={"FCN_TEST_DIE": "1:fcn_core.inference.folder_predict:_read:3"})
    assert proc.returncode != 0 and seconds < 45
    said = proc.stdout + proc.stderr
    assert any(s in said for s in LOST), said[-2000:]
    landed = snapshot(out)
    assert len(landed) < len(predicted)
    assert all(predicted[name] == data for name, data in landed.items())  # every file there is whole and right
    # a SIGKILL mid-write can leave only a hidden temporary file, which the next run sweeps (storage/atomic.py)
    assert all(p.name.startswith(".fcnwb") for p in leftovers(tmp_path))


def test_two_processes_finetune_to_the_checkpoint_of_one_with_the_global_batch(init, tmp_path):
    from fcn_core.training.finetune import finetune_on_corrections
    from tests.helpers.corrected_scenes import corrected_scene_folder

    folder, ws = corrected_scene_folder(tmp_path, 6, 160, seed=3)  # 128-px crops: six fill a canvas
    two = tmp_path / "two.pt"
    proc, _ = torchrun(["finetune", str(folder), "--weights", str(init), "--iterations", "8", "--batch", "6",
                        "--lr", "0.002", "--seed", "1", "--device", "cpu", "--out", str(two), "--quiet"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("saved ") == 1  # rank 0 reports
    with one_thread():
        one = finetune_on_corrections(load_checkpoint(init)[0], folder, iterations=8, batch=12, lr=2e-3, device="cpu",
                                      seed=1, out=tmp_path / "one.pt")
    tuned = load_checkpoint(two)[0]
    assert f"kept step {one.kept_step} " in tuned.meta.provenance.recipe and one.kept_step > 0
    assert "6 crops per process × 2 processes = 12 crops" in tuned.meta.provenance.recipe
    for v, m in one.after.items():  # the same held-out figures, so the same step kept on every rank
        assert tuned.meta.provenance.metrics[v]["mean_iu"] == pytest.approx(m["mean_iu"], abs=1e-3)
    # Adam's first steps divide by the gradient's own size, so last-bit differences grow to about 1e-5
    _assert_same_weights(tuned.state_dict(), load_checkpoint(one.checkpoint)[0].state_dict(), atol=1e-4)
    assert sorted(p.name for p in tmp_path.rglob("*.pt")) == ["one.pt", "two.pt"]  # rank 0 alone wrote
    assert leftovers(tmp_path) == []


def test_an_error_on_rank_0_alone_is_said_once_and_the_others_leave_without_a_word(images, tmp_path):
    folder = tmp_path / "photos"  # images nobody corrected: rank 0's export refuses them
    folder.mkdir()
    for p in sorted(images.iterdir())[:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    proc, seconds = torchrun(["finetune", str(folder), "--iterations", "2", "--device", "cpu"])
    assert proc.returncode != 0 and seconds < 45
    assert proc.stderr.count("fcn-workbench finetune: nothing to export: no image in") == 1
    assert "exitcode  : 2" in proc.stderr and not any(s in proc.stderr for s in LOST)  # rank 1 leaves silently
    assert list(tmp_path.rglob("*.pt")) == []
