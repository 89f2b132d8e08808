"""Crafted input through the command line: a sentence and status 2, never a traceback, a hang or a lost file
(issue 22's findings, each as a person or a script would meet it)."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fcn_core import FCNBundle, LabelDocument, Workspace, save_checkpoint
from fcn_core.cli import main as cli
from fcn_core.storage import atomic, staging
from fcn_core.storage.atomic import atomic_write_bytes, remove_stale_temps
from fcn_core.storage.export import export_dataset
from fcn_core.weights.caffemodel import write_caffemodel
from fcn_core.weights.public_nets import public_state_dict
from tests.helpers.models import randomize, tiny_meta

ROOT = Path(__file__).resolve().parents[2]
CLASSES = tuple(f"c{i}" for i in range(5))
COLORS = [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128)]
HANG_S = 30  # far above any of these commands' time; a hang shows as a test failure, not a stuck suite


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    """The CLI in this process, bounded in time: (status, what it printed on stderr)."""
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(cli([str(a) for a in args])), daemon=True)
    t.start()
    t.join(HANG_S)
    assert result, f"fcn-workbench {args[0]} hung for {HANG_S} s"
    return result[0], capsys.readouterr().err


def one_sentence(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err and "unexpected error" not in err, err
    return lines[0]


@pytest.fixture
def model(tmp_path) -> Path:
    path = tmp_path / "tiny.pt"
    save_checkpoint(randomize(FCNBundle(tiny_meta())), path)
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    """Two images, the first with saved corrections in the workspace beside them."""
    images = tmp_path / "imgs"
    images.mkdir()
    for i in range(2):
        Image.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)).save(images / f"a{i}.png")
    doc = LabelDocument(np.zeros((20, 30), np.uint8))
    region = np.zeros((20, 30), bool)
    region[2:9, 3:12] = True
    doc.paint(region, 2)
    Workspace.beside(images).save(images / "a0.png", doc, np.asarray(COLORS, np.uint8), CLASSES)
    return images


def voc_dataset(root: Path, n_class_values=(0, 1)) -> Path:
    for d in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / d).mkdir(parents=True)
    Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(root / "JPEGImages" / "x.jpg")
    labels = np.zeros((20, 30), np.uint8)
    labels[5:10, 5:10] = n_class_values[1]
    Image.fromarray(labels, mode="L").save(root / "SegmentationClass" / "x.png")
    (root / "ImageSets/Segmentation/val.txt").write_text("x\n")
    return root


def fifo(path: Path) -> Path:
    if path.exists():
        path.unlink()
    os.mkfifo(path)
    return path


# -- hangs: a FIFO where a file is expected ---------------------------------------------------------------
def test_predict_refuses_a_fifo(tmp_path, model, capsys):
    rc, err = run_cli(["predict", fifo(tmp_path / "x.jpg"), "--out", tmp_path / "o", "--weights", model], capsys)
    assert rc == 2 and "pipe" in err


@pytest.mark.parametrize("where", ["JPEGImages/x.jpg", "SegmentationClass/x.png", "ImageSets/Segmentation/val.txt"])
def test_eval_refuses_a_fifo_in_the_dataset(tmp_path, model, capsys, where):
    data = voc_dataset(tmp_path / "voc")
    fifo(data / where)
    rc, err = run_cli(["eval", "--data", data, "--weights", model], capsys)
    assert rc == 2 and "pipe" in one_sentence(err)


@pytest.mark.parametrize("suffix", [".label.png", ".verified.png"])
def test_export_refuses_a_fifo_in_the_workspace(tmp_path, folder, model, capsys, suffix):
    ws = Workspace.beside(folder)
    target = fifo(ws.root / f"a0.png{suffix}") if suffix == ".label.png" else None
    if target is None:  # the verified copy is read only when the label's own chunk is gone: take it away
        Image.fromarray(np.zeros((20, 30), np.uint8), mode="P").save(ws.label_path(folder / "a0.png"))
        fifo(ws.verified_path(folder / "a0.png"))
    rc, err = run_cli(["export", folder, "--out", tmp_path / "ds", "--weights", model], capsys)
    assert rc == 2 and "pipe" in one_sentence(err) and not (tmp_path / "ds").exists()


def test_a_fifo_named_like_a_temporary_file_is_left_alone(tmp_path, folder, model, capsys):
    ws = Workspace.beside(folder)
    trap = [fifo(ws.root / ".fcnwb-a0.png.label.png.abcdefgh.tmp"), fifo(tmp_path / "ds.fcnwb-x.abcdefgh.tmp")]
    out = tmp_path / "ds"
    out.mkdir()
    trap.append(fifo(out / ".fcnwb-classes.json.abcdefgh.tmp"))
    rc, err = run_cli(["export", folder, "--out", out, "--weights", model], capsys)
    assert rc == 0, err
    assert all(p.exists() for p in trap)
    assert remove_stale_temps(ws.root) == []


def test_a_fifo_as_state_json_is_no_source(tmp_path, folder):
    ws = Workspace.beside(folder)
    fifo(ws.state_path(folder / "a0.png"))
    done = []
    t = threading.Thread(target=lambda: done.append(ws.other_source(folder / "a0.png")), daemon=True)
    t.start()
    t.join(HANG_S)
    assert done == [None]


# -- data loss ---------------------------------------------------------------------------------------------
def test_two_exports_into_one_new_folder_never_both_succeed(tmp_path, folder):
    out = tmp_path / "ds"
    both_staged = threading.Barrier(2, timeout=HANG_S)
    outcomes: list[str] = []

    def export(seed: int) -> None:
        def progress(i: int, n: int) -> None:
            if i == n:  # written, not landed: both have found the target free
                both_staged.wait()
        try:
            export_dataset(folder, out, CLASSES, COLORS, seed=seed, progress=progress)
            outcomes.append("ok")
        except ValueError as e:
            outcomes.append(str(e))

    threads = [threading.Thread(target=export, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG_S)
    assert len(outcomes) == 2 and outcomes.count("ok") == 1, outcomes
    assert any("another export" in o for o in outcomes), outcomes
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_persons_tmp_file_is_not_swept(tmp_path, folder, model, capsys):
    ws = Workspace.beside(folder)
    mine = [ws.root / ".thesis.20241201.tmp", ws.root / ".a0.png.label.png.k2j_x9az.tmp"]
    for p in mine:
        p.write_text("my notes")
    rc, err = run_cli(["export", folder, "--out", tmp_path / "ds", "--weights", model], capsys)
    assert rc == 0, err
    assert remove_stale_temps(ws.root) == [] and all(p.read_text() == "my notes" for p in mine)


def test_a_sweep_in_the_instant_after_creation_never_takes_a_write(tmp_path, monkeypatch):
    """Another process sweeping right after ``mkstemp`` returned, before the writer could lock: the file is
    still under a name no sweep takes, so the write lands."""
    made = atomic.tempfile.mkstemp
    swept: list[list[Path]] = []

    def mkstemp_then_sweep(*a, **k):
        fd, name = made(*a, **k)
        swept.append(remove_stale_temps(tmp_path))
        return fd, name

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp_then_sweep)
    atomic_write_bytes(tmp_path / "x.bin", b"new")
    assert swept == [[]] and (tmp_path / "x.bin").read_bytes() == b"new"


KILL_MID_SWAP = """
import os, sys
import numpy as np
from fcn_core.storage import staging
from fcn_core.storage.export import export_dataset
moved = []
real = os.replace
def replace_then_die(src, dst):
    real(src, dst)
    if os.path.basename(os.path.dirname(src)).startswith(".ds" + staging.STAGE_MARK):  # an entry moving in
        moved.append(dst)
        if len(moved) == 2:
            os._exit(9)  # killed with two of the five entries swapped
