"""Does correcting pay off? A simulated user on a shifted domain, the fine-tune with its defaults, held-out IU.

    .venv/bin/python scripts/bench_finetune.py [--shifts hue,blur_noise,texture] [--counts 5,10,20]
                                               [--held-out 40] [--order 5,10] [--order-shift hue] [--json F]
                                               [--curve] [--lr LR] [--uniform-classes]

For each shift (made from ``make_scene`` scenes: a hue rotation, blur and sensor noise, striped
backgrounds, a colour cast, a larger or smaller scale, grey pictures, under-exposure, a low-quality JPEG,
haze, a colour negative, motion blur), the user corrects COUNT images perfectly
(every pixel verified), saved in the workspace of a folder of PNGs exactly as the window saves them;
``finetune_on_corrections`` then runs with the window's defaults (a fifth of the images held out for its
own checks). Every head is scored on HELD-OUT further shifted scenes (never corrected) before and after.
"gap" is the share of the distance from the start to 90 (the demo model's mean IU on its own scenes) that
FCN-8s recovered.

``--curve`` scores the HELD-OUT scenes at every held-out check of the fine-tune too (what the four held-out
corrections choose by, against what the person would see on new images); ``--lr`` and ``--uniform-classes``
(no class weights) are trials against the shipped recipe. The shift ``none`` is the demo's own scenes.

``--order K,…`` then compares which K images a person corrects, out of a folder of 40 of ORDER-SHIFT: the
first K in file order, or the K the folder run ranks most uncertain (mean entropy, and the share of pixels
where FCN-32s and FCN-8s disagree).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fcn_core import DEMO_MODEL, Engine, LabelDocument, Workspace, full_palette, load_bundle, make_scene  # noqa: E402
from fcn_core.inference.uncertainty import most_uncertain, uncertainty_of  # noqa: E402
from fcn_core.training import finetune as finetune_module  # noqa: E402
from fcn_core.training.config import FINETUNE_LR  # noqa: E402
from fcn_core.training.finetune import _score, finetune_on_corrections  # noqa: E402
from fcn_core.training.guard import share_not_worse  # noqa: E402

DEMO_IU = 0.90  # the demo model's FCN-8s mean IU on its own held-out scenes (docs/demo-model.md)
TRAIN_SEED, HELD_OUT_SEED = 2001, 1001  # scene series: the user's folder, and the scenes scored


def _hue(img, lab, rng):
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(int) + 60) % 180  # 120° round the colour wheel
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), lab


def _cast(img, lab, rng):
    f = (img.astype(np.float32) / 255) ** 0.6 * np.array([1.2, 0.95, 0.55]) * 0.85 + 0.1  # warm, flat, lifted
    return np.clip(f * 255, 0, 255).astype(np.uint8), lab


def _scale(img, lab, rng):
    h, w = lab.shape
    size = (int(w * 1.6), int(h * 1.6))
    return cv2.resize(img, size, interpolation=cv2.INTER_LINEAR), cv2.resize(lab, size, interpolation=cv2.INTER_NEAREST)


def _blur_noise(img, lab, rng):
    f = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 1.5) + rng.normal(0, 16, img.shape)
    return np.clip(f, 0, 255).astype(np.uint8), lab


def _texture(img, lab, rng):
    """The background striped in a random colour, direction and period (objects unchanged)."""
    h, w = lab.shape
    yy, xx = np.mgrid[0:h, 0:w]
    angle = rng.uniform(0, np.pi)
    stripes = np.sin((np.cos(angle) * xx + np.sin(angle) * yy) * 2 * np.pi / rng.uniform(6, 12)) > 0
    mask = ((lab == 0) & stripes)[..., None]
    f = img.astype(np.float32)
    return np.clip(np.where(mask, 0.45 * f + 0.55 * rng.uniform(0, 255, 3), f), 0, 255).astype(np.uint8), lab


def _gray(img, lab, rng):
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    g = np.clip((g - 128) * 1.4 + 128, 0, 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, -1), lab


def _dark(img, lab, rng):
    """Under-exposed: a third of the light, a darkening gamma and the sensor noise a dark picture shows."""
    f = 255 * (img.astype(np.float32) / 255 * 0.35) ** 1.4 + rng.normal(0, 5, img.shape)
    return np.clip(f, 0, 255).astype(np.uint8), lab


def _jpeg(img, lab, rng):
    """Saved as a low-quality JPEG (quality 15): blocks, ringing and washed-out chroma."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 15])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB), lab


