"""A seeded mutation fuzzer over every reader of untrusted bytes: whatever the bytes, the reader returns or
raises one of its documented errors (a ValueError subclass with a sentence). Anything else fails.

``pytest --long`` runs fifty times as many cases per reader (run by hand before a release)."""

from __future__ import annotations

import copy
import io
import json
import random
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image

from fcn_core import FCNBundle, LabelDocument, Workspace, save_checkpoint
from fcn_core.model.metadata import ModelMeta
from fcn_core.storage.image_io import decode_image, read_label_png_chunks, read_thumbnail
from fcn_core.storage.json_input import parse_json
from fcn_core.storage.workspace import CLASSES_CHUNK, VERIFIED_CHUNK
from fcn_core.weights import load_bundle
from fcn_core.weights.caffemodel import read_caffemodel, write_caffemodel
from fcn_core.weights.public_nets import public_state_dict
from tests.helpers.models import randomize, tiny_meta

CASES = 300  # per reader in CI; ×50 with --long


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four of: flip bits, overwrite with a boundary value, insert, delete, duplicate, truncate."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not b:
            b = bytearray(rng.randbytes(rng.randint(1, 16)))
        op = rng.randrange(6)
        i = rng.randrange(len(b))
        if op == 0:
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            value = rng.choice([b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff\xff\xff", b"\x00\x00\x00\x00",
                                b"\x7f\xff\xff\xff"])
            b[i:i + len(value)] = value
        elif op == 2:
            b[i:i] = rng.randbytes(rng.randint(1, 8))
        elif op == 3:
            del b[i:i + rng.randint(1, 16)]
        elif op == 4:
            j = rng.randrange(len(b))
            b[j:j] = b[i:i + rng.randint(1, 64)]
        else:
            del b[i:]
    return bytes(b)


def fuzz(seed_data: bytes, reader: Callable[[bytes], object], allowed: tuple[type[BaseException], ...],
         cases: int, seed: int) -> int:
    """Run ``reader`` on ``cases`` mutations of ``seed_data``; fail on an exception outside ``allowed``.
    Returns how many were refused (for the report)."""
    rng = random.Random(seed)
    refused = 0
    for case in range(cases):
        data = mutate(seed_data, rng)
        try:
            reader(data)
        except allowed as e:
            refused += 1
            assert str(e).strip() and "\n" not in str(e).strip(), f"case {case}: {e!r}"
        except Exception as e:  # noqa: BLE001 - this is what the fuzzer looks for
            path = Path(f"/tmp/fuzz-crash-{seed}-{case}.bin")
            path.write_bytes(data)
            raise AssertionError(f"case {case} (saved as {path}): {type(e).__name__}: {e}") from e
    return refused


@pytest.fixture
def cases(request) -> int:
    return CASES * (50 if request.config.getoption("--long") else 1)


def _png(mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(0)
    array = rng.integers(0, 5, (12, 16), np.uint8) if mode == "P" else rng.integers(0, 255, (12, 16, 3), np.uint8)
    out = io.BytesIO()
    Image.fromarray(array, mode=mode).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "TIFF", "GIF"])
def test_image_decoder(fmt, cases):
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (12, 16, 3), np.uint8)).save(out, format=fmt)
    fuzz(out.getvalue(), lambda d: decode_image(d, "x"), (ValueError,), cases, seed=1)


