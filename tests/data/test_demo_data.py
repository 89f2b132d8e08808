"""The scene generator and its VOC-layout dataset."""

from __future__ import annotations

import cv2
import pytest
import numpy as np
import torch
from PIL import Image

from fcn_core.data.demo_data import write_scene_dataset
from fcn_core.model.palette import VOID
from fcn_core.data.scenes import _BASE_COLOR, SCENE_CLASSES, VOID_BAND, make_scene
from fcn_core.data.voc_dataset import VOCSegmentationFolder, train_transforms


def test_scenes_are_deterministic_and_seeds_differ():
    a, b = make_scene(5, 3), make_scene(5, 3)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.labels, b.labels)
    c = make_scene(6, 3)
    assert not np.array_equal(a.image, c.image)


def test_labels_match_the_pictures():
    """Where a class is labelled, the picture shows that class's colour, and void lies on boundaries."""
    sums = {k: np.zeros(3) for k in _BASE_COLOR}
    counts = dict.fromkeys(_BASE_COLOR, 0)
    seen = set()
    for i in range(30):
        s = make_scene(11, i)
        assert s.image.shape == (160, 160, 3) and s.labels.shape == (160, 160)
        assert set(np.unique(s.labels)) <= set(range(len(SCENE_CLASSES))) | {VOID}
        for k in _BASE_COLOR:
            m = s.labels == k
            sums[k] += s.image[m].sum(0)
            counts[k] += int(m.sum())
        seen |= set(np.unique(s.labels).tolist())
        void = s.labels == VOID
        if void.any():  # void pixels sit within the band's width of labelled foreground
            fg = (s.labels != 0) & ~void
            k = 2 * VOID_BAND + 1
            near = cv2.dilate(fg.astype(np.uint8), np.ones((k, k), np.uint8)).astype(bool)
            assert near[void].mean() > 0.9
    assert seen >= set(range(len(SCENE_CLASSES))) | {VOID}
    bases = np.array([_BASE_COLOR[k] for k in _BASE_COLOR], float)
    for j, k in enumerate(_BASE_COLOR):
        mean = sums[k] / counts[k]
        assert np.argmin(np.linalg.norm(bases - mean, axis=1)) == j, (SCENE_CLASSES[k], mean)


def test_thin_and_small_classes_are_thin_and_small():
    widths = {1: [], 2: [], 3: [], 5: []}
    for i in range(20):
        s = make_scene(12, i)
        for k in widths:
            m = (s.labels == k).astype(np.uint8)
            if m.any():
                widths[k].append(cv2.distanceTransform(m, cv2.DIST_L2, 3).max())
    # distanceTransform's maximum is about half the width plus one
    assert np.median(widths[2]) <= 5.5 and max(widths[2]) <= 7  # wires: 4–6 px across (thicker at joints)
    assert np.median(widths[3]) <= 4.5 and max(widths[3]) <= 6  # rings: 4–6 px across
    assert np.median(widths[1]) >= 12  # next to large blobs
    assert max(widths[5]) <= 8  # dots: radius under 8 px, a stride-8 cell


def test_dataset_written_in_voc_layout(tmp_path):
    ids = write_scene_dataset(tmp_path, 4, seed=3, split="val")
    assert (tmp_path / "ImageSets/Segmentation/val.txt").read_text().split() == ids
    with Image.open(tmp_path / "SegmentationClass" / f"{ids[0]}.png") as im:
        assert im.mode == "P"
        assert np.array_equal(np.array(im), make_scene(3, 0).labels)
    ds = VOCSegmentationFolder(tmp_path, "val", train_transforms(64))
    img, lab = ds[1]
    assert img.dtype == torch.uint8 and tuple(img.shape) == (3, 64, 64)
    assert lab.dtype == torch.int64 and tuple(lab.shape) == (64, 64)
    assert set(lab.unique().tolist()) <= set(range(7)) | {VOID}


def test_without_scale_jitter_training_items_keep_the_pixels(tmp_path):
    write_scene_dataset(tmp_path, 1, seed=4, split="train", size=(64, 64))
    scene = make_scene(4, 0, (64, 64))
    raw = VOCSegmentationFolder(tmp_path, "train").load(0)[0]
    for _ in range(4):  # whole-scene crop: the item is the scene itself, or its mirror image
        img, lab = VOCSegmentationFolder(tmp_path, "train", train_transforms(64, scale_jitter=False))[0]
        lab, img = lab.numpy(), img.permute(1, 2, 0).numpy()
        assert any(np.array_equal(lab, t) and np.array_equal(img, r)
                   for t, r in ((scene.labels, raw), (scene.labels[:, ::-1], raw[:, ::-1])))
    jittered = [VOCSegmentationFolder(tmp_path, "train", train_transforms(64))[0][1].numpy() for _ in range(6)]
    assert not all(np.array_equal(j, scene.labels) or np.array_equal(j, scene.labels[:, ::-1]) for j in jittered)


def test_several_seeds_make_one_split_through_the_cli(tmp_path, capsys):
    from fcn_core.cli import main as core_main

    assert core_main(["make-demo-data", "--out", str(tmp_path), "--count", "2", "--seed", "4", "7",
                      "--split", "train", "--size", "48", "48"]) == 0
    assert "wrote 4 scenes (seeds 4, 7)" in capsys.readouterr().out
    ids = (tmp_path / "ImageSets/Segmentation/train.txt").read_text().split()
    assert ids == ["s4_00000", "s4_00001", "s7_00000", "s7_00001"]
    with Image.open(tmp_path / "SegmentationClass" / "s7_00001.png") as im:
        assert np.array_equal(np.array(im), make_scene(7, 1, (48, 48)).labels)
    with pytest.raises(ValueError, match="seeds"):
        write_scene_dataset(tmp_path, 1, seed=[4, 4])
