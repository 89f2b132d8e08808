"""torch.compile'd backbones, built on a background thread and cached on disk.

Compiling takes tens of seconds, so nothing waits for it: the engine keeps running the eager form
until :meth:`CompiledFeatures.ready` hands out the compiled one. Inductor's caches live under
``~/.cache/fcn-workbench/inductor`` (or ``$TORCHINDUCTOR_CACHE_DIR``), so the next start is quick.
``$FCN_COMPILE_BACKEND`` names another torch.compile backend ("eager" checks the plumbing in seconds).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

import torch

from ..model.architecture import BackboneFeatures

FeaturesFn = Callable[[str, torch.Tensor], BackboneFeatures]


def cache_dir() -> Path:
    """Where inductor keeps compiled kernels between runs."""
    return Path(os.environ.get("TORCHINDUCTOR_CACHE_DIR", Path.home() / ".cache" / "fcn-workbench" / "inductor"))


class CompiledFeatures:
    """Compiles ``features(backbone, x)`` for each backbone in the background; warm-up on a small input."""

    def __init__(self, features: FeaturesFn, backbones: list[str], warmup_shape: tuple[int, int] = (64, 64),
                 example: Callable[[tuple[int, int]], torch.Tensor] | None = None) -> None:
        self._features = features
        self._ready: dict[str, Callable[[torch.Tensor], BackboneFeatures]] = {}
        self.error: str | None = None
        self.done = threading.Event()
        self._example = example
        self._shape = warmup_shape
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_dir()))
        self._thread = threading.Thread(target=self._build, args=(list(backbones),), daemon=True, name="fcn-compile")
        self._thread.start()

    def _build(self, backbones: list[str]) -> None:
        try:
            for name in backbones:
                fn = torch.compile(lambda x, _n=name: self._features(_n, x), dynamic=True,
                                   backend=os.environ.get("FCN_COMPILE_BACKEND", "inductor"))
                if self._example is not None:
                    with torch.inference_mode():
                        fn(self._example(self._shape))
                self._ready[name] = fn
        except Exception as e:  # a compiler failure only means the eager form stays in use
            self.error = f"torch.compile failed, the eager engine stays in use: {e}"
        finally:
            self.done.set()

    def ready(self, backbone: str) -> Callable[[torch.Tensor], BackboneFeatures] | None:
        """The compiled features of ``backbone`` once built and warmed up, else None."""
        return self._ready.get(backbone) if self.done.is_set() and self.error is None else None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until compilation has finished (tests and benchmarks); True when compiled forms are ready."""
        self.done.wait(timeout)
        return self.done.is_set() and self.error is None