def _fog(img, lab, rng):
    """Haze: the picture seen through a bright, slightly blue veil (contrast halved, blacks lifted)."""
    f = 0.5 * img.astype(np.float32) + 0.5 * np.array([200.0, 210.0, 225.0])
    return np.clip(f, 0, 255).astype(np.uint8), lab


def _negative(img, lab, rng):
    """The colours inverted, as a film negative or a wrongly decoded scan."""
    return 255 - img, lab


def _small(img, lab, rng):
    """Everything 0.65× as large (the opposite of ``scale``)."""
    h, w = lab.shape
    size = (round(w * 0.65), round(h * 0.65))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA), cv2.resize(lab, size, interpolation=cv2.INTER_NEAREST)


def _motion(img, lab, rng):
    """Camera shake: a 9-pixel motion blur in a random direction."""
    kernel = np.zeros((9, 9), np.float32)
    kernel[4] = 1 / 9
    turn = cv2.getRotationMatrix2D((4, 4), rng.uniform(0, 180), 1.0)
    kernel = cv2.warpAffine(kernel, turn, (9, 9))
    return cv2.filter2D(img, -1, kernel / kernel.sum()), lab


def _none(img, lab, rng):
    """No shift: the demo's own kind of scene (what a fine-tune does where there is nothing new to learn)."""
    return img, lab


SHIFTS: dict[str, Callable] = {"none": _none, "hue": _hue, "blur_noise": _blur_noise, "texture": _texture, "cast": _cast,
                               "scale": _scale, "gray": _gray, "dark": _dark, "jpeg": _jpeg, "fog": _fog,
                               "negative": _negative, "small": _small, "motion": _motion}