staging.os.replace = replace_then_die
export_dataset(sys.argv[1], sys.argv[2], tuple(f"c{i}" for i in range(5)),
               [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128)], val_fraction=0.0,
               overwrite=True, only_verified=True)
"""


def test_a_kill_during_an_overwrite_swap_is_finished_by_the_next_open(tmp_path, folder, model, capsys):
    out = tmp_path / "ds"
    export_dataset(folder, out, CLASSES, COLORS, val_fraction=0.0)
    old = (out / "SegmentationClass" / "a0.png").read_bytes()
    proc = subprocess.run([sys.executable, "-c", KILL_MID_SWAP, str(folder), str(out)], cwd=ROOT, timeout=120)
    assert proc.returncode == 9
    assert any(p.name.startswith(".ds.staging-") for p in tmp_path.iterdir())  # cut short mid-swap
    rc, err = run_cli(["eval", "--data", out, "--split", "trainval", "--weights", model], capsys)
    assert rc == 0, err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds.")]
    verified = np.array(Image.open(out / "SegmentationVerified" / "a0.png")) > 0
    labels = np.array(Image.open(out / "SegmentationClass" / "a0.png"))
    assert (out / "SegmentationClass" / "a0.png").read_bytes() != old  # the new (only-verified) labels …
    assert np.all(labels[~verified] == 255)  # … with the new mask and lists beside them: one export, whole
    assert (out / "ImageSets/Segmentation/trainval.txt").read_text() == "a0\n"


def test_interrupt_after_the_dataset_landed_reports_success(tmp_path, folder, model, capsys, monkeypatch):
    landed = staging._landing_lock

    def land_then_interrupt(folder_):
        with landed(folder_):
            yield
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C the instant after the move

    monkeypatch.setattr(staging, "_landing_lock", staging.contextmanager(land_then_interrupt))
    rc = cli(["export", str(folder), "--out", str(tmp_path / "ds"), "--weights", str(model)])
    out = capsys.readouterr()
    assert rc == 0 and "exported 1 image " in out.out and "interrupted" not in out.err


def test_interrupt_before_landing_writes_nothing(tmp_path, folder, model, capsys, monkeypatch):
    from fcn_core.storage import export as export_module

    decode = export_module.decode_image

    def decode_then_interrupt(*a, **k):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C while the images are being written
        return decode(*a, **k)

    monkeypatch.setattr(export_module, "decode_image", decode_then_interrupt)
    rc = cli(["export", str(folder), "--out", str(tmp_path / "ds"), "--weights", str(model)])
    assert rc == 130 and "nothing was exported" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["imgs", "tiny.pt"])


# -- memory -------------------------------------------------------------------------------------------------
def _png(width: int, height: int, idat: bytes, idat_length: int | None = None) -> bytes:
    def chunk(kind: bytes, data: bytes, length: int | None = None) -> bytes:
        n = len(data) if length is None else length
        return struct.pack(">I", n) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", idat, idat_length) + chunk(b"IEND", b""))


def test_a_png_whose_chunk_claims_gigabytes_is_refused_before_decoding(tmp_path, model, capsys):
    path = tmp_path / "liar.png"
    path.write_bytes(_png(100, 100, zlib.compress(b"\0" * 64), idat_length=0xFFFFFFF0))
    rc, err = run_cli(["predict", path, "--out", tmp_path / "o", "--weights", model], capsys)
    assert rc == 2 and "damaged PNG" in err and "IDAT" in err


@pytest.mark.slow
def test_a_225_megapixel_image_is_refused_in_one_sentence_under_an_8_gb_limit(tmp_path):
    import cv2

    image = np.zeros((15000, 15000, 3), np.uint8)
    image[::97] = 200
    path = tmp_path / "huge.png"
    path.write_bytes(cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes())
    del image
    proc = subprocess.run(["prlimit", "--as=8000000000", sys.executable, str(ROOT / "main.py"), "predict", str(path),
                           "--out", str(tmp_path / "o"), "--variant", "all"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2, proc.stderr
    line = one_sentence(proc.stderr)
    assert "15000×15000" in line and "GB" in line


# -- tracebacks -----------------------------------------------------------------------------------------------
def _torchfcn(tmp_path: Path, change) -> Path:
    state = public_state_dict(randomize(FCNBundle(tiny_meta(variants=("32s",), shared=False))), "32s")
    change(state)
    path = tmp_path / "fcn32s.pth"
    torch.save(state, path)
    return path


@pytest.mark.parametrize("change,said", [
    (lambda s: s.__setitem__("score_fr.weight", 3), "not a tensor"),
    (lambda s: s.__setitem__("score_fr.weight", [1.0, 2.0]), "not a tensor"),
    (lambda s: s.__setitem__("score_fr.weight", torch.tensor(2.0)), "not an array of weights"),
    (lambda s: s.__setitem__(None, torch.zeros(3)), "not text"),
    (lambda s: s["conv1_1.weight"].view(-1)[:5].fill_(float("nan")), "not finite"),
])
def test_torchfcn_files_with_wrong_values(tmp_path, capsys, change, said):
    rc, err = run_cli(["info", "--weights", _torchfcn(tmp_path, change)], capsys)
    assert rc == 2 and said in one_sentence(err) and "fcn32s.pth" in err


def test_a_caffemodel_layer_name_that_is_not_utf8(tmp_path, capsys):
    state = public_state_dict(randomize(FCNBundle(tiny_meta(variants=("32s",), shared=False))), "32s")
    path = tmp_path / "net.caffemodel"
    write_caffemodel(path, state)
    data = path.read_bytes().replace(b"conv1_1", b"conv1\xff\xfe", 1)
    path.write_bytes(data)
    rc, err = run_cli(["info", "--weights", path], capsys)
    assert rc == 2 and "net.caffemodel" in one_sentence(err)


def _with_meta(tmp_path: Path, change) -> Path:
    path = tmp_path / "m.pt"
    save_checkpoint(FCNBundle(tiny_meta(n_class=3)), path)
    obj = torch.load(path, weights_only=True)
    meta = json.loads(obj["meta"])
    obj["meta"] = change(meta)
    torch.save(obj, path)
    return path


@pytest.mark.parametrize("change,said", [
    (lambda m: "[" * 100_000 + "]" * 100_000, "nested too deep"),
    (lambda m: json.dumps({**m, "colors": [[0, 0, 300], [0, 0, 0], [1, 1, 1]]}), "0–255"),
    (lambda m: json.dumps({**m, "colors": [[0, 0, -1], [0, 0, 0], [1, 1, 1]]}), "0–255"),
    (lambda m: json.dumps({**m, "preprocessing": {**m["preprocessing"], "std": [float("nan"), 1, 1]}}), "finite"),
    (lambda m: json.dumps({**m, "preprocessing": {**m["preprocessing"], "mean": [1e400, 1, 1]}}), "finite"),
    (lambda m: json.dumps({**m, "classes": "abc"}), "classes"),
    (lambda m: json.dumps({**m, "width": "wide"}), "width"),
    (lambda m: json.dumps({**m, "variants": [{"name": 8}]}), "variants"),
])
def test_checkpoint_metadata_that_is_not_what_we_write(tmp_path, capsys, change, said):
    rc, err = run_cli(["info", "--weights", _with_meta(tmp_path, change)], capsys)
    assert rc == 2 and said in one_sentence(err) and "m.pt" in err


@pytest.mark.parametrize("metrics", ["", "a string", {}, {"8s": "x"}, {"8s": {"mean_iu": "high"}}])
def test_odd_recorded_metrics_are_shown_or_skipped(tmp_path, capsys, metrics):
    def change(m):
        m["provenance"] = {"metrics": metrics, "initialised_from": {"weights": "a"}}
        return json.dumps(m)
    path = _with_meta(tmp_path, change)
    rc, err = run_cli(["info", "--weights", path], capsys)
    assert rc == 0, err
    img = tmp_path / "i.png"
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(img)
    rc, err = run_cli(["predict", img, "--out", tmp_path / "o", "--weights", path], capsys)
    assert rc == 0, err


def test_export_into_a_symlink_loop(tmp_path, folder, model, capsys):
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "loop")
    rc, err = run_cli(["export", folder, "--out", loop / "ds", "--weights", model], capsys)
    assert rc == 2 and "loop" in one_sentence(err)


@pytest.mark.parametrize("state", [b"[" * 100_000, b'{"source": "a\\u0000b"}', b'{"source": 5}', b"\xff\xfe"])
def test_a_crafted_state_json_is_no_other_source(tmp_path, folder, state):
    ws = Workspace.beside(folder)
    ws.state_path(folder / "a0.png").write_bytes(state)
    assert ws.other_source(folder / "a0.png") is None


# -- unclear or silent ----------------------------------------------------------------------------------------
def test_export_out_empty_is_refused(folder, model, capsys):
    rc, err = run_cli(["export", folder, "--out", "", "--weights", model], capsys)
    assert rc == 2 and "folder name" in one_sentence(err)


def test_eval_refuses_ground_truth_beyond_the_classes(tmp_path, model, capsys):
    data = voc_dataset(tmp_path / "voc", (0, 9))
    rc, err = run_cli(["eval", "--data", data, "--weights", model], capsys)
    assert rc == 2 and "x.png" in one_sentence(err) and "up to 9" in err


def test_a_split_file_that_is_not_utf8(tmp_path, model, capsys):
    data = voc_dataset(tmp_path / "voc")
    (data / "ImageSets/Segmentation/val.txt").write_bytes(b"\xff\xfex\n")
    rc, err = run_cli(["eval", "--data", data, "--weights", model], capsys)
    assert rc == 2 and "val.txt" in one_sentence(err) and "UTF-8" in err


def test_nan_weights_in_our_checkpoint_are_refused(tmp_path, capsys):
    bundle = FCNBundle(tiny_meta(n_class=3))
    with torch.no_grad():
        next(bundle.parameters()).view(-1)[0] = float("inf")
    path = tmp_path / "inf.pt"
    save_checkpoint(bundle, path)
    rc, err = run_cli(["info", "--weights", path], capsys)
    assert rc == 2 and "not finite" in one_sentence(err)


def test_a_large_valid_label_png_is_read_under_the_image_cap(tmp_path):
    from fcn_core.storage.image_io import read_label_png

    path = tmp_path / "big.png"  # 180 MP: over Pillow's own bomb limit, under the app's one cap
    Image.new("L", (18000, 10000)).save(path)
    assert read_label_png(path).shape == (10000, 18000)


def test_refusals_print_one_line_without_library_warnings(tmp_path, model):
    """A PNG with a broken iCCP profile makes libpng warn on stderr; a refusal elsewhere in the same run must
    still be one sentence."""
    good = tmp_path / "warn.png"
    image = Image.fromarray(np.zeros((8, 8, 3), np.uint8))
    image.save(good, icc_profile=b"\0" * 200)  # libpng: "iCCP: ..." warnings
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 100)
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "predict", str(good), str(tmp_path / "bad.jpg"),
                           "--out", str(tmp_path / "o"), "--weights", str(model), "--quiet"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and all(line.startswith("fcn-workbench predict:") for line in lines), proc.stderr
    assert not any("libpng" in line or "iCCP" in line or "Warning" in line for line in lines)


def test_a_255_class_net_builds_its_upsamplings_without_a_float64_copy():
    """`info` on a 255-class net allocated 255×255×64×64 float64 (2 GiB) for one bilinear kernel."""
    import tracemalloc

    from fcn_core.model.architecture import _upsampler

    tracemalloc.start()
    layer = _upsampler(255, 64, 32)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50_000_000, peak  # numpy buffers are traced; the layer's own torch weight is not
    assert layer.weight[7, 7].sum() > 0 and layer.weight[7, 8].abs().sum() == 0
