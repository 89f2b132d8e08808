"""torch.distributed for the commands that torchrun can start (``train``, ``finetune``, ``eval``, ``predict``).

torchrun gives each process it starts ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``. :func:`session` reads them,
joins the process group (NCCL with one GPU per local rank on CUDA, gloo on the CPU) and leaves it at the end.
Without torchrun, or with one process, nothing starts, and every helper here is the one-process identity
(rank 0 of 1), so a plain run takes exactly the code path it always took.

A process that dies makes the others stop with one sentence (:class:`PeerLost`): the collective they wait in
fails when its connection drops (gloo), or when the group's timeout passes (``FCN_WORKBENCH_DIST_TIMEOUT``
seconds), and torchrun ends the other processes (SIGTERM) as soon as one exits with an error.
"""

from __future__ import annotations

import gc
import os
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Iterator, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .messages import one_line

T = TypeVar("T")

TIMEOUT_ENV = "FCN_WORKBENCH_DIST_TIMEOUT"  # seconds a collective waits for the other processes
DEFAULT_TIMEOUT_S = 600.0
_RANK_SEED_STRIDE = 1_000_003  # rank r's own seed is seed + r × this (rank 0 keeps the run's seed)


@dataclass(frozen=True)
class World:
    """This process's place in the run: rank ``rank`` of ``size``; ``backend`` is "" for one process."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes the shared files and prints the results."""
        return self.rank == 0


class PeerLost(ConnectionError):
    """Another process of the run died or hung, or this one was told to stop: one sentence, exit status 2."""


_current = World()


def current() -> World:
    """The world of the running :func:`session` (rank 0 of 1 outside one)."""
    return _current


def _env_int(name: str) -> int | None:
    text = os.environ.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"the environment variable {name} must be a whole number, not {text!r}") from None


def launched() -> World | None:
    """The world torchrun describes in the environment, or None for a plain run (no torchrun, or one process)."""
    size = _env_int("WORLD_SIZE")
    if size is None or size <= 1:
        return None
    rank, local = _env_int("RANK"), _env_int("LOCAL_RANK")
    if rank is None or not 0 <= rank < size:
        raise ValueError(f"WORLD_SIZE is {size} but RANK is {os.environ.get('RANK')!r}; start the command with torchrun")
    return World(rank, size, local if local is not None else 0)


def timeout_s() -> float:
    """How long a collective waits for the other processes (``FCN_WORKBENCH_DIST_TIMEOUT``, default 600 s)."""
    text = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{TIMEOUT_ENV} must be a positive number of seconds, not {text!r}")
    return value


def rank_seed(seed: int) -> int:
    """This rank's own seed, derived from the run's: rank 0 keeps ``seed``, rank r adds r × 1000003."""
    return seed + _RANK_SEED_STRIDE * _current.rank


def _tensor_device() -> torch.device:
    """Where collectives take their tensors: NCCL wants this rank's GPU, gloo the CPU."""
    return torch.device("cuda", _current.local_rank) if _current.backend == "nccl" else torch.device("cpu")


def barrier() -> None:
    """Wait until every rank is here."""
    if _current.distributed:
        dist.barrier()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """The sum of ``t`` over the ranks (``t`` itself in a one-process run), on ``t``'s device."""
    if not _current.distributed:
        return t
    buf = t.detach().to(_tensor_device(), copy=True)
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    return buf.to(t.device)


def sum_over_ranks(a: np.ndarray) -> np.ndarray:
    """The sum of an integer or float array over the ranks (exact for integers, e.g. confusion matrices)."""
    if not _current.distributed:
        return a
    return all_reduce_sum(torch.from_numpy(np.ascontiguousarray(a))).numpy()


def gather(obj: T) -> list[T]:
    """Every rank's ``obj``, in rank order (small picklable things: counts, file names, reasons)."""
    if not _current.distributed:
        return [obj]
    out: list[Any] = [None] * _current.size
    dist.all_gather_object(out, obj)
    return out


def on_main(make: Callable[[], T]) -> T:
    """``make()`` run on rank 0 only, its result handed to every rank. If it fails, rank 0 raises its error
    and the other ranks exit with status 2 without a word (rank 0's sentence says why)."""
    if not _current.distributed:
        return make()
    payload: list[Any] = [None]
    if _current.main:
        try:
            result = make()
        except Exception:
            dist.broadcast_object_list([("error", None)], src=0)
            raise
        payload = [("ok", result)]
    dist.broadcast_object_list(payload, src=0)
    kind, value = payload[0]
    if kind == "error":
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # torchrun may end this rank first: nothing more to say
        raise SystemExit(2)
    return value


def share(items: list[T]) -> list[T]:
    """This rank's disjoint, deterministic share of ``items``: ``items[rank::size]``."""
    return items[_current.rank::_current.size]