def shifted_scenes(shift: str, seed: int, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` scenes of series ``seed`` with ``shift`` applied: (RGB image, labels)."""
    out = []
    for i in range(count):
        scene = make_scene(seed, i)
        out.append(SHIFTS[shift](scene.image, scene.labels, np.random.default_rng([seed, i, 7])))
    return out


def corrected_folder(root: Path, items: list[tuple[np.ndarray, np.ndarray]], classes, colors) -> Path:
    """A folder of PNGs whose workspace holds each image's labels, every pixel verified: a perfect correction."""
    root.mkdir(parents=True)
    ws = Workspace.beside(root)
    palette = full_palette(np.asarray(colors, np.uint8))
    for i, (image, labels) in enumerate(items):
        path = root / f"img_{i:03d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        ws.save(path, LabelDocument(labels, np.ones(labels.shape, bool), n_class=len(classes)), palette, classes)
    return root


def mean_ious(bundle, items) -> dict[str, float]:
    return {v: round(100 * m["mean_iu"], 1) for v, m in _score(bundle, items, "cpu").items()}


def finetuned(bundle, items, work: Path, name: str, lr: float = FINETUNE_LR) -> tuple[dict, float, int]:
    """Fine-tune on ``items`` corrected perfectly; (the new bundle, seconds, the step kept)."""
    from fcn_core import load_checkpoint

    folder = corrected_folder(work / name, items, bundle.meta.classes, bundle.meta.colors)
    result = finetune_on_corrections(bundle, folder, device="cpu", lr=lr)
    return load_checkpoint(result.checkpoint)[0], result.seconds, result.kept_step


def score_checks_on(scored: list) -> None:
    """From now on, every held-out check of a fine-tune also scores ``scored`` and prints both (``--curve``)."""
    confusions = finetune_module._confusions
    starts: list[tuple[list, dict]] = []  # (a fine-tune's held-out list, kept alive; its start's confusions)

    def hook(bundle, items, device):
        hists = confusions(bundle, items, device)
        if items is not scored:
            start = next((h for seen, h in starts if seen is items), None)
            if start is None:  # a fine-tune's first call scores its start
                starts.append((items, hists))
                start = hists
            held = {v: round(100 * m["mean_iu"], 1) for v, m in finetune_module._metrics(hists).items()}
            draws = {v: round(share_not_worse(hists[v], start[v]), 2) for v in hists}
            print(f"  check: held-out corrections {held} (share of resamples not worse {draws}), "
                  f"scored images {mean_ious(bundle, scored)}", flush=True)
        return hists
    finetune_module._confusions = hook


def uniform_class_weights() -> None:
    """Every class weighs 1 in the fine-tune's loss (``--uniform-classes``: the trials without class weights)."""
    finetune_module.balanced_weights = lambda label_maps, n_class: torch.ones(n_class)


def gap(before: float, after: float) -> float:
    return 100 * (after - before) / (100 * DEMO_IU - before) if before < 100 * DEMO_IU else 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shifts", default="hue,blur_noise,texture")
    p.add_argument("--counts", default="5,10,20")
    p.add_argument("--held-out", type=int, default=40)
    p.add_argument("--order", default="5,10", help="counts for the order comparison ('' skips it)")
    p.add_argument("--order-shift", default="hue")
    p.add_argument("--orders", default="file,entropy,disagreement", help="the orders compared")
    p.add_argument("--json", type=Path)
    p.add_argument("--lr", type=float, default=FINETUNE_LR, help="the fine-tune's learning rate (a trial)")
    p.add_argument("--uniform-classes", action="store_true", help="no class weights in the loss (a trial)")
    p.add_argument("--curve", action="store_true", help="score the HELD-OUT scenes at every check too")
    args = p.parse_args()
    torch.set_num_threads(2)
    if args.uniform_classes:
        uniform_class_weights()
    demo = load_bundle([DEMO_MODEL])
    rows: list[dict] = []
    print("| shift | corrected | FCN-32s | FCN-16s | FCN-8s | gap recovered (8s) | fine-tune time | step kept |")
    print("|---|---:|---|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for shift in [s for s in args.shifts.split(",") if s]:
            held_out = shifted_scenes(shift, HELD_OUT_SEED, args.held_out)
            before = mean_ious(demo, held_out)
            if args.curve:
                score_checks_on(held_out)
            pool = shifted_scenes(shift, TRAIN_SEED, max(int(c) for c in args.counts.split(",")))
            for count in (int(c) for c in args.counts.split(",")):
                bundle, seconds, kept = finetuned(demo, pool[:count], work, f"{shift}_{count}", args.lr)
                after = mean_ious(bundle, held_out)
                row = {"shift": shift, "corrected": count, "before": before, "after": after, "seconds": round(seconds, 1),
                       "kept_step": kept, "gap": round(gap(before["8s"], after["8s"]), 1)}
                rows.append(row)
                cells = " | ".join(f"{before[v]:.1f} → {after[v]:.1f}" for v in ("32s", "16s", "8s"))
                print(f"| {shift} | {count} | {cells} | {row['gap']:.0f} % | {seconds:.0f} s | {kept} |", flush=True)
        orders = [int(c) for c in args.order.split(",") if c]
        if orders:
            shift = args.order_shift
            held_out = shifted_scenes(shift, HELD_OUT_SEED, args.held_out)
            pool = shifted_scenes(shift, TRAIN_SEED, 40)
            engine = Engine(load_bundle([DEMO_MODEL]), "cpu", precision="fp32")
            unsure = {i: uncertainty_of(engine.predict(engine.cache_for(im))) for i, (im, _) in enumerate(pool)}
            print(f"\nWhich images to correct ({shift}, a folder of 40; held-out FCN-8s mean IU after the fine-tune):\n")
            names = [n for n in args.orders.split(",") if n]
            titles = {"file": "file order", "entropy": "most uncertain (entropy)", "margin": "most uncertain (margin)",
                      "disagreement": "most uncertain (32s/8s disagree)"}
            print("| corrected | " + " | ".join(titles[n] for n in names) + " |")
            print("|---:|" + "---:|" * len(names))
            for count in orders:
                cells = []
                for name in names:
                    picked = list(range(count)) if name == "file" else most_uncertain(unsure, name)[:count]
                    bundle, _, _ = finetuned(demo, [pool[i] for i in picked], work, f"order_{name}_{count}", args.lr)
                    iu = mean_ious(bundle, held_out)["8s"]
                    rows.append({"order": name, "corrected": count, "shift": shift, "after_8s": iu, "picked": picked})
                    cells.append(f"{iu:.1f}")
                print(f"| {count} | " + " | ".join(cells) + " |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
