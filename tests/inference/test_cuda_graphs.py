"""The engine's CUDA-graph path, run on the CPU with a stand-in for the capture (the logic, not CUDA)."""

from __future__ import annotations

import copy

import numpy as np
import torch

from fcn_core import Engine
from fcn_core.inference.cuda_graphs import GraphedForward


def _stand_in(captures: list):
    """Runs the forward once into fixed output tensors; each replay recomputes into the same tensors."""
    def capture(forward, static_input):
        outputs = forward(static_input)
        captures.append(tuple(static_input.shape))

        def replay():
            for v, (labels, scores) in forward(static_input).items():
                outputs[v][0].copy_(labels)
                outputs[v][1].copy_(scores)
        return replay, outputs
    return capture


def test_a_repeated_shape_is_replayed_with_the_eager_answers(tiny_bundle, rgb_image):
    eager = Engine(copy.deepcopy(tiny_bundle), "cpu")
    engine = Engine(copy.deepcopy(tiny_bundle), "cpu")
    captures: list = []
    engine.graphs = GraphedForward(engine._graph_forward, capture=_stand_in(captures))
    other = np.ascontiguousarray(rgb_image[::-1])
    first = engine.segment(rgb_image)  # seen once: eager
    assert captures == []
    second = engine.segment(other)  # seen twice: captured and replayed
    third = engine.segment(rgb_image)  # replayed with new pixels in the static input
    assert len(captures) == 1
    for image, pred in ((rgb_image, first), (other, second), (rgb_image, third)):
        ref = eager.segment(image)
        assert np.array_equal(pred.labels, ref.labels)
        assert np.allclose(pred.scores, ref.scores, atol=1e-5)
    assert not np.array_equal(second.labels, third.labels)  # the replay did not hand out shared buffers
    passes = engine.backbone_passes
    engine.predict(engine.cache_for(rgb_image))  # all variants: another shape key, eager then graphed
    engine.predict(engine.cache_for(rgb_image))
    assert engine.backbone_passes == passes + 2 and len(captures) == 2


def test_batches_use_graphs_and_old_shapes_make_way(tiny_bundle, rgb_image):
    engine = Engine(copy.deepcopy(tiny_bundle), "cpu")
    captures: list = []
    engine.graphs = GraphedForward(engine._graph_forward, capture=_stand_in(captures), max_graphs=2)
    images = [rgb_image, np.ascontiguousarray(rgb_image[:, ::-1])]
    ref = Engine(copy.deepcopy(tiny_bundle), "cpu").predict_batch(images, ["8s"])
    for _ in range(2):
        got = engine.predict_batch(images, ["8s"])
    assert captures == [(2, 3, *rgb_image.shape[:2])]
    for a, b in zip(got, ref):
        assert np.array_equal(a["8s"].labels, b["8s"].labels)
    for h in (40, 41, 42):  # three more shapes, two kept
        for _ in range(2):
            engine.segment(rgb_image[:h])
    assert len(engine.graphs._graphs) == 2


def test_a_capture_that_fails_turns_graphs_off_with_a_notice(tiny_bundle, rgb_image):
    engine = Engine(copy.deepcopy(tiny_bundle), "cpu")

    def broken(forward, static_input):
        raise RuntimeError("operation not permitted when stream is capturing")

    engine.graphs = GraphedForward(engine._graph_forward, capture=broken)
    for _ in range(3):
        pred = engine.segment(rgb_image)
    assert pred.labels.shape == rgb_image.shape[:2]
    assert any("CUDA graphs are off" in n for n in engine.notices)


def test_out_of_memory_while_capturing_leaves_the_shape_eager(tiny_bundle, rgb_image):
    engine = Engine(copy.deepcopy(tiny_bundle), "cpu")

    def oom(forward, static_input):
        raise torch.OutOfMemoryError("simulated")

    engine.graphs = GraphedForward(engine._graph_forward, capture=oom)
    for _ in range(3):
        engine.segment(rgb_image)
    assert engine.graphs.error is None and not engine.graphs._graphs