class _AllHeads(nn.Module):
    """A bundle whose ``forward`` is ``forward_all``: the call DistributedDataParallel wraps."""

    def __init__(self, bundle: nn.Module) -> None:
        super().__init__()
        self.bundle = bundle

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.bundle.forward_all(x)


def all_heads(bundle: nn.Module, device: torch.device) -> nn.Module:
    """A module whose call gives every head's scores: under DistributedDataParallel in a distributed run (rank
    0's weights copied to every rank at the start, gradients averaged over the ranks in ``backward``)."""
    module = _AllHeads(bundle)
    if not _current.distributed:
        return module
    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def _backend(device: str, world: World) -> tuple[str, torch.device | None]:
    """NCCL and this process's GPU when the command runs on CUDA, else gloo on the CPU."""
    from .inference.device import resolve_device

    if resolve_device(device).type != "cuda":
        return "gloo", None
    gpus, local_size = torch.cuda.device_count(), _env_int("LOCAL_WORLD_SIZE") or world.local_rank + 1
    if local_size > gpus:
        raise ValueError(f"torchrun started {local_size} processes on this node but it has {gpus} GPU"
                         f"{'s' if gpus != 1 else ''}; use --nproc-per-node {gpus} (or --device cpu)")
    return "nccl", torch.device("cuda", world.local_rank)


def _communication_failed(e: BaseException) -> bool:
    """Whether ``e`` is a collective failing because another process is gone or silent."""
    if isinstance(e, dist.DistError):
        return True
    text = str(e).lower()
    return isinstance(e, RuntimeError) and any(k in text for k in (
        "gloo", "nccl", "connection reset", "connection closed", "broken pipe", "timed out"))


def _lost(e: BaseException, world: World) -> PeerLost:
    text = str(e).lower()
    who = f"rank {world.rank} of {world.size}"
    if "timed out" in text or "timeout" in text:
        return PeerLost(f"another process of this distributed run did not answer within {timeout_s():g} s "
                        f"({TIMEOUT_ENV} sets the limit), so {who} stops too; the files already written are complete")
    return PeerLost(f"another process of this distributed run stopped, so {who} stops too; "
                    "the files already written are complete (the process that stopped says why)")


@contextmanager
def _stop_on_sigterm(world: World) -> Iterator[None]:
    """SIGTERM (torchrun's way of ending the others when one process fails) as :class:`PeerLost`, so ``finally``
    blocks run and atomic writes in progress drop their temporary files; later SIGTERMs are ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise PeerLost(f"rank {world.rank} of {world.size} was told to stop (SIGTERM: torchrun sends it when another "
                       "process of the run fails); the files already written are complete")

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    failed = True
    try:
        yield
        failed = False
    finally:
        # a rank leaving with an error (a lost peer above all) is about to say why and exit: torchrun's SIGTERM,
        # which it sends the others as soon as one process fails, must not cut that sentence off (restored to
        # the default here, it once killed rank 0 between the lost connection and its sentence)
        signal.signal(signal.SIGTERM, signal.SIG_IGN if failed else previous)


@contextmanager
def session(device: str = "auto") -> Iterator[World]:
    """Join the process group torchrun describes for the length of a command, and leave it after.

    A plain run (or a session inside a session) yields the current world and starts nothing. Errors of the
    collectives become :class:`PeerLost`; the command's own errors pass through unchanged.
    """
    global _current
    env = launched()
    if env is None or _current.distributed:
        yield _current
        return
    if not dist.is_available():
        raise ValueError("torchrun started several processes, but this torch build has no torch.distributed")
    backend, gpu = _backend(device, env)
    if gpu is not None:
        torch.cuda.set_device(gpu)
    world = World(env.rank, env.size, env.local_rank, backend)
    try:
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s()), device_id=gpu)
    except Exception as e:  # noqa: BLE001 - the rendezvous failed: one sentence
        raise PeerLost(f"rank {world.rank} of {world.size} could not join the distributed run: {one_line(e)}") from None
    _current = world
    finished = False
    try:
        with _stop_on_sigterm(world):
            yield world
            # free what the command left in reference cycles (DistributedDataParallel's reducer holds the group)
            # while the group still lives: collected at interpreter exit instead, after the group was destroyed,
            # its destructor aborts the process ("terminate called without an active exception")
            gc.collect()
            dist.barrier()  # every rank done (rank 0's last writes too) before the group comes down
        finished = True
    except Exception as e:
        if _communication_failed(e):
            raise _lost(e, world) from None
        raise
    finally:
        _current = World()
        # after a failure NCCL's teardown can wait on the dead peer; the process is about to end anyway
        if finished or backend == "gloo":
            try:
                dist.destroy_process_group()
            except Exception:  # noqa: BLE001 - leaving a broken group must not hide the command's own error
                pass
