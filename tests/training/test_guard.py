"""The fine-tune's guard: a held-out check replaces the start only if no head is worse, and not by luck."""

from __future__ import annotations

import numpy as np

from fcn_core.training.guard import not_worse
from fcn_core.training.metrics import mean_ious, scores_from_confusion


def _image(correct: int, wrong: int, n: int = 3) -> np.ndarray:
    """One image's confusion matrix: ``correct`` pixels of each class right, ``wrong`` of each taken for the next."""
    h = np.zeros((n, n), np.int64)
    for c in range(n):
        h[c, c] = correct
        h[c, (c + 1) % n] += wrong
    return h


def _heads(*images: np.ndarray) -> dict[str, np.ndarray]:
    return {v: np.stack(images) for v in ("32s", "16s", "8s")}


def test_mean_iu_of_a_stack_matches_the_papers_metric():
    rng = np.random.default_rng(0)
    hists = rng.integers(0, 40, (20, 5, 5))
    hists[3, 2, :] = 0  # a class absent from the truth but predicted: IU 0
    hists[4, :, 1] = hists[4, 1, :] = 0  # absent from both: left out of the mean
    for h, got in zip(hists, mean_ious(hists)):
        assert got == scores_from_confusion(h)["mean_iu"]


def test_a_gain_on_every_held_out_image_passes():
    start = _heads(*[_image(80, 20)] * 4)
    assert not_worse(_heads(*[_image(85, 15)] * 4), start)
    assert not_worse(start, start)  # unchanged is not worse


def test_a_gain_that_rests_on_one_image_of_four_does_not_pass():
    start = _heads(_image(80, 20), _image(80, 20), _image(80, 20), _image(80, 20))
    check = _heads(_image(99, 1), _image(78, 22), _image(78, 22), _image(78, 22))
    assert mean_ious(check["8s"].sum(0)) > mean_ious(start["8s"].sum(0))  # better on the four together…
    assert not not_worse(check, start)  # …but worse on three of them: luck, not a gain


def test_worse_on_the_whole_set_never_passes_and_one_image_is_judged_as_it_is():
    start = _heads(_image(80, 20))
    assert not not_worse(_heads(_image(79, 21)), start)
    assert not_worse(_heads(_image(81, 19)), start)
    one_head_worse = {**_heads(*[_image(85, 15)] * 4), "32s": np.stack([_image(70, 30)] * 4)}
    assert not not_worse(one_head_worse, _heads(*[_image(80, 20)] * 4))
