"""Shared fixtures: tiny FCN bundles that run fast on the CPU."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import torch

from fcn_core import FCNBundle
from tests.helpers.models import randomize, tiny_meta


@pytest.fixture
def tiny_bundle() -> FCNBundle:
    torch.manual_seed(0)
    return randomize(FCNBundle(tiny_meta()))


@pytest.fixture
def rgb_image() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.zeros((70, 90, 3), dtype=np.uint8)
    img[:] = rng.integers(0, 255, size=3)
    img[20:50, 30:70] = (250, 20, 20)
    img += rng.integers(0, 20, size=img.shape, dtype=np.uint8)
    return img


def pytest_addoption(parser) -> None:
    parser.addoption("--long", action="store_true", help="longer runs of the fuzzer (tests/guarantees/test_fuzz.py)")


@pytest.fixture(autouse=True)
def collect_after_each_test():
    """The window turns automatic garbage collection off (app/services/gui_gc.py, so that no worker thread destroys Qt
    objects); collect what each test left here, on the main thread, so memory stays bounded for the tests after."""
    yield
    if not gc.isenabled():
        gc.collect()
