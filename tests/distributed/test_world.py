"""fcn_core.distributed and the sample stream in one process: the plain run is rank 0 of 1, torchrun's environment
is read as torchrun writes it, and the stream's sharding gives W ranks exactly what one process with W× the batch sees."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fcn_core import distributed
from fcn_core.training.sample_stream import SampleStream


class _Numbers(torch.utils.data.Dataset):
    """Item i: a random crop position drawn from the global RNG (as the transforms draw), and i."""

    def __len__(self) -> int:
        return 5

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.rand(3), torch.tensor([i])


def test_a_plain_run_is_rank_0_of_1_and_every_helper_is_the_identity(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.launched() is None
    with distributed.session("cpu") as world:  # starts nothing
        assert world == distributed.World() and world.main and not world.distributed
        a = np.arange(6).reshape(2, 3)
        assert distributed.sum_over_ranks(a) is a
        assert distributed.share([1, 2, 3]) == [1, 2, 3] and distributed.gather("x") == ["x"]
        assert distributed.on_main(lambda: 7) == 7 and distributed.rank_seed(5) == 5
        assert not torch.distributed.is_initialized()
    monkeypatch.setenv("WORLD_SIZE", "1")  # torchrun with one process: a plain run too
    assert distributed.launched() is None


def test_torchruns_environment_is_read_and_bad_values_are_one_sentence(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.launched() == distributed.World(3, 4, 1)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ValueError, match="start the command with torchrun"):
        distributed.launched()
    monkeypatch.setenv("RANK", "two")
    with pytest.raises(ValueError, match="RANK must be a whole number"):
        distributed.launched()
    monkeypatch.setenv(distributed.TIMEOUT_ENV, "90")
    assert distributed.timeout_s() == 90
    monkeypatch.setenv(distributed.TIMEOUT_ENV, "-1")
    with pytest.raises(ValueError, match="positive number of seconds"):
        distributed.timeout_s()


def test_lost_peers_and_timeouts_read_as_one_sentence():
    world = distributed.World(0, 2, 0, "gloo")
    reset = RuntimeError("[../gloo/transport/tcp/pair.cc:545] Read error [127.0.0.1]:1: Connection reset by peer. GLHF!")
    assert distributed._communication_failed(reset)
    assert not distributed._communication_failed(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not distributed._communication_failed(ValueError("gloo"))
    msg = str(distributed._lost(reset, world))
    assert msg.startswith("another process of this distributed run stopped, so rank 0 of 2 stops too")
    late = distributed._lost(RuntimeError("[gloo] Timed out waiting 600000ms for recv operation to complete"), world)
    assert "did not answer within" in str(late) and distributed.TIMEOUT_ENV in str(late)
    for m in (msg, str(late)):
        assert "\n" not in m and m.count(". ") == 0  # one sentence


def test_ranks_draw_exactly_the_samples_one_process_draws_with_their_global_batch():
    one = SampleStream(_Numbers(), seed=3)
    ranks = [SampleStream(_Numbers(), seed=3) for _ in range(2)]
    state = torch.get_rng_state()
    for _ in range(6):  # several epochs of 5 items, batches crossing epoch ends
        images, labels = one.next_batch(4)
        parts = [r.next_batch(2, rank=k, world=2) for k, r in enumerate(ranks)]
        assert torch.equal(images, torch.cat([p[0] for p in parts])) and torch.equal(labels, torch.cat([p[1] for p in parts]))
    assert torch.equal(torch.get_rng_state(), state)  # the process's own random state (dropout's) is untouched
    assert one.position == ranks[0].position == 24
    resumed = SampleStream(_Numbers(), seed=3, position=12)  # a run resumed after 3 steps of 4, on any world size
    again = SampleStream(_Numbers(), seed=3)
    for _ in range(3):
        again.next_batch(4)
    assert torch.equal(resumed.next_batch(4)[0], again.next_batch(4)[0])
    epoch = sorted(int(SampleStream(_Numbers(), seed=3).index(p)) for p in range(5))
    assert epoch == [0, 1, 2, 3, 4]  # each epoch is a permutation
    other = SampleStream(_Numbers(), seed=4)
    assert not torch.equal(other.next_batch(4)[0], SampleStream(_Numbers(), seed=3).next_batch(4)[0])


def test_cuda_gets_nccl_and_one_gpu_per_local_rank_and_too_few_gpus_are_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    world = distributed.World(3, 4, 1)
    assert distributed._backend("auto", world) == ("nccl", torch.device("cuda", 1))
    assert distributed._backend("cpu", world) == ("gloo", None)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    with pytest.raises(ValueError, match="started 4 processes on this node but it has 2 GPUs; use --nproc-per-node 2"):
        distributed._backend("cuda", world)


def test_a_rank_leaving_with_an_error_is_not_cut_off_by_torchruns_sigterm():
    """Between a lost connection and the sentence that says so, torchrun's SIGTERM to the surviving ranks
    must not kill the process silently: after an error SIGTERM is ignored; after a clean run the previous
    handler is back."""
    import signal

    world = distributed.World(0, 2, 0, "gloo")
    before = signal.getsignal(signal.SIGTERM)
    try:
        with distributed._stop_on_sigterm(world):
            assert signal.getsignal(signal.SIGTERM) not in (before, signal.SIG_IGN)
        assert signal.getsignal(signal.SIGTERM) == before
        with pytest.raises(RuntimeError, match="Connection closed by peer"):
            with distributed._stop_on_sigterm(world):
                raise RuntimeError("Connection closed by peer")
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, before)
