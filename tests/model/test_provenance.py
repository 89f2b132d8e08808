"""Provenance is typed, yet reads and writes the checkpoints' JSON exactly as before."""

from __future__ import annotations

import json

import torch

from fcn_core import DEMO_MODEL, ModelMeta, Provenance


def test_the_demo_models_metadata_round_trips_to_the_same_json():
    stored = json.loads(torch.load(DEMO_MODEL, weights_only=True)["meta"])
    meta = ModelMeta.from_dict(stored)
    assert json.loads(json.dumps(meta.to_dict())) == stored
    assert meta.provenance.metrics["8s"]["mean_iu"] > 0.5
    assert len(meta.provenance.initialised_from.chain()) == 6  # the stages it was trained from
    assert "training_val_split" in meta.provenance.extra  # an entry no writer of today's code makes is kept


def test_crafted_provenance_is_read_safely():
    deep: dict = {}
    node = deep
    for _ in range(10_000):  # nested far beyond any real chain: no RecursionError
        node["initialised_from"] = {"weights": "w"}
        node = node["initialised_from"]
    p = Provenance.from_dict({"initialised_from": deep["initialised_from"], "metrics": "not a dict", "recipe": 3})
    assert p.metrics == {} and p.recipe == "3"
    assert 0 < len(p.initialised_from.chain()) <= 64
    assert Provenance.from_dict("garbage") == Provenance()
