"""Every weights format: native checkpoints, torchfcn .pth, Caffe .caffemodel, torchvision VGG16."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import torchvision

from fcn_core import FCNBundle, VGG16Backbone, WeightsError, load_bundle, load_checkpoint, save_checkpoint
from fcn_core.weights import describe_weights, load_vgg16_into, public_state_dict, write_caffemodel
from tests.helpers.models import randomize, tiny_meta


def _public_files(tmp_path, variants=("32s", "16s", "8s"), n_class=21, fmt="pth"):
    bundle = randomize(FCNBundle(tiny_meta(variants, shared=False, n_class=n_class)), seed=3)
    paths = []
    for v in variants:
        state = public_state_dict(bundle, v)
        path = tmp_path / f"fcn{v}_from_caffe.{'pth' if fmt == 'pth' else 'caffemodel'}"
        if fmt == "pth":
            torch.save(state, path)
        else:
            write_caffemodel(path, state)
        paths.append(path)
    return bundle, paths


def test_native_checkpoint_round_trips_with_metadata(tmp_path, tiny_bundle):
    meta = tiny_bundle.meta.with_provenance(trained_on="unit test", metrics={"8s": {"mean_iu": 0.5, "pixel_acc": 0.9}})
    tiny_bundle.meta = meta
    path = tmp_path / "model.pt"
    save_checkpoint(tiny_bundle, path, train_state={"step": torch.tensor(7)})
    loaded, train_state = load_checkpoint(path)
    assert loaded.meta == meta
    assert int(train_state["step"]) == 7
    for k, v in tiny_bundle.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    assert load_bundle([path]).meta.provenance.trained_on == "unit test"


def test_torchfcn_files_form_a_bundle_of_separate_nets(tmp_path):
    ref, paths = _public_files(tmp_path)
    bundle = load_bundle(paths[::-1])
    assert bundle.meta.variant_names == ("32s", "16s", "8s")
    assert len(bundle.backbones) == 3
    assert bundle.meta.classes[15] == "person"
    assert bundle.meta.preprocessing.channel_order == "BGR"
    x = torch.randn(1, 3, 40, 50) * 50
    with torch.no_grad():
        for v in ("32s", "16s", "8s"):
            assert torch.equal(bundle(x, v), ref(x, v))


def test_variant_follows_from_keys(tmp_path):
    _, paths = _public_files(tmp_path, ("16s",))
    assert load_bundle(paths).meta.variant_names == ("16s",)
    assert "FCN-16s" in describe_weights(paths)


def test_caffemodel_and_pth_give_identical_scores(tmp_path):
    _, pth = _public_files(tmp_path / "a" if (tmp_path / "a").mkdir() is None else None)
    _, caffe = _public_files(tmp_path / "b" if (tmp_path / "b").mkdir() is None else None, fmt="caffe")
    a, b = load_bundle(pth), load_bundle(caffe)
    x = torch.randn(1, 3, 47, 33) * 50
    with torch.no_grad():
        for v in ("32s", "16s", "8s"):
            assert torch.equal(a(x, v), b(x, v))
    assert "Caffe caffemodel" in describe_weights(caffe[:1])


def test_at_once_flag(tmp_path):
    _, paths = _public_files(tmp_path, ("8s",))
    assert load_bundle(paths, at_once=True).meta.variant("8s").at_once
    assert not load_bundle(paths).meta.variant("8s").at_once
    _, p32 = _public_files(tmp_path, ("32s",))
    with pytest.raises(WeightsError, match="only FCN-8s"):
        load_bundle(p32, at_once=True)


def test_pickle_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"conv1_1.weight": Evil()}, f)
    with pytest.raises(WeightsError, match="could run code"):
        load_bundle([path])
    zipped = tmp_path / "evil_zip.pth"
    torch.save({"x": Evil()}, zipped)  # torch.save pickles the object; loading must not call open()
    if marker.exists():
        marker.unlink()
    with pytest.raises(WeightsError):
        load_bundle([zipped])
    assert not marker.exists()


@pytest.mark.parametrize("content,match", [
    (b"", "empty"),
    (np.random.default_rng(0).bytes(5000), "neither a PyTorch checkpoint nor a Caffe model|not a readable|holds no"),
])
def test_garbage_files_get_one_sentence(tmp_path, content, match):
    path = tmp_path / "weights.bin"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match=match) as e:
        load_bundle([path])
    assert "\n" not in str(e.value)


def test_garbage_named_pth_is_called_a_damaged_pytorch_file_not_a_caffe_model(tmp_path):
    path = tmp_path / "model.pth"
    path.write_bytes(np.random.default_rng(1).bytes(3000))
    with pytest.raises(WeightsError, match="model.pth is not a PyTorch checkpoint") as e:
        load_bundle([path])
    assert "protobuf" not in str(e.value) and "Caffe" not in str(e.value)


def test_truncated_checkpoint(tmp_path, tiny_bundle):
    path = tmp_path / "model.pt"
    save_checkpoint(tiny_bundle, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="not a readable PyTorch checkpoint"):
        load_bundle([path])


def test_missing_and_wrong_keys_are_named(tmp_path):
    bundle = randomize(FCNBundle(tiny_meta(("8s",), n_class=21)))
    state = public_state_dict(bundle, "8s")
    del state["score_pool3.bias"]
    state["extra.weight"] = torch.zeros(1)
    state["fc7.bias"] = torch.zeros(3)
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError) as e:
        load_bundle([path])
    msg = str(e.value)
    assert "missing score_pool3.bias" in msg and "unexpected extra.weight" in msg and "fc7.bias is (3,)" in msg


def test_wrong_files_and_mixtures(tmp_path, tiny_bundle):
    _, paths = _public_files(tmp_path, ("8s",))
    with pytest.raises(WeightsError, match="same variant"):
        load_bundle([paths[0], paths[0]])
    native = tmp_path / "n.pt"
    save_checkpoint(tiny_bundle, native)
    with pytest.raises(WeightsError, match="load it alone"):
        load_bundle([native, paths[0]])
    with pytest.raises(WeightsError, match="does not exist"):
        load_bundle([tmp_path / "nope.pth"])
    with pytest.raises(WeightsError, match="folder"):
        load_bundle([tmp_path])
    torch.save({"foo": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(WeightsError, match="neither"):
        load_bundle([tmp_path / "other.pth"])


def test_caffemodel_with_missing_layers(tmp_path):
    bundle = randomize(FCNBundle(tiny_meta(("8s",), n_class=21)))
    state = {k: v for k, v in public_state_dict(bundle, "8s").items() if not k.startswith("score_pool3")}
    write_caffemodel(tmp_path / "x.caffemodel", state)
    with pytest.raises(WeightsError, match="missing score_pool3"):
        load_bundle([tmp_path / "x.caffemodel"])


def test_native_class_count_must_match_palette(tmp_path, tiny_bundle):
    import json
    path = tmp_path / "m.pt"
    save_checkpoint(tiny_bundle, path)
    obj = torch.load(path, weights_only=True)
    meta = json.loads(obj["meta"])
    meta["colors"] = meta["colors"][:-1]
    obj["meta"] = json.dumps(meta)
    torch.save(obj, path)
    with pytest.raises(WeightsError, match="palette has 4 colours for 5 classes"):
        load_bundle([path])


def test_vgg16_convolutionalisation_reproduces_fc7():
    """The paper's point: fc6/fc7 as convolutions give the classifier's fc7 on a 224×224 input."""
    torch.manual_seed(0)
    vgg = torchvision.models.vgg16(weights=None).eval()
    backbone = VGG16Backbone(1.0, conv1_padding=1).eval()
    load_vgg16_into(backbone, vgg.state_dict(), "vgg16.pth")
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        want = vgg.classifier[:5](torch.flatten(vgg.avgpool(vgg.features(x)), 1))
        got = backbone(x).conv7
    assert tuple(got.shape) == (1, 4096, 1, 1)
    assert torch.allclose(got.flatten(1), want, atol=1e-4, rtol=1e-4)


def test_vgg16_file_is_recognised(tmp_path):
    vgg = torchvision.models.vgg16(weights=None)
    path = tmp_path / "vgg16.pth"
    torch.save(vgg.state_dict(), path)
    assert "torchvision VGG16" in describe_weights([path])
    with pytest.raises(WeightsError, match="initialise training"):
        load_bundle([path])