def test_thumbnail_reader(tmp_path, cases):
    path = tmp_path / "x.jpg"
    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(path)
    seed_data = path.read_bytes()

    def read(data: bytes) -> object:
        path.write_bytes(data)
        return read_thumbnail(path, 16)
    fuzz(seed_data, read, (ValueError,), cases // 3, seed=2)


def test_label_png_and_its_chunks(tmp_path, cases):
    """The workspace's label PNG (palette, verified and classes chunks), as the editor loads it."""
    image = tmp_path / "a.png"
    ws = Workspace.beside(tmp_path)
    doc = LabelDocument(np.zeros((12, 16), np.uint8))
    region = np.zeros((12, 16), bool)
    region[2:5, 3:9] = True
    doc.paint(region, 2)
    ws.save(image, doc, np.asarray([(0, 0, 0), (9, 9, 9), (200, 0, 0)], np.uint8), ("a", "b", "c"))
    seed_data = ws.label_path(image).read_bytes()
    assert VERIFIED_CHUNK in read_label_png_chunks(ws.label_path(image))[1]

    def read(data: bytes) -> object:
        ws.label_path(image).write_bytes(data)
        ws.saved_classes(image)
        return ws.load_labels(image, (12, 16), ("a", "b", "c"))
    fuzz(seed_data, read, (ValueError,), cases, seed=3)
    assert CLASSES_CHUNK  # the chunk names the fuzzer mutated are ours


def test_state_json(tmp_path, cases):
    image = tmp_path / "a.png"
    ws = Workspace.beside(tmp_path)
    ws.save(image, LabelDocument(np.zeros((4, 4), np.uint8)), np.zeros((2, 3), np.uint8), ("a", "b"))
    seed_data = ws.state_path(image).read_bytes()

    def read(data: bytes) -> object:
        ws.state_path(image).write_bytes(data)
        return ws.other_source(image), ws.verified_share(image), ws.saved_revision(image), ws.saved_classes(image)
    fuzz(seed_data, read, (), cases, seed=4)  # never raises: a crafted state is no state


def test_checkpoint_metadata(cases):
    seed_data = json.dumps(FCNBundle(tiny_meta()).meta.to_dict()).encode()
    fuzz(seed_data, lambda d: ModelMeta.from_dict(parse_json(d, "metadata")).describe(),
         (ValueError, KeyError), cases, seed=5)


def test_caffemodel_parser(tmp_path, cases):
    state = public_state_dict(randomize(FCNBundle(tiny_meta(variants=("32s",), shared=False, width=0.03))), "32s")
    path = tmp_path / "net.caffemodel"
    write_caffemodel(path, state)
    seed_data = path.read_bytes()
    target = tmp_path / "m.caffemodel"

    def read(data: bytes) -> object:
        target.write_bytes(data)
        return read_caffemodel(target)
    fuzz(seed_data, read, (ValueError,), cases // 3, seed=6)


def test_checkpoint_file(tmp_path, cases):
    """Our checkpoint as a whole (zip container, pickle, tensors): refused as a weights file or loaded."""
    path = tmp_path / "m.pt"
    save_checkpoint(FCNBundle(tiny_meta(n_class=3, width=0.03)), path)
    seed_data = path.read_bytes()
    target = tmp_path / "x.pt"

    def read(data: bytes) -> object:
        target.write_bytes(data)
        return load_bundle([target])
    fuzz(seed_data, read, (ValueError,), max(20, cases // 10), seed=7)
    assert torch.load(path, weights_only=True)["format"]


# --- other tools' annotations (fcn-workbench import) ------------------------------------------------------------

ODD_VALUES = [None, True, -1, 0, 2 ** 31, 2 ** 63, -2 ** 63, 1e308, float("nan"), -0.5, "", "x", "__ignore__", [], {},
              [[]], [1, 2], [[0, 0], [1e9, 1e9], [5, 5]], {"counts": "", "size": [12, 16]}, [[-1, -1]]]


def mutate_json(doc: object, rng: random.Random) -> object:
    """A deep copy of ``doc`` with one to three values (anywhere in the tree) replaced by odd ones, or removed."""
    doc = json.loads(json.dumps(doc))
    for _ in range(rng.randint(1, 3)):
        parent, key = None, None
        node = doc
        while isinstance(node, (dict, list)) and node and rng.random() < 0.8:
            parent = node
            key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
            node = node[key]
        if parent is None:
            continue
        if rng.random() < 0.2 and isinstance(parent, dict):
            del parent[key]
        else:
            parent[key] = copy.deepcopy(rng.choice(ODD_VALUES))  # never the shared object: it may be mutated next
    return doc


def _import_fuzz(tmp_path: Path, kind: str, name: str, seed_doc: object, cases: int, seed: int) -> None:
    from fcn_core.storage.label_import import import_labels

    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.zeros((12, 16, 3), np.uint8)).save(folder / "a.png")
    source = tmp_path / "ann"
    source.mkdir()
    classes, colors = ("background", "a", "b"), ((0, 0, 0), (128, 0, 0), (0, 128, 0))
    rng = random.Random(seed)

    def read(data: bytes) -> object:
        (source / name).write_bytes(data)
        path = source / name if kind == "coco" else source
        return import_labels(kind, path, folder, classes, colors, overwrite=True)
    seed_bytes = json.dumps(seed_doc).encode()
    fuzz(seed_bytes, read, (ValueError,), cases // 3, seed=seed)  # bytes: mostly broken JSON
    for case in range(cases // 3):  # structure: valid JSON, odd values anywhere
        data = json.dumps(mutate_json(seed_doc, rng)).encode()
        try:
            read(data)
        except ValueError as e:
            assert str(e).strip() and "\n" not in str(e).strip(), f"case {case}: {e!r}"
        except Exception as e:  # noqa: BLE001 - this is what the fuzzer looks for
            path = Path(f"/tmp/fuzz-crash-{seed}-json-{case}.json")
            path.write_bytes(data)
            raise AssertionError(f"case {case} (saved as {path}): {type(e).__name__}: {e}") from e


def test_labelme_import(tmp_path, cases):
    from fcn_core.storage.labelme_format import labelme_document, labelme_shapes

    labels = np.zeros((12, 16), np.uint8)
    labels[2:8, 3:10] = 1
    labels[9:11, 12:15] = 2
    labels[0, 0] = 255
    doc = json.loads(labelme_document(labelme_shapes(labels, ("background", "a", "b")), "a.png", 12, 16))
    doc["shapes"] += [{"label": "b", "shape_type": "circle", "points": [[8, 8], [10, 9]]},
                      {"label": "a", "shape_type": "linestrip", "points": [[1, 1], [5, 2], [9, 9]]}]
    _import_fuzz(tmp_path, "labelme", "a.json", doc, cases, seed=11)


def test_coco_import(tmp_path, cases):
    from fcn_core.storage.coco_layout import coco_annotations

    labels = np.zeros((12, 16), np.uint8)
    labels[2:8, 3:10] = 1
    labels[9:11, 12:15] = 2
    anns = coco_annotations(labels, 1, 1, 3) + coco_annotations(labels, 1, 10, 3, polygons=True)
    doc = {"images": [{"id": 1, "file_name": "a.png", "height": 12, "width": 16}], "annotations": anns,
           "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}
    _import_fuzz(tmp_path, "coco", "c.json", doc, cases, seed=12)


def test_mask_import(tmp_path, cases):
    from fcn_core.storage.label_import import import_labels

    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.zeros((12, 16, 3), np.uint8)).save(folder / "a.png")
    (tmp_path / "m").mkdir()
    classes = tuple(f"c{i}" for i in range(5))
    colors = tuple(tuple(int(v) for v in c) for c in np.random.default_rng(0).integers(0, 255, (5, 3)))

    def read(data: bytes) -> object:
        (tmp_path / "m" / "a.png").write_bytes(data)
        return import_labels("masks", tmp_path / "m", folder, classes, colors, overwrite=True)
    fuzz(_png("P"), read, (ValueError,), cases // 3, seed=13)
